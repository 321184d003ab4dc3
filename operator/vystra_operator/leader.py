"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it.

Every replica watches and keeps its caches warm; only the holder of the Lease decides and
writes. The holder renews every ``retry`` seconds; a standby takes the Lease once it has gone
unrenewed for ``duration`` seconds (the leader's death is noticed within duration + retry).
A leader that cannot renew within ``renew_deadline`` steps down before anyone else may take
over, so two replicas never decide at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from vystra_operator.kube import Kube

log = logging.getLogger("vystra.operator")


def _micro(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str | None) -> float:
    if not value:
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        on_change: Callable[[bool], None],
        duration: float = 10.0,
        renew_deadline: float = 7.0,
        retry: float = 2.0,
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.on_change = on_change
        self.duration, self.renew_deadline, self.retry = duration, renew_deadline, retry
        self.leading = False
        self._renewed = 0.0
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if release and self.leading:
            self._set_leading(False)
            try:  # hand over at once instead of making the standby wait out the lease
                lease = self._get()
                if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    lease["spec"]["leaseDurationSeconds"] = 1
                    lease["spec"]["holderIdentity"] = ""
                    self._replace(lease)
            except Exception:  # noqa: BLE001
                log.warning("could not release the leader Lease")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ok = self._try()
            except Exception as exc:  # noqa: BLE001
                log.warning("leader election: %s", exc)
                ok = False
            if ok:
                self._renewed = time.monotonic()
                self._set_leading(True)
            elif self.leading and time.monotonic() - self._renewed > self.renew_deadline:
                log.error(
                    "leader Lease not renewed within %.0fs: stepping down", self.renew_deadline
                )
                self._set_leading(False)
            self._stop.wait(self.retry)

    def _set_leading(self, value: bool) -> None:
        if value != self.leading:
            self.leading = value
            log.info("%s leader", "became" if value else "no longer")
            self.on_change(value)

    def _get(self) -> dict[str, Any] | None:
        try:
            return self.kube.call(
                self.kube.coordination.read_namespaced_lease, self.name, self.namespace
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _replace(self, lease: dict[str, Any]) -> None:
        self.kube.call(
            self.kube.coordination.replace_namespaced_lease, self.name, self.namespace, lease
        )

    def _try(self) -> bool:
        now = time.time()
        lease = self._get()
        spec_now = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.duration),
            "renewTime": _micro(now),
        }
        if lease is None:
            body = {
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {**spec_now, "acquireTime": _micro(now), "leaseTransitions": 0},
            }
            try:
                self.kube.call(self.kube.coordination.create_namespaced_lease, self.namespace, body)
                return True
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        observed = (holder, spec.get("renewTime") or "")
        if observed != self._observed:  # judge expiry by our own clock, not the holder's
            self._observed, self._observed_at = observed, time.monotonic()
        expired = not holder or time.monotonic() - self._observed_at > float(
            spec.get("leaseDurationSeconds") or 0
        )
        if holder != self.identity and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        lease["spec"] = {
            **spec,
            **spec_now,
            "acquireTime": spec.get("acquireTime") if holder == self.identity else _micro(now),
            "leaseTransitions": transitions if holder == self.identity else transitions + 1,
        }
        try:  # resourceVersion in the body: a concurrent taker makes this a 409
            self._replace(lease)
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
