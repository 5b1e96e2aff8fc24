"""An error mid-request: a browser app on a CORS origin must still read the answer
(problem+json, its X-Request-Id), not a bare network error, and the answer carries the
same headers as every other one. Redis unreachable is a 503 `unavailable` with
Retry-After (a retry may succeed); any other unexpected error is a 500."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis.exceptions import ConnectionError as RedisConnectionError

from service.api.app import create_app
from service.jobs.redis import RedisJobBackend
from tests.service_support import free_port, make_env

APP = "https://app.example"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RedisConnectionError("Error 111 connecting to redis. Connection refused."), 503,
         "unavailable"),
        (RuntimeError("a bug in the redis backend"), 500, "internal_error"),
    ],
)  # fmt: skip
def test_an_error_mid_request_answers_a_readable_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, code: str
) -> None:
    async def failing(self: RedisJobBackend, *args: Any) -> Any:
        raise error

    monkeypatch.setattr(RedisJobBackend, "_list", failing)
    with make_env("redis", tmp_path) as env:
        api_key = env.create_key("acme").api_key
        settings = env.settings().model_copy(update={"cors_origins": APP})
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_config=None))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                time.sleep(0.05)
            headers = {"Authorization": f"Bearer {api_key}", "Origin": APP}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as c:
                failed = c.get("/v1/jobs")
                after = c.get("/v1/jobs/job_" + "0" * 32)
        finally:
            server.should_exit = True
            thread.join(10)
    assert failed.status_code == status
    assert failed.headers["content-type"] == "application/problem+json"
    body = failed.json()
    assert body["code"] == code
    if status == 503:
        assert failed.headers["retry-after"] == "5"
    assert "redis" not in failed.text.lower()  # no internals in the answer
    # What fetch() needs to read the answer at all, and the id a support request quotes.
    assert failed.headers.get("access-control-allow-origin") == APP
    assert "X-Request-Id" in failed.headers.get("access-control-expose-headers", "")
    assert failed.headers["x-request-id"] == body["request_id"]
    # The same headers as any answer: the budget it counted against, no caching.
    assert failed.headers.get("ratelimit-policy", "").startswith('"poll"')
    assert failed.headers.get("cache-control") == "no-store"
    assert failed.headers.get("x-content-type-options") == "nosniff"
    assert after.status_code == 404  # the server goes on answering
