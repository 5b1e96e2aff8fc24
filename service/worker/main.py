"""`kneecave worker`: workers only, against a shared queue (Redis, or the SQLite file)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator

from service.config import Settings
from service.jobs.backends import Backends, open_backends
from service.logs import configure_logging
from service.storage.local import LocalBlobStore
from service.worker.handler import Analyzer, WorkerContext
from service.worker.runner import Worker
from service.worker.sweeper import sweep_forever


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def load_analyzer() -> Analyzer:
    """The real pipeline (imported here so the API-only process never loads models)."""
    from service.pipeline.analyze import analyze_video  # noqa: PLC0415

    analyze: Analyzer = analyze_video
    return analyze


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


# Exit status when the pipeline cannot run here (see WorkerFatalError).
EXIT_PIPELINE_UNAVAILABLE = 3


async def run_workers(settings: Settings, concurrency: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    analyze = load_analyzer()
    async with open_backends(settings) as backends, sweeping(settings, backends):
        worker = Worker(worker_context(settings, backends, analyze), concurrency)
        await worker.run(stop)
    return EXIT_PIPELINE_UNAVAILABLE if worker.fatal is not None else 0


def worker_command(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level)
    return asyncio.run(run_workers(settings, int(args.concurrency)))
