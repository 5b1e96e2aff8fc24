"""`kneecave worker`: workers only, against a shared queue (Redis, or the SQLite file).

The lifecycle is one explicit chain, nothing global: Settings → model load →
warmup → ready (claim jobs) → stopping. The Settings the process was given are
the ones the pipeline is built from. A pipeline that cannot load or warm up
stops the process before it claims anything (status 3), as a device error in
the middle of a job does (after handing the job back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable

from service.config import Settings
from service.errors import ModelError
from service.jobs.backends import Backends, open_backends
from service.logs import configure_logging
from service.storage.local import LocalBlobStore
from service.worker.handler import EXIT_PIPELINE_UNAVAILABLE, Analyzer, WorkerContext
from service.worker.health import Phase, WorkerHealth, publishing
from service.worker.metrics import serve_metrics
from service.worker.runner import Worker
from service.worker.sweeper import sweep_forever

log = logging.getLogger("kneecave.worker")

# settings → a loaded, warmed-up pipeline (or ModelError). Tests pass their own.
PipelineLoader = Callable[[Settings], Analyzer]


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def load_pipeline(settings: Settings) -> Analyzer:
    """Build the real pipeline from ``settings`` and warm it up (blocking: run in a thread).
    Imported here so the API-only process never loads ONNX Runtime or the models."""
    from service.pipeline.analyze import VideoAnalyzer  # noqa: PLC0415

    analyzer = VideoAnalyzer.load(settings)
    analyzer.warmup()
    return analyzer


async def start_pipeline(
    settings: Settings, health: WorkerHealth, load: PipelineLoader
) -> Analyzer | None:
    """Load and warm up off the event loop (which keeps publishing health); None, with
    the health failed and the reason logged, when the pipeline cannot run here."""
    health.set(Phase.STARTING, "loading and warming up the models")
    try:
        analyzer = await asyncio.to_thread(load, settings)
    except ModelError as exc:
        log.error("pipeline unavailable: %s", exc.detail, extra={"code": exc.code})
        health.set(Phase.FAILED, f"pipeline unavailable: {exc.detail}")
        return None
    health.set(Phase.READY)
    log.info("pipeline ready", extra={"device": settings.device})
    return analyzer


def worker_context(settings: Settings, backends: Backends, analyze: Analyzer) -> WorkerContext:
    return WorkerContext(
        settings=settings,
        jobs=backends.jobs,
        keys=backends.keys,
        blobs=LocalBlobStore(settings.blob_dir),
        analyze=analyze,
        worker_id=new_worker_id(),
    )


@contextlib.asynccontextmanager
async def sweeping(settings: Settings, backends: Backends) -> AsyncIterator[None]:
    task = asyncio.create_task(
        sweep_forever(
            backends.jobs,
            LocalBlobStore(settings.blob_dir),
            settings.sweep_interval_s,
            settings.orphan_blob_s,
        )
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_workers(
    settings: Settings,
    concurrency: int,
    load: PipelineLoader = load_pipeline,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``): 0; or until the worker stops itself: its
    exit status (EXIT_PIPELINE_UNAVAILABLE, EXIT_STUCK)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    health = WorkerHealth()
    async with publishing(settings, health):
        analyzer = await start_pipeline(settings, health, load)
        if analyzer is None:
            return EXIT_PIPELINE_UNAVAILABLE
        async with open_backends(settings) as backends, sweeping(settings, backends):
            worker = Worker(worker_context(settings, backends, analyzer), concurrency)
            await worker.run(stop, health)
        return worker.exit_code


def worker_command(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    serve_metrics(settings.metrics_port)
    return asyncio.run(run_workers(settings, int(args.concurrency)))
