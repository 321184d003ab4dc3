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
import secrets
import threading
import time
from dataclasses import dataclass

import psycopg

from vystra.db import Database
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


_keys: dict[str, bytes] = {}  # per database: the key never changes once made
_keys_lock = threading.Lock()


def signing_key(settings: Settings, db: Database) -> bytes:
    """The HMAC key of session tokens: the setting, else the one kept in the database."""
    if settings.session_signing_key:
        return settings.session_signing_key.get_secret_value().encode()
    where = settings.database_url or str(settings.home_dir)
    with _keys_lock:
        if where not in _keys:
            with db.connect() as conn:
                conn.execute(
                    "INSERT INTO web_session_keys (id, secret) VALUES (1, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    (secrets.token_hex(32),),
                )
                row = conn.execute("SELECT secret FROM web_session_keys WHERE id = 1").fetchone()
            assert row is not None
            _keys[where] = row[0].encode()
        return _keys[where]


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def issue(settings: Settings, tenant: str, key: str, scope: str = "session") -> Session:
    """A session for ``tenant`` made from its API ``key`` (already checked by the caller)."""
    ttl = settings.session_ttl_seconds if scope == "session" else STREAM_TTL_SECONDS
    return Session(tenant, hash_key(key)[:_KID_CHARS], int(time.time()) + ttl, scope)


def reissue(settings: Settings, session: Session, scope: str) -> Session:
    ttl = settings.session_ttl_seconds if scope == "session" else STREAM_TTL_SECONDS
    expires = min(session.expires, int(time.time()) + ttl)  # never outlives its parent
    return Session(session.tenant, session.kid, expires, scope)


def encode(key: bytes, session: Session) -> str:
    payload = f"{session.scope}.{session.tenant}.{session.kid}.{session.expires}"
    return f"{payload}.{_sign(key, payload)}"


def decode(key: bytes, token: str, scope: str) -> Session | None:
    """The session a token carries, or None if it is malformed, forged, expired or of another
    scope. Whether its key still exists is checked by ``is_live``."""
    parts = token.split(".")
    if len(token) > 300 or len(parts) != 5:
        return None
    got_scope, tenant, kid, expires, signature = parts
    payload = ".".join(parts[:4])
    if not hmac.compare_digest(_sign(key, payload), signature):
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
