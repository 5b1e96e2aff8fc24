"""What an attacker or a careless client tries against a running `kneecave serve`
(issue 9): races on the active-job limit, dropped and stalled uploads, files that
only look like videos, and answers that must not leak the server's paths."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.service_support import SHORT_CLIP, Env, Server, make_env, upload

ACTIVE_LIMIT = 8


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Env, str]]:
    tmp = tmp_path_factory.mktemp(f"abuse-{request.param}")
    with make_env(request.param, tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0, max_active_jobs_per_tenant=ACTIVE_LIMIT)
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
