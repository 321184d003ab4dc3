"""A list's ``cursor`` parameter (keyset pages, see vystra.db.paging)."""

from __future__ import annotations

from vystra.db.paging import After, cursor_after, parse_cursor
from vystra_api.errors import ApiError

__all__ = ["cursor_after", "page_after"]


def page_after(cursor: str | None) -> After | None:
    """400 for a cursor the list did not give."""
    if cursor is None:
        return None
    try:
        return parse_cursor(cursor)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
