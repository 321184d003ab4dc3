"""Browser sessions: a tenant's API key exchanged for a signed, expiring HttpOnly cookie.

The web app never keeps the long-lived key: it sends it once to ``POST /v1/session`` and from
then on the browser carries the cookie, which ``EventSource`` and ``<track>`` send too. A token
is ``tenant.kid.expires.signature``: ``kid`` is the start of the key's hash, so revoking the
tenant or deleting the key ends every session made from it at the next request. Stream tokens
(scope ``stream``, minutes long) serve clients whose cookie cannot reach the API (an app hosted
on another site): they go in the events URL in place of the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psycopg

from vystra.settings import Settings
from vystra.tenants import hash_key

COOKIE = "vystra_session"
CSRF_HEADER = "X-Vystra-CSRF"  # cookie-authenticated writes must carry it (forms cannot)
STREAM_TTL_SECONDS = 300
_KID_CHARS = 32


@dataclass(frozen=True)
class Session:
    tenant: str
    kid: str
    expires: int
    scope: str


@lru_cache(maxsize=8)
def _key_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return path.read_text().strip().encode()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _signing_key(settings: Settings) -> bytes:
    if settings.session_signing_key:
        return settings.session_signing_key.get_secret_value().encode()
    return _key_file(settings.home_dir / "session-signing.key")


def _sign(settings: Settings, payload: str) -> str:
    return hmac.new(_signing_key(settings), payload.encode(), hashlib.sha256).hexdigest()


def issue(settings: Settings, tenant: str, key: str, scope: str = "session") -> Session:
    """A session for ``tenant`` made from its API ``key`` (already checked by the caller)."""
    ttl = settings.session_ttl_seconds if scope == "session" else STREAM_TTL_SECONDS
    return Session(tenant, hash_key(key)[:_KID_CHARS], int(time.time()) + ttl, scope)


def reissue(settings: Settings, session: Session, scope: str) -> Session:
    ttl = settings.session_ttl_seconds if scope == "session" else STREAM_TTL_SECONDS
    expires = min(session.expires, int(time.time()) + ttl)  # never outlives its parent
    return Session(session.tenant, session.kid, expires, scope)


def encode(settings: Settings, session: Session) -> str:
    payload = f"{session.scope}.{session.tenant}.{session.kid}.{session.expires}"
    return f"{payload}.{_sign(settings, payload)}"


def decode(settings: Settings, token: str, scope: str) -> Session | None:
    """The session a token carries, or None if it is malformed, forged, expired or of another
    scope. Whether its key still exists is checked by ``is_live``."""
    parts = token.split(".")
    if len(token) > 300 or len(parts) != 5:
        return None
    got_scope, tenant, kid, expires, signature = parts
    payload = ".".join(parts[:4])
    if not hmac.compare_digest(_sign(settings, payload), signature):
        return None
    if got_scope != scope or not expires.isdigit() or int(expires) < time.time():
        return None
    return Session(tenant, kid, int(expires), got_scope)


def is_live(conn: psycopg.Connection, session: Session) -> bool:
    """The key the session was made from still belongs to an active tenant."""
    row = conn.execute(
        "SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant"
        " WHERE k.tenant = %s AND left(k.key_hash, %s) = %s AND t.revoked_at IS NULL",
        (session.tenant, _KID_CHARS, session.kid),
    ).fetchone()
    return row is not None
