"""Tenants and their API keys.

A key is shown once, when it is made; only its sha256 is stored. Keys carry 256 random bits,
so a fast unsalted hash is as strong as a slow salted one and lets a request find its tenant
with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

from vystra.errors import VystraError

KEY_PREFIX = "vys_"
# tenant names become Kubernetes namespace suffixes: DNS-1123 labels, short enough for a prefix
TENANT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


@dataclass(frozen=True)
class Tenant:
    name: str
    created_at: datetime
    revoked_at: datetime | None
    keys: int


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def validate_name(name: str) -> str:
    if not TENANT_NAME.match(name):
        raise VystraError(
            f"invalid tenant name {name!r}: use 1-40 lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )
    return name


def create_tenant(conn: psycopg.Connection, name: str) -> str:
    """Create ``name`` (or re-activate a revoked one) and return a new API key for it."""
    validate_name(name)
    with conn.transaction():
        row = conn.execute(
            "SELECT revoked_at IS NULL FROM tenants WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        if row and row[0]:
            raise VystraError(f"tenant {name} already exists")
        conn.execute(
            "INSERT INTO tenants (name) VALUES (%s)"
            " ON CONFLICT (name) DO UPDATE SET revoked_at = NULL, created_at = now()",
            (name,),
        )
        conn.execute("DELETE FROM api_keys WHERE tenant = %s", (name,))  # old keys stay dead
        return _new_key(conn, name)


def _new_key(conn: psycopg.Connection, tenant: str) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_keys (key_hash, tenant, prefix) VALUES (%s, %s, %s)",
        (hash_key(key), tenant, key[:8]),
    )
    return key


def list_tenants(conn: psycopg.Connection) -> list[Tenant]:
    rows = conn.execute(
        "SELECT t.name, t.created_at, t.revoked_at, count(k.key_hash)"
        " FROM tenants t LEFT JOIN api_keys k ON k.tenant = t.name"
        " GROUP BY t.name ORDER BY t.name"
    ).fetchall()
    return [Tenant(*row) for row in rows]


def revoke_tenant(conn: psycopg.Connection, name: str) -> None:
    """Invalidate every key of ``name``; its data stays until deleted."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE tenants SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL",
            (name,),
        )
        if cur.rowcount == 0:
            raise VystraError(f"no active tenant {name}")
        conn.execute("DELETE FROM api_keys WHERE tenant = %s", (name,))


def tenant_for_key(conn: psycopg.Connection, key: str) -> str | None:
    """The active tenant that owns ``key``, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    row = conn.execute(
        "SELECT t.name FROM api_keys k JOIN tenants t ON t.name = k.tenant"
        " WHERE k.key_hash = %s AND t.revoked_at IS NULL",
        (hash_key(key),),
    ).fetchone()
    return row[0] if row else None
