"""Chaos, with real processes on a short real clip (docs/reliability.md, Chaos).

Redis: ≥ 60 jobs on a private Redis (AOF, fsync always, its own port) with 3 `kneecave
worker` processes, while a random worker is SIGKILLed and restarted every few seconds, the
API (`kneecave serve`, no embedded workers) is killed and restarted, and Redis itself is
killed and restarted. SQLite: `kneecave serve` with an embedded worker plus a `kneecave
worker` on the same file, the API killed and restarted, then stopped and restarted.

Checked after each run: every accepted job reaches exactly one terminal state (succeeded,
with a result equal to a calm `kneecave score` of the clip), one job per Idempotency-Key,
no webhook delivered twice for one state, and no video left in the blob dir.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest
import redis

from service.jobs.backends import open_backends
from service.jobs.model import JobStatus
from service.pipeline import video
from tests.clips import REPO
from tests.service_support import (
    SHORT_CLIP,
    TERMINAL,
    Env,
    Proc,
    Server,
    free_port,
    start_worker,
    without_timings,
)
from tests.test_webhooks import Receiver
from tests.test_worker_lease import FAST_LEASE

pytestmark = pytest.mark.slow

SEED = 9
OPTIONS: dict[str, Any] = {
    **FAST_LEASE,
    # Kills land on running jobs every few seconds: enough attempts that none fails as
    # worker_lost, so every result can be compared with the calm one.
    "max_attempts": 10,
    "max_active_jobs_per_tenant": 1000,
    "webhook_allow_private": "true",  # the receiver is on loopback
    "webhook_backoff_s": 0.1,
    "webhook_timeout_s": 5,
    "shutdown_grace_s": 1,
    # Sweepers remove what a kill left behind (a video whose job ended, an orphan) soon.
    "sweep_interval_s": 1,
    "orphan_blob_s": 5,
    "threads": 1,  # 3 workers share 2 cores
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SHORT_CLIP at half size and half rate: 31 frames of 304×540, still one rep."""
    out = tmp_path_factory.mktemp("chaos-clip") / "short.mp4"
    info = video.probe(SHORT_CLIP)
    writer: cv2.VideoWriter | None = None
    for frame in video.decode(info, max_duration_s=info.duration_s + 1):
        if frame.index % 2:
            continue
        h, w = frame.image.shape[:2]
        img = cv2.resize(frame.image, (w // 4 * 2, h // 4 * 2), interpolation=cv2.INTER_AREA)
        if writer is None:
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(out), fourcc, info.fps / 2, (img.shape[1], img.shape[0]))
        writer.write(img)
    assert writer is not None
    writer.release()
    return out


@pytest.fixture(scope="module")
def calm(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The clip's result from `kneecave score`, with the workers' settings (no chaos)."""
    out = tmp_path_factory.mktemp("chaos-calm") / "result.json"
    env = Env(tmp_path_factory.mktemp("chaos-calm-data"), "sqlite", "calm:").vars(threads=1)
    cmd = [sys.executable, "-m", "service.cli", "score", str(clip), "--no-progress", "-o"]
    subprocess.run([*cmd, str(out)], cwd=REPO, env=env, check=True, timeout=120)
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["rep_count"] == 1, result
    return without_timings(result)


class PrivateRedis:
    """A redis-server of the test's own (AOF, fsync at every write), killed at will."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.log = tmp / "redis.log"
        self.popen = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        args += ["--logfile", str(self.log)]
        popen = subprocess.Popen(["redis-server", *args])
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline or popen.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        return popen

    def kill_and_restart(self, down_s: float) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        time.sleep(down_s)
        self.popen = self._start()

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()


@dataclass
class Figures:
    kind: str
    jobs: int = 0
    worker_kills: int = 0
    api_kills: int = 0
    api_restarts_graceful: int = 0
    redis_kills: int = 0
    api_killed_mid_job: bool | None = None
    upload_retries: int = 0
    poll_errors: int = 0
    attempts: Counter[int] = field(default_factory=Counter)
    attempts_interrupted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stale_writes_refused: int = 0
    webhooks: int = 0
    webhooks_missing: int = 0
    webhooks_duplicated: int = 0
    videos_at_end: int = 0
    videos_after_sweep: int = 0
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    def show(self) -> str:
        return f"chaos figures ({self.kind}): " + json.dumps(
            {
                k: dict(sorted(v.items())) if isinstance(v, Counter) else v
                for k, v in vars(self).items()
            }
        )


class Deployment:
    """The API (fixed port, so clients keep their URL across restarts) and its workers."""

    def __init__(self, env: Env, tmp: Path, figures: Figures, embedded: int, workers: int) -> None:
        self.env, self.tmp, self.figures, self.embedded = env, tmp, figures, embedded
        self.key = env.create_key("acme")
        self.server = Server(env, tmp, workers=embedded, **OPTIONS)
        self.workers = [start_worker(env, tmp, **OPTIONS) for _ in range(workers)]
        self.retired: list[Proc] = []
        self.lock = threading.Lock()

    def kill_worker(self, rng: random.Random) -> None:
        with self.lock:
            i = rng.randrange(len(self.workers))
            dead = self.workers[i]
            dead.stop(signal.SIGKILL)
            self.retired.append(dead)
            self.workers[i] = start_worker(self.env, self.tmp, **OPTIONS)
        self.figures.worker_kills += 1

    def restart_api(self, sig: signal.Signals, *, mid_job: bool = False) -> None:
        busy = self.wait_busy(self.server.pid) if mid_job else None
        port = self.server.port
        # uvicorn re-raises the SIGTERM it handled once it has shut down.
        code = self.server.stop(sig, timeout=30)
        assert code in (0, -sig), self.server.log()[-3000:]
        self.server = Server(self.env, self.tmp, port=port, workers=self.embedded, **OPTIONS)
        if sig == signal.SIGKILL:
            self.figures.api_kills += 1
            self.figures.api_killed_mid_job = busy
        else:
            self.figures.api_restarts_graceful += 1

    def wait_busy(self, pid: int, timeout: float = 15.0) -> bool:
        """Wait until process `pid` runs a job (its worker id holds the pid)."""

        async def busy() -> bool:
            async with open_backends(self.env.settings()) as backends:
                jobs = await backends.jobs.list_jobs("acme", 1000)
            return any(
                j.status is JobStatus.PROCESSING and f"-{pid}-" in (j.worker_id or "") for j in jobs
            )

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if asyncio.run(busy()):
                return True
            time.sleep(0.05)
        return False

    def logs(self) -> str:
        procs = [self.server, *self.workers, *self.retired]
        return "".join(p.log() for p in procs)

    def stop(self) -> None:
        for w in self.workers:
            w.stop(signal.SIGKILL)
        self.server.stop()


class ChaosError(Exception):
    """The chaos thread itself failed (a process did not restart)."""


def retrying(
    what: Callable[[], httpx.Response],
    figures: Figures,
    counter: str,
    errors: list[BaseException],
) -> httpx.Response:
    """Call until the API answers below 500 (it and its backend restart under us)."""
    deadline = time.monotonic() + 90
    while True:
        if errors:
            raise ChaosError("the chaos thread failed") from errors[0]
        try:
            r = what()
            if r.status_code < 500:
                return r
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the API did not come back ({counter})"
        setattr(figures, counter, getattr(figures, counter) + 1)
        time.sleep(0.2)


def blobs(env: Env) -> list[Path]:
    root = env.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def status_counts(env: Env) -> dict[JobStatus, int]:
    async def counts() -> dict[JobStatus, int]:
        async with open_backends(env.settings()) as backends:
            return await backends.jobs.status_counts()

    return asyncio.run(counts())


def run_chaos(
    deployment: Deployment,
    clip: Path,
    calm: dict[str, Any],
    *,
    n_jobs: int,
    events: dict[int, Callable[[], None]],
    kill_every_s: tuple[float, float] | None,
) -> None:
    """Submit `n_jobs` (one every 0.7 s: a fast machine still sees many kills) while
    `events[k]` runs once k jobs are accepted and a random worker dies every `kill_every_s`;
    then check every job and count everything."""
    with Receiver(deployment.key.webhook_secret) as receiver:
        _run(
            deployment, receiver, clip, calm, n_jobs=n_jobs, events=events, kill_every=kill_every_s
        )


def _run(
    deployment: Deployment,
    receiver: Receiver,
    clip: Path,
    calm: dict[str, Any],
    *,
    n_jobs: int,
    events: dict[int, Callable[[], None]],
    kill_every: tuple[float, float] | None,
) -> None:
    url, figures = deployment.server.url, deployment.figures
    rng = random.Random(SEED)
    started = time.monotonic()
    accepted: dict[int, str] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def submit() -> None:
        with httpx.Client(base_url=url, headers=auth, timeout=30) as c:
            for i in range(n_jobs):
                key = f"chaos-{figures.kind}-{i}"

                def post(key: str = key) -> httpx.Response:
                    with clip.open("rb") as f:
                        return c.post(
                            "/v1/jobs",
                            files={"video": (clip.name, f, "video/mp4")},
                            data={"webhook_url": receiver.url},
                            headers={"Idempotency-Key": key},
                        )

                r = retrying(post, figures, "upload_retries", errors)
                assert r.status_code == 202, r.text
                accepted[i] = r.json()["id"]
                time.sleep(0.7)

    def chaos() -> None:
        next_kill = time.monotonic() + (rng.uniform(*kill_every) if kill_every else 1e9)
        pending = dict(sorted(events.items()))
        while not stop.wait(0.05):
            for at in [k for k in pending if len(accepted) >= k]:
                pending.pop(at)()
            if kill_every and time.monotonic() >= next_kill:
                deployment.kill_worker(rng)
                next_kill = time.monotonic() + rng.uniform(*kill_every)

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                errors.append(exc)
                stop.set()

        return run

    auth = {"Authorization": f"Bearer {deployment.key.api_key}"}
    threads = [threading.Thread(target=guarded(f), daemon=True) for f in (submit, chaos)]
    for t in threads:
        t.start()
    done: dict[str, dict[str, Any]] = {}
    seen: dict[str, list[str]] = {}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as c:
        deadline = time.monotonic() + 240
        while not errors and (len(done) < n_jobs or threads[0].is_alive()):
            assert time.monotonic() < deadline, f"{n_jobs - len(done)} jobs never ended"
            for job_id in [j for j in list(accepted.values()) if j not in done]:
                r = retrying(
                    lambda j=job_id: c.get(f"/v1/jobs/{j}"), figures, "poll_errors", errors
                )
                assert r.status_code == 200, r.text
                job = r.json()
                history = seen.setdefault(job_id, [])
                if not history or history[-1] != job["status"]:
                    history.append(job["status"])
                if job["status"] in TERMINAL:
                    done[job_id] = job
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        if errors:
            raise errors[0]
        figures.wall_s = round(time.monotonic() - started, 1)
        figures.jobs = len(accepted)
        figures.videos_at_end = len(blobs(deployment.env))

        # Webhooks still in flight arrive; a worker killed between storing the job and
        # sending its webhook never sends it (best effort, counted as missing).
        hooks_by_id: Counter[str] = Counter()
        for _ in range(50):
            hooks_by_id = Counter(r.headers["webhook-id"] for r in receiver.received)
            if len(hooks_by_id) >= n_jobs:
                break
            time.sleep(0.2)
        # The sweepers remove any video a kill left behind (orphan_blob_s, sweep_interval_s).
        for _ in range(100):
            if not blobs(deployment.env):
                break
            time.sleep(0.2)
        figures.videos_after_sweep = len(blobs(deployment.env))

        # A final read of every job: still the state it first ended in.
        final = {
            j: retrying(lambda j=j: c.get(f"/v1/jobs/{j}"), figures, "poll_errors", errors).json()
            for j in done
        }
        listed: list[str] = []
        params: dict[str, str | int] = {"limit": 100}
        while True:
            page = c.get("/v1/jobs", params=params).json()
            listed += [j["id"] for j in page["items"]]
            if page["next_cursor"] is None:
                break
            params["starting_after"] = page["next_cursor"]

    figures.webhooks = sum(hooks_by_id.values())
    figures.webhooks_duplicated = sum(n - 1 for n in hooks_by_id.values() if n > 1)
    figures.webhooks_missing = sum(
        1 for j, job in final.items() if f"{j}.{job['status']}" not in hooks_by_id
    )
    figures.statuses = Counter(job["status"] for job in final.values())
    figures.attempts = Counter(job["attempts"] for job in final.values())
    figures.attempts_interrupted = sum(job["attempts"] - 1 for job in final.values())
    logs = deployment.logs()
    events_logged = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    finished = Counter(e.get("job_id") for e in events_logged if e["msg"] == "job finished")
    figures.stale_writes_refused = sum(
        1 for e in events_logged if e["msg"] == "job ended elsewhere"
    )

    failures = figures.failures
    ids = set(accepted.values())
    if len(ids) != n_jobs or sorted(listed) != sorted(ids):
        failures.append(f"jobs accepted {len(ids)}, listed {len(listed)}, expected {n_jobs}")
    for j, job in final.items():
        if job["status"] != "succeeded":
            failures.append(f"{j} {job['status']} {job.get('error')}")
        elif without_timings(job["result"]) != calm:
            failures.append(f"{j}: result differs from the calm run")
        if {k: job[k] for k in ("status", "finished_at")} != {
            k: done[j][k] for k in ("status", "finished_at")
        }:
            failures.append(f"{j}: terminal state changed {done[j]['status']} → {job['status']}")
        terminal = [s for s in seen[j] if s in TERMINAL]
        if len(terminal) != 1:
            failures.append(f"{j}: states seen {seen[j]}")
        if finished[j] > 1:
            failures.append(f"{j}: finished {finished[j]} times")
    for hook_id, n in hooks_by_id.items():
        job_id, state = hook_id.rsplit(".", 1)
        if n > 1:
            failures.append(f"webhook {hook_id} delivered {n} times")
        if job_id not in final or final[job_id]["status"] != state:
            failures.append(f"webhook {hook_id} for a state the job did not end in")
    if not all(r.verified for r in receiver.received):
        failures.append("a webhook failed signature verification")
    counts = {s.value: n for s, n in status_counts(deployment.env).items() if n}
    if counts != dict(figures.statuses):
        failures.append(f"status index {counts} != jobs {dict(figures.statuses)}")
    if figures.videos_after_sweep:
        failures.append(f"videos left: {[p.name for p in blobs(deployment.env)]}")
    print(figures.show())


def test_chaos_redis(tmp_path: Path, clip: Path, calm: dict[str, Any]) -> None:
    store = PrivateRedis(tmp_path)
    env = Env(tmp_path / "data", store.url, f"kcchaos:{uuid.uuid4().hex[:8]}:")
    figures = Figures("redis")
    deployment = Deployment(env, tmp_path, figures, embedded=0, workers=3)

    def kill_redis() -> None:
        store.kill_and_restart(down_s=1.0)
        figures.redis_kills += 1

    try:
        run_chaos(
            deployment,
            clip,
            calm,
            n_jobs=60,
            events={
                12: lambda: deployment.restart_api(signal.SIGKILL),
                28: kill_redis,
                44: lambda: deployment.restart_api(signal.SIGTERM),
            },
            kill_every_s=(1.5, 3.5),
        )
    finally:
        deployment.stop()
        store.stop()
    assert figures.worker_kills >= 10, figures.show()
    assert (figures.api_kills, figures.redis_kills) == (1, 1), figures.show()
    assert not figures.failures, figures.show()


def test_chaos_sqlite(tmp_path: Path, clip: Path, calm: dict[str, Any]) -> None:
    figures = Figures("sqlite")
    # The API runs one worker in-process; a `kneecave worker` shares the SQLite file.
    # Each restart waits until the embedded worker runs a job: the job must still end once.
    deployment = Deployment(
        Env(tmp_path / "data", "sqlite", "unused:"), tmp_path, figures, embedded=1, workers=1
    )
    try:
        run_chaos(
            deployment,
            clip,
            calm,
            n_jobs=24,
            events={
                8: lambda: deployment.restart_api(signal.SIGKILL, mid_job=True),
                16: lambda: deployment.restart_api(signal.SIGTERM, mid_job=True),
            },
            kill_every_s=None,
        )
    finally:
        deployment.stop()
    assert (figures.api_kills, figures.api_restarts_graceful) == (1, 1), figures.show()
    assert figures.api_killed_mid_job, figures.show()
    assert not figures.failures, figures.show()
