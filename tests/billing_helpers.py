"""Helpers for billing tests: stripe-mock as a process, and Stripe-signed webhook events."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HACK = Path(__file__).resolve().parents[1] / "hack"
API_KEY = "sk_test_" + uuid.uuid4().hex  # stripe-mock accepts any alphanumeric sk_test_ key
WEBHOOK_SECRET = "whsec_" + uuid.uuid4().hex

PLANS = """
- name: free
  included_minutes: 10
  max_video_seconds: 600
  max_concurrent_ingests: 2
- name: pro
  stripe_price_id: price_pro_base
  stripe_metered_price_id: price_pro_seconds
  included_minutes: 600
  overage: true
  max_video_seconds: 7200
  max_concurrent_ingests: 5
  gpu_allowed: true
- name: short
  stripe_price_id: price_short_base
  included_minutes: 30
  max_video_seconds: 60
  max_concurrent_ingests: 1
"""


_LISTENING = re.compile(r"Listening for HTTP at address: 127\.0\.0\.1:(\d+)")


def ensure_stripe_mock() -> Path:
    """The pinned stripe-mock, built once from its Go module into ~/.cache/vystra."""
    out = subprocess.run(
        [str(HACK / "build-stripe-mock.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1]) / "stripe-mock"


class StripeMock:
    """stripe-mock on loopback (HTTP and HTTPS both bound to 127.0.0.1), stoppable and
    restartable on the same port to play a Stripe outage."""

    def __init__(self, binary: Path, log_dir: Path) -> None:
        self.binary = binary
        self.log_dir = log_dir
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        log = self.log_dir / f"stripe-mock-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    "-http-addr",
                    f"127.0.0.1:{self.port or ''}",  # empty port: the system picks a free one
                    "-https-addr",
                    "127.0.0.1:",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = _LISTENING.search(log.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
                self._wait_ready()
                return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"stripe-mock did not start: {log.read_text(errors='replace')}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/v1/customers", headers=auth("sk_test_ready"), timeout=2)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def fixture_object(base_url: str, path: str) -> dict[str, Any]:
    """A Stripe object as stripe-mock's fixtures (from Stripe's OpenAPI spec) shape it."""
    return httpx.get(f"{base_url}{path}", headers=auth("sk_test_fixture"), timeout=10).json()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header by Stripe's scheme: HMAC-SHA256 over "<t>.<payload>"."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {"object": obj},
    }


def encode(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def upload_file(client: Any, headers: dict[str, str], path: Path) -> str:
    """Upload a file through the API's presigned PUT; returns the upload id."""
    data = path.read_bytes()
    upload = client.post(
        "/v1/uploads",
        headers=headers,
        json={"filename": path.name, "size_bytes": len(data), "content_type": "video/mp4"},
    ).json()
    assert client.put(upload["url"], content=data, headers=upload["headers"]).is_success
    done = client.post(f"/v1/uploads/{upload['id']}/complete", headers=headers)
    assert done.status_code == 200, done.text
    return str(upload["id"])


def wait_finished(
    client: Any, headers: dict[str, str], ingest_id: str, timeout: float = 600
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ingest = client.get(f"/v1/ingests/{ingest_id}", headers=headers).json()
        if ingest["phase"] in ("Succeeded", "Failed"):
            return ingest
        time.sleep(0.5)
    raise AssertionError(f"ingest {ingest_id} did not finish in {timeout}s")
