"""Client-behaviour tests for sdk/python (kneecave_sdk) through httpx.MockTransport: retry policy,
Retry-After, idempotency-key reuse, upload rewinding, problem+json → exception mapping, wait(),
RateLimit header fields, landmarks.
The SDK against a real server is tests/test_sdk_live.py; typing and model drift are
tests/test_sdk_typing.py."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
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
    JobCanceledError,
    JobEvent,
    JobFailedError,
    KneecaveError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    UnknownEvent,
    UnsupportedMediaTypeError,
    ValidationError,
    WaitTimeoutError,
    WebhookVerificationError,
    verify_webhook,
)
from standardwebhooks import Webhook

from service.pipeline.keypoints import Keypoints
from service.pipeline.overlay import encode_landmarks, overlay_landmarks
from service.pipeline.scoring import score_keypoints
from service.ratelimit import Quota
from service.webhooks import WebhookSender, generate_webhook_secret
from tests.clips import reference_path

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
        "view": "auto",
        "exercise": "squat",
        **extra,
    }


@pytest.fixture(scope="module")
def result_json() -> dict[str, Any]:
    """A real result (the scorer on reference landmarks), as the API would send it."""
    kp = Keypoints.load(reference_path("front_highbar_backsquat_1rep"))
    return score_keypoints(kp, view="auto", pose_model="client").model_dump(mode="json")


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
    assert b'name="mirrored"' not in body  # only sent when set


def test_mirrored_is_sent_with_an_upload_and_with_keypoints(
    tmp_path: Path, result_json: dict[str, Any]
) -> None:
    path = tmp_path / "selfie.mp4"
    path.write_bytes(VIDEO)
    script = Script(
        httpx.Response(202, json=job_json(), headers={"Location": "/v1/jobs/job_1"}),
        httpx.Response(200, json=result_json),
    )
    c, _ = client(script)
    c.create_job(path, mirrored=True)
    c.score_keypoints([[[1.0, 2.0, 0.0]] * 33], fps=30, width=640, height=480, mirrored=True)
    upload, scored = script.requests
    assert b'name="mirrored"\r\n\r\ntrue' in upload.content
    assert json.loads(scored.content)["mirrored"] is True


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


def test_list_iter_cancel_delete_and_score(result_json: dict[str, Any]) -> None:
    pages = Script(
        httpx.Response(200, json={"items": [job_json(id="a")], "next_cursor": "c2"}),
        httpx.Response(200, json={"items": [job_json(id="b")], "next_cursor": None}),
    )
    c, _ = client(pages)
    assert [j.id for j in c.iter_jobs(limit=1)] == ["a", "b"]
    assert [dict(r.url.params) for r in pages.requests] == [
        {"limit": "1"},
        {"limit": "1", "starting_after": "c2"},
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

    script = Script(httpx.Response(200, json=result_json))
    c, _ = client(script)
    result = c.score_keypoints(ArrayLike(), fps=30, width=640, height=480)
    assert result.rep_count == 1
    assert result.reps[0].knee_cave.left is not None
    sent = json.loads(script.requests[0].content)
    assert sent["fps"] == 30
    assert (sent["width"], sent["height"], sent["view"]) == (640, 480, "auto")
    assert "mirrored" not in sent
    assert len(sent["landmarks"][0]) == 33


def test_score_keypoints_sends_timestamps_and_webhook_secret_is_read(
    result_json: dict[str, Any],
) -> None:
    script = Script(
        httpx.Response(200, json=result_json),
        httpx.Response(200, json={"secret": "whsec_abc"}),
    )
    c, _ = client(script)
    frames = [[[1.0, 2.0, 0.0, 0.9, 0.9]] * 33] * 2
    nan = float("nan")
    c.score_keypoints(
        frames, fps=30, width=640, height=480, view="front", t_s=[0.0, 1 / 30], world=[[[nan]]]
    )
    sent = json.loads(script.requests[0].content)
    assert sent["t_s"] == [0.0, 1 / 30]
    assert sent["world"] == [[[None]]]  # NaN is not JSON: the API reads null as "not seen"
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
    # A status newer than this SDK's Literal: kept as the string the server sent.
    assert job.model_dump()["status"] == "paused"
    assert not job.terminal
    assert job.model_extra == {"shard": 3}


# --- wait, score -------------------------------------------------------------------------------


def test_wait_follows_retry_after_and_reports_progress(result_json: dict[str, Any]) -> None:
    script = Script(
        httpx.Response(200, json=job_json("queued"), headers={"Retry-After": "3"}),
        httpx.Response(200, json=job_json("processing", progress=0.5)),
        httpx.Response(200, json=job_json("succeeded", progress=1.0, result=result_json)),
    )
    c, slept = client(script)
    seen: list[tuple[str, float]] = []
    job = c.wait("job_1", on_progress=lambda j: seen.append((j.status, j.progress)))
    assert job.succeeded
    assert job.result is not None
    assert job.result.rep_count == 1
    assert seen == [("queued", 0.0), ("processing", 0.5), ("succeeded", 1.0)]
    # No poll_interval: the server's Retry-After, else the default 1 s.
    assert slept == [3.0, 1.0]


def test_explicit_poll_interval_wins_over_retry_after() -> None:
    replies = [httpx.Response(200, json=job_json("processing"), headers={"Retry-After": "3"})] * 2
    script = Script(*replies, httpx.Response(200, json=job_json("canceled")))
    c, slept = client(script, poll_interval=0.5)
    assert c.wait("job_1", raise_on_failure=False).status == "canceled"
    assert slept == [0.5, 0.5]
    script = Script(*replies, httpx.Response(200, json=job_json("canceled")))
    c, slept = client(script, poll_interval=0.5)
    c.wait("job_1", poll_interval=0.25, raise_on_failure=False)
    assert slept == [0.25, 0.25]
    with pytest.raises(ValueError, match="poll_interval"):
        c.wait("job_1", poll_interval=-1)


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


def test_score_uploads_waits_and_returns_the_typed_result(result_json: dict[str, Any]) -> None:
    script = Script(
        httpx.Response(202, json=job_json()),
        httpx.Response(200, json=job_json("succeeded", progress=1.0, result=result_json)),
    )
    c, _ = client(script)
    result = c.score(VIDEO, view="front")
    assert result.reps[0].index == 1
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/job_1"),
    ]

    canceled = job_json("canceled", error={"code": "canceled", "detail": "canceled by client"})
    c, _ = client(Script(httpx.Response(202, json=job_json()), httpx.Response(200, json=canceled)))
    with pytest.raises(JobCanceledError) as info:
        c.score(VIDEO)
    assert isinstance(info.value, JobFailedError)
    assert info.value.code == "canceled"


# --- async twin ---------------------------------------------------------------------------------


def test_async_client_retries_with_the_same_key_and_waits(result_json: dict[str, Any]) -> None:
    script = Script(
        problem(503, "unavailable"),
        httpx.Response(202, json=job_json()),
        httpx.Response(
            200, json=job_json("processing", progress=0.3), headers={"Retry-After": "1"}
        ),
        httpx.Response(200, json=job_json("succeeded", progress=1.0, result=result_json)),
    )
    seen: list[float] = []

    async def on_progress(job: kneecave_sdk.Job) -> None:  # a coroutine function is awaited
        seen.append(job.progress)

    async def run() -> tuple[kneecave_sdk.ScoreResult, list[float]]:
        c, slept = async_client(script)
        async with c:
            result = await c.score(VIDEO, on_progress=on_progress)
        return result, slept

    result, slept = asyncio.run(run())
    assert result.rep_count == 1
    assert seen == [0.3, 1.0]
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


# --- rate-limit header fields, landmarks -------------------------------------------------------


def limits(policy: str, limit: int, used: int, reset_s: int) -> dict[str, str]:
    """The header fields exactly as the server writes them (service.ratelimit)."""
    return Quota(policy, limit, used, reset_s).headers()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (limits("poll", 1200, 13, 41), RateLimit("poll", 1200, 1187, 41)),
        (limits("submit", 60, 61, 7), RateLimit("submit", 60, 0, 7)),
        ({"RateLimit": '"poll";r=5;t=2'}, RateLimit("poll", None, 5, 2)),  # no policy field
        ({"ratelimit": '"p";r=5', "ratelimit-policy": '"p";q=9'}, RateLimit("p", 9, 5, None)),
        ({"RateLimit": '"p";r=5;t=2', "RateLimit-Policy": '"o";q=9'}, RateLimit("p", None, 5, 2)),
        ({"RateLimit": 'x;pk=:YWJj:;r=5;t=2, "y";r=1;t=9'}, RateLimit("y", None, 1, 9)),  # tightest
        ({"RateLimit": '"a,b\\"c";r=0;t=1'}, RateLimit('a,b"c', None, 0, 1)),  # escapes in a string
        ({}, None),
        ({"RateLimit-Policy": '"poll";q=1200;w=60'}, None),
        ({"RateLimit": "limit=10, remaining=5, reset=3"}, None),  # an older draft's dictionary
        ({"RateLimit": '"poll";t=4'}, None),
        ({"RateLimit": '"poll";r=-1;t=4'}, None),
        ({"RateLimit": '"poll";r=1.5;t=4'}, None),
        ({"RateLimit": '"poll;r=1;t=4'}, None),  # unterminated string
        ({"RateLimit": '"poll";r=1;t=4 junk'}, None),
        ({"RateLimit": "(a b);r=1"}, None),  # inner lists are not items
    ],
)
def test_rate_limit_fields_are_read_tolerantly(
    headers: dict[str, str], expected: RateLimit | None
) -> None:
    assert RateLimit.from_headers(headers) == expected
    assert RateLimit.from_headers(httpx.Headers(headers)) == expected


def test_last_rate_limit_follows_every_response_retried_ones_too() -> None:
    replies = [
        problem(503, "unavailable", **limits("poll", 1200, 1, 59)),
        httpx.Response(200, json=job_json(), headers=limits("poll", 1200, 2, 58)),
        httpx.Response(200, json=job_json()),  # e.g. through a proxy that drops the fields
    ]
    seen_before: list[RateLimit | None] = []
    c: Client

    def answer(request: httpx.Request) -> httpx.Response:
        seen_before.append(c.last_rate_limit)
        return replies.pop(0)

    c, _ = client(Script())
    c._http = httpx.Client(transport=httpx.MockTransport(answer))  # sees c between attempts
    assert c.last_rate_limit is None
    c.get_job("job_1")
    assert seen_before == [None, RateLimit("poll", 1200, 1199, 59)]  # the 503 counted too
    assert c.last_rate_limit == RateLimit("poll", 1200, 1198, 58)
    c.get_job("job_1")
    assert c.last_rate_limit is None  # the last answer said nothing: no stale budget


def test_rate_limit_error_carries_the_exhausted_budget() -> None:
    fields = limits("submit", 60, 61, 3600)
    script = Script(problem(429, "rate_limited", **{"Retry-After": "3600", **fields}))
    c, slept = client(script)
    with pytest.raises(RateLimitError) as info:
        c.cancel_job("job_1")
    assert info.value.rate_limit == RateLimit("submit", 60, 0, 3600)
    assert info.value.retry_after == 3600
    assert c.last_rate_limit == info.value.rate_limit
    assert slept == []

    c, _ = client(Script(problem(429, "rate_limited", **{"Retry-After": "3600"})))
    with pytest.raises(RateLimitError) as bare:
        c.get_job("job_1")
    assert bare.value.rate_limit is None


@pytest.fixture(scope="module")
def landmarks_gz() -> bytes:
    """The landmarks of a real clip, gzipped as the job store keeps and the API sends them."""
    kp = Keypoints.load(reference_path("front_highbar_backsquat_1rep"))
    return encode_landmarks(overlay_landmarks(kp))


def test_get_landmarks_reads_the_gzipped_document(landmarks_gz: bytes) -> None:
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    headers |= limits("poll", 1200, 5, 9)
    script = Script(
        httpx.Response(200, content=landmarks_gz, headers=headers),
        problem(404, "landmarks_not_found"),
    )
    c, _ = client(script)
    marks = c.get_landmarks(kneecave_sdk.Job.model_validate(job_json("succeeded")))
    request = script.requests[0]
    assert (request.method, request.url.path) == ("GET", "/v1/jobs/job_1/landmarks")
    assert "gzip" in request.headers["accept-encoding"]
    assert isinstance(marks, kneecave_sdk.JobLandmarks)
    assert marks.frames == len(marks.points) == len(marks.t_s) > 0
    assert "left_knee" in marks.names
    assert any(frame is not None and len(frame) == 2 * len(marks.names) for frame in marks.points)
    assert c.last_rate_limit == RateLimit("poll", 1200, 1195, 9)
    with pytest.raises(NotFoundError) as missing:
        c.get_landmarks("job_1")
    assert missing.value.code == "landmarks_not_found"
    with pytest.raises(ValueError, match="invalid job id"):
        c.get_landmarks("../keys")


def test_async_client_reads_landmarks_and_rate_limits(landmarks_gz: bytes) -> None:
    headers = {"content-encoding": "gzip", **limits("poll", 100, 100, 30)}
    script = Script(
        httpx.Response(200, content=landmarks_gz, headers=headers),
        problem(429, "rate_limited", **{"Retry-After": "120", **limits("poll", 100, 101, 30)}),
    )

    async def run() -> tuple[kneecave_sdk.JobLandmarks, RateLimit | None, RateLimitError]:
        c, _ = async_client(script)
        async with c:
            marks = await c.get_landmarks("job_1")
            after = c.last_rate_limit
            with pytest.raises(RateLimitError) as info:
                await c.get_landmarks("job_1")
            return marks, after, info.value

    marks, after, error = asyncio.run(run())
    assert marks.frames == len(marks.points)
    assert after == RateLimit("poll", 100, 0, 30)
    assert error.rate_limit == RateLimit("poll", 100, 0, 30)


# --- webhooks: the SDK verifies what the service signs ------------------------------------------


def _signed(
    secret: str, body: str, *, msg_id: str = "msg_1", at: float | None = None
) -> dict[str, str]:
    ts = int(time.time() if at is None else at)
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def _envelope(event_type: str, data: dict[str, Any]) -> str:
    event = {"type": event_type, "timestamp": "2026-11-24T23:00:00+00:00", "data": data}
    return json.dumps(event, separators=(",", ":"))


def test_verify_webhook_matches_the_reference_implementation() -> None:
    secret = generate_webhook_secret()
    body = _envelope("job.succeeded", job_json("succeeded", progress=1.0))
    headers = _signed(secret, body)
    event = verify_webhook(body.encode(), headers, secret)
    assert isinstance(event, JobEvent)
    assert event.data.id == "job_1"
    # Several signatures (key rotation): one good one is enough.
    rotated = dict(headers, **{"webhook-signature": "v1,AAAA " + headers["webhook-signature"]})
    assert verify_webhook(body, rotated, secret).type == "job.succeeded"
    # An event type newer than the SDK is kept, untyped, rather than refused.
    newer = _envelope("tenant.renamed", {"name": "acme"})
    other = verify_webhook(newer, _signed(secret, newer), secret)
    assert isinstance(other, UnknownEvent)
    assert other.data == {"name": "acme"}

    no_job = _envelope("job.failed", {"id": "j"})  # a job.* event whose data is no job
    bad: list[Callable[[], object]] = [
        lambda: verify_webhook(body.replace("job_1", "job_2"), headers, secret),
        lambda: verify_webhook(body, headers, generate_webhook_secret()),
        lambda: verify_webhook(body, _signed(secret, body, at=time.time() - 3600), secret),
        lambda: verify_webhook(body, {"webhook-id": "msg_1"}, secret),
        # Signed but not an event: the typed parse refuses it with the same exception.
        lambda: verify_webhook("[]", _signed(secret, "[]"), secret),
        lambda: verify_webhook(no_job, _signed(secret, no_job), secret),
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
            "https://app.example/hook",
            msg_id="m1",
            event_type="job.failed",
            payload=job_json("failed", error={"code": "no_person", "detail": "nobody"}),
        )
    )
    assert attempts[0].ok
    (req,) = seen
    event = verify_webhook(req.content, req.headers, secret)
    assert isinstance(event, JobEvent)
    assert event.type == "job.failed"
    assert event.data.error is not None
    assert event.data.error.code == "no_person"


def test_one_base_url_variable_everywhere() -> None:
    """SDKs, load tests and docs all read the server from KNEECAVE_BASE_URL."""
    assert kneecave_sdk._constants.BASE_URL_ENV == "KNEECAVE_BASE_URL"
    repo = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.decode()
    stale = [
        name
        for name in tracked.split("\0")
        if name.endswith((".py", ".md", ".ts", ".mjs", ".yaml", ".yml", ".toml", "Dockerfile"))
        and (repo / name).is_file()
        and re.search(r"\bKNEECAVE_URL\b", (repo / name).read_text(errors="replace"))
    ]
    assert stale == []
