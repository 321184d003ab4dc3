"""A tenant's webhook endpoints: create (the signing secret is shown once), list, delete, send a
test event, and read an endpoint's delivery log. Events and delivery: vystra/webhooks.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from vystra import webhooks
from vystra.errors import SourceError
from vystra.urlguard import check_source_url
from vystra.webhooks import Endpoint, EventType
from vystra_api.deps import StateDep, TenantDep
from vystra_api.errors import ApiError, not_found
from vystra_api.idempotency import IdempotencyKey, idempotent
from vystra_api.models import (
    ID_MAX,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
)
from vystra_api.state import AppState

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(max_length=ID_MAX, pattern=r"^wh-[0-9a-f]{12}$")]


def _public(endpoint: Endpoint) -> WebhookPublic:
    return WebhookPublic(
        id=endpoint.id, url=endpoint.url, events=endpoint.events, created_at=endpoint.created_at
    )


@router.post("", status_code=201, summary="Register an endpoint for the tenant's events")
def create_webhook(
    body: WebhookCreate,
    tenant: TenantDep,
    state: StateDep,
    response: Response,
    key: IdempotencyKey = None,
) -> WebhookCreated:
    return idempotent(
        state,
        tenant,
        key,
        body,
        response,
        (201, WebhookCreated),
        lambda: _create(body, tenant, state),
    )


def _create(body: WebhookCreate, tenant: str, state: AppState) -> WebhookCreated:
    try:  # the same rules as URL sources: never the platform's own network
        check_source_url(body.url, state.settings)
    except SourceError as exc:
        raise ApiError(400, str(exc), reason="WebhookForbidden") from exc
    with state.db.connect() as conn:
        if len(webhooks.list_endpoints(conn, tenant)) >= state.settings.tenant_max_webhooks:
            raise ApiError(
                409,
                f"at most {state.settings.tenant_max_webhooks} webhook endpoints; delete one first",
            )
        made = webhooks.create_endpoint(
            conn, tenant, f"wh-{uuid.uuid4().hex[:12]}", body.url, sorted(set(body.events))
        )
    return WebhookCreated(**_public(made).model_dump(), secret=made.secret)


@router.get("", summary="The tenant's webhook endpoints")
def list_webhooks(tenant: TenantDep, state: StateDep) -> list[WebhookPublic]:
    with state.db.connect() as conn:
        return [_public(e) for e in webhooks.list_endpoints(conn, tenant)]


def _endpoint(state: AppState, tenant: str, webhook_id: str) -> Endpoint:
    with state.db.connect() as conn:
        found = webhooks.get_endpoint(conn, tenant, webhook_id)
    if found is None:
        raise not_found("webhook", webhook_id)
    return found


@router.get("/{webhook_id}", summary="One webhook endpoint")
def get_webhook(webhook_id: WebhookId, tenant: TenantDep, state: StateDep) -> WebhookPublic:
    return _public(_endpoint(state, tenant, webhook_id))


@router.delete("/{webhook_id}", status_code=204, summary="Delete an endpoint and its log")
def delete_webhook(webhook_id: WebhookId, tenant: TenantDep, state: StateDep) -> Response:
    with state.db.connect() as conn:
        if not webhooks.delete_endpoint(conn, tenant, webhook_id):
            raise not_found("webhook", webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    summary="Queue a webhook.test event to this endpoint (see its deliveries)",
)
def test_webhook(webhook_id: WebhookId, tenant: TenantDep, state: StateDep) -> WebhookPublic:
    endpoint = _endpoint(state, tenant, webhook_id)
    with state.db.connect() as conn:
        webhooks.emit(
            conn,
            tenant,
            EventType.webhook_test,
            str(uuid.uuid4()),
            {"webhook_id": endpoint.id},
            endpoint_id=endpoint.id,
        )
    return _public(endpoint)


@router.get("/{webhook_id}/deliveries", summary="The endpoint's latest deliveries, newest first")
def list_deliveries(
    webhook_id: WebhookId, tenant: TenantDep, state: StateDep
) -> list[WebhookDeliveryPublic]:
    endpoint = _endpoint(state, tenant, webhook_id)
    with state.db.connect() as conn:
        found = webhooks.deliveries(conn, endpoint.id)
    return [
        WebhookDeliveryPublic(**{k: v for k, v in vars(d).items() if k != "endpoint_id"})
        for d in found
    ]
