"""Database logins of cluster-mode workers: one role per VideoIngest.

The operator issues a login before it creates an ingest's Job and drops it once the outcome
is recorded; the role is a member of ``vystra_worker``, whose row-level security policies
(migration 0018) confine it to the tenant's videos and segments and its own origin record,
and it expires by itself at the Job's deadline. The password is random (256 bits), so its
SCRAM verifier is computed here with one iteration: the server never spends its 4096-round
hash on the admission path, and a stolen verifier still cannot be inverted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROLE_PREFIX = "vystra_i_"


@dataclass(frozen=True)
class WorkerLogin:
    user: str
    password: str


def role_name(uid: str) -> str:
    return ROLE_PREFIX + uid.replace("-", "").lower()[:48]


def scram_verifier(password: str) -> str:
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 1)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256$1:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def issue(conn: psycopg.Connection, uid: str, tenant: str, valid_for: timedelta) -> WorkerLogin:
    """The login for ``uid``'s worker: the one issued before (a retried Job create must carry
    the same password as a Job that was in fact created), or a new one."""
    return issue_many(conn, {uid: tenant}, valid_for)[uid]


def issue_many(
    conn: psycopg.Connection, tenants: Mapping[str, str], valid_for: timedelta
) -> dict[str, WorkerLogin]:
    """Logins for several workers (uid -> tenant) in one transaction: a burst of admissions
    pays for one commit, and the roles are made by one multi-statement round trip."""
    logins: dict[str, WorkerLogin] = {}
    with conn.transaction():
        known = {  # role -> still valid, for the logins issued before
            role: (password, valid)
            for role, password, valid in conn.execute(
                "SELECT role, password, expires_at > now() FROM worker_grants WHERE role = ANY(%s)",
                ([role_name(uid) for uid in tenants],),
            )
        }
        # the Job's deadline is hours away: the operator's clock is as good as the server's
        until = datetime.now(UTC) + valid_for
        rows, statements = [], []
        for uid, tenant in tenants.items():
            role = role_name(uid)
            password, valid = known.get(role, (None, False))
            if valid:
                logins[uid] = WorkerLogin(role, password)
                continue
            password = secrets.token_urlsafe(32)
            attributes = sql.SQL("LOGIN PASSWORD {} VALID UNTIL {}").format(
                sql.Literal(scram_verifier(password)), sql.Literal(until.isoformat())
            )
            statements.append(
                sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role), attributes)
                if role in known
                else sql.SQL("CREATE ROLE {} {} IN ROLE vystra_worker").format(
                    sql.Identifier(role), attributes
                )
            )
            rows.append((role, uid, tenant, password, until))
            logins[uid] = WorkerLogin(role, password)
        if not statements:
            return logins
        conn.execute(sql.SQL("; ").join(statements))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO worker_grants (role, uid, tenant, password, expires_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (role) DO UPDATE SET"
                " tenant = EXCLUDED.tenant, password = EXCLUDED.password,"
                " expires_at = EXCLUDED.expires_at",
                rows,
            )
    return logins


def revoke(conn: psycopg.Connection, uid: str) -> bool:
    """Drop ``uid``'s login (idempotent); False while a session of it is still ending (its
    temporary table goes with it): the caller tries again later, and the role expires anyway."""
    role = role_name(uid)
    try:
        with conn.transaction():
            conn.execute("DELETE FROM worker_grants WHERE role = %s", (role,))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    except psycopg.errors.DependentObjectsStillExist:
        return False
    return True


def stale(conn: psycopg.Connection, live_uids: set[str]) -> list[str]:
    """Uids whose logins outlived their ingest or their deadline."""
    rows = conn.execute("SELECT uid, expires_at > now() FROM worker_grants").fetchall()
    return [uid for uid, valid in rows if not valid or uid not in live_uids]


def without_credentials(url: str) -> str:
    """The platform's database address for a worker, which adds each ingest's own login."""
    params = conninfo_to_dict(url)
    for secret in ("user", "password", "passfile"):
        params.pop(secret, None)
    return make_conninfo("", **params)
