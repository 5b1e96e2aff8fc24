"""Retry policy as pure functions of (attempt, response headers); no I/O, easy to test."""

from __future__ import annotations

import email.utils
import math
import random
from datetime import datetime, timezone

import httpx

from kneecave_sdk import _constants as c


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), else None."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            value = float(ms) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(value, 0.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        value = (when - datetime.now(timezone.utc)).total_seconds()
    return max(value, 0.0) if math.isfinite(value) else None


def should_retry(response: httpx.Response) -> bool:
    """408/429/5xx are retried unless the server says otherwise or asks for a long wait."""
    hint = response.headers.get("x-should-retry")
    if hint in ("true", "false"):
        return bool(hint == "true")
    if response.status_code not in (408, 429) and response.status_code < 500:
        return False
    retry_after = parse_retry_after(response.headers)
    return retry_after is None or retry_after <= c.MAX_RETRY_AFTER


def retry_delay(attempt: int, headers: httpx.Headers | None) -> float:
    """Delay before retry ``attempt`` (0-based): Retry-After if sane, else jittered backoff."""
    if headers is not None:
        retry_after = parse_retry_after(headers)
        if retry_after is not None and retry_after <= c.MAX_RETRY_AFTER:
            return retry_after
    step = min(c.INITIAL_RETRY_DELAY * 2.0**attempt, c.MAX_RETRY_DELAY)
    # Up to 25% jitter so many clients retrying after one outage do not arrive in lockstep.
    return step * (1 - 0.25 * random.random())
