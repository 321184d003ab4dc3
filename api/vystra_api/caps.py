"""Fair-use caps per tenant: no tenant takes what all share. Beyond one, the answer is 429 with
the cap's name, a message saying what to do, and Retry-After.

Plans (billing) limit what a tenant buys; these hold whether billing is on or not.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import psycopg

from vystra.settings import Settings


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
    """Open event streams per tenant in this process."""

    def __init__(self, settings: Settings) -> None:
        self.allowed = settings.tenant_max_streams
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, tenant: str) -> Callable[[], None]:
        """Take a slot; the returned release may be called any number of times (the stream's
        end and the response's clean-up both call it, whichever way the client left)."""
        with self._lock:
            if self._open[tenant] >= self.allowed:
                raise CapExceeded(
                    "event_streams",
                    f"you have {self.allowed} event streams open, the most at once;"
                    " close one (or poll GET /v1/ingests/{id}) first",
                    self.allowed,
                    10,
                )
            self._open[tenant] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                self._open[tenant] -= 1
                if not self._open[tenant]:
                    del self._open[tenant]

        return release
