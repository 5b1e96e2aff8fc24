"""Helpers for the service tests: real processes (`kneecave serve` / `kneecave worker`) on
free loopback ports, per-test SQLite dirs and Redis key prefixes (cleaned up)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import redis

from service.config import Settings
from service.jobs.backends import Backends, open_backends
from service.tenants import NewKey, create_key
from tests.clips import REPO, clip_path

REDIS_URL = "redis://127.0.0.1:6379/0"
SHORT_CLIP = clip_path("front_highbar_backsquat_1rep")
TERMINAL = {"succeeded", "failed", "canceled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Env:
    """One isolated deployment: a data dir, a queue URL and a key prefix."""

    data_dir: Path
    queue: str
    prefix: str
    extra: dict[str, str] = field(default_factory=dict)

    def vars(self, **overrides: Any) -> dict[str, str]:
        env = {
            **os.environ,
            "KNEECAVE_DATA_DIR": str(self.data_dir),
            "KNEECAVE_QUEUE": self.queue,
            "KNEECAVE_REDIS_PREFIX": self.prefix,
            "KNEECAVE_LOG_LEVEL": "INFO",
            "KNEECAVE_THREADS": "2",
            # Tests poll fast; the rate-limit test sets its own limit.
            "KNEECAVE_RATE_LIMIT_PER_MINUTE": "1000000",
            "KNEECAVE_POLL_RATE_LIMIT_PER_MINUTE": "1000000",
            "KNEECAVE_AUTH_FAILURES_PER_MINUTE": "1000000",
            **self.extra,
        }
        env.update({f"KNEECAVE_{k.upper()}": str(v) for k, v in overrides.items()})
        return env

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, queue=self.queue, redis_prefix=self.prefix)

    def kneecave(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a `kneecave …` command against this deployment (as a deployer types it)."""
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            cwd=REPO,
            env=self.vars(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_key(self, tenant: str) -> NewKey:
        async def create() -> NewKey:
            async with open_backends(self.settings()) as backends:
                return await create_key(backends.keys, tenant)

        return asyncio.run(create())


@contextmanager
def make_env(kind: str, tmp_path: Path) -> Iterator[Env]:
    prefix = f"kctest:{uuid.uuid4().hex[:10]}:"
    queue = "sqlite" if kind == "sqlite" else REDIS_URL
    try:
        yield Env(tmp_path / "data", queue, prefix)
    finally:
        if kind == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


@asynccontextmanager
async def open_test_backends(kind: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Backends]:
    """The job store and key store of a fresh ``kind`` deployment, opened as the service opens
    them, with ``settings`` changed (short leases, retention…)."""
    with make_env(kind, tmp_path) as env:
        async with open_backends(env.settings().model_copy(update=settings)) as backends:
            yield backends


class Proc:
    """A `kneecave …` child process whose output goes to a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return int(self.popen.returncode)


class Server(Proc):
    def __init__(self, env: Env, tmp: Path, port: int | None = None, **overrides: Any) -> None:
        # A given port lets a restarted server keep its clients' URL.
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        name = f"serve-{self.port}.log"
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env.vars(**overrides),
            tmp / name,
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def client(self, api_key: str | None, timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def start_worker(env: Env, tmp: Path, **overrides: Any) -> Proc:
    log = tmp / f"worker-{uuid.uuid4().hex[:6]}.log"
    return Proc(["worker", "--concurrency", "1"], env.vars(**overrides), log)


def upload(client: httpx.Client, path: Path = SHORT_CLIP, **data: str) -> httpx.Response:
    with path.open("rb") as f:
        return client.post("/v1/jobs", files={"video": (path.name, f)}, data=data)


def wait_for(
    client: httpx.Client, job_id: str, statuses: set[str] = TERMINAL, timeout: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job.get("status") in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def without_timings(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "timings"}


class WebhookReceiver:
    """A real webhook endpoint on loopback: records each delivery (headers lower-cased,
    raw body) and answers 204. Use it as a context manager."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._arrived:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.deliveries.append((headers, body))
                    receiver._arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hooks/kneecave"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[tuple[dict[str, str], bytes]]:
        """The deliveries so far, once there are ``count`` (or ``timeout`` has passed)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def clear(self) -> None:
        with self._arrived:
            self.deliveries.clear()
