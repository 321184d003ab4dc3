"""`vystra tenants create|list|revoke` as an operator runs them, and what the keys then open."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from helpers import run_cli

from vystra.db import Database
from vystra.settings import Settings
from vystra.tenants import hash_key


def test_create_list_revoke(settings: Settings, db: Database, client: TestClient) -> None:
    name = f"acme-{uuid.uuid4().hex[:6]}"
    created = run_cli(settings, "default", "tenants", "create", name)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("vys_") and "only now" in created.stderr
    with db.connect() as conn:  # only the hash is stored
        stored = conn.execute("SELECT key_hash FROM api_keys WHERE tenant = %s", (name,)).fetchall()
        assert stored == [(hash_key(key),)]
        assert (
            conn.execute("SELECT count(*) FROM api_keys WHERE key_hash = %s", (key,)).fetchone()[0]
            == 0
        )

    again = run_cli(settings, "default", "tenants", "create", name)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run_cli(settings, "default", "tenants", "create", "Not A DNS label")
    assert bad.returncode == 1 and "invalid tenant name" in bad.stderr

    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/videos", headers=headers).status_code == 200
    listed = run_cli(settings, "default", "tenants", "list")
    assert any(line.split()[:2] == [name, "active"] for line in listed.stdout.splitlines())

    revoked = run_cli(settings, "default", "tenants", "revoke", name)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/v1/videos", headers=headers).status_code == 401
    listed = run_cli(settings, "default", "tenants", "list")
    assert any(line.split()[:2] == [name, "revoked"] for line in listed.stdout.splitlines())

    # re-creating issues a new key; the revoked one stays dead
    renewed = run_cli(settings, "default", "tenants", "create", name).stdout.strip()
    assert renewed != key
    assert client.get("/v1/videos", headers=headers).status_code == 401
    assert (
        client.get("/v1/videos", headers={"Authorization": f"Bearer {renewed}"}).status_code == 200
    )
