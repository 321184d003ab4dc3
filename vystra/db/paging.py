"""Keyset pages, newest first: a cursor names the last row of its page (creation time and id),
so rows that arrive or go meanwhile never shift a page, and no row is skipped or shown twice.
Opaque to clients (base64url of JSON)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

# appended to a WHERE clause; the query orders by created_at DESC, id DESC
AFTER_SQL = " AND (created_at, id) < (%s, %s)"
ORDER_SQL = " ORDER BY created_at DESC, id DESC"


@dataclass(frozen=True)
class After:
    created_at: datetime
    id: str

    def params(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)


def cursor_after(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(cursor: str) -> After:
    """:class:`ValueError` for anything :func:`cursor_after` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        created_at = datetime.fromisoformat(when)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("the cursor is not one this list gave; list again") from exc
    if not isinstance(row_id, str) or created_at.tzinfo is None:
        raise ValueError("the cursor is not one this list gave; list again")
    return After(created_at, row_id)
