"""One log setup for the API, the worker and the CLI: text for people, or JSON lines for a log
pipeline (``VYSTRA_LOG_FORMAT=json``), each record carrying the request id, tenant and ingest
of the work it belongs to.

That context lives in a context variable holding one mutable :class:`LogContext` per unit of
work: FastAPI runs a route's dependencies and body in thread-pool copies of the request's
context, and a field set on the shared object (the tenant, once authenticated) reaches every
record of the request, where a new variable value set in one copy would not.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# a request id from outside (a client's X-Request-ID, a VideoIngest's annotation) is kept only
# if it cannot forge log lines or headers
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class LogContext:
    request_id: str | None = None
    tenant: str | None = None
    ingest: str | None = None  # namespace/name of a VideoIngest, or the API's ingest id


_context: ContextVar[LogContext | None] = ContextVar("vystra_log_context", default=None)


def current() -> LogContext | None:
    return _context.get()


def request_id() -> str | None:
    """The id of the request whose work this is, if any."""
    context = _context.get()
    return context.request_id if context is not None else None


def valid_request_id(value: str | None) -> str | None:
    return value if value is not None and REQUEST_ID.match(value) else None


@contextmanager
def bound(**fields: str | None) -> Iterator[LogContext]:
    """Records logged in the block (and in threads that copy its context) carry ``fields``,
    over those of an enclosing block."""
    outer = _context.get()
    context = replace(outer or LogContext(), **fields)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the context's fields, the
    record's own extra ``fields`` (a dict) and the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get()
        if context is not None:
            entry.update((k, v) for k, v in asdict(context).items() if v is not None)
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def handler(log_format: str) -> logging.Handler:
    """To stderr, as JSON lines (``json``) or text."""
    found = logging.StreamHandler(sys.stderr)
    found.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return found


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Route every logger's records (uvicorn's included) to stderr in ``log_format``: Vystra's
    from ``level`` up, libraries' warnings and errors (uvicorn sets its own levels)."""
    root = logging.getLogger()
    root.handlers[:] = [handler(log_format)]
    root.setLevel(logging.WARNING)
    logging.getLogger("vystra").setLevel(level)
