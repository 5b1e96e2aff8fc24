"""The worker loop: claim up to `concurrency` jobs, run each, drain on shutdown.

Shutdown (SIGTERM): stop claiming at once; give running jobs `shutdown_grace_s`
to finish; then ask them to stop and release them to the queue (no attempt
spent), so another worker picks them up. Webhooks still in flight get the same
grace.

A job past its deadline is failed (`timeout`) and its slot freed once its thread
has stopped. A thread that does not stop within `stuck_grace_s` is blocked in a
C call and cannot be killed from Python: the worker then stops claiming and
exits (status 4, EXIT_STUCK) so that it is restarted; the thread is a daemon and
dies with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from service.jobs.model import Job, Lease
from service.worker.handler import EXIT_STUCK, WorkerContext, WorkerFatalError, handle
from service.worker.health import Phase, WorkerHealth
from service.worker.job_run import Run
from service.worker.metrics import observe_job
from service.worker.notify import notify

log = logging.getLogger("kneecave.worker")


class Worker:
    def __init__(self, ctx: WorkerContext, concurrency: int) -> None:
        self.ctx = ctx
        self.concurrency = max(1, concurrency)
        self.runs: dict[asyncio.Task[None], Run] = {}
        self._webhooks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        # Set when the pipeline cannot run in this process; the worker then stops.
        self.fatal: WorkerFatalError | None = None

    async def run(self, stop: asyncio.Event, health: WorkerHealth | None = None) -> None:
        """Claim and run jobs until ``stop`` is set (or the worker fails), then drain."""
        self._stop = stop
        self.ctx.jobs.on_give_up = self._gave_up
        s = self.ctx.settings
        log.info(
            "worker started", extra={"worker_id": self.ctx.worker_id, "slots": self.concurrency}
        )
        while not stop.is_set():
            if len(self.runs) >= self.concurrency:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)
                continue
            try:
                lease = await self.ctx.jobs.claim(self.ctx.worker_id, s.lease_s, s.poll_s)
            except Exception:  # backend unreachable: back off, keep the process alive
                log.warning("claim failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
                continue
            if lease is not None:
                self._start(lease)
        if health is not None:
            failed = self.fatal is not None
            health.set(Phase.FAILED if failed else Phase.STOPPING, str(self.fatal or ""))
        await self._drain(s.shutdown_grace_s)

    def _start(self, lease: Lease) -> None:
        run = Run()
        task = asyncio.create_task(self._process(lease, run), name=f"job-{lease.job_id}")
        self.runs[task] = run
        task.add_done_callback(self.runs.pop)

    @property
    def exit_code(self) -> int:
        """0 after a requested stop, else the fatal error's status."""
        return 0 if self.fatal is None else self.fatal.exit_code

    def _fail(self, exc: WorkerFatalError) -> None:
        if self.fatal is None:
            self.fatal = exc
        self._stop.set()

    async def _process(self, lease: Lease, run: Run) -> None:
        try:
            done = await handle(self.ctx, lease, run)
        except WorkerFatalError as exc:
            self._fail(exc)
            return
        except Exception:  # the lease lapses and the job is retried elsewhere
            log.exception("job handling failed", extra={"job_id": lease.job_id})
            done = None
        if done is not None:
            observe_job(done)
        if done is not None and done.webhook_url is not None:
            task = asyncio.create_task(notify(self.ctx, done))
            self._webhooks.add(task)
            task.add_done_callback(self._webhooks.discard)
        # The slot stays taken while the job's thread runs (it still uses a core).
        if run.thread_alive() and not await run.wait_thread(self.ctx.settings.stuck_grace_s):
            log.error(
                "analysis thread stuck past its deadline; the worker exits to be restarted",
                extra={"job_id": lease.job_id},
            )
            self._fail(WorkerFatalError("analysis thread stuck", EXIT_STUCK))

    def _gave_up(self, job: Job) -> None:
        """A job our claim failed as `worker_lost`: its video goes and its webhook is sent."""
        task = asyncio.create_task(self._after_give_up(job))
        self._webhooks.add(task)
        task.add_done_callback(self._webhooks.discard)

    async def _after_give_up(self, job: Job) -> None:
        await self.ctx.blobs.delete(job.blob_key)
        await notify(self.ctx, job)

    async def _drain(self, grace_s: float) -> None:
        running = set(self.runs)
        if running:
            log.info("draining", extra={"running": len(running), "grace_s": grace_s})
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                self.runs[task].stop = "shutdown"
            if pending:
                await asyncio.wait(pending)
        if self._webhooks:
            _, late = await asyncio.wait(set(self._webhooks), timeout=max(grace_s, 1.0))
            for task in late:
                task.cancel()
        log.info("worker stopped", extra={"worker_id": self.ctx.worker_id})
