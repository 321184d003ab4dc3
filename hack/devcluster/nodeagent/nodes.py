"""Node registration and the heartbeats (Lease renewals, Ready condition) the node lifecycle
controller expects from a kubelet; without them it would taint the nodes unreachable."""

from __future__ import annotations

import logging
import platform
import threading
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.nodeagent.pools import NodeSpec

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
RENEW_SECONDS = 10
STATUS_SECONDS = 60


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions() -> list[dict[str, Any]]:
    stamp = _now()

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "node agent"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "node agent"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "node agent"),
        cond("Ready", "True", "KubeletReady", "vystra node agent is posting ready status"),
    ]


def _status(node: NodeSpec, kubelet_port: int, version: str) -> dict[str, Any]:
    return {
        "status": {
            "capacity": node.capacity,
            "allocatable": node.capacity,
            "conditions": _conditions(),
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            "nodeInfo": {
                "architecture": node.labels.get("kubernetes.io/arch", "amd64"),
                "operatingSystem": "linux",
                "kernelVersion": platform.release(),
                "osImage": "vystra node agent",
                "containerRuntimeVersion": "vystra-local://0.1",
                "kubeletVersion": version,
                "kubeProxyVersion": "",
                "machineID": node.name,
                "systemUUID": node.name,
                "bootID": node.name,
            },
        }
    }


class NodeRegistry:
    def __init__(self, api: client.ApiClient, nodes: list[NodeSpec], kubelet_port: int) -> None:
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.nodes = nodes
        self.names = frozenset(node.name for node in nodes)
        self.kubelet_port = kubelet_port
        self.version = client.VersionApi(api).get_code().git_version
        self._stop = threading.Event()
        self._uids: dict[str, str] = {}

    def register(self) -> None:
        """Create the nodes, or bring existing ones back to the configured labels, taints and
        capacity (a restarted agent must not keep stale configuration)."""
        for node in self.nodes:
            body = {
                "metadata": {"name": node.name, "labels": node.labels},
                "spec": {"taints": [dict(t) for t in node.taints]},
            }
            try:
                created = self.core.create_node(body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                created = self.core.patch_node(node.name, body)
            self._uids[node.name] = created.metadata.uid
            self.core.patch_node_status(node.name, _status(node, self.kubelet_port, self.version))
            self._renew_lease(node.name)
        log.info("registered nodes %s", sorted(self.names))

    def _renew_lease(self, name: str) -> None:
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        }
        try:
            self.coordination.patch_namespaced_lease(name, LEASE_NAMESPACE, {"spec": spec})
        except ApiException as exc:
            if exc.status != 404:
                raise
            # Owned by the Node, as the kubelet does it, so deleting the node removes the lease.
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self._uids[name]}
            self.coordination.create_namespaced_lease(
                LEASE_NAMESPACE,
                {"metadata": {"name": name, "ownerReferences": [owner]}, "spec": spec},
            )

    def heartbeat_forever(self) -> None:
        ticks = 0
        while not self._stop.wait(RENEW_SECONDS):
            ticks += 1
            for node in self.nodes:
                try:
                    self._renew_lease(node.name)
                    if ticks % (STATUS_SECONDS // RENEW_SECONDS) == 0:
                        self.core.patch_node_status(
                            node.name, {"status": {"conditions": _conditions()}}
                        )
                except Exception as exc:  # the apiserver may be restarting; try next tick
                    log.warning("heartbeat for %s failed: %r", node.name, exc)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.heartbeat_forever, name="heartbeat", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
