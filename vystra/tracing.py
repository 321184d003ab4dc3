"""Optional OpenTelemetry traces, on when an OTLP/HTTP endpoint is configured by the standard
variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``), and
free otherwise: the API's no-op tracer records nothing and no exporter is loaded.

An ingest's trace crosses processes as a W3C ``traceparent``: the API request's span (joined
to the caller's own trace when it sends one) is written on the VideoIngest (an annotation) or
the local ingest's row, and the operator's admission and the worker's ingest, with a span per
stage, continue it. A traceparent from outside (a header, an annotation anyone may set on a
kubectl-made resource) is kept only in the W3C format, and ignored otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACEPARENT = "traceparent"  # the W3C header, and the carrier key
# version 00 of the W3C format; anything else from outside is dropped where it enters
TRACEPARENT_FORMAT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("vystra")  # follows the provider configure() sets, if any


_configured = False


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def configure(service: str) -> bool:
    """Export this process's spans over OTLP/HTTP when an endpoint is configured; spans still
    queued are sent at exit. ``OTEL_SERVICE_NAME`` overrides ``service``."""
    if not enabled():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    global _configured
    _configured = True
    return True


def valid_traceparent(value: object) -> str | None:
    return value if isinstance(value, str) and TRACEPARENT_FORMAT.match(value) else None


def parent(traceparent: str | None) -> Context | None:
    """The context a W3C traceparent names; None if it is absent or malformed."""
    if valid_traceparent(traceparent) is None:
        return None
    context = _propagator.extract({TRACEPARENT: traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def traceparent() -> str | None:
    """The traceparent of the span now current, to hand to another process; None when no
    span records (tracing off)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def span(
    name: str,
    *,
    within: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    start_time: float | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span made current for the block: a child of the span now current, or of the trace
    ``within`` names (another process's traceparent). ``start_time``: epoch seconds, for work
    that began before this process saw it. With tracing off nothing is recorded, but the
    trace ``within`` names stays current, so the traceparent handed on is the caller's."""
    context = parent(within)
    if not _configured:
        token = otel_context.attach(context) if context is not None else None
        try:
            yield trace.get_current_span()
        finally:
            if token is not None:
                otel_context.detach(token)
        return
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        start_time=None if start_time is None else int(start_time * 1e9),
        attributes=attributes,
    ) as current:
        yield current
