"""``Client`` (sync) and ``AsyncClient``: every route of the API, on httpx.

Requests that cannot do anything twice (GETs, DELETEs, POSTs that create something, which
carry an ``Idempotency-Key``) are retried on a dropped connection, 429 and 5xx, waiting what
the API's ``Retry-After`` says; an event stream that drops is resumed after the last event
seen (``Last-Event-ID``), so no segment is lost or repeated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from vystra_client import _flows as flows
from vystra_client import models
from vystra_client.errors import Unavailable, VystraError, error_for

T = TypeVar("T")
RETRIED_STATUS = frozenset({429, 502, 503, 504})
STREAM_RECONNECTS = 10


def _identity(data: Any) -> Any:
    return data


class _Routes:
    """Each route as a flow (see _flows.py); the clients run them."""

    @staticmethod
    def _create_ingest(
        upload_id: str | None, url: str | None, key: str | None, spec: dict[str, Any]
    ) -> flows.Flow[models.Ingest]:
        body = flows.ingest_body(upload_id, url, spec)
        return flows.created("/v1/ingests", body, models.ingest, key)

    @staticmethod
    def _search(query: str, **options: Any) -> flows.Flow[models.SearchPage]:
        params = flows.search_params(
            query,
            options.get("mode", "hybrid"),
            options.get("limit", 10),
            options.get("video_ids"),
            options.get("modality"),
            options.get("cursor"),
        )
        return flows.call("GET", "/v1/search", models.search_page, params=params)


class _Base:
    def __init__(self, base_url: str, api_key: str, retries: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def _url(self, request: flows.Request) -> str:
        return request.url if "://" in request.url else self.base_url + request.url

    def _headers(self, request: flows.Request, extra: dict[str, str] | None = None) -> dict:
        return {**(self._auth if request.api_key else {}), **request.headers, **(extra or {})}

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_for(
            response.status_code,
            body,
            response.headers.get("x-request-id"),
            response.headers.get("retry-after"),
        )

    def _wait(self, attempt: int, error: VystraError | None) -> float:
        if error is not None and error.retry_after is not None:
            return min(error.retry_after, 60.0)
        return min(0.5 * 2**attempt, 10.0)


class Client(_Base, _Routes):
    """The API, synchronously: ``Client("https://videos.example.org", "vk_...")``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport``: httpx's, for a proxy, mTLS or a custom network stack."""
        super().__init__(base_url, api_key, retries)
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, request: flows.Request) -> httpx.Response:
        for attempt in range(self.retries + 1):
            error: VystraError | None = None
            try:
                return self._check(
                    self._http.request(
                        request.method,
                        self._url(request),
                        params=tuple(request.params) or None,
                        json=request.json,
                        content=request.content,
                        headers=self._headers(request),
                    )
                )
            except httpx.TransportError as exc:
                error = Unavailable(0, "NoAnswer", f"{type(exc).__name__}: {exc}")
            except VystraError as exc:
                if exc.status not in RETRIED_STATUS:
                    raise
                error = exc
            if not request.retry or attempt == self.retries:
                raise error
            time.sleep(self._wait(attempt, error))
        raise AssertionError("unreachable")

    def _run(self, flow: flows.Flow[T]) -> T:
        try:
            request = next(flow)
            while True:
                request = flow.send(self._send(request))
        except StopIteration as done:
            return done.value

    # uploads
    def upload_file(self, path: str | Path, content_type: str | None = None) -> models.Upload:
        """Upload a local file (in parts when large), ready to ingest."""
        return self._run(flows.upload_file(Path(path), content_type))

    def get_upload(self, upload_id: str) -> models.Upload:
        return self._run(flows.call("GET", f"/v1/uploads/{upload_id}", models.upload))

    def delete_upload(self, upload_id: str) -> None:
        self._run(flows.call("DELETE", f"/v1/uploads/{upload_id}", _identity))

    # ingests
    def create_ingest(
        self,
        *,
        upload_id: str | None = None,
        url: str | None = None,
        idempotency_key: str | None = None,
        **spec: Any,
    ) -> models.Ingest:
        """``spec``: the VideoIngest spec's options (title, language, model, insights, visual,
        accelerator, ...)."""
        return self._run(self._create_ingest(upload_id, url, idempotency_key, spec))

    def get_ingest(self, ingest_id: str) -> models.Ingest:
        return self._run(flows.call("GET", f"/v1/ingests/{ingest_id}", models.ingest))

    def delete_ingest(self, ingest_id: str) -> None:
        self._run(flows.call("DELETE", f"/v1/ingests/{ingest_id}", _identity))

    def ingests(self, page_size: int = 50) -> Iterator[models.Ingest]:
        """Every ingest, newest first, page by page."""
        cursor: str | None = None
        while True:
            params = [("limit", str(page_size))] + ([("cursor", cursor)] if cursor else [])
            page = self._run(flows.call("GET", "/v1/ingests", _identity, params=params))
            yield from (models.ingest(i) for i in page["items"])
            if not (cursor := page["next_cursor"]):
                return

    def events(self, ingest_id: str, after: str | None = None) -> Iterator[models.Event]:
        """The ingest's events until it ends; a dropped stream is resumed where it stopped."""
        last, reconnects = after, 0
        while True:
            headers = {**self._auth, **({"Last-Event-ID": last} if last else {})}
            try:
                with self._http.stream(
                    "GET", f"{self.base_url}/v1/ingests/{ingest_id}/events", headers=headers
                ) as response:
                    if not response.is_success:
                        response.read()
                        self._check(response)
                    lines: list[str] = []
                    for line in response.iter_lines():
                        if line:
                            lines.append(line)
                            continue
                        parsed, lines = flows.parse_events(lines), []
                        if parsed is None:
                            continue
                        name, data, event_id = parsed
                        last = event_id or last
                        yield models.Event(name, data, event_id)
                        if name == "end":
                            return
            except httpx.TransportError:
                reconnects += 1
                if reconnects > STREAM_RECONNECTS:
                    raise
                time.sleep(self._wait(reconnects, None))

    def wait(self, ingest_id: str) -> models.Ingest:
        """Follow the ingest's events until it ends; its final state."""
        for event in self.events(ingest_id):
            if event.type == "end":
                return event.ingest or self.get_ingest(ingest_id)
        return self.get_ingest(ingest_id)

    # videos
    def videos(self, page_size: int = 50) -> Iterator[models.Video]:
        """Every video, newest first, page by page (new arrivals shift nothing)."""
        cursor: str | None = None
        while True:
            params = [("limit", str(page_size))] + ([("cursor", cursor)] if cursor else [])
            page = self._run(flows.call("GET", "/v1/videos", _identity, params=params))
            yield from (models.video(v) for v in page["items"])
            if not (cursor := page["next_cursor"]):
                return

    def get_video(self, video_id: str) -> models.Video:
        """With its transcript, insights and visual index."""
        return self._run(flows.call("GET", f"/v1/videos/{video_id}", models.video))

    def delete_video(self, video_id: str) -> None:
        self._run(flows.call("DELETE", f"/v1/videos/{video_id}", _identity))

    def subtitles(self, video_id: str, fmt: str = "vtt") -> str:
        response = self._send(
            flows.Request("GET", f"/v1/videos/{video_id}/subtitles.{fmt}", retry=True)
        )
        return response.text

    # search
    def search(self, query: str, **options: Any) -> models.SearchPage:
        """``options``: mode (hybrid, semantic, keyword), limit, video_ids, modality, cursor."""
        return self._run(self._search(query, **options))

    # webhooks
    def create_webhook(self, url: str, events: list[str]) -> models.Webhook:
        """The answer holds the signing secret, shown this once."""
        body = {"url": url, "events": events}
        return self._run(flows.created("/v1/webhooks", body, models.webhook, None))

    def webhooks(self) -> list[models.Webhook]:
        return self._run(
            flows.call("GET", "/v1/webhooks", lambda d: [models.webhook(w) for w in d])
        )

    def delete_webhook(self, webhook_id: str) -> None:
        self._run(flows.call("DELETE", f"/v1/webhooks/{webhook_id}", _identity))

    def test_webhook(self, webhook_id: str) -> None:
        self._run(flows.call("POST", f"/v1/webhooks/{webhook_id}/test", _identity))

    # tenants: a Client made with the platform's admin key (VYSTRA_ADMIN_KEY)
    def create_tenant(self, name: str) -> str:
        """The new tenant's API key, shown this once."""
        body = {"name": name}
        return self._run(flows.created("/v1/admin/tenants", body, lambda d: d["api_key"], None))

    def tenants(self) -> list[dict[str, Any]]:
        return self._run(flows.call("GET", "/v1/admin/tenants", _identity))

    def revoke_tenant(self, name: str) -> None:
        self._run(flows.call("POST", f"/v1/admin/tenants/{name}/revoke", _identity))

    def webhook_deliveries(self, webhook_id: str) -> list[models.WebhookDelivery]:
        return self._run(
            flows.call(
                "GET",
                f"/v1/webhooks/{webhook_id}/deliveries",
                lambda d: [models.delivery(x) for x in d],
            )
        )


class AsyncClient(_Base, _Routes):
    """The API from asyncio: ``async with AsyncClient(url, key) as vystra: ...``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retries)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, request: flows.Request) -> httpx.Response:
        for attempt in range(self.retries + 1):
            error: VystraError | None = None
            try:
                return self._check(
                    await self._http.request(
                        request.method,
                        self._url(request),
                        params=tuple(request.params) or None,
                        json=request.json,
                        content=request.content,
                        headers=self._headers(request),
                    )
                )
            except httpx.TransportError as exc:
                error = Unavailable(0, "NoAnswer", f"{type(exc).__name__}: {exc}")
            except VystraError as exc:
                if exc.status not in RETRIED_STATUS:
                    raise
                error = exc
            if not request.retry or attempt == self.retries:
                raise error
            await asyncio.sleep(self._wait(attempt, error))
        raise AssertionError("unreachable")

    async def _run(self, flow: flows.Flow[T]) -> T:
        try:
            request = next(flow)
            while True:
                request = flow.send(await self._send(request))
        except StopIteration as done:
            return done.value

    async def upload_file(self, path: str | Path, content_type: str | None = None) -> models.Upload:
        return await self._run(flows.upload_file(Path(path), content_type))

    async def create_ingest(
        self,
        *,
        upload_id: str | None = None,
        url: str | None = None,
        idempotency_key: str | None = None,
        **spec: Any,
    ) -> models.Ingest:
        return await self._run(self._create_ingest(upload_id, url, idempotency_key, spec))

    async def get_ingest(self, ingest_id: str) -> models.Ingest:
        return await self._run(flows.call("GET", f"/v1/ingests/{ingest_id}", models.ingest))

    async def delete_ingest(self, ingest_id: str) -> None:
        await self._run(flows.call("DELETE", f"/v1/ingests/{ingest_id}", _identity))

    async def events(self, ingest_id: str, after: str | None = None) -> AsyncIterator[models.Event]:
        last, reconnects = after, 0
        while True:
            headers = {**self._auth, **({"Last-Event-ID": last} if last else {})}
            try:
                async with self._http.stream(
                    "GET", f"{self.base_url}/v1/ingests/{ingest_id}/events", headers=headers
                ) as response:
                    if not response.is_success:
                        await response.aread()
                        self._check(response)
                    lines: list[str] = []
                    async for line in response.aiter_lines():
                        if line:
                            lines.append(line)
                            continue
                        parsed, lines = flows.parse_events(lines), []
                        if parsed is None:
                            continue
                        name, data, event_id = parsed
                        last = event_id or last
                        yield models.Event(name, data, event_id)
                        if name == "end":
                            return
            except httpx.TransportError:
                reconnects += 1
                if reconnects > STREAM_RECONNECTS:
                    raise
                await asyncio.sleep(self._wait(reconnects, None))

    async def wait(self, ingest_id: str) -> models.Ingest:
        async for event in self.events(ingest_id):
            if event.type == "end":
                return event.ingest or await self.get_ingest(ingest_id)
        return await self.get_ingest(ingest_id)

    async def get_video(self, video_id: str) -> models.Video:
        return await self._run(flows.call("GET", f"/v1/videos/{video_id}", models.video))

    async def delete_video(self, video_id: str) -> None:
        await self._run(flows.call("DELETE", f"/v1/videos/{video_id}", _identity))

    async def search(self, query: str, **options: Any) -> models.SearchPage:
        return await self._run(self._search(query, **options))
