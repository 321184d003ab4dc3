"""Typed Python client of the Vystra API (sync ``Client`` and ``AsyncClient``, on httpx)."""

from vystra_client.client import AsyncClient, Client
from vystra_client.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PaymentRequired,
    RateLimited,
    Unauthorized,
    Unavailable,
    VystraError,
)
from vystra_client.models import (
    Event,
    Ingest,
    Moment,
    SearchPage,
    Upload,
    Video,
    Webhook,
    WebhookDelivery,
)

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Event",
    "Ingest",
    "Moment",
    "NotFound",
    "PaymentRequired",
    "RateLimited",
    "SearchPage",
    "Unauthorized",
    "Unavailable",
    "Upload",
    "Video",
    "VystraError",
    "Webhook",
    "WebhookDelivery",
]
