"""A daemon thread that runs a task every few seconds in each API process."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Periodic:
    """Calls :meth:`tick` every ``interval`` seconds (0: never) until stopped; a failed tick
    is logged and the next one tries again (the database may be back by then)."""

    def __init__(self, name: str, interval: float) -> None:
        self.name, self.interval = name, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def before(self) -> None:
        """Once, on the thread, before the first tick."""

    def tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        self.before()
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - see the class docstring
                log.warning("%s failed", self.name, exc_info=True)
