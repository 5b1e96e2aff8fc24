"""Verify a kneecave webhook (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body").

Self-contained so the SDK needs no webhook library; tests check it against the reference one
and against real deliveries from the service.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeAlias

import pydantic

from kneecave_sdk._exceptions import WebhookVerificationError
from kneecave_sdk._model_base import Model
from kneecave_sdk._models import JobEvent, WebhookTestEvent

__all__ = ["UnknownEvent", "WebhookEvent", "verify_webhook"]

DEFAULT_TOLERANCE_S = 300.0
_PREFIX = "whsec_"


class UnknownEvent(Model):
    """An event type newer than this SDK: kept as it came rather than refused."""

    type: str
    timestamp: datetime
    data: dict[str, Any]


WebhookEvent: TypeAlias = JobEvent | WebhookTestEvent | UnknownEvent
"""What verify_webhook() returns; narrow it with isinstance (``JobEvent``: ``.data`` is a Job)."""


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("webhook secret is not valid base64") from exc
    if not key:
        raise WebhookVerificationError("webhook secret is empty")
    return key


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> WebhookEvent:
    """Return the verified event or raise WebhookVerificationError.

    ``payload`` must be the raw request body, byte for byte: re-serialised JSON will not verify.
    The timestamp window (default 5 min) limits replay; dedupe on ``webhook-id`` as well.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        raise WebhookVerificationError("webhook-timestamp outside the tolerance window")

    body = payload.encode() if isinstance(payload, str) else payload
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return _event(body)
    raise WebhookVerificationError("no matching signature")


def _event(body: bytes) -> WebhookEvent:
    try:
        raw = json.loads(body)
        kind = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(kind, str):
            raise WebhookVerificationError("signed, but not a kneecave event (no type)")
        if kind.startswith("job."):
            return JobEvent.model_validate(raw)
        if kind == "webhook.test":
            return WebhookTestEvent.model_validate(raw)
        return UnknownEvent.model_validate(raw)
    except (ValueError, pydantic.ValidationError) as exc:
        raise WebhookVerificationError(f"signed, but not a kneecave event: {exc}") from exc
