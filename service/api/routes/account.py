"""Tenant-level endpoints: the webhook signing secret."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import BackendsDep, TenantDep
from service.api.problems import problem_responses
from service.api.schemas import WebhookSecret
from service.errors import NotFoundError

router = APIRouter(prefix="/v1", tags=["account"])


@router.get(
    "/webhook-secret",
    summary="The secret that signs this tenant's webhooks (Standard Webhooks)",
    responses=problem_responses(401, 404, 429),
)
async def get_webhook_secret(tenant: TenantDep, backends: BackendsDep) -> WebhookSecret:
    secret = await backends.keys.webhook_secret(tenant)
    if secret is None:
        raise NotFoundError("this tenant has no webhook secret")
    return WebhookSecret(secret=secret)
