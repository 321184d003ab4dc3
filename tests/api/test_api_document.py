"""The OpenAPI document is a contract for generated clients: every operation has a stable,
unique, readable ``operationId`` and a tag, says how it is authorised, a public linter
(Redocly CLI's recommended rules, from web/'s npm lock) finds nothing to report, and a public
generator (openapi-python-client) makes a client from it that type-checks and works."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from api_helpers import Caller

from vystra.settings import Settings
from vystra_api.main import create_app

REDOCLY = Path(__file__).resolve().parents[2] / "web" / "node_modules" / ".bin" / "redocly"
BIN = Path(sys.executable).parent
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


# The generator's settings: its own package name (vystra_client is the SDK's), no formatter run,
# and the binary answers (thumbnails, media) read as bytes.
GENERATOR_CONFIG = """\
project_name_override: vystra-generated
package_name_override: vystra_generated
post_hooks: []
content_type_overrides:
  image/jpeg: application/octet-stream
  video/mp4: application/octet-stream
"""

# A program written against the generated client: mypy checks it with the client, then it runs.
GENERATED_CLIENT_USE = """\
import os

from vystra_generated import AuthenticatedClient
from vystra_generated.api.search import search_moments
from vystra_generated.api.webhooks import create_webhook, delete_webhook, get_webhook, list_webhooks
from vystra_generated.models import ErrorBody, SearchResults, WebhookCreate, WebhookCreated
from vystra_generated.models import WebhookCreateEventsItem

client = AuthenticatedClient(base_url=os.environ["API_URL"], token=os.environ["API_KEY"])
body = WebhookCreate(
    url="https://hooks.example.org/vystra", events=[WebhookCreateEventsItem.INGEST_SUCCEEDED]
)
made = create_webhook.sync(client=client, body=body, idempotency_key="generated-1")
again = create_webhook.sync(client=client, body=body, idempotency_key="generated-1")
assert isinstance(made, WebhookCreated) and made.secret.startswith("whsec_"), made
assert isinstance(again, WebhookCreated) and again.id == made.id, again
listed = list_webhooks.sync(client=client)
assert isinstance(listed, list) and [w.id for w in listed] == [made.id], listed
missing = get_webhook.sync_detailed(client=client, webhook_id="wh-000000000000")
assert missing.status_code == 404 and isinstance(missing.parsed, ErrorBody), missing
assert missing.parsed.error == "NotFound", missing.parsed
assert delete_webhook.sync_detailed(client=client, webhook_id=made.id).status_code == 204
found = search_moments.sync(client=client, q="anything at all", limit=3)
assert isinstance(found, SearchResults) and found.results == [], found
print("ok")
"""


def test_a_generated_client_type_checks_and_runs(
    tmp_path: Path, live_url: str, caller: Caller
) -> None:
    document, config = tmp_path / "openapi.json", tmp_path / "generator.yaml"
    document.write_text(json.dumps(create_app(Settings()).openapi()))
    config.write_text(GENERATOR_CONFIG)
    package = tmp_path / "vystra_generated"
    generated = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(document),
         "--config", str(config), "--meta", "none", "--output-path", str(package)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "warning" not in generated.stdout.lower(), generated.stdout  # no route left out
    program = tmp_path / "use_client.py"
    program.write_text(textwrap.dedent(GENERATED_CLIENT_USE))
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
         "--explicit-package-bases", str(package), str(program)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    env = {**os.environ, "API_URL": live_url, "API_KEY": caller.key, "PYTHONPATH": str(tmp_path)}
    ran = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=120, env=env
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "ok"), ran.stderr
