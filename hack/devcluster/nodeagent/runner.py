"""Runs one pod's containers as local processes and reports them through the pod's status.

The lifecycle follows the kubelet's: init containers one after another, then the main
containers together; restarts per restartPolicy with back-off; activeDeadlineSeconds;
on deletion a SIGTERM to every container's process group, SIGKILL after the grace period,
a terminal status and the final delete with grace period 0.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kubeconfig import write_token_kubeconfig
from devcluster.nodeagent.env import EnvBuilder, EnvError, expand
from devcluster.nodeagent.images import ImageMap, ImageNotMapped
from devcluster.nodeagent.status import ContainerState, now, pod_status
from devcluster.processes import stop_child

log = logging.getLogger(__name__)

TOKEN_SECONDS = 24 * 3600
TOKEN_REFRESH_SECONDS = 3600
MAX_BACKOFF_SECONDS = 10.0
STATUS_ATTEMPTS = 30
# Every container process carries this variable, so a cleanup can prove a pid is ours.
POD_UID_ENV = "VYSTRA_NODE_AGENT_POD_UID"


@dataclass(frozen=True)
class RunnerContext:
    """What every pod runner shares: API access, the image map and where to put files."""

    api: client.ApiClient
    images: ImageMap
    server_url: str
    ca_cert: Path
    pods_dir: Path
    logs_dir: Path

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)


class Stop(Exception):
    """Raised inside the runner when the pod must end early (deleted or past its deadline)."""


class PodRunner(threading.Thread):
    def __init__(self, ctx: RunnerContext, pod: Any) -> None:
        meta = pod.metadata
        super().__init__(name=f"pod-{meta.namespace}/{meta.name}", daemon=True)
        self.ctx = ctx
        self.pod = pod
        self.core = ctx.core
        self.namespace: str = meta.namespace
        self.pod_name: str = meta.name
        self.uid: str = meta.uid
        self.dir = ctx.pods_dir / f"{self.namespace}_{self.pod_name}_{self.uid[:8]}"
        self.log_path = ctx.logs_dir / f"{self.namespace}_{self.pod_name}.log"
        self.restart_policy: str = pod.spec.restart_policy or "Always"
        self.start_time = now()
        self.started_monotonic = time.monotonic()
        self.deadline = pod.spec.active_deadline_seconds
        self.inits = [
            ContainerState(c.name, c.image, init=True) for c in pod.spec.init_containers or []
        ]
        self.mains = [ContainerState(c.name, c.image) for c in pod.spec.containers]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stop_reason: str | None = None
        self._grace = 30.0
        self._wake = threading.Event()
        self._token_written = 0.0

    # ---- called from the agent's watch thread -------------------------------------------

    def request_delete(self, grace_seconds: int | None) -> None:
        self._grace = float(min(grace_seconds if grace_seconds is not None else 30, 30))
        self._stop_reason = self._stop_reason or "Deleted"
        self._wake.set()

    def kill_now(self) -> None:
        """The agent is shutting down: end the processes without touching the API."""
        self._stop_reason = "AgentShutdown"
        self._grace = 2.0
        self._wake.set()

    # ---- the pod's life ------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Stop:
            self._finish_stopped()
        except Exception:  # a bug here must not take the whole agent down
            log.exception("pod %s/%s: runner crashed", self.namespace, self.pod_name)
            self._kill_all()
            self._patch("Failed", reason="NodeAgentError", message="node agent runner crashed")

    def _run(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")
        self._write_token()
        containers = {c.name: c for c in self.pod.spec.containers}
        for spec, state in zip(self.pod.spec.init_containers or [], self.inits, strict=True):
            self._patch("Pending")
            while not self._run_to_completion(spec, state):
                if self.restart_policy == "Never":
                    self._patch("Failed", reason="InitContainerFailed")
                    return
                self._backoff(state)
        for state in self.mains:
            self._start(containers[state.name], state)
        self._patch("Running")
        self._supervise(containers)

    def _run_to_completion(self, spec: Any, state: ContainerState) -> bool:
        self._start(spec, state)
        self._patch("Pending")
        while state.state == "running":
            self._tick()
            self._reap(state)
        return state.exit_code == 0

    def _supervise(self, containers: dict[str, Any]) -> None:
        restart_at: dict[str, float] = {}
        while True:
            self._tick()
            changed = False
            for state in self.mains:
                if state.state == "running" and self._reap(state):
                    changed = True
                    if self._should_restart(state):
                        restart_at[state.name] = time.monotonic() + self._delay(state)
                        state.last_terminated = state.render()["state"]["terminated"]
                        state.state, state.reason = "waiting", "CrashLoopBackOff"
            for name, when in list(restart_at.items()):
                if time.monotonic() >= when:
                    del restart_at[name]
                    state = next(s for s in self.mains if s.name == name)
                    state.restart_count += 1
                    self._start(containers[name], state)
                    changed = True
            if not restart_at and all(s.state == "terminated" for s in self.mains):
                failed = any(s.exit_code != 0 for s in self.mains)
                self._patch("Failed" if failed else "Succeeded")
                return
            if changed:
                self._patch("Running")

    def _should_restart(self, state: ContainerState) -> bool:
        return self.restart_policy == "Always" or (
            self.restart_policy == "OnFailure" and state.exit_code != 0
        )

    def _delay(self, state: ContainerState) -> float:
        return min(MAX_BACKOFF_SECONDS, 2.0**state.restart_count)

    def _backoff(self, state: ContainerState) -> None:
        until = time.monotonic() + self._delay(state)
        state.restart_count += 1
        while time.monotonic() < until:
            self._tick()

    def _tick(self) -> None:
        """Wait a little; raise Stop when the pod must end; keep the token fresh."""
        self._wake.wait(0.2)
        if self._stop_reason:
            raise Stop
        if self.deadline is not None and time.monotonic() - self.started_monotonic > self.deadline:
            self._stop_reason = "DeadlineExceeded"
            self._grace = 0.0
            raise Stop
        if self._token_written and time.monotonic() - self._token_written > TOKEN_REFRESH_SECONDS:
            try:
                self._write_token()
            except Exception as exc:  # the old token stays valid for hours: retry in a minute
                log.warning(
                    "pod %s/%s: token refresh failed: %r", self.namespace, self.pod_name, exc
                )
                self._token_written += 60

    # ---- processes ----------------------------------------------------------------------

    def _start(self, spec: Any, state: ContainerState) -> None:
        """Start a container; while its image is unmapped or its env cannot be built, keep the
        pod Pending and retry, as the kubelet does with ErrImagePull and config errors."""
        while True:
            try:
                self._spawn(spec, state)
                return
            except (ImageNotMapped, EnvError) as exc:
                unmapped = isinstance(exc, ImageNotMapped)
                state.state, state.message = "waiting", str(exc)
                state.reason = "ErrImagePull" if unmapped else "CreateContainerConfigError"
                self._patch("Pending")
                for _ in range(25):
                    self._tick()
            except FileNotFoundError as exc:
                self._terminated(state, 128, "StartError", str(exc))
                return

    def _spawn(self, spec: Any, state: ContainerState) -> None:
        env = self._container_env(spec)
        resolved = self.ctx.images.resolve(
            spec.image,
            [expand(arg, env) for arg in spec.command or []],
            [expand(arg, env) for arg in spec.args or []],
        )
        env["PATH"] = env.get("PATH", resolved.path_env)
        cwd = spec.working_dir if spec.working_dir and os.path.isdir(spec.working_dir) else self.dir
        with open(self.log_path, "ab") as log_file:
            proc = subprocess.Popen(
                resolved.argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[state.name] = proc
        (self.dir / f"{state.name}.pid").write_text(str(proc.pid))
        state.state, state.reason, state.message = "running", "", ""
        state.pid, state.started_at, state.exit_code = proc.pid, now(), None
        log.info(
            "pod %s/%s container %s: started pid %d: %s",
            self.namespace,
            self.pod_name,
            state.name,
            proc.pid,
            resolved.argv,
        )

    def _container_env(self, spec: Any) -> dict[str, str]:
        env = {
            "HOME": str(self.dir),
            "HOSTNAME": self.pod_name,
            "LANG": "C.UTF-8",
            POD_UID_ENV: self.uid,
        }
        if self._token_written:
            env["KUBECONFIG"] = str(self.dir / "kubeconfig")
        env.update(EnvBuilder(self.core, self.namespace).build(self.pod, spec))
        return env

    def _reap(self, state: ContainerState) -> bool:
        proc = self.procs.get(state.name)
        if proc is None or proc.poll() is None:
            return False
        code = proc.returncode
        # A signal death reads as 128+signal, the way container runtimes report it.
        code = 128 - code if code < 0 else code
        self._terminated(state, code, "Completed" if code == 0 else "Error", "")
        return True

    def _terminated(self, state: ContainerState, code: int, reason: str, message: str) -> None:
        state.state, state.exit_code, state.reason, state.message = (
            "terminated",
            code,
            reason,
            message,
        )
        state.started_at = state.started_at or now()
        state.finished_at = now()

    def _kill_all(self) -> None:
        for state in [*self.inits, *self.mains]:
            proc = self.procs.get(state.name)
            if proc is None or state.state != "running":
                continue
            stop_child(proc, self._grace)  # at once if it already exited
            self._reap(state)
            if self._stop_reason == "DeadlineExceeded":
                state.reason = "DeadlineExceeded"

    def _finish_stopped(self) -> None:
        reason = self._stop_reason
        self._kill_all()
        if reason == "AgentShutdown":
            return
        for state in self.mains:
            if state.state != "terminated":
                self._terminated(state, 137, "ContainerStatusUnknown", "pod stopped before start")
        if reason == "DeadlineExceeded":
            self._patch(
                "Failed",
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline",
            )
            return
        failed = any(s.exit_code != 0 for s in self.mains)
        self._patch("Failed" if failed else "Succeeded")
        try:
            self.core.delete_namespaced_pod(
                self.pod_name,
                self.namespace,
                grace_period_seconds=0,
                body=client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=client.V1Preconditions(uid=self.uid)
                ),
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning(
                    "pod %s/%s: final delete failed: %s", self.namespace, self.pod_name, exc.reason
                )

    # ---- API ----------------------------------------------------------------------------

    def _write_token(self) -> None:
        """A bound token for the pod's service account via TokenRequest, so the API server
        enforces that account's RBAC on whatever the pod does, as in a real cluster."""
        spec = self.pod.spec
        if spec.automount_service_account_token is False:
            return
        account = spec.service_account_name or "default"
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(
                audiences=[],
                expiration_seconds=TOKEN_SECONDS,
                bound_object_ref=client.V1BoundObjectReference(
                    api_version="v1", kind="Pod", name=self.pod_name, uid=self.uid
                ),
            )
        )
        result = self.core.create_namespaced_service_account_token(account, self.namespace, request)
        sa_dir = self.dir / "serviceaccount"
        sa_dir.mkdir(parents=True, exist_ok=True)
        token_file = sa_dir / "token"
        tmp = token_file.with_suffix(".tmp")
        tmp.write_text(result.status.token)
        tmp.replace(token_file)
        (sa_dir / "namespace").write_text(self.namespace)
        (sa_dir / "ca.crt").write_bytes(self.ctx.ca_cert.read_bytes())
        write_token_kubeconfig(
            self.dir / "kubeconfig",
            self.ctx.server_url,
            self.ctx.ca_cert,
            token_file,
            self.namespace,
        )
        self._token_written = time.monotonic()

    def _patch(self, phase: str, reason: str | None = None, message: str | None = None) -> None:
        """Write the pod's status, retrying for a while if the apiserver is unreachable (the
        kubelet keeps retrying too; a lost terminal status would leave a Job hanging)."""
        body = pod_status(phase, [*self.inits, *self.mains], self.start_time, reason, message)
        for attempt in range(STATUS_ATTEMPTS):
            try:
                self.core.patch_namespaced_pod_status(self.pod_name, self.namespace, body)
                return
            except ApiException as exc:
                if exc.status == 404:
                    return  # the pod is gone: nothing to report to
                if exc.status < 500:
                    log.warning(
                        "pod %s/%s: status update rejected: %s %s",
                        self.namespace,
                        self.pod_name,
                        exc.status,
                        exc.reason,
                    )
                    return
                error: Exception = exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = exc
            if attempt == STATUS_ATTEMPTS - 1:
                log.warning(
                    "pod %s/%s: status update failed: %r", self.namespace, self.pod_name, error
                )
            time.sleep(1)
