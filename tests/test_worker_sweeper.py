"""The sweeper keeps the privacy promises after crashes: videos of ended, vanished or
never-created jobs go; records past their retention go; live uploads stay."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.jobs.backends import Backends
from service.jobs.model import Job, JobStatus
from service.storage.local import LocalBlobStore
from service.worker.sweeper import sweep_once
from tests.service_support import open_test_backends

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "redis"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backends]:
    async with open_test_backends(request.param, tmp_path, result_retention_s=0.2) as b:
        yield b


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _job_with_blob(backends: Backends, blobs: LocalBlobStore) -> Job:
    now = time.time()
    job_id = f"job_{uuid.uuid4().hex}"
    await blobs.put(job_id, _chunks(b"video"), 100)
    job, _ = await backends.jobs.submit(
        Job(id=job_id, tenant="acme", created_at=now, updated_at=now, blob_key=job_id), None
    )
    return job


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


async def test_sweep(backends: Backends, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    queued = await _job_with_blob(backends, blobs)
    ended = await _job_with_blob(backends, blobs)
    lease = await backends.jobs.claim("w1", 10.0, 1.0)
    assert lease is not None
    assert lease.job_id == queued.id
    await backends.jobs.finish(lease, JobStatus.SUCCEEDED, result={})
    await backends.jobs.cancel(ended.id, "acme")  # both ended; a crash left the videos
    await blobs.put("job_orphan_old", _chunks(b"x"), 100)
    _age(blobs.local_path("job_orphan_old"), 7200)
    await blobs.put("job_orphan_young", _chunks(b"x"), 100)  # its job is being created
    partial = blobs.tmp / "job_partial.abc"
    partial.write_bytes(b"half an upload")
    _age(partial, 7200)
    live = await _job_with_blob(backends, blobs)

    records, videos = await sweep_once(backends.jobs, blobs, orphan_s=3600)
    assert videos == 3
    assert records == 0
    assert not await blobs.exists(queued.id)
    assert not await blobs.exists(ended.id)
    assert not await blobs.exists("job_orphan_old")
    assert await blobs.exists("job_orphan_young")
    assert await blobs.exists(live.id)
    assert not partial.exists()

    await asyncio.sleep(0.3)  # past the 0.2 s retention
    records, _ = await sweep_once(backends.jobs, blobs, orphan_s=3600)
    assert records == 2
    assert await backends.jobs.get(queued.id) is None
    assert await backends.jobs.get(ended.id) is None
    assert await backends.jobs.get(live.id) is not None


async def test_sweep_skips_files_that_are_not_blobs(backends: Backends, tmp_path: Path) -> None:
    """A stray file (NFS silly-rename, an editor's backup) must not stop the sweep."""
    blobs = LocalBlobStore(tmp_path / "blobs")
    strays = [blobs.root / ".nfs0000000000123", blobs.root / "notes (copy).txt"]
    for stray in strays:
        stray.write_bytes(b"not ours")
        _age(stray, 7200)
    ended = await _job_with_blob(backends, blobs)
    await backends.jobs.cancel(ended.id, "acme")

    _, videos = await sweep_once(backends.jobs, blobs, orphan_s=3600)
    assert videos == 1
    assert not await blobs.exists(ended.id)
    assert all(stray.exists() for stray in strays)
