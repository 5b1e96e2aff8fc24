"""Workers dying and stopping, with real processes: a worker killed with SIGKILL mid-job
loses its lease and another worker finishes the job; SIGTERM releases the job at once."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service_support import TERMINAL, Server, make_env, start_worker, upload, wait_for

FAST_LEASE = {"lease_s": 2, "heartbeat_s": 0.5, "poll_s": 0.2}


def wait_progress(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Until the job is being worked on (progress moved) or has ended."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        moving = job["status"] == "processing" and job["progress"] > 0
        if moving or job["status"] in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_sigkill_worker_job_completes_on_another(kind: str, tmp_path: Path) -> None:
    with make_env(kind, tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        first = start_worker(env, tmp_path, **FAST_LEASE)
        second = None
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                job = wait_progress(c, job_id)
                assert job["status"] == "processing", (job, first.log())
                first.stop(signal.SIGKILL)
                second = start_worker(env, tmp_path, **FAST_LEASE)
                done = wait_for(c, job_id)
            assert done["status"] == "succeeded", (done, second.log())
            assert done["attempts"] == 2
            assert done["result"]["rep_count"] == 1
            assert not (env.data_dir / "blobs" / job_id).exists()
        finally:
            if second is not None:
                assert second.stop() == 0
            server.stop()


def test_sigterm_releases_the_running_job(tmp_path: Path) -> None:
    with make_env("redis", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        # No grace: the running job is stopped and handed back at once.
        first = start_worker(env, tmp_path, shutdown_grace_s=0, **FAST_LEASE)
        second = None
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                assert wait_progress(c, job_id)["status"] == "processing"
                started = time.monotonic()
                assert first.stop(signal.SIGTERM, timeout=30) == 0, first.log()
                assert time.monotonic() - started < 15
                released = c.get(f"/v1/jobs/{job_id}").json()
                assert released["status"] == "queued" and released["attempts"] == 0
                assert "released" in first.log()
                second = start_worker(env, tmp_path, **FAST_LEASE)
                done = wait_for(c, job_id)
            assert done["status"] == "succeeded" and done["attempts"] == 1
        finally:
            if second is not None:
                second.stop()
            server.stop()
