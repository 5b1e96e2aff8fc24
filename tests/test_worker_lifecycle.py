"""The worker's lifecycle, in process: settings → load → warmup → ready, device errors,
deadlines, stuck threads, the health file and /readyz.

The worker here is the real one (`run_workers`, SQLite backend, blob store) with a
scripted pipeline passed in through its loader parameter; the device error is a real
ONNX Runtime failure turned into ModelError by the real model session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.api.app import create_app
from service.config import Settings
from service.errors import Canceled, ModelError, VideoError
from service.jobs.backends import open_backends
from service.jobs.model import Job, JobStatus
from service.jobs.sqlite import SqliteJobBackend
from service.pipeline.analyze import VideoAnalyzer
from service.pipeline.keypoints import Keypoints
from service.pipeline.pose.models import DETECTOR, LANDMARK_FULL, ModelSession, load_session
from service.storage.local import LocalBlobStore
from service.tenants import create_key
from service.worker.handler import EXIT_PIPELINE_UNAVAILABLE, EXIT_STUCK, Analyzer
from service.worker.health import Phase, WorkerHealth, check, write_status
from service.worker.main import run_workers
from tests.test_pose_models import _models_copy

pytestmark = pytest.mark.anyio
RESULT: dict[str, Any] = {"rep_count": 0}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "queue": "sqlite",
        "lease_s": 2.0,
        "heartbeat_s": 0.2,
        "progress_interval_s": 0.1,
        "poll_s": 0.05,
        "shutdown_grace_s": 1.0,
        "worker_health_file": tmp_path / "health.json",
        **overrides,
    }
    return Settings(**values)


class Scripted:
    """A pipeline whose behaviour per video comes from the test."""

    def __init__(self, behave: Callable[[Path, Callable[[], bool]], dict[str, Any]]) -> None:
        self.behave = behave
        self.frames: dict[str, int] = {}

    def analysed_frames(self, path: Path) -> int:
        return self.frames.get(path.name, 1)

    def __call__(
        self,
        path: Path,
        *,
        view: str = "auto",
        mirrored: bool = False,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_keypoints: Callable[[Any], None] | None = None,
    ) -> dict[str, Any]:
        return self.behave(path, should_stop or (lambda: False))


async def submit(settings: Settings) -> str:
    now = time.time()
    job_id = f"job_{uuid.uuid4().hex}"

    async def body() -> Any:
        yield b"not really a video"

    await LocalBlobStore(settings.blob_dir).put(job_id, body(), 1 << 20)
    job = Job(id=job_id, tenant="acme", created_at=now, updated_at=now, blob_key=job_id)
    async with open_backends(settings) as backends:
        await backends.jobs.submit(job, None)
    return job_id


async def get_job(settings: Settings, job_id: str) -> Job:
    async with open_backends(settings) as backends:
        job = await backends.jobs.get(job_id)
    assert job is not None
    return job


async def wait_terminal(settings: Settings, job_id: str, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await get_job(settings, job_id)
        if job.is_terminal or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


def status_file(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(settings.worker_health_file.read_text())
    return data


# --- the pipeline: built from the given settings, warmed up, device errors -------------


def test_the_analyzer_is_built_from_the_settings_it_is_given(tmp_path: Path) -> None:
    """A corrupt model in the given models_dir fails the load: the settings reach the engine
    (with the old process-wide engine they did not: it read the environment's)."""
    models = _models_copy(tmp_path, corrupt=True)
    with pytest.raises(ModelError, match="cannot load"):
        VideoAnalyzer.load(Settings(models_dir=models))


def test_warmup_runs_each_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    analyzer = VideoAnalyzer.load(Settings())
    calls: list[str] = []
    real_run = ModelSession.run

    def counting(self: ModelSession, batch: Any) -> Any:
        calls.append(self.spec.name)
        return real_run(self, batch)

    monkeypatch.setattr(ModelSession, "run", counting)
    analyzer.warmup()
    assert sorted(calls) == sorted([DETECTOR.name, LANDMARK_FULL.name])


def test_an_inference_failure_is_a_model_error() -> None:
    session = load_session(DETECTOR, Settings())
    with pytest.raises(ModelError, match="pose_detection failed on cpu") as err:
        session.run(np.zeros((1, 3, 3, 3), np.float32))  # ONNX Runtime refuses the shape
    assert err.value.code == "model_unavailable"


def broken_device() -> Analyzer:
    """A pipeline whose inference fails in ONNX Runtime itself, mid-job."""
    session = load_session(DETECTOR, Settings())

    def behave(path: Path, should_stop: Callable[[], bool]) -> dict[str, Any]:
        session.run(np.zeros((1, 3, 3, 3), np.float32))
        return RESULT

    return Scripted(behave)


async def test_a_device_error_mid_job_releases_the_job_and_stops_the_worker(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    job_id = await submit(settings)
    code = await asyncio.wait_for(run_workers(settings, 1, lambda s: broken_device()), 30)
    assert code == EXIT_PIPELINE_UNAVAILABLE
    job = await get_job(settings, job_id)
    assert job.status is JobStatus.QUEUED, job  # back in the queue, not failed
    assert job.attempts == 0  # and no attempt spent
    assert settings.blob_dir.joinpath(job_id).exists()  # its video kept for the next worker
    assert status_file(settings)["phase"] == "failed"


async def test_a_pipeline_that_cannot_load_stops_the_worker_before_it_claims(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, models_dir=_models_copy(tmp_path, corrupt=True))
    job_id = await submit(settings)
    code = await asyncio.wait_for(run_workers(settings, 1), 30)
    assert code == EXIT_PIPELINE_UNAVAILABLE
    job = await get_job(settings, job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    status = status_file(settings)
    assert status["phase"] == "failed"
    assert "pipeline unavailable" in status["detail"]


# --- jobs: bad input, deadlines, stuck threads -----------------------------------------


@contextlib.asynccontextmanager
async def running(settings: Settings, analyzer: Analyzer) -> AsyncIterator[asyncio.Task[int]]:
    """The worker in the background; stopped (as by SIGTERM) when the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(settings, 1, lambda s: analyzer, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_bad_input_fails_its_job_and_the_worker_goes_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    bad = await submit(settings)

    def behave(path: Path, should_stop: Callable[[], bool]) -> dict[str, Any]:
        if path.name == bad:
            raise VideoError("not a video")
        return RESULT

    good = await submit(settings)
    async with running(settings, Scripted(behave)) as task:
        failed, done = await wait_terminal(settings, bad), await wait_terminal(settings, good)
        assert not task.done()
    assert task.result() == 0
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "video_unreadable"
    assert done.status is JobStatus.SUCCEEDED


async def test_the_deadline_scales_with_the_analysed_frames(tmp_path: Path) -> None:
    """0.5 s of work: within base + per-frame for 100 frames, past it for 1 frame. The
    late job fails as `timeout`, its thread is told to stop, and its lease is no longer
    renewed; the worker goes on."""
    settings = make_settings(tmp_path, job_deadline_base_s=0.2, job_deadline_per_frame_s=0.01)
    stopped: list[str] = []

    def behave(path: Path, should_stop: Callable[[], bool]) -> dict[str, Any]:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            if should_stop():
                stopped.append(path.name)
                raise Canceled("stopped")
            time.sleep(0.01)
        return RESULT

    analyzer = Scripted(behave)
    long_job, short_job = await submit(settings), await submit(settings)
    analyzer.frames = {long_job: 100, short_job: 1}
    async with running(settings, analyzer) as task:
        ok, late = await wait_terminal(settings, long_job), await wait_terminal(settings, short_job)
        renewed_at = late.updated_at
        await asyncio.sleep(0.6)  # three heartbeat periods
        assert (await get_job(settings, short_job)).updated_at == renewed_at
        assert not task.done()
    assert ok.status is JobStatus.SUCCEEDED
    assert late.status is JobStatus.FAILED
    assert late.error is not None
    assert late.error.code == "timeout"
    assert "time limit of 0.2 s (1 frames to analyse)" in late.error.detail
    assert stopped == [short_job]
    assert not settings.blob_dir.joinpath(short_job).exists()


async def test_a_thread_stuck_past_its_deadline_makes_the_worker_exit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, job_deadline_base_s=0.2, stuck_grace_s=0.5)
    release = threading.Event()

    def behave(path: Path, should_stop: Callable[[], bool]) -> dict[str, Any]:
        release.wait(60)  # blocked "inside a C call": never looks at should_stop
        return RESULT

    job_id = await submit(settings)
    try:
        started = time.monotonic()
        code = await asyncio.wait_for(run_workers(settings, 1, lambda s: Scripted(behave)), 30)
        assert code == EXIT_STUCK
        assert time.monotonic() - started < 10
        job = await get_job(settings, job_id)
        assert job.error is not None
        assert (job.status, job.error.code) == (JobStatus.FAILED, "timeout")
        assert status_file(settings)["phase"] == "failed"
    finally:
        release.set()


# --- health: the status file, `--check` and /readyz -------------------------------------


def test_check_reads_phase_and_age(tmp_path: Path) -> None:
    path, health = tmp_path / "h.json", WorkerHealth()
    assert not check(path, 30, "live", time.time())[0]  # no file: not started
    write_status(path, health)
    now = time.time()
    assert check(path, 30, "live", now)[0]  # warming up is alive
    assert not check(path, 30, "ready", now)[0]  # but not ready
    health.set(Phase.READY)
    write_status(path, health)
    assert check(path, 30, "ready", now)[0]
    assert not check(path, 30, "ready", now + 31)[0]  # stale: the loop stopped writing
    health.set(Phase.FAILED, "pipeline unavailable")
    write_status(path, health)
    assert not check(path, 30, "live", now)[0]


async def test_ready_only_after_warmup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, worker_health_stale_s=0.4)
    loaded = threading.Event()

    def load(s: Settings) -> Analyzer:
        loaded.wait(30)
        return Scripted(lambda path, should_stop: RESULT)

    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(settings, 1, load, stop))
    try:
        await asyncio.sleep(0.3)
        path, stale = settings.worker_health_file, settings.worker_health_stale_s
        assert check(path, stale, "live", time.time())[0]
        assert not check(path, stale, "ready", time.time())[0]
        await asyncio.sleep(0.3)  # past the staleness limit: still being rewritten
        assert check(path, stale, "live", time.time())[0]
        loaded.set()
        await asyncio.sleep(0.3)
        assert check(path, stale, "ready", time.time())[0]
    finally:
        loaded.set()
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    assert status_file(settings)["phase"] == "stopping"


@contextlib.asynccontextmanager
async def serving(settings: Settings, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (backends, embedded workers), over ASGI."""
    app = create_app(settings, sweep=False, **options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kneecave") as client:
            yield client


async def until(client: httpx.AsyncClient, done: Callable[[httpx.Response], bool]) -> Any:
    deadline = time.monotonic() + 20
    while not done(response := await client.get("/readyz")):
        assert time.monotonic() < deadline, response.json()
        await asyncio.sleep(0.05)
    return response.json()


async def test_readyz_waits_for_the_embedded_workers_warmup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    loaded = threading.Event()

    def load(s: Settings) -> Analyzer:
        loaded.wait(30)
        return Scripted(lambda path, should_stop: RESULT)

    try:
        async with serving(settings, embedded_workers=1, load=load) as client:
            warming = await client.get("/readyz")
            assert warming.status_code == 503
            assert warming.json()["checks"]["workers"].startswith("starting")
            loaded.set()
            ready = await until(client, lambda r: r.status_code == 200)
            assert ready["checks"]["workers"] == "ok"
    finally:
        loaded.set()


async def test_readyz_says_why_the_embedded_workers_stopped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, models_dir=_models_copy(tmp_path, corrupt=True))
    async with serving(settings, embedded_workers=1) as client:
        body = await until(client, lambda r: "failed" in r.json()["checks"]["workers"])
        assert body["checks"]["workers"].startswith("failed: pipeline unavailable")
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200


async def test_readyz_of_an_api_without_workers_is_its_backends(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"jobs": "ok", "blobs": "ok"}


async def test_landmarks_written_as_the_tenant_opts_out_are_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`keys create --no-landmarks` (flag off, then drop) landing between the worker's read
    of the flag and its write: the write comes after the drop, so the worker must look
    again."""
    settings = make_settings(tmp_path)
    async with open_backends(settings) as backends:
        await create_key(backends.keys, "acme")
    job_id = await submit(settings)
    real_put = SqliteJobBackend._put_landmarks

    async def opt_out_first(self: SqliteJobBackend, job: str, data: bytes) -> None:
        async with open_backends(settings) as other:  # the CLI, another process
            await other.keys.set_landmarks("acme", False)
            await other.jobs.drop_tenant_landmarks("acme")
        await real_put(self, job, data)

    monkeypatch.setattr(SqliteJobBackend, "_put_landmarks", opt_out_first)
    lm = np.full((2, 33, 5), 0.9, np.float32)

    def behave(path: Path, should_stop: Callable[[], bool]) -> dict[str, Any]:
        return RESULT

    class WithKeypoints(Scripted):
        def __call__(self, path: Path, **kw: Any) -> dict[str, Any]:
            kw["on_keypoints"](Keypoints.build(lm, fps=30.0, width=100, height=100))
            return super().__call__(path, **kw)

    async with running(settings, WithKeypoints(behave)):
        done = await wait_terminal(settings, job_id)
    assert done.status is JobStatus.SUCCEEDED
    async with open_backends(settings) as backends:
        assert await backends.jobs.get_landmarks(job_id) is None
