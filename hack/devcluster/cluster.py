"""Bring a whole dev cluster up or down: control plane, object store and node agent."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from kubernetes import client, config

from devcluster.certs import ensure_certs
from devcluster.config import HACK_DIR, ClusterConfig, Ports
from devcluster.controlplane import COMPONENTS, start_control_plane, write_component_kubeconfigs
from devcluster.handle import DevCluster
from devcluster.health import Fatal, port_in_use, wait_for
from devcluster.nodeagent.pools import load_nodes
from devcluster.nodeagent.runner import POD_UID_ENV
from devcluster.processes import daemon_alive, daemon_pid, kill_group, start_daemon, stop_daemon
from devcluster.s3 import start_s3
from devcluster.tools import ensure_k8s_binaries, ensure_minio, link_tools

NODE_AGENT = "node-agent"
DAEMONS = (*COMPONENTS, "minio", NODE_AGENT)


def _check_ports(cfg: ClusterConfig) -> None:
    """Fail early and clearly when another program holds one of our ports."""
    owners = {
        "apiserver": "kube-apiserver",
        "etcd_client": "etcd",
        "etcd_peer": "etcd",
        "controller_manager": "kube-controller-manager",
        "scheduler": "kube-scheduler",
        "s3": "minio",
        "s3_console": "minio",
        "kubelet": NODE_AGENT,
    }
    for port_name, port in cfg.ports.all().items():
        if daemon_pid(owners[port_name], cfg.paths.pids) is None and port_in_use(port):
            raise RuntimeError(
                f"port {port} ({port_name}) is taken by another program; pick another range "
                f"with VYSTRA_CLUSTER_PORT_BASE (now {cfg.ports.base})"
            )


def _start_node_agent(cfg: ClusterConfig) -> None:
    paths = cfg.paths
    if daemon_pid(NODE_AGENT, paths.pids) is not None:
        return
    env = {**os.environ, "PYTHONPATH": str(HACK_DIR), "PYTHONUNBUFFERED": "1"}
    argv = [
        sys.executable,
        "-m",
        "devcluster.nodeagent",
        "--state-dir",
        str(paths.root),
        "--port-base",
        str(cfg.ports.base),
        "--node-pools",
        str(cfg.node_pools_file.resolve()),
        "--images",
        str(cfg.images_file.resolve()),
        "--venv",
        str(cfg.venv),
    ]
    start_daemon(NODE_AGENT, argv, paths.pids, paths.logs, env=env)


def _api(cfg: ClusterConfig) -> client.ApiClient:
    return config.new_client_from_config(str(cfg.paths.kubeconfig))


def _nodes_ready(core: client.CoreV1Api, names: set[str]) -> bool:
    ready = set()
    for node in core.list_node().items:
        conditions = {c.type: c.status for c in node.status.conditions or []}
        not_ready_taint = any(
            t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or []
        )
        if conditions.get("Ready") == "True" and not not_ready_taint:
            ready.add(node.metadata.name)
    return names <= ready


def up(cfg: ClusterConfig, log: bool = True) -> DevCluster:
    """Start whatever is not running and wait until the cluster can run pods. Idempotent."""
    started = time.monotonic()

    def say(message: str) -> None:
        if log:
            print(f"[{time.monotonic() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    paths = cfg.paths
    paths.root.mkdir(parents=True, exist_ok=True)
    (paths.root / ".gitignore").write_text("# written by devcluster: nothing here is source\n*\n")
    _check_ports(cfg)
    (paths.root / "port-base").write_text(f"{cfg.ports.base}\n")
    k8s_dir = ensure_k8s_binaries()
    minio = ensure_minio() if cfg.with_s3 else None
    link_tools(paths.bin, k8s_dir, minio)
    say(f"binaries ready in {k8s_dir}")
    certs = ensure_certs(paths.certs)
    write_component_kubeconfigs(cfg, certs)
    start_control_plane(cfg, k8s_dir, certs)
    say(f"control plane ready at {cfg.server_url}")
    if minio is not None:
        start_s3(cfg, minio)
        say(f"S3 ready at {cfg.s3_endpoint}, bucket {cfg.s3_bucket}")
    _start_node_agent(cfg)
    core = client.CoreV1Api(_api(cfg))
    names = {node.name for node in load_nodes(cfg.node_pools_file)}

    def agent_alive_and_ready() -> bool:
        if not daemon_alive(NODE_AGENT, paths.pids):
            raise Fatal(f"node agent exited; see {paths.logs / 'node-agent.log'}")
        return _nodes_ready(core, names)

    wait_for(agent_alive_and_ready, 60, f"nodes {sorted(names)} to be Ready", interval=0.5)
    wait_for(
        lambda: core.read_namespaced_service_account("default", "default"),
        60,
        "the default service account",
    )
    say(f"nodes ready: {', '.join(sorted(names))}")
    return DevCluster(cfg)


def down(cfg: ClusterConfig) -> list[str]:
    """Stop every daemon, the node agent first so it can end its pods' processes. Keeps the
    state dir (etcd data, certificates) so a later `up` resumes the same cluster."""
    pids = cfg.paths.pids
    stopped = [
        name
        for name in (
            NODE_AGENT,
            "kube-scheduler",
            "kube-controller-manager",
            "kube-apiserver",
            "etcd",
            "minio",
        )
        if stop_daemon(name, pids)
    ]
    _kill_orphan_pods(cfg.paths.pods)
    return stopped


def _kill_orphan_pods(pods_dir: Path) -> None:
    """Container processes left behind by a node agent that was killed outright. A pid is only
    signalled if its environment names the pod's uid, so a recycled pid is never hit."""
    for pid_file in pods_dir.glob("*/*.pid"):
        uid_prefix = pid_file.parent.name.rsplit("_", 1)[-1]
        try:
            pid = int(pid_file.read_text())
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            pid_file.unlink(missing_ok=True)
            continue
        marker = f"{POD_UID_ENV}={uid_prefix}".encode()
        if any(entry.startswith(marker) for entry in environ):
            kill_group(pid, 5)
        pid_file.unlink(missing_ok=True)


def running_port_base(state_dir: Path) -> int | None:
    """The port base of the cluster running from `state_dir`, if one runs."""
    paths = ClusterConfig(state_dir=state_dir).paths
    try:
        base = int((paths.root / "port-base").read_text())
    except (OSError, ValueError):
        return None
    return base if daemon_pid("kube-apiserver", paths.pids) is not None else None


def free_port_base(start: int, stop: int = 17000, step: int = 20) -> int:
    """The first port base from `start` whose every port is free, so that concurrent test
    sessions (or a dev cluster) on one machine do not collide."""
    for base in range(start, stop, step):
        if not any(port_in_use(port) for port in Ports(base).all().values()):
            return base
    raise RuntimeError(f"no free port range between {start} and {stop}")


def status(cfg: ClusterConfig) -> dict[str, int | None]:
    return {name: daemon_pid(name, cfg.paths.pids) for name in DAEMONS}
