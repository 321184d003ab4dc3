"""Pod status documents in the shape the kubelet writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerState:
    """What the agent knows about one container; rendered into a containerStatuses entry."""

    name: str
    image: str
    init: bool = False
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    pid: int | None = None
    last_terminated: dict[str, Any] | None = None

    def render(self) -> dict[str, Any]:
        if self.state == "running":
            state: dict[str, Any] = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": self.reason,
                    "message": self.message or None,
                    "startedAt": self.started_at,
                    "finishedAt": self.finished_at,
                    "containerID": self._container_id(),
                }
            }
        else:
            state = {"waiting": {"reason": self.reason, "message": self.message or None}}
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": f"vystra-local://{self.image}",
            "ready": self.state == "running" and not self.init,
            "started": self.state == "running",
            "restartCount": self.restart_count,
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.pid is not None:
            status["containerID"] = self._container_id()
        return status

    def _container_id(self) -> str | None:
        return f"vystra-local://{self.pid}" if self.pid is not None else None


def condition(kind: str, true: bool, reason: str | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if true else "False",
        "reason": reason,
        "lastTransitionTime": now(),
        "lastProbeTime": None,
    }


def pod_status(
    phase: str,
    containers: list[ContainerState],
    start_time: str,
    reason: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    main = [c for c in containers if not c.init]
    init = [c for c in containers if c.init]
    running = phase == "Running" and all(c.state == "running" for c in main)
    initialized = all(c.state == "terminated" and c.exit_code == 0 for c in init)
    return {
        "status": {
            "phase": phase,
            "reason": reason,
            "message": message,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": start_time,
            "conditions": [
                condition("PodReadyToStartContainers", True),
                condition("Initialized", initialized),
                condition("ContainersReady", running),
                condition("Ready", running),
            ],
            "initContainerStatuses": [c.render() for c in init] or None,
            "containerStatuses": [c.render() for c in main],
        }
    }
