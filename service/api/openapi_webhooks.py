"""The OpenAPI 3.1 `webhooks` section: the events kneecave POSTs to a client's URL.

`job.succeeded` / `job.failed` come from the worker (service.worker.notify), `webhook.test`
from POST /v1/webhooks/test; all carry the Standard Webhooks headers and the same envelope
(`service.webhooks.WebhookSender.deliver`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.api.openapi_examples import succeeded_job_example
from service.api.routes.webhooks import TEST_EVENT, TEST_MESSAGE, WebhookTestData
from service.jobs.public import JobPublic


class JobEvent(BaseModel):
    """Sent once a job with a `webhook_url` succeeds or fails (never for a cancel)."""

    type: Literal["job.succeeded", "job.failed"]
    timestamp: datetime = Field(description="when the event was made (not the attempt)")
    data: JobPublic = Field(
        description="the job as GET /v1/jobs/{id} returns it, less `webhook_deliveries`"
    )


class WebhookTestEvent(BaseModel):
    """Sent by POST /v1/webhooks/test."""

    type: Literal["webhook.test"]
    timestamp: datetime
    data: WebhookTestData


EVENT_MODELS: tuple[type[BaseModel], ...] = (JobEvent, WebhookTestEvent)

_HEADERS: dict[str, tuple[str, str]] = {
    "webhook-id": (
        "The event's id: the same on every retry of it, so dedupe on it"
        " (`job_….succeeded`, `job_….failed`, `msg_test_…`).",
        "job_3f2a9c1e7b4d4e0f8a6b5c4d3e2f1a0b.succeeded",
    ),
    "webhook-timestamp": (
        "Unix seconds of this attempt; refuse one too far from your clock (replays).",
        "1795563609",
    ),
    "webhook-signature": (
        "`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the"
        " tenant's secret (GET /v1/webhook-secret), per Standard Webhooks; space-separated"
        " when there are several.",
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    ),
}

_RESPONSES: dict[str, Any] = {
    "2XX": {"description": "Received. Any 2xx counts; the body is not read."},
    "429": {"description": "Retried later (honouring `Retry-After`, up to 60 s)."},
    "5XX": {"description": "Retried with exponential backoff, up to `WEBHOOK_MAX_ATTEMPTS`."},
    "default": {"description": "Any other status: the receiver refused it; not retried."},
}


def _job_event_example(status: str) -> dict[str, Any]:
    job = {k: v for k, v in succeeded_job_example().items() if k != "webhook_deliveries"}
    if status == "failed":
        job |= {
            "status": "failed",
            "progress": 0.35,
            "result": None,
            "error": {"code": "no_person", "detail": "no person found in any frame"},
        }
    return {"type": f"job.{status}", "timestamp": "2026-11-24T23:40:09.412Z", "data": job}


def _event(summary: str, schema: str, example: dict[str, Any], event: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "operationId": f"webhooks-{event.replace('.', '_')}",
            "tags": ["webhooks"],
            "parameters": [
                {"$ref": f"#/components/parameters/{_parameter_name(name)}"} for name in _HEADERS
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{schema}"},
                        "example": example,
                    }
                },
            },
            "responses": _RESPONSES,
        }
    }


def _parameter_name(header: str) -> str:
    return "".join(part.capitalize() for part in header.split("-"))


def add_webhooks(spec: dict[str, Any]) -> None:
    """Adds `webhooks` and the header parameters they use (the schemas come from
    EVENT_MODELS, added by the caller with the other models)."""
    parameters = spec.setdefault("components", {}).setdefault("parameters", {})
    for name, (description, example) in _HEADERS.items():
        parameters[_parameter_name(name)] = {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
            "example": example,
        }
    spec["webhooks"] = {
        "job.succeeded": _event(
            "A job succeeded", "JobEvent", _job_event_example("succeeded"), "job.succeeded"
        ),
        "job.failed": _event(
            "A job failed", "JobEvent", _job_event_example("failed"), "job.failed"
        ),
        TEST_EVENT: _event(
            "A test event (POST /v1/webhooks/test)",
            "WebhookTestEvent",
            {
                "type": TEST_EVENT,
                "timestamp": "2026-11-24T23:41:00.000Z",
                "data": {
                    "message": TEST_MESSAGE,
                    "request_id": "req_9d1c3e0f5a7b4c2d8e6f1a3b5c7d9e0f",
                },
            },
            TEST_EVENT,
        ),
    }
