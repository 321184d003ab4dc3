"""Fair-use caps per tenant: no tenant takes what all share. Beyond one, the answer is 429 with
the cap's name, a message saying what to do, and Retry-After.

Plans (billing) limit what a tenant buys; these hold whether billing is on or not.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

import psycopg

from vystra.db import Database
from vystra.settings import Settings

log = logging.getLogger(__name__)


class CapExceeded(Exception):
    def __init__(self, cap: str, message: str, allowed: int, retry_after: int) -> None:
        super().__init__(message)
        self.cap, self.allowed, self.retry_after = cap, allowed, retry_after


def check_active_ingests(settings: Settings, active: int) -> None:
    allowed = settings.tenant_max_active_ingests
    if active >= allowed:
        raise CapExceeded(
            "active_ingests",
            f"{active} of your ingests are not finished yet and {allowed} may be at once;"
            " create more as they finish",
            allowed,
            30,
        )


def reserve_upload_bytes(
    conn: psycopg.Connection, settings: Settings, tenant: str, size: int
) -> None:
    """Check ``size`` more bytes fit the tenant's storage. Call inside the transaction that
    records the upload: it holds the tenant's lock, so concurrent uploads cannot pass together."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('vystra-uploads:' || %s))", (tenant,))
    row = conn.execute(
        "SELECT coalesce(sum(size_bytes), 0) FROM uploads WHERE tenant = %s", (tenant,)
    ).fetchone()
    held, allowed = int(row[0]) if row else 0, settings.tenant_max_upload_bytes
    if held + size > allowed:
        raise CapExceeded(
            "upload_bytes",
            f"your uploads hold {held} bytes and {allowed} may be stored; this one needs {size}"
            " more: delete videos or unused uploads first",
            allowed,
            3600,
        )


class StreamSlots:
    """Open event streams per tenant, counted across every API process: a row per stream in
    ``event_streams``, renewed by this process while the stream is open and deleted when it
    ends; a row left by a stopped process expires after ``LEASE``."""

    LEASE = timedelta(seconds=60)
    RENEW_EVERY = 15.0

    def __init__(self, settings: Settings, db: Database) -> None:
        self.allowed, self.db = settings.tenant_max_streams, db
        self._held: set[uuid.UUID] = set()
        self._ended: list[uuid.UUID] = []
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, tenant: str) -> Callable[[], None]:
        """Take a slot (blocking: a database transaction); the returned release may be called
        any number of times, from any thread or the event loop (it only hands the row to the
        renewing thread), since the stream's end and the response's clean-up both call it."""
        sid = uuid.uuid4()
        with self.db.connect() as conn, conn.transaction():
            # one tenant's acquisitions queue here, so two cannot both take the last slot
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('vystra-streams:' || %s))", (tenant,)
            )
            conn.execute(
                "DELETE FROM event_streams WHERE tenant = %s AND expires_at <= now()", (tenant,)
            )
            row = conn.execute(
                "SELECT count(*) FROM event_streams WHERE tenant = %s", (tenant,)
            ).fetchone()
            if row and row[0] >= self.allowed:
                raise CapExceeded(
                    "event_streams",
                    f"you have {self.allowed} event streams open, the most at once;"
                    " close one (or poll GET /v1/ingests/{id}) first",
                    self.allowed,
                    10,
                )
            conn.execute(
                "INSERT INTO event_streams (id, tenant, expires_at) VALUES (%s, %s, now() + %s)",
                (sid, tenant, self.LEASE),
            )
        with self._lock:
            self._held.add(sid)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="streams", daemon=True)
                self._thread.start()

        def release() -> None:
            with self._lock:
                if sid not in self._held:
                    return
                self._held.discard(sid)
                self._ended.append(sid)
            self._wake.set()

        return release

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.RENEW_EVERY)
            self._wake.clear()
            stopping = self._stop.is_set()
            with self._lock:
                held, ended, self._ended = list(self._held), self._ended, []
                if stopping:  # this process's streams end with it
                    ended, held = ended + held, []
                    self._held.clear()
            try:
                with self.db.connect() as conn:
                    if ended:
                        conn.execute("DELETE FROM event_streams WHERE id = ANY(%s)", (ended,))
                    if held:
                        conn.execute(
                            "UPDATE event_streams SET expires_at = now() + %s WHERE id = ANY(%s)",
                            (self.LEASE, held),
                        )
            except Exception:  # noqa: BLE001 - rows expire by themselves; the next pass renews
                log.warning("event stream slots not renewed", exc_info=True)
            if stopping:
                return
