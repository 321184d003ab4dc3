"""Small builders for the Jobs and Pods the cluster tests create."""

from __future__ import annotations

from typing import Any

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def pod_spec(
    command: list[str],
    image: str = "busybox:1.36",
    env: dict[str, str] | None = None,
    gpu: bool = False,
    restart_policy: str = "Never",
    **extra: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "command": command,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    spec: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "containers": [container],
        "terminationGracePeriodSeconds": 5,
    }
    if gpu:  # one GPU of the `gpu` pool (the L4 and MIG pools are for flavor tests)
        container["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
        spec["tolerations"] = [GPU_TOLERATION]
        spec["nodeSelector"] = {"vystra.io/pool": "gpu"}
    spec.update(extra)
    return spec


def job(name: str, spec: dict[str, Any], backoff_limit: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": {"spec": spec}},
    }


def pod(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
