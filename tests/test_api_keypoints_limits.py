"""POST /v1/score/keypoints under abuse, over real HTTP: the key is checked before a byte
of the body is read, the body is bounded, and a large body neither stalls the event loop
nor leaves the server bigger (issue 9, item 1)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import psutil
import pytest

from service.api.routes.keypoints import MAX_FRAMES
from tests.service_support import Server, make_env

LIMIT = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("keypoints-limits")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0, max_keypoints_bytes=LIMIT)
        yield server, key
        server.stop()


def _frames(n: int) -> list[list[list[float]]]:
    frame = np.round(np.random.default_rng(0).random((33, 5)) * 500, 2).tolist()
    return [frame] * n


def _rss_mb(server: Server) -> float:
    return float(psutil.Process(server.pid).memory_info().rss) / 2**20


def _raw_post(server: Server, head: bytes, body_bytes: int) -> tuple[bytes, int]:
    """Send ``head`` then up to ``body_bytes`` of padding on a raw socket; return the
    answer and how many body bytes the server let through before answering."""
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        chunk = b" " * 65536
        answer = b""
        while sent < body_bytes:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                answer = b""
            if answer:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    return answer, sent


def test_anonymous_body_is_refused_before_it_is_read(server_and_key: tuple[Server, str]) -> None:
    server, _ = server_and_key
    before = _rss_mb(server)
    size = 68 * 1024 * 1024
    head = (
        b"POST /v1/score/keypoints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {size}\r\n\r\n".encode()
    )
    answer, sent = _raw_post(server, head, size)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert sent < 8 * 1024 * 1024  # answered long before the 68 MB were sent
    assert _rss_mb(server) - before < 20


def test_over_the_limit_is_413_declared_or_streamed(server_and_key: tuple[Server, str]) -> None:
    server, key = server_and_key
    with server.client(key) as c:
        declared = c.post(
            "/v1/score/keypoints",
            content=b" " * (LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )
        streamed = c.post(
            "/v1/score/keypoints",
            content=iter([b" " * 65536] * (LIMIT // 65536 + 2)),  # chunked: no length
            headers={"Content-Type": "application/json"},
        )
    for r in (declared, streamed):
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "too_large"
        assert r.headers["content-type"] == "application/problem+json"


def test_frame_cap_malformed_json_and_absurd_sizes_are_422(
    server_and_key: tuple[Server, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    server, key = server_and_key
    base = {"fps": 30, "width": 720, "height": 1280}
    with server.client(key) as c:
        bad_json = c.post(
            "/v1/score/keypoints",
            content=b'{"landmarks": [[[1, 2',
            headers={"Content-Type": "application/json"},
        )
        huge = c.post("/v1/score/keypoints", json={**base, "width": 1e30, "landmarks": _frames(4)})
        text = c.post("/v1/score/keypoints", json={**base, "landmarks": [[["a", 1, 2]] * 33] * 4})
        wrong_type = c.post(
            "/v1/score/keypoints",
            content=b"landmarks=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert bad_json.status_code == 422
    assert bad_json.json()["code"] == "invalid_request"
    assert huge.status_code == 422
    assert "1000000000000000019884624838656" not in huge.text
    assert text.status_code == 422
    assert text.json()["code"] == "keypoints_invalid"
    assert wrong_type.status_code == 415

    tmp = tmp_path_factory.mktemp("frames")
    with make_env("sqlite", tmp) as env:
        big = Server(env, tmp, workers=0, max_keypoints_bytes=64 * 1024 * 1024)
        try:
            body = json.dumps({**base, "landmarks": _frames(MAX_FRAMES + 1)}).encode()
            with big.client(env.create_key("acme").api_key, timeout=120) as c:
                r = c.post(
                    "/v1/score/keypoints",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            assert r.status_code == 422, r.text
            assert f"at most {MAX_FRAMES} frames" in r.json()["detail"]
        finally:
            big.stop()


def test_a_large_valid_body_keeps_the_loop_answering_and_memory_flat(
    server_and_key: tuple[Server, str],
) -> None:
    server, key = server_and_key
    rng = np.random.default_rng(1)
    frames = 3000  # ~3.9 MB of JSON, under LIMIT
    t = np.arange(frames) / 30.0
    lm = np.zeros((frames, 33, 5))
    lm[:, :, 0] = 360 + rng.normal(0, 1, (frames, 33))
    lm[:, :, 1] = 640 + 200 * np.sin(t)[:, None] + rng.normal(0, 1, (frames, 33))
    lm[:, :, 3:] = 0.99
    body = json.dumps(
        {"fps": 30, "width": 720, "height": 1280, "landmarks": np.round(lm, 2).tolist()}
    ).encode()
    assert len(body) < LIMIT
    with server.client(key, timeout=120) as c:
        c.post("/v1/score/keypoints", content=body, headers={"Content-Type": "application/json"})
        before = _rss_mb(server)
        worst = 0.0
        done = threading.Event()

        def poll() -> None:
            nonlocal worst
            with httpx.Client(base_url=server.url, timeout=30) as h:
                while not done.is_set():
                    start = time.perf_counter()
                    assert h.get("/healthz").status_code == 200
                    worst = max(worst, time.perf_counter() - start)
                    time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            for _ in range(3):
                r = c.post(
                    "/v1/score/keypoints",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                assert r.status_code == 200, r.text
        finally:
            done.set()
            poller.join()
    assert worst < 0.5, f"/healthz took {worst:.2f} s while bodies were scored"
    assert _rss_mb(server) - before < 50
