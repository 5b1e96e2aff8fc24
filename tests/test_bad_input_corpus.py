"""The bad-input corpus (tests/bad_inputs.py) against a live `kneecave serve` with an
embedded worker, on each backend: every case gets its status and code, failed jobs
leave no video behind, and afterwards the server is healthy, its memory back within
50 MB of where it was, and a normal job still succeeds (issue 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.bad_inputs import (
    IDLE_S,
    MAX_FRAMES,
    MAX_KEYPOINTS,
    MAX_UPLOAD,
    Case,
    Target,
    cases,
    parse_raw,
)
from tests.service_support import Env, Server, make_env, upload, wait_for

MIN_CASES = 40


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Env]]:
    tmp = tmp_path_factory.mktemp(f"corpus-{request.param}")
    with make_env(request.param, tmp) as env:
        server = Server(
            env,
            tmp,
            workers=1,
            max_upload_bytes=MAX_UPLOAD,
            max_keypoints_bytes=MAX_KEYPOINTS,
            max_frames=MAX_FRAMES,
            upload_idle_timeout_s=IDLE_S,
            max_active_jobs_per_tenant=100,
        )
        yield server, env
        server.stop()


def _rss_mb(server: Server) -> float:
    return float(psutil.Process(server.pid).memory_info().rss) / 2**20


def _outcome(case: Case, target: Target) -> tuple[int, str | None, str | None]:
    """(status, problem code, job id) for one case."""
    answer = case.send(target)
    if isinstance(answer, bytes):
        status, code = parse_raw(answer)
        return status, code, None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    job_id = body.get("id") if answer.status_code == 202 else None
    return answer.status_code, body.get("code"), job_id


def _ready(server: Server, timeout: float = 120.0) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for _ in range(int(timeout / 0.2)):
            if c.get("/readyz").status_code == 200:
                return
            import time  # noqa: PLC0415

            time.sleep(0.2)
    raise AssertionError("the server never became ready")


def test_every_bad_input_gets_its_answer(deployment: tuple[Server, Env], tmp_path: Path) -> None:
    server, env = deployment
    corpus = cases(tmp_path)
    assert len(corpus) >= MIN_CASES
    key = env.create_key("corpus").api_key
    other = env.create_key("other").api_key
    _ready(server)
    with server.client(key, timeout=60) as client, server.client(other) as theirs:
        # Warm up (models loaded, first job run), then measure.
        first = upload(client).json()["id"]
        assert wait_for(client, first)["status"] == "succeeded"
        foreign = upload(theirs).json()["id"]
        baseline = _rss_mb(server)
        with httpx.Client(base_url=server.url, timeout=60) as anonymous:
            target = Target(server.port, client, anonymous, key, foreign)
            wrong: list[str] = []
            jobs: dict[str, str] = {}
            for case in corpus:
                status, code, job_id = _outcome(case, target)
                if status != case.status or (not case.job and case.code and code != case.code):
                    wrong.append(f"{case.name}: {status} {code}, want {case.status} {case.code}")
                elif case.job and job_id:
                    jobs[case.name] = job_id
            for case in corpus:
                if not case.job or case.name not in jobs:
                    continue
                job = wait_for(client, jobs[case.name], timeout=180)
                error = job.get("error") or {}
                if job["status"] != "failed" or error.get("code") != case.code:
                    wrong.append(f"{case.name}: job {job['status']} {error}, want {case.code}")
                if str(env.data_dir) in str(error.get("detail", "")):
                    wrong.append(f"{case.name}: the detail leaks a server path")
        assert not wrong, "\n".join(wrong)
        # Afterwards: healthy, memory back, a normal job succeeds, no failed video left.
        assert client.get("/healthz").status_code == 200
        again = upload(client).json()["id"]
        assert wait_for(client, again)["status"] == "succeeded"
    grown = _rss_mb(server) - baseline
    jobs_n = sum(c.job for c in corpus)
    print(  # the figures docs/reliability.md quotes (pytest -s)
        f"\ncorpus: {len(corpus)} cases ({jobs_n} failing jobs), RSS {baseline:.0f} MB before,"
        f" {grown:+.1f} MB after"
    )
    assert grown < 50, f"server RSS grew by {grown:.0f} MB over the corpus"
    left = [p.name for p in (env.data_dir / "blobs").iterdir() if p.is_file()]
    assert left in ([foreign], []), left
