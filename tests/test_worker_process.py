"""`kneecave worker` as a process: exit status when its pipeline cannot run, per-job
deadlines on a real clip, and `kneecave worker --check` as the k8s probes run it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clips import REPO
from tests.service_support import Env, Proc, Server, make_env, start_worker, upload, wait_for
from tests.test_pose_models import _models_copy
from tests.test_worker_lease import FAST_LEASE


def check(env: Env, health: Path, mode: str = "ready") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "worker", "--check", mode],
        cwd=REPO,
        env=env.vars(worker_health_file=health),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def wait_ready(env: Env, health: Path, worker: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while check(env, health).returncode != 0:
        assert worker.popen.poll() is None, worker.log()
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)


def test_a_corrupt_model_stops_the_worker_before_it_claims(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        health = tmp_path / "worker.json"
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        models = _models_copy(tmp_path, corrupt=True)
        try:
            with server.client(key) as c:
                job_id = upload(c).json()["id"]
                worker = start_worker(
                    env, tmp_path, models_dir=models, worker_health_file=health, **FAST_LEASE
                )
                assert worker.popen.wait(60) == 3, worker.log()
                job = c.get(f"/v1/jobs/{job_id}").json()
            assert "pipeline unavailable" in worker.log()
            assert "job started" not in worker.log()
            assert (job["status"], job["attempts"]) == ("queued", 0)
            for mode in ("ready", "live"):
                probe = check(env, health, mode)
                assert probe.returncode == 1, probe.stdout
                assert "failed: pipeline unavailable" in probe.stdout
        finally:
            server.stop()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_jobs_past_their_deadline_fail_as_timeout_and_the_worker_goes_on(
    kind: str, tmp_path: Path
) -> None:
    with make_env(kind, tmp_path) as env:
        key = env.create_key("acme").api_key
        health = tmp_path / "worker.json"
        # Real pose work on a real clip, under a limit too short for it.
        limits = {"job_deadline_base_s": 0.3, "job_deadline_per_frame_s": 0}
        server = Server(env, tmp_path, workers=0, **FAST_LEASE)
        worker = start_worker(env, tmp_path, worker_health_file=health, **limits, **FAST_LEASE)
        try:
            wait_ready(env, health, worker)
            with server.client(key) as c:
                jobs = [upload(c).json()["id"] for _ in range(2)]
                done = [wait_for(c, job_id, timeout=60) for job_id in jobs]
            for job in done:
                assert job["status"] == "failed", job
                assert job["error"]["code"] == "timeout"
                assert job["error"]["detail"].startswith("the analysis did not finish within")
                assert str(tmp_path) not in job["error"]["detail"]
            assert worker.popen.poll() is None, worker.log()
            assert check(env, health).returncode == 0
            assert not list((env.data_dir / "blobs").glob("job_*"))
            assert worker.stop(signal.SIGTERM) == 0, worker.log()
        finally:
            worker.stop(signal.SIGKILL)
            server.stop()
