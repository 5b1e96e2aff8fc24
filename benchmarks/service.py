"""Service benchmark: accept latency of 5 MB uploads and GET-status throughput.

Starts its own `kneecave serve` (API only unless --workers, loopback, a temp data
dir, a fresh key), drives it with N concurrent httpx clients for a bounded number
of requests, prints the figures and stops the server. Client and server share the
machine, so the figures are a floor for what the API does on its own.

    .venv/bin/python benchmarks/service.py                       # SQLite
    .venv/bin/python benchmarks/service.py --queue redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.config import Settings  # noqa: E402
from service.jobs.backends import open_backends  # noqa: E402
from service.tenants import create_key  # noqa: E402
from tests.service_support import SHORT_CLIP, free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def payload(size: int) -> bytes:
    """A real MP4 start (passes the sniffer) padded to ``size`` bytes."""
    head = SHORT_CLIP.read_bytes()
    return (head + b"\x00" * max(0, size - len(head)))[:size]


async def _run_clients(
    clients: int, total: int, call: Any, client: httpx.AsyncClient
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(total))

    async def one_client() -> None:
        nonlocal errors
        for _ in remaining:
            t0 = time.perf_counter()
            r = await call(client)
            latencies.append(time.perf_counter() - t0)
            errors += r.status_code >= 400

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, time.perf_counter() - started, errors


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def bench(
    url: str, key: str, args: argparse.Namespace, server: psutil.Process
) -> dict[str, Any]:
    body = payload(args.upload_mb * 1024 * 1024)
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=120
    ) as client:

        async def post(c: httpx.AsyncClient) -> httpx.Response:
            return await c.post("/v1/jobs", files={"video": ("clip.mp4", body, "video/mp4")})

        first = await post(client)  # warm-up, and a job id for the GETs
        job_path = first.headers["location"]
        cpu0 = cpu_s(server)
        up_lat, up_wall, up_err = await _run_clients(args.clients, args.uploads, post, client)
        up_cpu = cpu_s(server) - cpu0

        async def get(c: httpx.AsyncClient) -> httpx.Response:
            return await c.get(job_path)

        await _run_clients(args.clients, 200, get, client)  # warm-up
        cpu0 = cpu_s(server)
        get_lat, get_wall, get_err = await _run_clients(args.clients, args.gets, get, client)
        get_cpu = cpu_s(server) - cpu0
    return {
        "uploads": {
            "n": args.uploads,
            "size_mb": args.upload_mb,
            "clients": args.clients,
            "p50_ms": round(percentile(up_lat, 50) * 1e3, 1),
            "p99_ms": round(percentile(up_lat, 99) * 1e3, 1),
            "mean_ms": round(statistics.fmean(up_lat) * 1e3, 1),
            "uploads_per_s": round(args.uploads / up_wall, 1),
            "MB_per_s": round(args.uploads * args.upload_mb / up_wall, 1),
            "server_cpu_ms_per_upload": round(up_cpu / args.uploads * 1e3, 2),
            "errors": up_err,
        },
        "get_status": {
            "n": args.gets,
            "clients": args.clients,
            "requests_per_s": round(args.gets / get_wall, 1),
            "p50_ms": round(percentile(get_lat, 50) * 1e3, 2),
            "p99_ms": round(percentile(get_lat, 99) * 1e3, 2),
            "server_cpu_ms_per_request": round(get_cpu / args.gets * 1e3, 3),
            "errors": get_err,
        },
    }


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("kneecave serve exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("kneecave serve did not become healthy")


@contextlib.contextmanager
def running_server(queue: str, workers: int) -> Iterator[tuple[str, str, psutil.Process]]:
    """A fresh `kneecave serve` on loopback (temp data dir, new key): (url, key, process)."""
    with tempfile.TemporaryDirectory(prefix="kneecave-bench-") as tmp:
        prefix = f"kcbench:{uuid.uuid4().hex[:8]}:"
        settings = Settings(data_dir=Path(tmp), queue=queue, redis_prefix=prefix)

        async def new_key() -> str:
            async with open_backends(settings) as backends:
                return (await create_key(backends.keys, "bench")).api_key

        key = asyncio.run(new_key())
        port = free_port()
        env = {
            **os.environ,
            "KNEECAVE_DATA_DIR": tmp,
            "KNEECAVE_QUEUE": queue,
            "KNEECAVE_REDIS_PREFIX": prefix,
            "KNEECAVE_RATE_LIMIT_PER_MINUTE": "100000000",
            "KNEECAVE_MAX_ACTIVE_JOBS_PER_TENANT": "100000000",
            "KNEECAVE_LOG_LEVEL": "WARNING",
        }
        cmd = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(workers)]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url, key, psutil.Process(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            if queue.startswith("redis"):
                import redis  # noqa: PLC0415

                r = redis.Redis.from_url(queue)
                for k in r.scan_iter(match=f"{prefix}*", count=1000):
                    r.delete(k)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", default="sqlite", help="sqlite or redis://…")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--uploads", type=int, default=320, help="uploads measured")
    parser.add_argument("--upload-mb", type=int, default=5)
    parser.add_argument("--gets", type=int, default=8000, help="GET requests measured")
    parser.add_argument("--workers", type=int, default=0, help="embedded workers in serve")
    args = parser.parse_args()

    with running_server(args.queue, args.workers) as (url, key, server):
        figures = asyncio.run(bench(url, key, args, server))
    figures["setup"] = {
        "queue": args.queue.split("://")[0],
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "note": "client and server on the same machine, loopback",
    }
    up, get = figures["uploads"], figures["get_status"]
    print(
        f"uploads {up['size_mb']} MB x {up['n']} @ {up['clients']} clients: "
        f"p50 {up['p50_ms']} ms, p99 {up['p99_ms']} ms, {up['uploads_per_s']}/s "
        f"({up['MB_per_s']} MB/s), server CPU {up['server_cpu_ms_per_upload']} ms/upload, "
        f"errors {up['errors']}\n"
        f"GET status x {get['n']} @ {get['clients']} clients: {get['requests_per_s']} req/s, "
        f"p50 {get['p50_ms']} ms, p99 {get['p99_ms']} ms, "
        f"server CPU {get['server_cpu_ms_per_request']} ms/request, errors {get['errors']}"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
