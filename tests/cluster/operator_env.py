"""Running the operator against the dev cluster, and preparing namespaces for workers."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import yaml
from devcluster import DevCluster, S3Info
from helpers import free_port
from kubernetes import client

from vystra.k8s import GROUP, PLURAL, VERSION

REPO = Path(__file__).resolve().parents[2]


def install_crd(cluster: DevCluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "crds"))
    cluster.wait_for_crd("videoingests.vystra.io")


CONFIG_NAMESPACE = "vystra-system"


def prepare_config_namespace(cluster: DevCluster, s3: S3Info) -> None:
    """What a Helm release provides: the platform namespace where worker Jobs run, with the
    workers' ServiceAccount (no role, no token) and ConfigMap. No Secret: the operator gives
    each Job its own database login and a presigned URL of its source. Tenant namespaces get
    none of it."""
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CONFIG_NAMESPACE}},
        *yaml.safe_load_all((REPO / "examples" / "worker-serviceaccount.yaml").read_text()),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "vystra-worker", "namespace": CONFIG_NAMESPACE},
            "data": {"VYSTRA_S3_BUCKET": s3.bucket, "VYSTRA_WHISPER_THREADS": "1"},
        },
    ]
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(d) for d in docs))


class Operator:
    """``vystra-operator`` as a local process with the admin kubeconfig."""

    def __init__(
        self,
        cluster: DevCluster,
        database_url: str,
        log_dir: Path,
        env: dict[str, str] | None = None,
        kubeconfig: Path | None = None,
        log_format: str = "plain",
    ) -> None:
        self.cluster = cluster
        self.log_format = log_format
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VYSTRA_", "KUBE"))},
            "KUBECONFIG": str(kubeconfig or cluster.kubeconfig),
            "DATABASE_URL": database_url,
            **cluster.s3.env(),  # the operator presigns each worker's object source
            "VYSTRA_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "VYSTRA_OPERATOR_JOBS_NAMESPACE": CONFIG_NAMESPACE,
            **(env or {}),
        }
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(REPO / ".venv/bin/vystra-operator"),
                "--log-format",
                self.log_format,
                "--liveness",
                f"http://127.0.0.1:{self.liveness_port}/healthz",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, as in a node crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def get_vi(cluster: DevCluster, namespace: str, name: str) -> dict:
    return client.CustomObjectsApi(cluster.api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )


def create_vi(
    cluster: DevCluster, namespace: str, name: str, annotations: dict | None = None, **spec
) -> dict:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VideoIngest",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": spec,
    }
    return client.CustomObjectsApi(cluster.api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )


def wait_phase(
    cluster: DevCluster, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 300
) -> dict:
    def check():
        body = get_vi(cluster, namespace, name)
        return body if (body.get("status") or {}).get("phase") in phases else None

    try:
        return cluster.wait_for(check, timeout, f"{namespace}/{name} to be {'/'.join(phases)}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: {get_vi(cluster, namespace, name).get('status')}") from None


def vi_gone(cluster: DevCluster, namespace: str, name: str, timeout: float = 60) -> None:
    cluster.wait_for_gone(lambda: get_vi(cluster, namespace, name), timeout, f"vi {name}")


def ingest_jobs(cluster: DevCluster, namespace: str) -> list:
    """Worker Jobs of the VideoIngests of ``namespace`` (they run in the platform's namespace)."""
    return cluster.batch.list_namespaced_job(
        CONFIG_NAMESPACE, label_selector=f"vystra.io/ingest-namespace={namespace}"
    ).items
