"""ProvisioningRequests for Jobs on autoscaled flavors (the cluster autoscaler's
``autoscaling.x-k8s.io/v1`` API, where it is installed).

A pending pod makes the autoscaler add *a* node eventually; a ProvisioningRequest books the
capacity for that pod (atomically, with the class's own retries and back-off) and the pod,
annotated to consume it, lands on what was provisioned. Each Job on an autoscaled flavor gets
one, named after it, for a PodTemplate copied from the Job's own pod template; both are owned
by the Job, so the garbage collector removes them with it.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from kubernetes.client.exceptions import ApiException

from vystra_operator.kube import Kube, Rejected

log = logging.getLogger("vystra.operator")

GROUP, VERSION, PLURAL = "autoscaling.x-k8s.io", "v1", "provisioningrequests"
CONSUME = "autoscaling.x-k8s.io/consume-provisioning-request"
CLASS = "autoscaling.x-k8s.io/provisioning-class-name"
RECHECK = 300.0  # seconds between looks for the API (installed or removed later)


def consume(job: dict[str, Any], provisioning_class: str) -> None:
    """Annotate the Job's pods to consume the ProvisioningRequest named after the Job."""
    template = job["spec"]["template"]["metadata"]
    template["annotations"] = {
        **(template.get("annotations") or {}),
        CONSUME: job["metadata"]["name"],
        CLASS: provisioning_class,
    }


def objects(
    job: dict[str, Any], job_uid: str, provisioning_class: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PodTemplate of the Job's pod and the ProvisioningRequest for one such pod."""
    meta = job["metadata"]
    owned = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": meta["labels"],
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": job_uid,
                "blockOwnerDeletion": False,
            }
        ],
    }
    template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": owned,
        "template": copy.deepcopy(job["spec"]["template"]),
    }
    request = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProvisioningRequest",
        "metadata": owned,
        "spec": {
            "provisioningClassName": provisioning_class,
            "podSets": [{"podTemplateRef": {"name": meta["name"]}, "count": 1}],
        },
    }
    return template, request


class Provisioner:
    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self._installed: bool | None = None
        self._checked = 0.0

    def installed(self) -> bool:
        """The API is served (looked up at most every RECHECK seconds)."""
        if self._installed is None or time.monotonic() - self._checked > RECHECK:
            try:
                self.kube.call(
                    self.kube.custom.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    limit=1,
                )
                self._installed = True
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self._installed = False
            except Rejected as exc:  # served, but this operator may not use it: pods alone
                log.warning("ProvisioningRequests not usable: %s", exc)
                self._installed = False
            self._checked = time.monotonic()
        return self._installed

    def request(self, job: dict[str, Any], job_uid: str, provisioning_class: str) -> None:
        """Create the Job's PodTemplate and ProvisioningRequest (made already: left as is)."""
        template, request = objects(job, job_uid, provisioning_class)
        for create, args in (
            (self.kube.core.create_namespaced_pod_template, (self.namespace, template)),
            (
                self.kube.custom.create_namespaced_custom_object,
                (GROUP, VERSION, self.namespace, PLURAL, request),
            ),
        ):
            try:
                self.kube.call(create, *args)
            except ApiException as exc:
                if exc.status != 409:
                    raise
