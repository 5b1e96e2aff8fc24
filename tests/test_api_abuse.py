"""What an attacker or a careless client tries against a running `kneecave serve`
(issue 9): races on the active-job limit, dropped and stalled uploads, files that
only look like videos, and answers that must not leak the server's paths."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.service_support import SHORT_CLIP, Env, Server, make_env, upload

ACTIVE_LIMIT = 8
IDLE_S = 1.0


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Env, str]]:
    tmp = tmp_path_factory.mktemp(f"abuse-{request.param}")
    with make_env(request.param, tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(
            env,
            tmp,
            workers=0,
            max_active_jobs_per_tenant=ACTIVE_LIMIT,
            upload_idle_timeout_s=IDLE_S,
        )
        yield server, env, key
        server.stop()


def _blobs(env: Env) -> list[Path]:
    root = env.data_dir / "blobs"
    return [p for p in root.iterdir() if p.is_file()] if root.is_dir() else []


def test_active_job_limit_holds_under_concurrent_uploads(
    deployment: tuple[Server, Env, str],
) -> None:
    server, env, _ = deployment
    key = env.create_key("racer").api_key
    body = SHORT_CLIP.read_bytes()

    def one(_: int) -> httpx.Response:
        with server.client(key) as c:
            return c.post("/v1/jobs", files={"video": ("clip.mp4", body, "video/mp4")})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(16)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(202) == ACTIVE_LIMIT, codes
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) == 16 - ACTIVE_LIMIT
    assert all(r.json()["code"] == "too_many_active_jobs" for r in refused)
    with server.client(key) as c:
        listed = c.get("/v1/jobs", params={"limit": 100}).json()["items"]
    assert len(listed) == ACTIVE_LIMIT
    # Every refused upload's bytes were removed; only the accepted jobs keep a video.
    kept = {p.name for p in _blobs(env)}
    assert {j["id"] for j in listed} <= kept
    assert not any(r.json().get("id") in kept for r in refused)


def test_upload_still_works(deployment: tuple[Server, Env, str]) -> None:
    server, _, key = deployment
    with server.client(key) as c:
        assert upload(c).status_code == 202


def _upload_head(key: str, length: int) -> bytes:
    return (
        f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: video/mp4\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _partials(env: Env) -> list[Path]:
    return list((env.data_dir / "blobs" / ".partial").glob("*"))


def _wait_no_partials(env: Env, timeout: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while _partials(env) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _partials(env)


def test_client_dropping_mid_upload_is_not_a_server_error(
    deployment: tuple[Server, Env, str],
) -> None:
    server, env, key = deployment
    body = SHORT_CLIP.read_bytes()
    before = server.log()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_upload_head(key, len(body)) + body[: len(body) // 2])
        time.sleep(0.3)  # the server is mid-body
    assert _wait_no_partials(env) == []
    time.sleep(0.3)
    new = server.log()[len(before) :]
    assert "Traceback" not in new
    assert '"status": 500' not in new
    with server.client(key) as c:
        assert c.get("/healthz").status_code == 200


def test_stalled_upload_times_out_with_408(deployment: tuple[Server, Env, str]) -> None:
    server, env, key = deployment
    body = SHORT_CLIP.read_bytes()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_upload_head(key, len(body)) + body[:1000])
        start = time.monotonic()
        answer = sock.recv(65536)
        waited = time.monotonic() - start
        while more := sock.recv(65536):  # Connection: close ends the answer
            answer += more
    head, _, problem = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"application/problem+json" in head
    assert json.loads(problem)["code"] == "request_timeout"
    assert IDLE_S * 0.9 <= waited < IDLE_S + 3
    assert _wait_no_partials(env) == []


def _raw(server: Server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while more := sock.recv(65536):
            answer += more
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\x00b\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
)
def test_unparseable_requests_get_problem_json(
    deployment: tuple[Server, Env, str], request_bytes: bytes
) -> None:
    server, _, _ = deployment
    head, _, body = _raw(server, request_bytes).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/problem+json" in head.lower()
    assert json.loads(body)["code"] == "bad_request"


def test_security_headers_no_banner_and_head(deployment: tuple[Server, Env, str]) -> None:
    server, _, key = deployment
    with server.client(key) as c:
        listed = c.get("/v1/jobs")
        head = c.head("/v1/jobs")
        health = c.head("/healthz")
    assert "server" not in listed.headers
    for name in ("x-content-type-options", "x-frame-options", "referrer-policy"):
        assert name in listed.headers
    assert listed.headers["cache-control"] == "no-store"
    assert head.status_code == health.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == listed.headers["content-type"]


def test_empty_or_blank_idempotency_key_is_refused(deployment: tuple[Server, Env, str]) -> None:
    server, _, key = deployment
    with server.client(key) as c:
        for value in ("", "a b"):
            r = upload_with_key(c, value)
            assert r.status_code == 422, (value, r.text)
            assert r.json()["code"] == "invalid_request"


def upload_with_key(client: httpx.Client, key: str) -> httpx.Response:
    with SHORT_CLIP.open("rb") as f:
        return client.post("/v1/jobs", files={"video": f}, headers={"Idempotency-Key": key})


def test_docs_pages_are_not_served_but_the_spec_is(deployment: tuple[Server, Env, str]) -> None:
    server, _, _ = deployment
    with server.client(None) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/redoc").status_code == 404
        spec = c.get("/openapi.json").json()
    body = spec["paths"]["/v1/score/keypoints"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/KeypointsIn")
    assert "KeypointsIn" in spec["components"]["schemas"]


def test_uploaded_videos_are_owner_only(deployment: tuple[Server, Env, str]) -> None:
    server, env, key = deployment
    with server.client(key) as c:
        assert upload(c).status_code == 202
    root = env.data_dir / "blobs"
    assert root.stat().st_mode & 0o077 == 0
    files = _blobs(env)
    assert files
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)


def test_failed_authentication_is_rate_limited_per_address(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, auth_failures_per_minute=5)
        try:
            with server.client("kc_guess") as guesser:
                answers = [guesser.get("/v1/jobs").status_code for _ in range(7)]
            assert answers[:5] == [401] * 5
            assert answers[5:] == [429, 429]
            with server.client(key) as c:  # same address, right key: still refused
                r = c.get("/v1/jobs")
            assert r.status_code == 429
            assert r.json()["code"] == "too_many_auth_failures"
            assert int(r.headers["retry-after"]) >= 1
            other = httpx.HTTPTransport(local_address="127.0.0.2")
            with httpx.Client(
                base_url=server.url, transport=other, headers={"Authorization": f"Bearer {key}"}
            ) as c:
                assert c.get("/v1/jobs").status_code == 200  # another address is not blocked
            # Behind a trusted proxy (loopback here) the client is X-Forwarded-For's address.
            with server.client(key) as c:
                r = c.get("/v1/jobs", headers={"X-Forwarded-For": "203.0.113.7"})
            assert r.status_code == 200
        finally:
            server.stop()
