"""Housekeeping that makes privacy promises hold even after crashes.

Removes results (whole records) past their retention, and any uploaded video
whose job ended, vanished, or never came to exist. Idempotent: several
sweepers (one per process) may run at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from service.jobs.base import JobBackend
from service.storage.base import BlobStore

log = logging.getLogger("kneecave.sweeper")


async def sweep_once(jobs: JobBackend, blobs: BlobStore, orphan_s: float) -> tuple[int, int]:
    """One pass; returns (records removed, videos removed)."""
    expired = await jobs.expired()
    for job_id in expired:
        await jobs.purge(job_id)
    removed = 0
    now = time.time()
    for key, mtime in (await blobs.list_keys(partial_max_age_s=orphan_s)).items():
        job = await jobs.get(key)
        # A blob is written just before its job record: give young orphans time.
        if (job is None and now - mtime > orphan_s) or (job is not None and job.is_terminal):
            await blobs.delete(key)
            removed += 1
    if expired or removed:
        log.info("swept", extra={"records": len(expired), "videos": removed})
    return len(expired), removed


async def sweep_forever(
    jobs: JobBackend, blobs: BlobStore, interval_s: float, orphan_s: float
) -> None:
    while True:
        try:
            await sweep_once(jobs, blobs, orphan_s)
        except Exception:  # keep sweeping after a backend blip
            log.warning("sweep failed", exc_info=True)
        await asyncio.sleep(interval_s)
