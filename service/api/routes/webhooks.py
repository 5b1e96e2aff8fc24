"""POST /v1/webhooks/test: send one signed `webhook.test` event to a URL, answer the outcome.

For wiring up a receiver without running a job: the same URL rules and SSRF guard as a
job's `webhook_url`, the same signing (the tenant's secret, Standard Webhooks) and the
same sender as the worker's, but one attempt with a short timeout and no retries.
The body is read (bounded) only once the API key is checked, as for the keypoints.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.body import read_body
from service.api.deps import BackendsDep, SettingsDep, TenantDep
from service.api.middleware import request_id_of
from service.api.problems import problem_responses
from service.errors import NotFoundError, UnsupportedMediaError
from service.webhooks import MAX_URL_LENGTH, WebhookSender, validate_webhook_url

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

TEST_EVENT = "webhook.test"
# The caller waits for the answer: never as long as a job's delivery may take.
TEST_TIMEOUT_S = 5.0
MAX_BODY_BYTES = 8 * 1024
TEST_MESSAGE = "a test event from kneecave: your receiver is reachable"


class WebhookTestRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"url": "https://app.example.com/hooks"}]}
    )

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http(s) URL of the receiver; the rules of a job's `webhook_url` apply",
    )


class WebhookTestData(BaseModel):
    """`data` of a `webhook.test` event."""

    message: str = Field(description="a human-readable note; nothing to act on")
    request_id: str | None = Field(None, description="the id of the request that sent it")


class WebhookTestResult(BaseModel):
    delivered: bool = Field(description="the receiver answered 2xx")
    status_code: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(description="why it was not delivered (HTTP status, timeout, …)")
    webhook_id: str = Field(description="the event's `webhook-id` header")


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/WebhookTestRequest"}}
        },
    }
}


async def _read_request(request: Request, idle_s: float) -> WebhookTestRequest:
    if not request.headers.get("content-type", "application/json").startswith("application/json"):
        raise UnsupportedMediaError("send the body as application/json")
    raw = await read_body(request, MAX_BODY_BYTES, idle_s)
    try:
        return WebhookTestRequest.model_validate_json(raw)
    except ValidationError as exc:
        # The same 422 `invalid_request` (with `errors`) as a body FastAPI validates.
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post(
    "/test",
    summary="Send a signed test event to a webhook URL",
    description="Sends one `webhook.test` event, signed with this tenant's secret like a job's"
    f" webhook, and answers with the outcome. One attempt, at most {TEST_TIMEOUT_S:g} s, no"
    " retries. Counts against the rate limit like a submission.",
    responses=problem_responses(401, 404, 413, 415, 422, 429),
    openapi_extra=_BODY,
)
async def send_test_webhook(
    request: Request,
    tenant: TenantDep,
    backends: BackendsDep,
    settings: SettingsDep,
) -> WebhookTestResult:
    body = await _read_request(request, settings.upload_idle_timeout_s)
    # Resolves the host (blocking DNS): off the event loop, as for a job's webhook_url.
    url = await asyncio.to_thread(
        validate_webhook_url, body.url, allow_private=settings.webhook_allow_private
    )
    secret = await backends.keys.webhook_secret(tenant)
    if secret is None:
        raise NotFoundError("this tenant has no webhook secret")
    sender = WebhookSender(
        secret,
        timeout_s=min(settings.webhook_timeout_s, TEST_TIMEOUT_S),
        max_attempts=1,
        allow_private=settings.webhook_allow_private,
    )
    webhook_id = f"msg_test_{uuid.uuid4().hex}"
    data = WebhookTestData(
        message=TEST_MESSAGE,
        request_id=request_id_of(request.scope),
    )
    (attempt,) = await sender.deliver(
        url, msg_id=webhook_id, event_type=TEST_EVENT, payload=data.model_dump(mode="json")
    )
    return WebhookTestResult(
        delivered=attempt.ok,
        status_code=attempt.status_code,
        error=attempt.error,
        webhook_id=webhook_id,
    )
