"""Kueue's controller manager on the dev cluster, as a local process against its API server.

Kueue (built from its Go module, hack/build-kueue.sh) runs as it does in a cluster, except for
what reaching it from the API server would take (a Service in front of a pod): its webhooks.
Kueue's own certificate manager still wants webhook configurations and conversion webhooks to
put its CA into, so they exist, selecting nothing; the v1beta1 versions of its CRDs are not
served, so nothing ever needs converting to the stored v1beta2; the Secret that manager fills
is copied into its certificate directory, as the kubelet's volume would. Jobs are made suspended by
their creator (as the Vystra operator does in ``admission: kueue``), which is what Kueue's Job
webhook would do. Everything else (Workloads, quotas, flavor assignment, admission,
preemption) is Kueue's own code.

    kueue = Kueue.start(cluster, state_dir, manage=["vystra-system"])
    ...
    kueue.stop()
"""

from __future__ import annotations

import base64
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from devcluster.handle import DevCluster
from devcluster.tools import ensure_kueue

NAMESPACE = "kueue-system"  # Kueue's own (it refuses to manage Jobs in it)
SECRET = "kueue-webhook-server-cert"
# the CRDs whose conversion webhooks Kueue's certificate manager fills in
CONVERTED = (
    "clusterqueues",
    "cohorts",
    "localqueues",
    "multikueueclusters",
    "resourceflavors",
    "workloads",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _crds(crd_dir: Path, webhook: str) -> str:
    docs = []
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            version["served"] = version["name"] == "v1beta2"
        if crd["spec"]["names"]["plural"] in CONVERTED:
            crd["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {
                    "clientConfig": {"url": f"{webhook}/convert"},
                    "conversionReviewVersions": ["v1"],
                },
            }
        docs.append(yaml.safe_dump(crd))
    return "---\n".join(docs)


def _webhook_configurations(webhook: str) -> str:
    hook = {
        "name": "unused.kueue.vystra.io",
        "clientConfig": {"url": f"{webhook}/unused"},
        "rules": [
            {
                "apiGroups": ["kueue.x-k8s.io"],
                "apiVersions": ["v1beta2"],
                "operations": ["CREATE"],
                "resources": ["resourceflavors"],
            }
        ],
        "objectSelector": {"matchLabels": {"vystra.io/kueue-webhook": "never"}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Ignore",
    }
    docs = [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": f"{kind}WebhookConfiguration",
            "metadata": {"name": f"kueue-{kind.lower()}-webhook-configuration"},
            "webhooks": [hook],
        }
        for kind in ("Mutating", "Validating")
    ]
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    return "---\n".join(yaml.safe_dump(d) for d in docs)


def _mount_secret(cluster: DevCluster, cert_dir: Path) -> bool:
    """What the kubelet does for Kueue's pod: the Secret its certificate manager fills in,
    as files in its certificate directory. True once they are there."""
    data = cluster.core.read_namespaced_secret(SECRET, NAMESPACE).data or {}
    if "tls.crt" not in data:
        return False
    for key, value in data.items():
        staged = cert_dir / f".{key}"
        staged.write_bytes(base64.b64decode(value))
        staged.rename(cert_dir / key)  # whole: Kueue watches these files
    return True


def _configuration(manage: list[str], port: int, cert_dir: Path) -> dict:
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "health": {"healthProbeBindAddress": "0"},
        "metrics": {"bindAddress": "0"},
        "webhook": {"port": port, "host": "127.0.0.1", "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {
            "enable": True,
            "webhookServiceName": "kueue-webhook-service",
            "webhookSecretName": SECRET,
        },
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": manage}
            ]
        },
        "integrations": {"frameworks": ["batch/job"]},
    }


@dataclass
class Kueue:
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, cluster: DevCluster, state_dir: Path, manage: list[str]) -> Kueue:
        """Install Kueue's CRDs and start its manager; ready once its Job controller runs.
        ``manage``: the namespaces whose Jobs it admits."""
        built = ensure_kueue()
        work = state_dir / "kueue"
        (work / "certs").mkdir(parents=True, exist_ok=True)
        for old in (work / "certs").iterdir():
            old.unlink()
        port = _free_port()
        webhook = f"https://127.0.0.1:{port}"
        cluster.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-",
            input=_crds(built / "crds", webhook),
        )
        for plural in ("workloads", "clusterqueues", "localqueues", "resourceflavors"):
            cluster.wait_for_crd(f"{plural}.kueue.x-k8s.io")
        cluster.kubectl("apply", "-f", "-", input=_webhook_configurations(webhook))
        # an empty Secret, as Kueue's manifests make: its certificate manager fills it in
        cluster.kubectl("delete", "secret", SECRET, "-n", NAMESPACE, "--ignore-not-found")
        cluster.kubectl("create", "secret", "generic", SECRET, "-n", NAMESPACE)
        config = work / "config.yaml"
        config.write_text(yaml.safe_dump(_configuration(manage, port, work / "certs")))
        log = work / "kueue.log"
        proc = subprocess.Popen(
            [
                str(built / "kueue"),
                f"--config={config}",
                f"--kubeconfig={cluster.kubeconfig}",
                f"--visibility-server-port={_free_port()}",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        kueue = cls(proc, log)

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"kueue exited {proc.returncode}:\n{kueue.logs()[-3000:]}")
            if not _mount_secret(cluster, work / "certs"):
                return False
            lines = log.read_bytes().splitlines()
            return any(b'"logger":"job"' in x and b"Starting workers" in x for x in lines)

        cluster.wait_for(ready, 120, "Kueue's Job controller")
        return kueue

    def logs(self) -> str:
        return self.log.read_bytes().replace(b"\0", b"").decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
