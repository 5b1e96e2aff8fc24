"""Workers dying and stopping, with real processes: a worker killed with SIGKILL mid-job
loses its lease and another worker finishes the job; SIGTERM releases the job at once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.jobs.backends import open_backends
from tests.service_support import (
    Env,
    Proc,
    Server,
    make_env,
    start_worker,
    upload,
    wait_for,
)
from tests.test_webhooks import Receiver

FAST_LEASE = {"lease_s": 2, "heartbeat_s": 0.5, "poll_s": 0.2}


def wait_running(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Until a worker holds the job (act at once: the clip takes only seconds) or it ended."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] != "queued" or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def holder(env: Env, job_id: str, workers: list[Proc]) -> tuple[Proc, Proc]:
    """(the worker holding the job's lease, the other one), from the stored record."""

    async def worker_id() -> str:
        async with open_backends(env.settings()) as backends:
            job = await backends.jobs.get(job_id)
            assert job is not None
            assert job.worker_id is not None
            return job.worker_id

    pid = int(asyncio.run(worker_id()).rsplit("-", 2)[1])
    first, second = workers
    return (first, second) if first.pid == pid else (second, first)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_sigkill_worker_job_completes_on_another(kind: str, tmp_path: Path) -> None:
    with make_env(kind, tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        workers = [start_worker(env, tmp_path, **FAST_LEASE) for _ in range(2)]
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                job = wait_running(c, job_id)
                assert job["status"] == "processing", job
                busy, idle = holder(env, job_id, workers)
                busy.stop(signal.SIGKILL)
                done = wait_for(c, job_id)
            assert done["status"] == "succeeded", (done, idle.log())
            assert done["attempts"] == 2
            assert done["result"]["rep_count"] == 1
            assert not (env.data_dir / "blobs" / job_id).exists()
            assert idle.stop() == 0
        finally:
            for w in workers:
                w.stop(signal.SIGKILL)
            server.stop()


def test_sigterm_releases_the_running_job(tmp_path: Path) -> None:
    with make_env("redis", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        # No grace: the running job is stopped and handed back at once.
        workers = [start_worker(env, tmp_path, shutdown_grace_s=0, **FAST_LEASE) for _ in range(2)]
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                assert wait_running(c, job_id)["status"] == "processing"
                busy, _ = holder(env, job_id, workers)
                started = time.monotonic()
                assert busy.stop(signal.SIGTERM, timeout=30) == 0, busy.log()
                assert time.monotonic() - started < 15
                assert "released" in busy.log()
                done = wait_for(c, job_id)
            # The release spent no attempt: the other worker's run is attempt 1.
            assert done["status"] == "succeeded", done
            assert done["attempts"] == 1
        finally:
            for w in workers:
                w.stop(signal.SIGKILL)
            server.stop()


def test_worker_that_cannot_run_the_pipeline_hands_the_job_back_and_exits(
    tmp_path: Path,
) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        # No CUDA here: asking for it is a device error (ModelError), not the job's fault.
        broken = start_worker(env, tmp_path, device="cuda", **FAST_LEASE)
        healthy = None
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                assert broken.popen.wait(60) == 3, broken.log()
                assert "pipeline unavailable" in broken.log()
                queued = c.get(f"/v1/jobs/{job_id}").json()
                assert queued["status"] == "queued", queued
                assert queued["attempts"] == 0
                healthy = start_worker(env, tmp_path, **FAST_LEASE)
                done = wait_for(c, job_id)
            assert done["status"] == "succeeded", done
            assert done["attempts"] == 1
        finally:
            broken.stop(signal.SIGKILL)
            if healthy is not None:
                healthy.stop()
            server.stop()


def test_worker_lost_job_sends_its_webhook_and_drops_its_video(tmp_path: Path) -> None:
    """A job failed as `worker_lost` ended on its own: its webhook goes out like any failure."""
    with make_env("redis", tmp_path) as env:
        new = env.create_key("acme")
        opts = {**FAST_LEASE, "max_attempts": 1, "webhook_allow_private": "true"}
        server = Server(env, tmp_path, workers=0, **opts)
        first = start_worker(env, tmp_path, **opts)
        second: Proc | None = None
        try:
            with Receiver(new.webhook_secret) as receiver, server.client(new.api_key) as c:
                job_id = upload(c, webhook_url=receiver.url).json()["id"]
                assert wait_running(c, job_id)["status"] == "processing"
                first.stop(signal.SIGKILL)  # the only attempt dies with its worker
                second = start_worker(env, tmp_path, **opts)
                done = wait_for(c, job_id)
                assert done["status"] == "failed", done
                assert done["error"]["code"] == "worker_lost"
                deadline = time.monotonic() + 15
                while not receiver.received and time.monotonic() < deadline:
                    time.sleep(0.1)
            assert [r.verified for r in receiver.received] == [True], second.log()
            event = json.loads(receiver.received[0].body)
            assert event["type"] == "job.failed"
            assert event["data"]["error"]["code"] == "worker_lost"
            assert not (env.data_dir / "blobs" / job_id).exists()
        finally:
            first.stop(signal.SIGKILL)
            if second is not None:
                second.stop(signal.SIGKILL)
            server.stop()
