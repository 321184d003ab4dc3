"""The CLI through a served API (``--api``/``VYSTRA_API_URL``, on the SDK), as a platform's
user runs it against a cluster install: tenants with the admin key, then ingest, search,
videos, show and delete with the tenant's key; no local database is opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from api_helpers import LiveServer
from pydantic import SecretStr

from vystra.db import Database
from vystra.demo import Section
from vystra.settings import Settings
from vystra_api.main import create_app

ADMIN = "admin-key-for-remote-cli"


def test_the_cli_runs_through_the_api(
    settings: Settings, db: Database, talk: tuple[Path, list[Section]], tmp_path: Path
) -> None:
    served = settings.model_copy(update={"admin_key": SecretStr(ADMIN)})
    home = tmp_path / "never-made"
    with LiveServer(create_app(served, db=db)) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VYSTRA_", "GROQ_"))}
        env.update(VYSTRA_API_URL=url, VYSTRA_ADMIN_KEY=ADMIN, VYSTRA_HOME=str(home))

        def vystra(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
            run_env = {**env, **({"VYSTRA_API_KEY": key} if key else {})}
            return subprocess.run(
                [sys.executable, "-m", "vystra.cli", *args],
                env=run_env,
                capture_output=True,
                text=True,
                timeout=600,
            )

        name = f"t-{uuid.uuid4().hex[:10]}"
        made = vystra("tenants", "create", name)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip()
        assert key.startswith("vys_")
        assert name in vystra("tenants", "list").stdout
        again = vystra("tenants", "create", name)
        assert again.returncode == 1 and "already exists" in again.stderr

        ingested = vystra("ingest", str(talk[0]), "--no-insights", "--json", "-q", key=key)
        assert ingested.returncode == 0, ingested.stderr
        result = json.loads(ingested.stdout)
        assert result["status"] == "ready" and result["segments"] > 0
        video_id = result["video_id"]

        hits = json.loads(
            vystra("search", "baking bread with wild yeast", "--json", key=key).stdout
        )
        assert hits[0]["video_id"] == video_id and 0 < hits[0]["relevance"] <= 1
        listed = json.loads(vystra("videos", "--json", key=key).stdout)
        assert [v["id"] for v in listed] == [video_id]
        assert vystra("show", video_id, "--format", "vtt", key=key).stdout.startswith("WEBVTT")

        local_only = vystra("models", key=key)
        assert local_only.returncode == 1 and "runs locally only" in local_only.stderr
        stranger = vystra("videos", key="vys_not-a-key")
        assert stranger.returncode == 1 and "unknown or revoked" in stranger.stderr

        assert vystra("delete", video_id, key=key).stdout.strip() == f"deleted {video_id}"
        assert vystra("tenants", "revoke", name).returncode == 0
        revoked = vystra("videos", key=key)
        assert revoked.returncode == 1 and "unknown or revoked" in revoked.stderr
    assert not home.exists()  # nothing local was opened
