"""What the worker and the operator share about the VideoIngest resource."""

from __future__ import annotations

from typing import Any

GROUP = "vystra.io"
VERSION = "v1alpha1"
PLURAL = "videoingests"
KIND = "VideoIngest"
TENANT_LABEL = "vystra.io/tenant"
# the tenant's plan limit on video length, set by the API; the worker enforces it after probing
MAX_SECONDS_ANNOTATION = "vystra.io/max-video-seconds"

EXIT_INPUT_ERROR = 3  # the worker's exit code for bad input: retrying cannot help


def load_kube_config() -> None:
    """In a pod, the service account; elsewhere KUBECONFIG or ~/.kube/config."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()


def tenant_of(body: dict[str, Any]) -> str:
    """The tenant label set by the API; else the namespace, less the tenant namespace prefix
    (a resource applied with kubectl in ``vystra-acme`` belongs to tenant ``acme``)."""
    from vystra.settings import get_settings

    meta = body["metadata"]
    label = (meta.get("labels") or {}).get(TENANT_LABEL)
    if label:
        return label
    namespace: str = meta["namespace"]
    prefix = get_settings().tenant_namespace_prefix
    if prefix and namespace.startswith(prefix) and len(namespace) > len(prefix):
        return namespace[len(prefix) :]
    return namespace


def progress(processed: float, duration: float, segments: int) -> dict[str, Any]:
    """``status.progress``; ``percent`` is a string for the printer column."""
    share = min(100, int(100 * processed / duration)) if duration > 0 else 0
    return {
        "processedSeconds": round(processed, 2),
        "durationSeconds": round(duration, 2),
        "segments": segments,
        "percent": f"{share}%",
    }
