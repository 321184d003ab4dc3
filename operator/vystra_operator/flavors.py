"""Scheduling configuration: flavors (where a Job can run), priority classes and tenants.

A *flavor* is a place a transcription Job can run: node selector, tolerations, the extended
resource it consumes (a whole GPU, a MIG slice, a time-sliced replica, or none for CPU), an
optional GPU product, and how fast it transcribes each model. Everything here is data; the
policy that uses it is ``scheduler.py``.

The YAML file takes a top-level ``flavors:`` list, or the older ``pools:`` list (``gpu: true``
then means one ``nvidia.com/gpu`` per Job, and a single ``rtf`` number is the default speed),
so the Helm chart's pools file and existing clusters keep working.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by NVIDIA GPU Feature Discovery
DEFAULT_MODEL = "default"
SCRATCH_PATH = PurePosixPath("/tmp")  # the worker's emptyDir (jobs.py)


class ModelVolume(BaseModel):
    """A volume of Whisper models mounted read-only into a flavor's worker pods, so large
    models need not be baked into the worker image."""

    source: dict[str, Any] = Field(
        description="One Kubernetes volume source: {persistentVolumeClaim: {claimName: ...}},"
        " {nfs: {...}}, {csi: {...}}. A claim must be in the Jobs' namespace."
    )
    mount_path: str = Field(default="/models", description="Where the workers see it.")
    whisper_model: str | None = Field(
        default=None,
        description="The faster-whisper model folder inside the volume that workers transcribe"
        " with (VYSTRA_WHISPER_MODEL); None: the worker's default. An ingest's spec.model may"
        " still name another folder under mount_path.",
    )

    @field_validator("source")
    @classmethod
    def _one_source(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) != 1:
            raise ValueError(f"give exactly one volume source, not {sorted(value) or 'none'}")
        return value

    @field_validator("mount_path")
    @classmethod
    def _outside_scratch(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not path.is_absolute() or path == PurePosixPath("/"):
            raise ValueError(f"mount_path must be an absolute folder, not {value!r}")
        if path == SCRATCH_PATH or SCRATCH_PATH in path.parents:
            raise ValueError(f"mount_path {value!r} would hide or share the scratch /tmp")
        return value

    @field_validator("whisper_model")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in PurePosixPath(value).parts):
            raise ValueError(f"whisper_model {value!r} must be a folder inside the volume")
        return value

    def env(self) -> dict[str, str]:
        """The worker settings that point at the volume."""
        if self.whisper_model is None:
            return {}
        return {"VYSTRA_WHISPER_MODEL": str(PurePosixPath(self.mount_path, self.whisper_model))}


class Flavor(BaseModel):
    name: str
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    image: str = "ghcr.io/vystra/worker:0.1.0-cpu"
    command: list[str] | None = Field(
        default=None,
        description="Replaces the image's entrypoint (a wrapper around vystra-worker); the"
        " worker's arguments (--namespace, --name) follow it.",
    )
    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "1", "memory": "2Gi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"memory": "8Gi"})
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra worker environment, e.g. VYSTRA_WHISPER_THREADS."
    )
    max_concurrent: int = Field(
        default=16, ge=1, description="CPU flavors: Jobs running at once (also caps the slots)."
    )
    resource: str | None = Field(
        default=None,
        description="Extended resource one Job consumes (nvidia.com/gpu, nvidia.com/mig-1g.10gb);"
        " None: a CPU flavor, limited by max_concurrent.",
    )
    resource_count: int = Field(default=1, ge=1, description="Units of `resource` per Job.")
    gpu_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of a physical GPU one unit is (1/7 for a 1g MIG slice): GPU-second"
        " budgets are charged unit-seconds times this.",
    )
    gpu_product: str | None = Field(
        default=None, description="Adds nvidia.com/gpu.product=<value> to the node selector."
    )
    rtf: dict[str, float] = Field(
        default_factory=lambda: {DEFAULT_MODEL: 0.5},
        description="Processing seconds per media second, per Whisper model; `default` for others.",
    )
    autoscaled: bool = Field(default=False, description="Nodes come from a cluster autoscaler.")
    max_pending: int = Field(
        default=0, ge=0, description="Autoscaled: Jobs admitted while the flavor has no node."
    )
    scale_up_seconds: float = Field(
        default=0.0, ge=0, description="Autoscaled: expected seconds until a new node is ready."
    )
    provisioning_class: str | None = Field(
        default="best-effort-atomic-scale-up.autoscaling.x-k8s.io",
        description="Autoscaled, where the cluster autoscaler's ProvisioningRequest API is"
        " installed: each Job's pod is booked by a ProvisioningRequest of this class, which the"
        " autoscaler provisions (and its pod consumes). None: pending pods alone.",
    )
    spot: bool = Field(default=False, description="Nodes may be reclaimed (spot/preemptible).")
    on_demand_fallback: str | None = Field(
        default=None, description="Flavor used once an ingest was disrupted too often here."
    )
    priority_class_name: str | None = Field(
        default=None,
        description="Kubernetes PriorityClass of the worker pods (the kube-scheduler's and"
        " Kueue's pod priority; unrelated to a VideoIngest's spec.priorityClass, which orders"
        " Vystra's own queue).",
    )
    model_volume: ModelVolume | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_pool(cls, data: Any) -> Any:
        """Accept the older Pool shape: ``gpu: true`` and a single ``rtf`` number."""
        if isinstance(data, dict) and "gpu" in data:
            data = dict(data)
            if data.pop("gpu") and data.get("resource") is None:
                data["resource"] = data.pop("gpu_resource", None) or "nvidia.com/gpu"
        return data

    @field_validator("rtf", mode="before")
    @classmethod
    def _rtf_mapping(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            return {DEFAULT_MODEL: float(value)}
        return value

    @field_validator("rtf")
    @classmethod
    def _rtf_positive(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v <= 0 for v in value.values()):
            raise ValueError("every rtf must be > 0")
        if DEFAULT_MODEL not in value:
            raise ValueError("rtf needs a `default` entry")
        return value

    @property
    def gpu(self) -> bool:
        return self.resource is not None

    def rtf_for(self, model: str) -> float:
        return self.rtf.get(model, self.rtf[DEFAULT_MODEL])

    def selector(self) -> dict[str, str]:
        """Node selector of this flavor's Jobs, the GPU product label included."""
        if self.gpu_product is None:
            return dict(self.node_selector)
        return {**self.node_selector, GPU_PRODUCT_LABEL: self.gpu_product}


class PriorityClass(BaseModel):
    name: str
    value: int = Field(description="Higher runs first within a tenant.")


class TenantPolicy(BaseModel):
    name: str
    weight: float = Field(default=1.0, gt=0, description="Share of capacity against others.")
    gpu_seconds_budget: float | None = Field(
        default=None, ge=0, description="GPU-seconds allowed; beyond it, CPU flavors only."
    )
    kueue_queue: str | None = Field(
        default=None,
        description="admission: kueue: the tenant's own LocalQueue (in the Jobs' namespace)"
        " instead of kueue_queue.",
    )


DEFAULT_PRIORITY_CLASSES = [
    PriorityClass(name="low", value=0),
    PriorityClass(name="normal", value=100),
    PriorityClass(name="high", value=1000),
]


class AdmissionMode(StrEnum):
    VYSTRA = "vystra"  # Vystra's scheduler admits against the capacity it reads from nodes
    KUEUE = "kueue"  # every Job is created at once, suspended, for Kueue to admit


class SchedulingConfig(BaseModel):
    flavors: list[Flavor]
    admission: AdmissionMode = Field(
        default=AdmissionMode.VYSTRA,
        description="`kueue`: for clusters that run Kueue. Jobs carry"
        " kueue.x-k8s.io/queue-name and are created suspended as soon as they are placed on a"
        " flavor; Kueue's quotas decide when each runs (Vystra's capacity accounting and"
        " preemption step aside) and a suspended Job shows as Queued with Kueue's reason.",
    )
    kueue_queue: str = Field(
        default="vystra", description="admission: kueue: the LocalQueue of the Jobs' namespace."
    )
    priority_classes: list[PriorityClass] = Field(
        default_factory=lambda: list(DEFAULT_PRIORITY_CLASSES)
    )
    default_priority_class: str = "normal"
    tenants: list[TenantPolicy] = Field(default_factory=list)
    default_tenant_weight: float = Field(default=1.0, gt=0)
    aging_per_hour: float = Field(
        default=100.0,
        ge=0,
        description="Priority points a waiting ingest gains per hour: 100 lets a `normal` ingest"
        " overtake a `high` one that arrived 9 hours later. 0: strict priority, then age.",
    )
    size_weight: float = Field(
        default=1.0,
        ge=0,
        description="Within a tenant and class, an ingest is due at its creation plus this"
        " times its media length, and the earliest due goes first (1: a video should be done"
        " within its own length). 0: oldest first.",
    )
    preemption: bool = True
    max_disruptions: int = Field(
        default=3, ge=1, description="Disruptions after which an ingest leaves spot flavors."
    )
    max_preemptions: int = Field(
        default=2, ge=1, description="Preemptions of one ingest before it is protected."
    )
    unschedulable_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A Job whose pods stay unschedulable this long (plus an autoscaled flavor's"
        " scale_up_seconds) is withdrawn and its ingest queued again; its flavor takes no new"
        " Job for as long.",
    )
    preemption_cooldown_seconds: float = Field(
        default=3600.0, ge=0, description="How long an ingest preempted max_preemptions is safe."
    )
    min_remaining_to_preempt: float = Field(
        default=120.0, ge=0, description="Running ingests expected to end sooner are left alone."
    )
    overhead_seconds: float = Field(
        default=20.0, ge=0, description="Pod start and model load, added to every estimate."
    )
    default_duration_seconds: float = Field(default=600.0, gt=0)
    learning_rate: float = Field(
        default=0.3, gt=0, le=1, description="Weight of a finished Job in the learnt rtf."
    )
    batch_max: int = Field(
        default=16,
        ge=1,
        description="Short ingests of one namespace run in turn by one Job when they queue"
        " deeper than the free slots; 1: one Job per ingest.",
    )
    batch_efficiency: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="A batch grows, while short ingests wait, until transcription is this"
        " share of its Job's time (the rest is pod start and model load).",
    )
    batch_short_seconds: float = Field(
        default=900.0, ge=0, description="Ingests at most this long (media) may be batched."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SchedulingConfig:
        names = [f.name for f in self.flavors]
        if len(set(names)) != len(names):
            raise ValueError("flavor names must be unique")
        for f in self.flavors:
            if f.on_demand_fallback is not None and f.on_demand_fallback not in names:
                raise ValueError(f"{f.name}: unknown on_demand_fallback {f.on_demand_fallback}")
        if self.default_priority_class not in {p.name for p in self.priority_classes}:
            raise ValueError(f"unknown default_priority_class {self.default_priority_class}")
        return self

    def queue_of(self, tenant: str) -> str:
        """The Kueue LocalQueue of a tenant's Jobs."""
        own = next((t.kueue_queue for t in self.tenants if t.name == tenant), None)
        return own or self.kueue_queue

    def flavor(self, name: str) -> Flavor:
        return next(f for f in self.flavors if f.name == name)


DEFAULT_FLAVORS = [
    Flavor(
        name="gpu",
        node_selector={"vystra.io/pool": "gpu"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        resource="nvidia.com/gpu",
        rtf={DEFAULT_MODEL: 0.05},
        image="ghcr.io/vystra/worker:0.1.0-cuda",
        requests={"cpu": "2", "memory": "4Gi"},
        limits={"memory": "16Gi"},
    ),
    Flavor(name="cpu", node_selector={"vystra.io/pool": "cpu"}),
]


def parse_scheduling(
    data: dict[str, Any] | str | None, gpu_resource: str = "nvidia.com/gpu"
) -> SchedulingConfig:
    """The scheduling file (YAML text or its parsed mapping): ``flavors:`` or legacy ``pools:``.

    ``gpu_resource`` is what a legacy ``gpu: true`` pool consumes (the operator's
    VYSTRA_OPERATOR_GPU_RESOURCE). Empty input gives the default GPU and CPU flavors.
    """
    parsed = yaml.safe_load(data) if isinstance(data, str) else data
    data = dict(parsed or {})
    if "flavors" in data and "pools" in data:
        raise ValueError("give either `flavors` or the older `pools`, not both")
    items = data.pop("flavors", None) or data.pop("pools", None)
    if items is None:
        return SchedulingConfig(flavors=list(DEFAULT_FLAVORS), **data)
    flavors = []
    for item in items:
        if isinstance(item, dict) and item.get("gpu") and item.get("resource") is None:
            item = {**item, "gpu_resource": gpu_resource}
        flavors.append(Flavor.model_validate(item))
    return SchedulingConfig(flavors=flavors, **data)
