"""The OpenAPI document is a contract for generated clients: every operation has a stable,
unique, readable ``operationId`` and a tag, says how it is authorised, and a public linter
(Redocly CLI's recommended rules, from web/'s npm lock) finds nothing to report."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from vystra.settings import Settings
from vystra_api.main import create_app

REDOCLY = Path(__file__).resolve().parents[2] / "web" / "node_modules" / ".bin" / "redocly"
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")


def operations() -> list[tuple[str, str, dict]]:
    spec = create_app(Settings()).openapi()
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def test_every_operation_has_a_unique_camel_case_id_and_a_tag() -> None:
    found = operations()
    ids = [op["operationId"] for _, _, op in found]
    assert len(found) > 20 and len(set(ids)) == len(ids), ids
    for method, path, op in found:
        assert CAMEL_CASE.match(op["operationId"]), (method, path, op["operationId"])
        assert op.get("tags"), (method, path)


def test_operation_ids_name_what_the_route_does_not_where_it_lives() -> None:
    by_route = {(method, path): op["operationId"] for method, path, op in operations()}
    # the names clients and the docs use; a renamed route function must not rename these
    assert by_route[("POST", "/v1/ingests")] == "createIngest"
    assert by_route[("GET", "/v1/ingests/{ingest_id}/events")] == "ingestEvents"
    assert by_route[("GET", "/v1/search")] == "searchMoments"
    assert by_route[("DELETE", "/v1/videos/{video_id}")] == "deleteVideo"
    assert not any("v1" in name or "_" in name for name in by_route.values())


def test_redoclys_recommended_rules_find_no_error_and_no_warning(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(create_app(Settings()).openapi()))
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    linted = subprocess.run(
        [str(REDOCLY), "lint", str(document), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,  # no redocly.yaml there: the built-in recommended ruleset
    )
    report = json.loads(linted.stdout)
    problems = [(p["ruleId"], p["message"]) for p in report["problems"]]
    assert report["totals"]["errors"] == 0 and report["totals"]["warnings"] == 0, problems
    assert linted.returncode == 0, linted.stderr


def test_routes_without_an_api_key_say_so() -> None:
    public = {(m, p) for m, p, op in operations() if op.get("security") == []}
    # signed URLs, Stripe's signature, sign-in and the probes: nothing else goes without a key
    assert public == {
        ("POST", "/v1/session"),
        ("DELETE", "/v1/session"),
        ("PUT", "/v1/uploads/{upload_id}/content"),
        ("GET", "/v1/media/{key}"),
        ("POST", "/v1/billing/webhook"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }
    for method, path, op in operations():
        assert op.get("security") is not None, (method, path)
