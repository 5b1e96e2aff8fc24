"""Workers inside the API process (`kneecave serve`): the same lifecycle as `kneecave worker`.

The pipeline loads and warms up in a thread while the API already answers; the
returned `WorkerHealth` is what /readyz reports (ready only once warmed up). A
pipeline that cannot run leaves the API up and /readyz failing with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from service.config import Settings
from service.jobs.backends import Backends
from service.worker.health import Phase, WorkerHealth
from service.worker.main import PipelineLoader, load_pipeline, start_pipeline, worker_context
from service.worker.runner import Worker


@contextlib.asynccontextmanager
async def embedded_workers(
    settings: Settings, backends: Backends, count: int, load: PipelineLoader = load_pipeline
) -> AsyncIterator[WorkerHealth]:
    health = WorkerHealth()
    stop = asyncio.Event()

    async def run() -> None:
        analyzer = await start_pipeline(settings, health, load)
        if analyzer is None:
            return
        worker = Worker(worker_context(settings, backends, analyzer), count)
        await worker.run(stop, health)
        if worker.fatal is None:
            health.set(Phase.STOPPING, "stopped")

    task = asyncio.create_task(run())
    try:
        yield health
    finally:
        stop.set()
        await task
