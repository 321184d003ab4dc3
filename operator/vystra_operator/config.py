"""Operator configuration: environment (``VYSTRA_OPERATOR_*``) plus a scheduling file.

Flavors (node selectors, taints, the accelerator each Job consumes, speeds), priority classes
and tenant weights are configuration (flavors.py): a cluster with other labels or another
device plugin needs no code change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vystra_operator.flavors import SchedulingConfig, parse_scheduling


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VYSTRA_OPERATOR_", extra="ignore")

    pools_file: Path | None = Field(
        default=None, description="YAML scheduling file: flavors (or pools), classes, tenants."
    )
    pools_yaml: str | None = Field(
        default=None,
        description="The scheduling file's content itself: the Helm chart passes it from a"
        " ConfigMap key as an environment variable, which needs no volume.",
    )
    gpu_resource: str = "nvidia.com/gpu"
    worker_service_account: str = "vystra-worker"
    jobs_namespace: str | None = Field(
        default=None,
        description="Where worker Jobs run, with the worker's ConfigMap, Secret and"
        " ServiceAccount: the platform's namespace, never a tenant's. Unset: the operator's"
        " own namespace.",
    )
    worker_config_map: str = "vystra-worker"
    worker_secret: str = "vystra-worker"
    image_pull_policy: str = "IfNotPresent"
    backoff_limit: int = Field(default=2, ge=0, description="Retries of a failed worker pod.")
    active_deadline_seconds: int = Field(default=6 * 3600, ge=60)
    ttl_seconds_after_finished: int = Field(
        default=3600,
        ge=0,
        description="How long a finished Job is kept. Its finalizer holds it past this until"
        " the operator has recorded its outcome, however long that takes.",
    )
    login_sweep_seconds: float = Field(
        default=60.0, gt=0, description="Interval of drops of ended ingests' database logins."
    )
    metrics_port: int = Field(default=8080, ge=0, description="0 turns the metrics server off.")
    namespace: str | None = Field(default=None, description="Watch one namespace; unset: all.")
    lease_namespace: str | None = Field(
        default=None,
        description="Namespace of the leader Lease; unset: the pod's own namespace, else"
        " `default`.",
    )
    lease_name: str = "vystra-operator"
    lease_seconds: float = Field(
        default=10.0, gt=1, description="A standby takes over this long after the leader died."
    )

    def scheduling(self) -> SchedulingConfig:
        if self.pools_yaml is not None:
            return parse_scheduling(self.pools_yaml, self.gpu_resource)
        if self.pools_file is not None:
            return parse_scheduling(self.pools_file.read_text(), self.gpu_resource)
        return parse_scheduling(None, self.gpu_resource)

    def lease_location(self) -> str:
        return self.lease_namespace or own_namespace()

    def jobs_location(self) -> str:
        return self.jobs_namespace or own_namespace()


def own_namespace() -> str:
    """The pod's namespace; outside a pod, `default`."""
    sa = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    return sa.read_text().strip() if sa.exists() else "default"


@lru_cache(maxsize=1)
def get_operator_settings() -> OperatorSettings:
    return OperatorSettings()
