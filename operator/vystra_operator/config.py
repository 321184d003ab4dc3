"""Operator configuration: environment (``VYSTRA_OPERATOR_*``) plus a node-pool file.

Pool selectors, taints, the GPU resource name and the measured speeds are configuration: a
cluster with other labels or another device plugin needs no code change.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Pool(BaseModel):
    name: str
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    gpu: bool = False
    max_concurrent: int = Field(default=16, ge=1, description="CPU pools: Jobs running at once.")
    rtf: float = Field(
        default=0.5, gt=0, description="Measured processing seconds per second of media."
    )
    image: str = "ghcr.io/vystra/worker:0.1.0-cpu"
    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "1", "memory": "2Gi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"memory": "8Gi"})
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra worker environment, e.g. VYSTRA_WHISPER_THREADS."
    )


DEFAULT_POOLS = [
    Pool(
        name="gpu",
        node_selector={"vystra.io/pool": "gpu"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        gpu=True,
        rtf=0.05,
        image="ghcr.io/vystra/worker:0.1.0-cuda",
        requests={"cpu": "2", "memory": "4Gi"},
        limits={"memory": "16Gi"},
    ),
    Pool(name="cpu", node_selector={"vystra.io/pool": "cpu"}),
]


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VYSTRA_OPERATOR_", extra="ignore")

    pools_file: Path | None = Field(default=None, description="YAML list of pools (see Pool).")
    pools_yaml: str | None = Field(
        default=None,
        description="The pools file's content itself: the Helm chart passes it from a ConfigMap"
        " key as an environment variable, which needs no volume.",
    )
    gpu_resource: str = "nvidia.com/gpu"
    worker_service_account: str = "vystra-worker"
    worker_cluster_role: str = "vystra-worker"
    config_namespace: str | None = Field(
        default=None,
        description="Namespace holding the worker ConfigMap and Secret (the Helm release's);"
        " set, the operator prepares every namespace it runs Jobs in (workeraccess.py).",
    )
    worker_config_map: str = "vystra-worker"
    worker_secret: str = "vystra-worker"
    image_pull_policy: str = "IfNotPresent"
    backoff_limit: int = Field(default=2, ge=0, description="Retries of a failed worker pod.")
    active_deadline_seconds: int = Field(default=6 * 3600, ge=60)
    ttl_seconds_after_finished: int = Field(default=3600, ge=0)
    job_overhead_seconds: float = Field(
        default=20.0, ge=0, description="Pod start and model load, added to every estimate."
    )
    default_duration_seconds: float = Field(
        default=600.0, gt=0, description="Assumed video length when no hint is given."
    )
    resync_seconds: float = Field(default=2.0, gt=0)
    metrics_port: int = Field(default=8080, ge=0, description="0 turns the metrics server off.")
    namespace: str | None = Field(default=None, description="Watch one namespace; unset: all.")

    def pools(self) -> list[Pool]:
        if self.pools_yaml is not None:
            data = yaml.safe_load(self.pools_yaml) or {}
        elif self.pools_file is not None:
            data = yaml.safe_load(self.pools_file.read_text()) or {}
        else:
            return DEFAULT_POOLS
        return [Pool.model_validate(p) for p in data.get("pools", [])]


@lru_cache(maxsize=1)
def get_operator_settings() -> OperatorSettings:
    return OperatorSettings()
