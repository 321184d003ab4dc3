"""Kopf handlers. They only wake the reconcile loop and clean up on delete; placement and
status live in :mod:`vystra_operator.reconcile`, which works from a fresh read each pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from vystra.db import store
from vystra.k8s import GROUP, PLURAL, VERSION, tenant_of
from vystra_operator import MANAGED_BY, metrics
from vystra_operator.config import get_operator_settings
from vystra_operator.jobs import LABEL_UID, job_name
from vystra_operator.reconcile import Reconciler

log = logging.getLogger("vystra.operator")
MANAGED = {"app.kubernetes.io/managed-by": MANAGED_BY}


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Kopf's own bookkeeping goes to annotations: our status schema is strict, and anything
    # written to status outside it would be pruned by the API server.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="vystra.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="vystra.io")
    settings.persistence.finalizer = "vystra.io/cleanup"
    settings.posting.level = logging.WARNING  # our own Events describe each transition
    settings.watching.server_timeout = 120
    memo.wake = asyncio.Event()
    memo.reconciler = Reconciler(get_operator_settings())
    memo.loop_task = asyncio.create_task(_reconcile_forever(memo))


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.loop_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.loop_task


async def _reconcile_forever(memo: kopf.Memo) -> None:
    interval = get_operator_settings().resync_seconds
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(memo.wake.wait(), timeout=interval)
        memo.wake.clear()
        try:
            await asyncio.to_thread(memo.reconciler.cycle)
            metrics.RECONCILES.labels("ok").inc()
        except Exception:
            metrics.RECONCILES.labels("error").inc()
            log.exception("reconcile pass failed; retrying on the next pass")


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.resume(GROUP, VERSION, PLURAL)
async def seen(body: kopf.Body, memo: Any, **_: Any) -> None:
    """Mark a new resource Pending, unless the reconcile loop has written to it since.

    The loop is the writer of phases; this write carries the resourceVersion it was made
    from, so the API server refuses it (409) once the loop has placed the resource, instead
    of letting a late Pending overwrite Running or Queued.
    """
    memo.wake.set()
    if (body.get("status") or {}).get("phase"):
        return
    meta = body["metadata"]
    change = {
        "metadata": {"resourceVersion": meta["resourceVersion"]},
        "status": {"phase": "Pending", "reason": "Created", "message": "waiting for placement"},
    }
    try:
        await asyncio.to_thread(
            memo.reconciler.custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            meta["namespace"],
            PLURAL,
            meta["name"],
            change,
        )
    except ApiException as exc:
        if exc.status not in (404, 409):  # 409: already placed; 404: already deleted
            raise


@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
async def child_changed(memo: kopf.Memo, **_: Any) -> None:
    memo.wake.set()


@kopf.on.delete(GROUP, VERSION, PLURAL)
def deleted(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    name: str,
    namespace: str | None,
    memo: Any,
    **_: Any,
) -> None:
    """Stop the worker first, then remove the video's data (unless ``spec.retain``).

    Waiting for the pods to be gone matters: a worker still running after the cleanup could
    write segments for a video that no longer exists.
    """
    assert namespace is not None  # VideoIngest is namespaced
    uid = body["metadata"]["uid"]
    batch, core = client.BatchV1Api(), client.CoreV1Api()
    with contextlib.suppress(ApiException):
        batch.delete_namespaced_job(job_name(name, uid), namespace, propagation_policy="Background")
    pods = core.list_namespaced_pod(namespace, label_selector=f"{LABEL_UID}={uid}").items
    if pods:
        raise kopf.TemporaryError(f"waiting for {len(pods)} worker pod(s) to stop", delay=1)
    video_id = status.get("videoId")
    if video_id and not spec.get("retain", False):
        with memo.reconciler.database().connect() as conn:
            store.delete_video(conn, tenant_of(dict(body)), video_id)
        log.info("deleted video %s of %s/%s", video_id, namespace, name)
