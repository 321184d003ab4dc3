"""What the API, the operator and the worker share about the VideoIngest resource."""

from __future__ import annotations

from vystra.videoingest import GROUP, KIND, PLURAL, VERSION, progress

__all__ = ["GROUP", "KIND", "PLURAL", "VERSION", "progress", "load_kube_config"]

# on a namespace: the tenant it belongs to, set by the platform (the API or `vystra tenants`);
# the operator and the chart's admission policy read it, never a label on the resource itself
TENANT_LABEL = "vystra.io/tenant"

EXIT_INPUT_ERROR = 3  # the worker's exit code for bad input: retrying cannot help


def load_kube_config() -> None:
    """In a pod, the service account; elsewhere KUBECONFIG or ~/.kube/config."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
