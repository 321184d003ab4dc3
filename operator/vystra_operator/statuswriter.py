"""Status writes, coalesced per resource and isolated from each other.

The controller says what status it wants for a resource; the writer keeps only the latest want
per resource (a want that arrives while an earlier one waits merges into it: Queued then
Running becomes one write), runs writes on its own threads, yields to Job creation, and backs
off per resource: one resource whose write fails (a database outage while metering, a 5xx)
waits alone while every other resource's writes go on.

A terminal want is one unit: meter usage (idempotent in the database), patch the status, then
release the Job (remove its finalizer) — only once the outcome is recorded may the Job go.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from vystra_operator import metrics
from vystra_operator.kube import Kube, Rejected, Transient
from vystra_operator.transitions import Want, set_conditions
from vystra_operator.view import Ingest

log = logging.getLogger("vystra.operator")


@dataclass
class _Entry:
    namespace: str
    name: str
    uid: str
    job_name: str | None
    want: Want
    failures: int = 0
    not_before: float = 0.0


class StatusWriter:
    def __init__(
        self,
        kube: Kube,
        lookup: Callable[[str], Ingest | None],
        post_event: Callable[[Ingest, str, str, str], None],
        meter: Callable[[Any], None],
        notify: Callable[[Ingest, Want], None],
        release_job: Callable[[str], None],
        yield_to_creates: Callable[[], None],
        threads: int = 8,
    ) -> None:
        self.kube = kube
        self.lookup = lookup
        self.post_event = post_event
        self.meter = meter
        self.notify = notify
        self.release_job = release_job
        self.yield_to_creates = yield_to_creates
        self._lock = threading.Condition()
        self._pending: dict[str, _Entry] = {}
        # (not before, order, uid): due entries in arrival order, backed-off ones when due
        self._ready: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._in_flight: set[str] = set()
        self._stop = False
        self.writes = 0  # status patches sent, for the benchmark and metrics
        self._threads = [
            threading.Thread(target=self._run, name=f"status-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify_all()

    def want(self, ing: Ingest, want: Want, job_name: str | None = None) -> None:
        with self._lock:
            entry = self._pending.get(ing.uid)
            if entry is None:
                self._pending[ing.uid] = _Entry(ing.namespace, ing.name, ing.uid, job_name, want)
                if ing.uid not in self._in_flight:
                    self._push(0.0, ing.uid)
            else:
                entry.want = entry.want.merged(want)
                entry.job_name = job_name or entry.job_name
            self._lock.notify()

    def pending(self, uid: str) -> bool:
        with self._lock:
            return uid in self._pending or uid in self._in_flight

    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- the threads -------------------------------------------------------------------------

    def _push(self, not_before: float, uid: str) -> None:
        heapq.heappush(self._ready, (not_before, next(self._order), uid))

    def _next(self) -> _Entry | None:
        with self._lock:
            while not self._stop:
                if not self._ready:
                    self._lock.wait(1.0)
                    continue
                not_before, _, uid = self._ready[0]
                delay = not_before - time.monotonic()
                if delay > 0:
                    self._lock.wait(min(delay, 1.0))
                    continue
                heapq.heappop(self._ready)
                entry = self._pending.get(uid)
                if entry is None or uid in self._in_flight:
                    continue  # written already, or its writer pushes it again when done
                del self._pending[uid]
                self._in_flight.add(uid)
                return entry
            return None

    def _done(self, entry: _Entry, retry: bool) -> None:
        with self._lock:
            self._in_flight.discard(entry.uid)
            newer = self._pending.get(entry.uid)
            if retry:
                entry.failures += 1
                entry.not_before = time.monotonic() + min(0.5 * 2**entry.failures, 60.0)
                if newer is not None:  # a later want arrived meanwhile: it goes on top
                    entry.want = entry.want.merged(newer.want)
                    entry.job_name = newer.job_name or entry.job_name
                self._pending[entry.uid] = entry
                self._push(entry.not_before, entry.uid)
            elif newer is not None:
                self._push(0.0, entry.uid)
            self._lock.notify()

    def _run(self) -> None:
        while (entry := self._next()) is not None:
            self.yield_to_creates()
            try:
                self._write(entry)
                self._done(entry, retry=False)
            except Transient as exc:
                metrics.WRITE_RETRIES.inc()
                log.warning("status of %s/%s: %s; retrying", entry.namespace, entry.name, exc)
                self._done(entry, retry=True)
            except Exception:  # noqa: BLE001 - one resource never stops the others
                metrics.WRITE_RETRIES.inc()
                log.exception("status of %s/%s failed; retrying", entry.namespace, entry.name)
                self._done(entry, retry=True)

    def _write(self, entry: _Entry) -> None:
        ing = self.lookup(entry.uid)
        if ing is None:
            return  # deleted meanwhile: nothing to report on
        want = entry.want
        if ing.terminal and not want.terminal:
            return  # an outcome is recorded; an older, lesser want must not undo it
        if want.usage is not None:
            self.meter(want.usage)  # before the status: a failed write retries the metering
        if want.terminal and not ing.terminal:
            self.notify(ing, want)  # the outcome's webhook event; queued once, like metering
        status = {
            **want.status,  # enums are str: they serialise as their values
            "observedGeneration": ing.generation,
        }
        if want.conditions:
            status["conditions"] = set_conditions(
                ing.condition_list(), want.conditions, ing.generation
            )
        try:
            self.kube.patch_status(entry.namespace, entry.name, status)
            self.writes += 1
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        except Rejected as exc:
            log.error("status of %s/%s refused: %s", entry.namespace, entry.name, exc)
            return
        if want.usage is not None and not ing.terminal:  # the outcome, recorded once
            metrics.SUCCEEDED.inc()
            model = ing.spec.model or "default"
            metrics.MEDIA_SECONDS.labels(model).inc(want.usage.seconds)
            for stage, seconds in (want.stage_seconds or {}).items():
                metrics.STAGE_SECONDS.labels(stage, model).observe(seconds)
        if want.release_job and entry.job_name:
            self.release_job(entry.job_name)
        if want.event is not None:
            self.post_event(ing, want.event.type, want.event.reason, want.event.message)
