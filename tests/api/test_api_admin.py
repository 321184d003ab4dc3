"""The platform's admin routes: a re-index through the API (local mode runs it in-process), while
tenants search on; tenants' keys never reach these routes."""

from __future__ import annotations

import time
import uuid

from api_helpers import Caller, seed_video
from fastapi.testclient import TestClient
from pydantic import SecretStr

from vystra.models import MULTILINGUAL_EMBEDDER
from vystra.reindex import active_embedder
from vystra.tenants import create_tenant
from vystra_api.main import create_app

ADMIN = {"Authorization": "Bearer admin-key-for-tests"}
TEXTS = [
    "Bees make honey from the nectar of flowers.",
    "Glaciers carve valleys into a U shape.",
    "The compiler turns source code into machine instructions.",
]


def test_admin_routes_are_off_without_a_key(client: TestClient, caller: Caller) -> None:
    for headers in (ADMIN, caller.headers):
        assert client.get("/v1/admin/reindex", headers=headers).status_code == 404


def test_a_reindex_through_the_api_switches_search_to_the_new_model(own_db, settings) -> None:
    db = own_db
    with db.connect() as conn:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        caller = Caller(tenant, create_tenant(conn, tenant))
    seed_video(db, active_embedder(db, settings), tenant, "topics", TEXTS)
    app = create_app(
        settings.model_copy(update={"admin_key": SecretStr("admin-key-for-tests")}), db=db
    )
    with TestClient(app) as api:
        assert api.get("/v1/admin/reindex", headers=caller.headers).status_code == 401
        before = api.get("/v1/admin/reindex", headers=ADMIN).json()
        assert before["model"] != MULTILINGUAL_EMBEDDER and before["items"] == []
        bad = api.post("/v1/admin/reindex", headers=ADMIN, json={"model": "relative/dir"})
        assert bad.status_code == 400 and bad.json()["error"] == "BadModel"
        query = {"q": "how do programs become machine code", "mode": "semantic"}
        assert api.get("/v1/search", headers=caller.headers, params=query).status_code == 200

        created = api.post(
            "/v1/admin/reindex", headers=ADMIN, json={"model": MULTILINGUAL_EMBEDDER}
        )
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while (run := api.get(f"/v1/admin/reindex/{run_id}", headers=ADMIN).json())[
            "status"
        ] not in ("done", "failed"):
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
        assert run["status"] == "done" and run["done"] == run["total"] == len(TEXTS), run
        after = api.get("/v1/admin/reindex", headers=ADMIN).json()
        assert after["model"] == MULTILINGUAL_EMBEDDER and after["dim"] == 384

        # this process loaded the old model for the first search; it now answers with the new
        found = api.get("/v1/search", headers=caller.headers, params=query).json()["results"]
        assert found[0]["text"] == TEXTS[2]
        video = api.get(f"/v1/videos/{found[0]['video_id']}", headers=caller.headers).json()
        assert video["embedding_model"] == after["name"]
        assert api.get("/v1/admin/reindex/not-a-run", headers=ADMIN).status_code == 404
