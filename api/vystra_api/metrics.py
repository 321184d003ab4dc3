"""Prometheus metrics: request latency, search latency and ingests by phase.

Each app has its own registry, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PHASES = ("Pending", "Queued", "Running", "Succeeded", "Failed")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _IngestPhases(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("vystra_ingests", "Ingests by phase.", labels=["phase"])
        try:
            counts = self.counts()
        except Exception:  # a scrape must not fail because the backend is down
            counts = {}
        for phase in PHASES:
            family.add_metric([phase], counts.get(phase, 0))
        yield family


class _Backlog(Collector):
    """An outbox's backlog (what waits, and the age of the oldest): one that grows means its
    deliveries are failing (Stripe's usage reports, webhook endpoints)."""

    def __init__(
        self, name: tuple[str, str], what: str, read: Callable[[], tuple[int, float]]
    ) -> None:
        self.name, self.what, self.read = name, what, read

    def collect(self) -> Iterator[Metric]:
        try:
            pending, oldest = self.read()
        except Exception:  # a scrape must not fail because the database is down
            return
        yield GaugeMetricFamily(self.name[0], f"{self.what} waiting.", pending)
        yield GaugeMetricFamily(
            self.name[1], f"Age of the oldest of the {self.what.lower()} waiting (0: none).", oldest
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "vystra_http_request_duration_seconds",
            "Time to answer an HTTP request (to the last byte; event streams excluded).",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.search = Histogram(
            "vystra_search_duration_seconds",
            "Time to run a search, query embedding included.",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch_ingests(self, counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_IngestPhases(counts))

    def watch_outbox(self, read: Callable[[], tuple[int, float]]) -> None:
        names = ("vystra_billing_outbox_pending", "vystra_billing_outbox_oldest_seconds")
        self.registry.register(_Backlog(names, "Usage records not yet reported to Stripe", read))

    def watch_webhooks(self, read: Callable[[], tuple[int, float]]) -> None:
        names = ("vystra_webhook_backlog", "vystra_webhook_oldest_seconds")
        self.registry.register(_Backlog(names, "Webhook deliveries", read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestTimer:
    """ASGI middleware timing each request by route template (bounded label values)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        streaming = [False]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = dict(message.get("headers") or [])
                streaming[0] = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not streaming[0]:
                route = scope.get("route")
                self.metrics.requests.labels(
                    scope["method"], getattr(route, "path", "unmatched"), str(status[0])
                ).observe(time.perf_counter() - start)
