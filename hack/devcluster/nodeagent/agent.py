"""The node agent: registers the pool nodes, then watches pods bound to them and gives each
one a PodRunner. It plays the kubelet for every node of every pool from one process."""

from __future__ import annotations

import logging
import threading
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from devcluster.nodeagent.nodes import NodeRegistry
from devcluster.nodeagent.runner import PodRunner, RunnerContext

log = logging.getLogger(__name__)

# Re-list at least this often even if the watch never breaks, to heal any missed event.
WATCH_SECONDS = 300
TERMINAL = ("Succeeded", "Failed")


class NodeAgent:
    def __init__(self, ctx: RunnerContext, registry: NodeRegistry) -> None:
        self.ctx = ctx
        self.registry = registry
        self.core = client.CoreV1Api(ctx.api)
        self.runners: dict[str, PodRunner] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(self) -> None:
        self.registry.register()
        self.registry.start()
        while not self._stopping.is_set():
            try:
                self._list_and_watch()
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: our resourceVersion expired; just re-list
                    log.warning("pod watch failed: %s %s", exc.status, exc.reason)
                    self._stopping.wait(1)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("pod watch connection lost: %r", exc)
                self._stopping.wait(1)

    def _list_and_watch(self) -> None:
        # Only bound pods; the node filter is ours because a field selector cannot OR names.
        selector = "spec.nodeName!="
        pods = self.core.list_pod_for_all_namespaces(field_selector=selector)
        seen = set()
        for pod in pods.items:
            seen.add(pod.metadata.uid)
            self._handle(pod)
        with self._lock:
            gone = [uid for uid in self.runners if uid not in seen]
        for uid in gone:
            self._forget(uid)
        stream = watch.Watch().stream(
            self.core.list_pod_for_all_namespaces,
            field_selector=selector,
            resource_version=pods.metadata.resource_version,
            timeout_seconds=WATCH_SECONDS,
            allow_watch_bookmarks=True,
        )
        for event in stream:
            if self._stopping.is_set():
                return
            pod = event["object"]
            if event["type"] == "DELETED":
                self._forget(pod.metadata.uid)
            elif event["type"] in ("ADDED", "MODIFIED"):
                self._handle(pod)

    def _handle(self, pod: Any) -> None:
        if pod.spec.node_name not in self.registry.names:
            return
        uid = pod.metadata.uid
        with self._lock:
            runner = self.runners.get(uid)
            if runner is None:
                if pod.metadata.deletion_timestamp is not None or (
                    pod.status and pod.status.phase in TERMINAL
                ):
                    # Nothing of ours runs for it (finished, or from an earlier agent): let a
                    # deleted pod go at once, as the kubelet does for pods it is not running.
                    if pod.metadata.deletion_timestamp is not None:
                        self._delete_now(pod)
                    return
                if pod.status and pod.status.phase == "Running":
                    # Running according to the API but unknown here: its process died with a
                    # previous agent. Say so instead of silently running it twice.
                    self._mark_lost(pod)
                    return
                runner = PodRunner(self.ctx, pod)
                self.runners[uid] = runner
                runner.start()
                return
        if pod.metadata.deletion_timestamp is not None:
            if runner.is_alive():
                runner.request_delete(pod.metadata.deletion_grace_period_seconds)
            else:
                self._delete_now(pod)

    def _forget(self, uid: str) -> None:
        """The pod object is gone (force-deleted, or our final delete): stop what remains."""
        with self._lock:
            runner = self.runners.pop(uid, None)
        if runner is not None and runner.is_alive():
            runner.request_delete(0)

    def _delete_now(self, pod: Any) -> None:
        meta = pod.metadata
        try:
            self.core.delete_namespaced_pod(
                meta.name,
                meta.namespace,
                grace_period_seconds=0,
                body=client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta.uid)
                ),
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning("delete of %s/%s failed: %s", meta.namespace, meta.name, exc.reason)

    def _mark_lost(self, pod: Any) -> None:
        body = {
            "status": {
                "phase": "Failed",
                "reason": "NodeAgentRestarted",
                "message": "the node agent restarted while this pod was running",
            }
        }
        try:
            self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, body)
        except ApiException as exc:
            log.warning("could not mark %s lost: %s", pod.metadata.name, exc.reason)

    def is_running(self, namespace: str, name: str) -> bool:
        """Whether a pod of that name still has a live runner here (for `kubectl logs -f`)."""
        with self._lock:
            return any(
                r.is_alive() and r.namespace == namespace and r.pod_name == name
                for r in self.runners.values()
            )

    def shutdown(self) -> None:
        """Stop every pod process (the cluster is going away) and the heartbeats."""
        self._stopping.set()
        self.registry.stop()
        with self._lock:
            runners = list(self.runners.values())
        for runner in runners:
            runner.kill_now()
        for runner in runners:
            runner.join(timeout=5)
