"""Informer-style caches: one list, then a watch from its resourceVersion, per kind.

Each informer keeps a compact record per object (only the fields decisions need, not the whole
body) and calls ``on_change(old, new)`` for every change it applies (``new`` None: deleted).
``synced`` is set once the first list is applied: nothing is decided before every informer has
synced. A watch that expires (410 Gone) or breaks relists, and the relist reports the objects
that changed or vanished meanwhile, so no change is ever missed, only coalesced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from vystra_operator.kube import Kube, Transient

log = logging.getLogger("vystra.operator")

R = TypeVar("R")
# the server ends each watch after this and the next continues from its resourceVersion; the
# read timeout just past it (kube.watch_raw) replaces a silently dead connection within 40 s
WATCH_SECONDS = 30


class Informer(Generic[R]):
    def __init__(
        self,
        name: str,
        kube: Kube,
        list_method: Any,
        args: tuple[Any, ...],
        record: Callable[[dict[str, Any]], R],
        on_change: Callable[[R | None, R | None], None],
        label_selector: str | None = None,
    ) -> None:
        self.name = name
        self.kube = kube
        self.list_method = list_method
        self.args = args
        self.record = record
        self.on_change = on_change
        self.label_selector = label_selector
        self.items: dict[str, R] = {}  # by uid
        self.synced = threading.Event()
        self.last_contact = time.monotonic()  # for the liveness probe
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"informer-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def values(self) -> list[R]:
        with self._lock:
            return list(self.items.values())

    def get(self, uid: str) -> R | None:
        return self.items.get(uid)

    # -- the loop ----------------------------------------------------------------------------

    def _selector(self) -> dict[str, Any]:
        return {"label_selector": self.label_selector} if self.label_selector else {}

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                version = self._relist()
                delay = 0.5
                while not self._stop.is_set():
                    version = self._watch(version)
            except _Expired:
                log.info("%s watch expired; relisting", self.name)
            except Exception as exc:  # noqa: BLE001 - an informer never dies
                log.warning("%s informer: %s; retrying in %.1fs", self.name, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _relist(self) -> str:
        listing = self.kube.call(self.list_method, *self.args, **self._selector())
        self.last_contact = time.monotonic()
        fresh = {obj["metadata"]["uid"]: obj for obj in listing.get("items") or []}
        for uid, obj in fresh.items():
            self._apply(uid, self.record(obj))
        for uid in [u for u in list(self.items) if u not in fresh]:
            self._apply(uid, None)
        self.synced.set()
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str:
        for event in self.kube.watch_raw(
            self.list_method,
            *self.args,
            resource_version=version,
            timeout_seconds=WATCH_SECONDS,
            **self._selector(),
        ):
            self.last_contact = time.monotonic()
            kind, obj = event["type"], event["object"]
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired()
                raise Transient(f"watch error: {obj.get('message')}")
            version = obj["metadata"]["resourceVersion"]
            if kind == "BOOKMARK":
                continue
            uid = obj["metadata"]["uid"]
            self._apply(uid, None if kind == "DELETED" else self.record(obj))
            if self._stop.is_set():
                break
        self.last_contact = time.monotonic()  # a quiet watch that ended on time is alive
        return version

    def _apply(self, uid: str, new: R | None) -> None:
        with self._lock:
            old = self.items.get(uid)
            if new is None:
                self.items.pop(uid, None)
            else:
                self.items[uid] = new
        if old != new:
            self.on_change(old, new)


class _Expired(Exception):
    pass
