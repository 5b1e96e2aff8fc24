"""Defaults for the client; one place so tests and docs can refer to them."""

from __future__ import annotations

import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Uploads of a few hundred MB over a phone uplink need a long write timeout; connect stays short.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A Retry-After longer than this is surfaced (RateLimitError.retry_after) instead of slept on.
MAX_RETRY_AFTER = 60.0

# wait() without a poll_interval follows the server's Retry-After on the job, else this.
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_WAIT_TIMEOUT = 600.0

API_KEY_ENV = "KNEECAVE_API_KEY"
# The one name the docs, the load tests (loadtests/) and the TypeScript SDK use too.
BASE_URL_ENV = "KNEECAVE_BASE_URL"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
