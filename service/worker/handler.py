"""Process one claimed job: blob → analyse (in a thread, heartbeating) → store → ack → clean up.

Failures are data: a KneecaveError becomes `{code, detail}` on the failed job;
an unexpected exception becomes `internal_error` (and is logged with its
traceback). A job past its deadline (base + per analysed frame, from the probe)
fails as `timeout`. A ModelError is not the job's fault (a missing model, a
broken device): the job goes back to the queue and the worker stops
(WorkerFatalError). The video is deleted as soon as the job has ended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from service.config import Settings
from service.errors import Canceled, KneecaveError, ModelError
from service.jobs.base import JobBackend
from service.jobs.model import Job, JobError, JobStatus, Lease
from service.logs import bind
from service.pipeline.keypoints import Keypoints
from service.pipeline.overlay import encode_landmarks, overlay_landmarks
from service.storage.base import BlobStore
from service.tenants import KeyStore
from service.worker.job_run import DeadlineExceededError, Run

log = logging.getLogger("kneecave.worker")

# Exit statuses of `kneecave worker` when it stops itself (see WorkerFatalError).
EXIT_PIPELINE_UNAVAILABLE = 3  # a model or the device cannot run here
EXIT_STUCK = 4  # an analysis thread ignored its deadline and cannot be killed


class WorkerFatalError(Exception):
    """The worker must stop: the pipeline cannot run here (model missing, device broken)
    or a thread is wedged. Its job is already back in the queue (or failed as `timeout`);
    the process exits with ``exit_code`` so it is restarted or replaced (TGI's fail-fast)."""

    def __init__(self, detail: str, exit_code: int = EXIT_PIPELINE_UNAVAILABLE) -> None:
        super().__init__(detail)
        self.exit_code = exit_code


class Analyzer(Protocol):
    """The pipeline as the worker sees it (service.pipeline.analyze.VideoAnalyzer), loaded
    and warmed up before the worker claims anything."""

    def analysed_frames(self, path: Path) -> int: ...

    def __call__(
        self,
        path: Path,
        *,
        view: str = "auto",
        mirrored: bool = False,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_keypoints: Callable[[Keypoints], None] | None = None,
    ) -> dict[str, Any]: ...


@dataclass(slots=True)
class WorkerContext:
    """Everything a handler needs, built once per worker process (engine loaded there)."""

    settings: Settings
    jobs: JobBackend
    keys: KeyStore
    blobs: BlobStore
    analyze: Analyzer
    worker_id: str


Outcome = tuple[JobStatus, dict[str, Any] | None, JobError | None]


async def _heartbeat(ctx: WorkerContext, lease: Lease, run: Run) -> None:
    """Extend the lease every heartbeat_s and write progress when it moved."""
    s = ctx.settings
    tick = min(s.progress_interval_s, s.heartbeat_s)
    last_beat, last_progress = time.monotonic(), None
    while True:
        await asyncio.sleep(tick)
        progress = run.progress
        if progress == last_progress and time.monotonic() - last_beat < s.heartbeat_s:
            continue
        try:
            job = await ctx.jobs.heartbeat(lease, s.lease_s, progress)
        except Exception:  # a backend blip: the lease survives until lease_s
            log.warning("heartbeat failed", exc_info=True)
            continue
        last_beat, last_progress = time.monotonic(), progress
        if job is None:
            current = await ctx.jobs.get(lease.job_id)
            run.stop = "ended" if current is None or current.is_terminal else "lost"
            log.info("stopping: job %s", "ended" if run.stop == "ended" else "taken over")
            return


def _landmark_keeper(kept: list[bytes]) -> Callable[[Keypoints], None]:
    """Encode the overlay's landmarks (in the analysis thread); a failure there costs the
    overlay, never the result."""

    def keep(kp: Keypoints) -> None:
        try:
            kept.append(encode_landmarks(overlay_landmarks(kp)))
        except Exception:
            log.warning("landmarks for the overlay could not be encoded", exc_info=True)

    return keep


async def _analyze(ctx: WorkerContext, job: Job, run: Run, kept: list[bytes]) -> Outcome:
    path = ctx.blobs.local_path(job.blob_key)
    if not await ctx.blobs.exists(job.blob_key):
        return JobStatus.FAILED, None, JobError(code="video_missing", detail="upload not found")
    s, frames = ctx.settings, 0
    run.extend_deadline(s.job_deadline_base_s)  # covers the probe, then grows with the video
    try:
        frames = await run.call(partial(ctx.analyze.analysed_frames, path))
        run.extend_deadline(s.job_deadline_per_frame_s * frames)
        analyze = partial(
            ctx.analyze,
            path,
            view=job.view,
            mirrored=job.mirrored,
            progress=run.report,
            should_stop=run.should_stop,
            on_keypoints=_landmark_keeper(kept),
        )
        result = await run.call(analyze)
    except DeadlineExceededError:
        log.warning("job past its deadline", extra={"limit_s": run.limit_s, "frames": frames})
        detail = (
            f"the analysis did not finish within its time limit of {run.limit_s:.1f} s"
            f" ({frames} frames to analyse)"
        )
        return JobStatus.FAILED, None, JobError(code="timeout", detail=detail)
    except Canceled as exc:
        return JobStatus.CANCELED, None, JobError(code=exc.code, detail=exc.detail)
    except ModelError:
        raise  # not the job's fault: see handle()
    except KneecaveError as exc:
        return JobStatus.FAILED, None, JobError(code=exc.code, detail=exc.detail)
    except Exception:
        log.exception("analysis crashed")
        error = JobError(code="internal_error", detail="the analysis failed unexpectedly")
        return JobStatus.FAILED, None, error
    return JobStatus.SUCCEEDED, result, None


async def handle(ctx: WorkerContext, lease: Lease, run: Run) -> Job | None:
    """Run one job to its end. Returns the job as this worker finished it, else None."""
    job = await ctx.jobs.get(lease.job_id)
    if job is None:
        return None
    with bind(**job.log_fields()):
        log.info("job started", extra={"attempt": job.attempts})
        kept: list[bytes] = []  # the overlay's landmarks, once the analysis produced them
        beat = asyncio.create_task(_heartbeat(ctx, lease, run))
        try:
            status, result, error = await _analyze(ctx, job, run, kept)
        except ModelError as exc:
            await ctx.jobs.release(lease)
            log.error(
                "pipeline unavailable, job released: %s", exc.detail, extra={"code": exc.code}
            )
            raise WorkerFatalError(exc.detail, EXIT_PIPELINE_UNAVAILABLE) from exc
        finally:
            beat.cancel()
        if status is JobStatus.CANCELED and run.stop == "shutdown":
            await ctx.jobs.release(lease)
            log.info("job released for another worker (shutdown)")
            return None
        # Kept with a succeeded job only, and only for a tenant that has not opted out.
        keep = status is JobStatus.SUCCEEDED and bool(kept)
        landmarks = kept[-1] if keep and await ctx.keys.landmarks_enabled(job.tenant) else None
        done = await ctx.jobs.finish(lease, status, result=result, error=error, landmarks=landmarks)
        if done is None:
            current = await ctx.jobs.get(lease.job_id)
            if current is None or current.is_terminal:
                await ctx.blobs.delete(job.blob_key)
            log.info("job ended elsewhere", extra={"status": current and current.status})
            return None
        if landmarks is not None and not await ctx.keys.landmarks_enabled(job.tenant):
            # The tenant opted out while this job finished: `keys create --no-landmarks`
            # turns the flag off, then drops what is kept; a write that landed after its
            # drop is seen here, as the flag is already off.
            await ctx.jobs.drop_landmarks(job.id)
        await ctx.blobs.delete(job.blob_key)
        await _record(ctx, done)
        log.info("job finished", extra={"status": done.status, "code": error and error.code})
        return done


async def _record(ctx: WorkerContext, job: Job) -> None:
    duration = None
    if job.started_at is not None and job.finished_at is not None:
        duration = job.finished_at - job.started_at
    frames = 0
    if job.result is not None:
        frames = int((job.result.get("video") or {}).get("frames") or 0)
    code = job.error.code if job.error is not None else job.status.value
    try:
        await ctx.jobs.record_outcome(code, duration, frames)
    except Exception:  # metrics must never fail a finished job
        log.warning("could not record job stats", exc_info=True)
