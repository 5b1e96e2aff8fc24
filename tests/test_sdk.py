"""Client-behaviour tests for sdk/python (kneecave_sdk) through httpx.MockTransport: retry policy,
Retry-After, idempotency-key reuse, upload rewinding, problem+json → exception mapping, wait().
The SDK against the real API is an integration test (tests/ of the API), not this file."""

from __future__ import annotations

import asyncio
import io
import json
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import kneecave_sdk
import pytest
from kneecave_sdk import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    InternalServerError,
    JobFailedError,
    KneecaveError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnsupportedMediaTypeError,
    ValidationError,
    WaitTimeoutError,
    WebhookVerificationError,
    verify_webhook,
)
from standardwebhooks import Webhook

from service.webhooks import WebhookSender, generate_webhook_secret

BASE = "https://api.kneecave.test"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40  # an mp4-looking 10 KiB body
Reply = httpx.Response | Exception


def job_json(status: str = "queued", **extra: Any) -> dict[str, Any]:
    return {
        "id": "job_1",
        "status": status,
        "progress": 0.0,
        "created_at": "2026-11-24T23:00:00Z",
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        **extra,
    }


def problem(status: int, code: str, detail: str = "nope", **headers: str) -> httpx.Response:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status}
    body |= {"code": code, "detail": detail}
    return httpx.Response(
        status, json=body, headers={"content-type": "application/problem+json", **headers}
    )


class Script:
    """A MockTransport handler that answers from a list and records every request it saw."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()  # consume the (possibly streamed) body so tests can inspect it
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


def client(script: Script, **kwargs: Any) -> tuple[Client, list[float]]:
    c = Client("kc_test", base_url=BASE, transport=httpx.MockTransport(script), **kwargs)
    slept: list[float] = []
    c._sleep = slept.append  # record the delays instead of sleeping through them
    return c, slept


def async_client(script: Script, **kwargs: Any) -> tuple[AsyncClient, list[float]]:
    c = AsyncClient("kc_test", base_url=BASE, transport=httpx.MockTransport(script), **kwargs)
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    c._sleep = record
    return c, slept


def test_exported_members() -> None:
    public = {
        name
        for name, value in vars(kneecave_sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(kneecave_sdk.__all__)


# --- create_job: upload, idempotency ------------------------------------------------------------


def test_create_job_streams_multipart_with_auth_and_fields(tmp_path: Path) -> None:
    path = tmp_path / "squat.mp4"
    path.write_bytes(VIDEO)
    script = Script(httpx.Response(202, json=job_json(), headers={"Location": "/v1/jobs/job_1"}))
    c, _ = client(script)
    job = c.create_job(path, view="front", webhook_url="https://app.example/hook")
    assert job.id == "job_1"
    assert job.status == "queued"
    assert not job.terminal
    (req,) = script.requests
    assert (req.method, str(req.url)) == ("POST", f"{BASE}/v1/jobs")
    assert req.headers["authorization"] == "Bearer kc_test"
    assert req.headers["content-type"].startswith("multipart/form-data")
    body = req.content
    assert b'name="video"; filename="squat.mp4"' in body
    assert b"Content-Type: video/mp4" in body
    assert VIDEO in body
    assert b'name="view"\r\n\r\nfront' in body
    assert b'name="webhook_url"\r\n\r\nhttps://app.example/hook' in body


def test_idempotency_key_is_generated_once_and_reused_across_retries(tmp_path: Path) -> None:
    path = tmp_path / "squat.mp4"
    path.write_bytes(VIDEO)
    script = Script(
        problem(503, "unavailable"),
        httpx.ConnectError("reset"),
        httpx.Response(202, json=job_json()),
    )
    c, slept = client(script)
    c.create_job(path)
    keys = [r.headers["idempotency-key"] for r in script.requests]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    assert keys[0].startswith("kc-")
    # Every attempt re-sends the whole video, not the tail left over by the previous one.
    assert all(VIDEO in r.content for r in script.requests)
    assert [r.headers.get("x-retry-count") for r in script.requests] == [None, "1", "2"]
    assert len(slept) == 2
    # A second logical create gets a fresh key.
    c.create_job(path)
    assert script.requests[-1].headers["idempotency-key"] != keys[0]


def test_given_idempotency_key_and_file_object_are_rewound_on_retry() -> None:
    f = io.BytesIO(VIDEO)
    f.read(100)  # a caller that already peeked at the header still uploads the whole file
    script = Script(problem(500, "internal_error"), httpx.Response(202, json=job_json()))
    c, _ = client(script)
    c.create_job(f, idempotency_key="order-42", filename="rep.mov")
    assert [r.headers["idempotency-key"] for r in script.requests] == ["order-42", "order-42"]
    for r in script.requests:
        assert VIDEO in r.content
        assert b'filename="rep.mov"' in r.content


class _Pipe(io.RawIOBase):
    """A readable, non-seekable stream (like a socket or stdin)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_non_seekable_upload_is_not_retried() -> None:
    script = Script(problem(503, "unavailable"), httpx.Response(202, json=job_json()))
    c, _ = client(script)
    with pytest.raises(InternalServerError):
        c.create_job(io.BufferedReader(_Pipe(VIDEO)))
    assert len(script.requests) == 1


# --- retry policy -------------------------------------------------------------------------------


def test_retry_after_is_honoured() -> None:
    script = Script(
        problem(429, "rate_limited", **{"Retry-After": "2"}), httpx.Response(200, json=job_json())
    )
    c, slept = client(script)
    assert c.get_job("job_1").id == "job_1"
    assert slept == [2.0]


def test_long_retry_after_raises_rate_limit_instead_of_sleeping() -> None:
    script = Script(problem(429, "rate_limited", **{"Retry-After": "3600"}))
    c, slept = client(script)
    with pytest.raises(RateLimitError) as info:
        c.get_job("job_1")
    assert info.value.retry_after == 3600
    assert info.value.code == "rate_limited"
    assert slept == []
    assert len(script.requests) == 1


def test_5xx_retries_with_backoff_then_raises_with_problem_fields() -> None:
    script = Script(problem(503, "queue_unavailable", "redis down", **{"x-request-id": "req-9"}))
    c, slept = client(script, max_retries=3)
    with pytest.raises(InternalServerError) as info:
        c.get_job("job_1")
    err = info.value
    assert (err.status_code, err.code, err.detail, err.request_id) == (
        503,
        "queue_unavailable",
        "redis down",
        "req-9",
    )
    assert len(script.requests) == 4
    # Exponential 0.5, 1, 2 s with up to 25% jitter taken off.
    for delay, step in zip(slept, [0.5, 1.0, 2.0], strict=True):
        assert 0.75 * step <= delay <= step


def test_connection_errors_and_timeouts_are_retried_then_raised() -> None:
    c, _ = client(Script(httpx.ConnectError("refused"), httpx.Response(200, json=job_json())))
    assert c.get_job("job_1").id == "job_1"

    script = Script(httpx.ReadTimeout("slow"))
    c, slept = client(script, max_retries=2)
    with pytest.raises(APITimeoutError) as info:
        c.get_job("job_1")
    assert isinstance(info.value, APIConnectionError)
    assert len(script.requests) == 3
    assert len(slept) == 2


def test_server_can_veto_retry() -> None:
    script = Script(problem(503, "draining", **{"x-should-retry": "false"}))
    c, _ = client(script)
    with pytest.raises(InternalServerError):
        c.get_job("job_1")
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (415, UnsupportedMediaTypeError),
        (422, ValidationError),
        (418, APIStatusError),
    ],
)
def test_4xx_maps_to_typed_error_and_is_not_retried(status: int, exc: type[APIStatusError]) -> None:
    script = Script(problem(status, "some_code", "why"), httpx.Response(200, json=job_json()))
    c, _ = client(script)
    with pytest.raises(exc) as info:
        c.get_job("job_1")
    assert type(info.value) is exc
    assert isinstance(info.value, APIError)
    assert isinstance(info.value, KneecaveError)
    assert (info.value.status_code, info.value.code, info.value.detail) == (
        status,
        "some_code",
        "why",
    )
    assert info.value.title == "some code"
    assert "some_code" in str(info.value)
    assert len(script.requests) == 1


def test_error_bodies_that_are_not_problem_json() -> None:
    c, _ = client(Script(httpx.Response(502, text="<html>bad gateway</html>")), max_retries=0)
    with pytest.raises(InternalServerError) as info:
        c.get_job("job_1")
    assert info.value.code is None
    assert info.value.detail == "<html>bad gateway</html>"

    fastapi_422 = {"detail": [{"loc": ["body", "view"], "msg": "bad view"}]}
    c, _ = client(Script(httpx.Response(422, json=fastapi_422)))
    with pytest.raises(ValidationError) as info2:
        c.get_job("job_1")
    assert info2.value.detail is not None
    assert "bad view" in info2.value.detail


# --- other endpoints ----------------------------------------------------------------------------


def test_list_iter_cancel_delete_and_score() -> None:
    pages = Script(
        httpx.Response(200, json={"items": [job_json(id="a")], "next_cursor": "c2"}),
        httpx.Response(200, json={"items": [job_json(id="b")], "next_cursor": None}),
    )
    c, _ = client(pages)
    assert [j.id for j in c.iter_jobs(limit=1)] == ["a", "b"]
    assert [dict(r.url.params) for r in pages.requests] == [
        {"limit": "1"},
        {"limit": "1", "cursor": "c2"},
    ]

    script = Script(httpx.Response(200, json=job_json("canceled")), httpx.Response(204))
    c, _ = client(script)
    assert c.cancel_job("job_1").status == "canceled"
    c.delete_job("job_1")
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("POST", "/v1/jobs/job_1/cancel"),
        ("DELETE", "/v1/jobs/job_1"),
    ]

    class ArrayLike:
        def tolist(self) -> list[list[list[float]]]:
            return [[[1.0, 2.0, 0.0, 0.9, 0.9]] * 33]

    script = Script(httpx.Response(200, json={"rep_count": 0, "reps": []}))
    c, _ = client(script)
    assert c.score_keypoints(ArrayLike(), fps=30, width=640, height=480) == {
        "rep_count": 0,
        "reps": [],
    }
    sent = json.loads(script.requests[0].content)
    assert sent["fps"] == 30
    assert (sent["width"], sent["height"], sent["view"]) == (640, 480, "auto")
    assert len(sent["landmarks"][0]) == 33


def test_score_keypoints_sends_timestamps_and_webhook_secret_is_read() -> None:
    script = Script(
        httpx.Response(200, json={"rep_count": 0}),
        httpx.Response(200, json={"secret": "whsec_abc"}),
    )
    c, _ = client(script)
    frames = [[[1.0, 2.0, 0.0, 0.9, 0.9]] * 33] * 2
    c.score_keypoints(frames, fps=30, width=640, height=480, view="front", t_s=[0.0, 1 / 30])
    assert json.loads(script.requests[0].content)["t_s"] == [0.0, 1 / 30]
    assert c.get_webhook_secret() == "whsec_abc"
    assert script.requests[1].url.path == "/v1/webhook-secret"


def test_job_ids_cannot_escape_the_path() -> None:
    c, _ = client(Script(httpx.Response(200, json=job_json())))
    for bad in ["../keys", "a/b", "", "x?y=1"]:
        with pytest.raises(ValueError, match="invalid job id"):
            c.get_job(bad)


def test_missing_api_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KNEECAVE_API_KEY", raising=False)
    with pytest.raises(KneecaveError, match="KNEECAVE_API_KEY"):
        Client()


def test_job_model_tolerates_unknown_fields_and_statuses() -> None:
    c, _ = client(Script(httpx.Response(200, json=job_json("paused", shard=3))))
    job = c.get_job("job_1")
    assert job.status == "paused"
    assert job.model_extra == {"shard": 3}


# --- wait ---------------------------------------------------------------------------------------


def test_wait_polls_honouring_retry_after_until_done() -> None:
    result = {"rep_count": 3, "reps": []}
    script = Script(
        httpx.Response(200, json=job_json("queued"), headers={"Retry-After": "3"}),
        httpx.Response(200, json=job_json("processing", progress=0.5)),
        httpx.Response(200, json=job_json("succeeded", progress=1.0, result=result)),
    )
    c, slept = client(script)
    job = c.wait("job_1", poll=0.25)
    assert job.succeeded
    assert job.result == result
    assert slept == [3.0, 0.25]


def test_wait_raises_job_failed_with_code() -> None:
    failed = job_json("failed", error={"code": "no_person", "detail": "nobody in frame"})
    c, _ = client(Script(httpx.Response(200, json=failed)))
    with pytest.raises(JobFailedError) as info:
        c.wait("job_1")
    assert (info.value.code, info.value.detail) == ("no_person", "nobody in frame")
    assert c.wait("job_1", raise_on_failure=False).status == "failed"


def test_wait_times_out() -> None:
    c, _ = client(Script(httpx.Response(200, json=job_json("processing"))))
    with pytest.raises(WaitTimeoutError) as info:
        c.wait("job_1", timeout=0)
    assert isinstance(info.value, TimeoutError)
    assert info.value.job.status == "processing"


# --- async twin ---------------------------------------------------------------------------------


def test_async_client_retries_with_the_same_key_and_waits() -> None:
    script = Script(
        problem(503, "unavailable"),
        httpx.Response(202, json=job_json()),
        httpx.Response(200, json=job_json("processing"), headers={"Retry-After": "1"}),
        httpx.Response(200, json=job_json("succeeded", result={"rep_count": 1})),
    )

    async def run() -> tuple[str, list[float]]:
        c, slept = async_client(script)
        async with c:
            job = await c.create_job(VIDEO)
            done = await c.wait(job.id)
        assert done.result == {"rep_count": 1}
        return done.status, slept

    status, slept = asyncio.run(run())
    assert status == "succeeded"
    keys = {r.headers["idempotency-key"] for r in script.requests[:2]}
    assert len(keys) == 1
    assert all(VIDEO in r.content for r in script.requests[:2])
    assert slept[-1] == 1.0


def test_async_client_maps_errors() -> None:
    async def run() -> None:
        c, _ = async_client(Script(problem(404, "job_not_found")))
        async with c:
            await c.get_job("nope")

    with pytest.raises(NotFoundError, match="job_not_found"):
        asyncio.run(run())


# --- webhooks: the SDK verifies what the service signs ------------------------------------------


def _signed(
    secret: str, body: str, *, msg_id: str = "msg_1", at: float | None = None
) -> dict[str, str]:
    ts = int(time.time() if at is None else at)
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_verify_webhook_matches_the_reference_implementation() -> None:
    secret = generate_webhook_secret()
    body = '{"type":"job.succeeded","timestamp":"2026-11-24T23:00:00+00:00","data":{"id":"j"}}'
    headers = _signed(secret, body)
    assert verify_webhook(body.encode(), headers, secret)["data"] == {"id": "j"}
    # Several signatures (key rotation): one good one is enough.
    rotated = dict(headers, **{"webhook-signature": "v1,AAAA " + headers["webhook-signature"]})
    assert verify_webhook(body, rotated, secret)["type"] == "job.succeeded"

    bad: list[Callable[[], object]] = [
        lambda: verify_webhook(body.replace('"j"', '"k"'), headers, secret),
        lambda: verify_webhook(body, headers, generate_webhook_secret()),
        lambda: verify_webhook(body, _signed(secret, body, at=time.time() - 3600), secret),
        lambda: verify_webhook(body, {"webhook-id": "msg_1"}, secret),
    ]
    for attempt in bad:
        with pytest.raises(WebhookVerificationError):
            attempt()


def test_verify_webhook_accepts_a_real_delivery_from_the_service() -> None:
    secret = generate_webhook_secret()
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    sender = WebhookSender(
        secret,
        timeout_s=1,
        max_attempts=1,
        allow_private=True,
        transport=httpx.MockTransport(receiver),
    )
    attempts = asyncio.run(
        sender.deliver(
            "https://app.example/hook", msg_id="m1", event_type="job.failed", payload={"id": "j"}
        )
    )
    assert attempts[0].ok
    (req,) = seen
    event = verify_webhook(req.content, dict(req.headers), secret)
    assert event["type"] == "job.failed"
    assert event["data"] == {"id": "j"}
