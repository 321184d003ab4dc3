"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

Each component is a detached daemon (see processes.py) logging to <state>/logs/<name>.log.
The flags are the smallest set that gives a cluster behaving like a real one for our needs:
RBAC and the Node authorizer on, bound service-account tokens, every default controller.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devcluster.certs import CertPaths
from devcluster.config import LOOPBACK, ClusterConfig
from devcluster.health import Fatal, http_ok, https_ok, wait_for
from devcluster.kubeconfig import write_cert_kubeconfig
from devcluster.processes import daemon_alive, daemon_pid, start_daemon

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CIDR = "10.96.0.0/16"


def _etcd_argv(config: ClusterConfig, bin_dir: Path) -> list[str]:
    client = f"http://{LOOPBACK}:{config.ports.etcd_client}"
    peer = f"http://{LOOPBACK}:{config.ports.etcd_peer}"
    return [
        str(bin_dir / "etcd"),
        "--name=vystra",
        f"--data-dir={config.paths.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=vystra={peer}",
        "--listen-metrics-urls=",
        # A throwaway cluster: skipping fsync makes writes (and so every test) much faster.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


# Writes only, at Metadata level: who changed what, for counting API writes per resource
# (benchmarks/operator_bench.py) without the cost of logging every read and watch.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""


def _apiserver_argv(config: ClusterConfig, bin_dir: Path, certs: CertPaths) -> list[str]:
    policy = config.paths.root / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://{LOOPBACK}:{config.ports.etcd_client}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={config.ports.apiserver}",
        f"--tls-cert-file={certs.cert('apiserver')}",
        f"--tls-private-key-file={certs.key('apiserver')}",
        f"--client-ca-file={certs.ca_cert}",
        "--authorization-mode=Node,RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={certs.sa_pub}",
        f"--service-account-signing-key-file={certs.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # `kubectl logs` is proxied to the node agent's log endpoint with this identity.
        f"--kubelet-client-certificate={certs.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={certs.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={certs.ca_cert}",
        "--kubelet-preferred-address-types=InternalIP",
        # The `kubernetes` Service cannot have loopback endpoints, and pods here reach the
        # apiserver through their kubeconfig, not through Service networking.
        "--endpoint-reconciler-type=none",
        # The front-proxy (aggregation layer) CA; the controller manager and scheduler read it
        # for delegated authentication and complain when it is missing.
        f"--requestheader-client-ca-file={certs.ca_cert}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={certs.cert('front-proxy-client')}",
        f"--proxy-client-key-file={certs.key('front-proxy-client')}",
        "--profiling=false",
        f"--audit-policy-file={policy}",
        f"--audit-log-path={config.paths.audit_log}",
        "--audit-log-maxsize=200",
        "--audit-log-maxbackup=1",
        "--v=1",
    ]


def _controller_manager_argv(config: ClusterConfig, bin_dir: Path, certs: CertPaths) -> list[str]:
    kubeconfig = config.paths.certs / "controller-manager.kubeconfig"
    return [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={config.ports.controller_manager}",
        # All default controllers: job, cronjob, garbage collector, namespace,
        # ttl-after-finished, service accounts and their tokens, root CA publisher, node
        # lifecycle (removes the not-ready taint, notices dead node agents), pod GC, ...
        "--controllers=*",
        f"--service-account-private-key-file={certs.sa_key}",
        f"--root-ca-file={certs.ca_cert}",
        f"--cluster-signing-cert-file={certs.ca_cert}",
        f"--cluster-signing-key-file={certs.ca_key}",
        "--use-service-account-credentials=true",
        # One instance only; skipping the election saves its lease wait at start-up.
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def _scheduler_argv(config: ClusterConfig, bin_dir: Path) -> list[str]:
    kubeconfig = config.paths.certs / "scheduler.kubeconfig"
    return [
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={config.ports.scheduler}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def write_component_kubeconfigs(config: ClusterConfig, certs: CertPaths) -> None:
    for name in ("controller-manager", "scheduler", "node-agent"):
        write_cert_kubeconfig(
            config.paths.certs / f"{name}.kubeconfig",
            config.server_url,
            certs.ca_cert,
            certs.cert(name),
            certs.key(name),
        )
    write_cert_kubeconfig(
        config.paths.kubeconfig,
        config.server_url,
        certs.ca_cert,
        certs.cert("admin"),
        certs.key("admin"),
    )


def start_control_plane(config: ClusterConfig, bin_dir: Path, certs: CertPaths) -> None:
    """Start whatever of the four components is not running yet and wait until each is healthy."""
    paths = config.paths
    ports = config.ports

    def start(name: str, argv: list[str]) -> None:
        if daemon_pid(name, paths.pids) is None:
            start_daemon(name, argv, paths.pids, paths.logs)

    def healthy(name: str, probe: Callable[[], bool]) -> bool:
        if not daemon_alive(name, paths.pids):
            log = paths.logs / f"{name}.log"
            last_run = log.read_text(errors="replace").rsplit("=== devcluster: starting", 1)[-1]
            tail = "\n".join(last_run.splitlines()[-20:])
            raise Fatal(f"{name} exited during start-up; last lines of {log}:\n{tail}")
        return probe()

    start("etcd", _etcd_argv(config, bin_dir))
    etcd_health = f"http://{LOOPBACK}:{ports.etcd_client}/health"
    wait_for(lambda: healthy("etcd", lambda: http_ok(etcd_health)), 30, "etcd")
    start("kube-apiserver", _apiserver_argv(config, bin_dir, certs))
    admin = (certs.ca_cert, certs.cert("admin"), certs.key("admin"))
    readyz = f"{config.server_url}/readyz"
    wait_for(
        lambda: healthy("kube-apiserver", lambda: https_ok(readyz, *admin)),
        60,
        "kube-apiserver /readyz",
    )
    start("kube-controller-manager", _controller_manager_argv(config, bin_dir, certs))
    start("kube-scheduler", _scheduler_argv(config, bin_dir))
    for name, port in (
        ("kube-controller-manager", ports.controller_manager),
        ("kube-scheduler", ports.scheduler),
    ):
        url = f"https://{LOOPBACK}:{port}/healthz"
        wait_for(
            lambda n=name, u=url: healthy(n, lambda: https_ok(u)),  # type: ignore[misc]
            60,
            f"{name} /healthz",
        )
