"""With an operations port (the chart sets one), readiness and metrics leave the public port."""

from __future__ import annotations

import httpx
from api_helpers import LiveServer

from vystra.db import Database
from vystra.settings import Settings
from vystra_api.main import create_app, create_ops_app


def test_readiness_and_metrics_are_served_on_the_operations_port_only(
    settings: Settings, db: Database
) -> None:
    app = create_app(settings, db=db, ops_routes=False)
    with LiveServer(create_ops_app(app)) as ops_url:
        starting = httpx.get(f"{ops_url}/readyz")  # the API itself has not started yet
        assert starting.status_code == 503 and starting.json()["message"] == "the API is starting"
        with LiveServer(app) as url:
            for path in ("/readyz", "/metrics"):
                assert httpx.get(f"{url}{path}").status_code == 404, path
            assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
            ready = httpx.get(f"{ops_url}/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
            metrics = httpx.get(f"{ops_url}/metrics").text
            assert 'route="/healthz"' in metrics and "vystra_ingests{" in metrics
            assert httpx.get(f"{ops_url}/healthz").json() == {"status": "ok"}
