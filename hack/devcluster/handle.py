"""DevCluster: what a running dev cluster offers to tests and scripts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from kubernetes import client, config

from devcluster.config import ClusterConfig
from devcluster.health import wait_for
from devcluster.s3 import S3Info, s3_info

TERMINAL_PHASES = ("Succeeded", "Failed")


class DevCluster:
    """A running cluster: its kubeconfig, API clients, kubectl, pod logs and S3 endpoint.

    >>> cluster = DevCluster(ClusterConfig.from_env())
    >>> cluster.core.list_node()
    >>> cluster.kubectl("get", "pods", "-A").stdout
    """

    def __init__(self, cfg: ClusterConfig) -> None:
        self.config = cfg
        self.paths = cfg.paths

    @property
    def kubeconfig(self) -> Path:
        """Admin (system:masters) kubeconfig with embedded certificates."""
        return self.paths.kubeconfig

    @property
    def kubectl_path(self) -> Path:
        return self.paths.bin / "kubectl"

    @property
    def server_url(self) -> str:
        return self.config.server_url

    @property
    def s3(self) -> S3Info:
        return s3_info(self.config)

    @cached_property
    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(str(self.kubeconfig))

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api_client)

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api_client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as cluster admin; `input` is passed on stdin (for `apply -f -`)."""
        return subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args],
            check=check,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )

    def pod_log_path(self, namespace: str, pod: str) -> Path:
        return self.paths.pod_log(namespace, pod)

    def pod_log(self, namespace: str, pod: str) -> str:
        """Everything the pod's containers wrote to stdout and stderr so far ('' if none)."""
        path = self.pod_log_path(namespace, pod)
        return path.read_text(errors="replace") if path.exists() else ""

    # ---- waiting ----------------------------------------------------------------------

    def wait_for(self, check: Callable[[], Any], timeout: float = 60, what: str = "condition"):
        return wait_for(check, timeout, what, interval=0.25)

    def wait_for_pod(
        self,
        namespace: str,
        name: str,
        phases: tuple[str, ...] = TERMINAL_PHASES,
        timeout: float = 60,
    ) -> client.V1Pod:
        """Wait until the pod is in one of `phases`; returns the pod."""

        def check() -> client.V1Pod | None:
            pod = self.core.read_namespaced_pod(name, namespace)
            return pod if pod.status.phase in phases else None

        return self.wait_for(check, timeout, f"pod {namespace}/{name} to be {'/'.join(phases)}")

    def job_pods(self, namespace: str, job: str) -> list[client.V1Pod]:
        return self.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items

    def wait_for_job(
        self, namespace: str, name: str, condition: str = "Complete", timeout: float = 90
    ) -> client.V1Job:
        """Wait until the Job has `condition` (Complete, Failed, ...) True; returns the Job.
        Fails fast when the Job ends in the other terminal condition."""
        terminal = {"Complete", "Failed"} - {condition}

        def check() -> client.V1Job | None:
            job = self.batch.read_namespaced_job(name, namespace)
            conditions = {c.type: c.status for c in job.status.conditions or []}
            if any(conditions.get(other) == "True" for other in terminal):
                raise AssertionError(f"job {namespace}/{name} ended {conditions}")
            return job if conditions.get(condition) == "True" else None

        try:
            return self.wait_for(check, timeout, f"job {namespace}/{name} {condition}")
        except AssertionError:
            raise
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.describe_job(namespace, name)}") from None

    def wait_for_crd(self, name: str, timeout: float = 60) -> None:
        """Until the CRD is Established. Polled: `kubectl wait` fails at once instead of waiting
        while a new CRD has no status conditions yet."""
        api = client.ApiextensionsV1Api(self.api_client)

        def established() -> bool:
            conditions = api.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        self.wait_for(established, timeout, f"CRD {name} established")

    def wait_for_gone(self, read: Callable[[], Any], timeout: float = 60, what: str = "object"):
        """Wait until `read()` raises 404."""

        def check() -> bool:
            try:
                read()
            except client.exceptions.ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            return False

        return self.wait_for(check, timeout, f"{what} to be deleted")

    def describe_job(self, namespace: str, name: str) -> str:
        """Job, its pods and their logs as text, for assertion messages."""
        lines = [self.kubectl("get", "job,pods", "-n", namespace, "-o", "wide", check=False).stdout]
        for pod in self.job_pods(namespace, name):
            lines.append(
                f"--- log of {pod.metadata.name}:\n{self.pod_log(namespace, pod.metadata.name)}"
            )
        return "\n".join(lines)
