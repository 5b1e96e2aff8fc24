"""One contract for every job backend (saq style): the same tests on SQLite and real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.client import Pipeline, Redis

from service.errors import IdempotencyConflictError
from service.jobs.backends import Backends
from service.jobs.base import ActiveLimitReachedError
from service.jobs.model import Job, JobError, JobPosition, JobStatus
from service.ratelimit import POLL, SUBMIT, look, take
from service.tenants import (
    TenantLimits,
    authenticate,
    create_key,
    ensure_dev_key,
    revoke_dev_keys,
)
from tests.service_support import open_test_backends

pytestmark = pytest.mark.anyio

LEASE_S = 0.3


@pytest.fixture(params=["sqlite", "redis"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backends]:
    async with open_test_backends(
        request.param, tmp_path, max_attempts=2, result_retention_s=0.5
    ) as b:
        yield b


def new_job(
    tenant: str = "acme",
    request_hash: str = "h1",
    key: str | None = None,
    created_at: float | None = None,
) -> Job:
    now = time.time() if created_at is None else created_at
    job_id = f"job_{uuid.uuid4().hex}"
    return Job(
        id=job_id,
        tenant=tenant,
        created_at=now,
        updated_at=now,
        blob_key=job_id,
        request_hash=request_hash,
        idempotency_key=key,
    )


async def test_submit_get_and_tenant_isolation(backends: Backends) -> None:
    jobs = backends.jobs
    job, created = await jobs.submit(new_job(), None)
    assert created
    assert (await jobs.get(job.id, "acme")) == job
    assert await jobs.get(job.id, "other") is None
    assert await jobs.cancel(job.id, "other") is None
    assert await jobs.delete(job.id, "other") is None
    assert await jobs.active_count("acme") == 1
    assert (await jobs.status_counts())[JobStatus.QUEUED] == 1


async def test_idempotency_same_body_same_job_other_body_conflict(backends: Backends) -> None:
    jobs = backends.jobs
    first, _ = await jobs.submit(new_job(key="k"), "k")
    again, created = await jobs.submit(new_job(key="k"), "k")
    assert (again.id, created) == (first.id, False)
    with pytest.raises(IdempotencyConflictError):
        await jobs.submit(new_job(request_hash="h2", key="k"), "k")
    other_tenant, created = await jobs.submit(new_job(tenant="beta", key="k"), "k")
    assert created
    assert other_tenant.id != first.id
    # Deleting the job frees the key.
    await jobs.delete(first.id, "acme")
    fresh, created = await jobs.submit(new_job(request_hash="h2", key="k"), "k")
    assert created
    assert fresh.id != first.id


async def test_idempotency_keys_never_cross_tenants_whatever_their_names(
    backends: Backends,
) -> None:
    jobs = backends.jobs
    first, _ = await jobs.submit(new_job(tenant="acme", key="x:k"), "x:k")
    # Same body; a tenant name and key that concatenate to the same text as the first.
    other, created = await jobs.submit(new_job(tenant="acme:x", key="k"), "k")
    assert created
    assert other.id != first.id
    assert other.tenant == "acme:x"
    assert (await jobs.submit(new_job(tenant="acme", key="x:k"), "x:k"))[0].id == first.id


async def test_concurrent_duplicates_with_one_key_make_one_job(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = backends.jobs
    if backends.kind == "redis":
        # Widen the window between taking the key and writing the record (network latency).
        real = type(jobs)._ensure_group

        async def slow(self: object) -> None:
            await asyncio.sleep(0.05)
            await real(self)  # type: ignore[arg-type]

        monkeypatch.setattr(type(jobs), "_ensure_group", slow)
    out = await asyncio.gather(*(jobs.submit(new_job(key="k"), "k") for _ in range(4)))
    assert len({job.id for job, _ in out}) == 1
    assert sum(created for _, created in out) == 1
    assert await jobs.active_count("acme") == 1


async def test_active_limit_holds_under_concurrent_submits(backends: Backends) -> None:
    jobs = backends.jobs
    kept, _ = await jobs.submit(new_job(key="first"), "first", max_active=3)

    async def one() -> bool:
        try:
            await jobs.submit(new_job(), None, max_active=3)
        except ActiveLimitReachedError:
            return False
        return True

    accepted = await asyncio.gather(*(one() for _ in range(16)))
    assert sum(accepted) == 2  # 3 with the first
    assert await jobs.active_count("acme") == 3
    # A replay of a keyed request is still answered at the limit, another tenant is free.
    replay, created = await jobs.submit(new_job(key="first"), "first", max_active=3)
    assert (replay.id, created) == (kept.id, False)
    assert (await jobs.submit(new_job(tenant="beta"), None, max_active=3))[1]


async def test_find_by_idempotency_key(backends: Backends) -> None:
    jobs = backends.jobs
    assert await jobs.find_by_idempotency_key("acme", "k") is None
    first, _ = await jobs.submit(new_job(key="k"), "k")
    colon, _ = await jobs.submit(new_job(tenant="acme:x", key="k"), "k")
    assert await jobs.find_by_idempotency_key("acme", "k") == first
    assert await jobs.find_by_idempotency_key("acme:x", "k") == colon
    assert await jobs.find_by_idempotency_key("acme", "x:k") is None
    assert await jobs.find_by_idempotency_key("beta", "k") is None
    assert await jobs.find_by_idempotency_key("acme", "other") is None
    await jobs.cancel(first.id, "acme")  # a finished job still holds its key
    found = await jobs.find_by_idempotency_key("acme", "k")
    assert found is not None
    assert found.id == first.id
    await jobs.delete(first.id, "acme")
    assert await jobs.find_by_idempotency_key("acme", "k") is None


async def test_freeing_a_key_keeps_a_newer_jobs_claim_on_it(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = backends.jobs
    first, _ = await jobs.submit(new_job(key="k"), "k")
    newer: list[Job] = []
    if backends.kind == "redis":
        # A submit with the same key lands right after `delete` has read the key (the
        # record is gone by then) and before it frees the key.
        idem = jobs.k.idempotency("acme", "k")  # type: ignore[attr-defined]

        def after_get(real: Any) -> Any:
            async def run(self: Any, *args: Any, **options: Any) -> Any:
                out = await real(self, *args, **options)
                if args[:2] == ("GET", idem) and out == first.id and not newer:
                    newer.append(new_job(key="k"))
                    newer[0], created = await jobs.submit(newer[0], "k")
                    assert created
                return out

            return run

        monkeypatch.setattr(Redis, "execute_command", after_get(Redis.execute_command))
        monkeypatch.setattr(
            Pipeline, "immediate_execute_command", after_get(Pipeline.immediate_execute_command)
        )
        await jobs.delete(first.id, "acme")
        monkeypatch.undo()
        assert newer, "the hook never ran"
    else:
        await jobs.delete(first.id, "acme")  # one transaction: nothing can land in between
        newer.append((await jobs.submit(new_job(key="k"), "k"))[0])
    again, created = await jobs.submit(new_job(key="k"), "k")
    assert (again.id, created) == (newer[0].id, False)
    assert await jobs.active_count("acme") == 1
    assert await jobs.find_by_idempotency_key("acme", "k") == newer[0]


async def test_claim_heartbeat_finish(backends: Backends) -> None:
    jobs = backends.jobs
    job, _ = await jobs.submit(new_job(), None)
    lease = await jobs.claim("w1", LEASE_S, 1.0)
    assert lease is not None
    assert lease.job_id == job.id
    assert await jobs.claim("w2", LEASE_S, 0.0) is None  # nothing else to do
    beat = await jobs.heartbeat(lease, LEASE_S, 0.5)
    assert beat is not None
    assert beat.status is JobStatus.PROCESSING
    assert beat.progress == 0.5
    assert beat.attempts == 1
    done = await jobs.finish(lease, JobStatus.SUCCEEDED, result={"rep_count": 1})
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert done.progress == 1.0
    assert done.expires_at is not None
    assert done.finished_at is not None
    # Exactly one terminal state: a second write is refused and changes nothing.
    assert await jobs.finish(lease, JobStatus.FAILED, error=JobError(code="x", detail="")) is None
    assert (await jobs.get(job.id)) == done
    assert await jobs.heartbeat(lease, LEASE_S, 0.9) is None
    assert await jobs.active_count("acme") == 0


async def test_canceled_while_queued_is_never_processed(backends: Backends) -> None:
    jobs = backends.jobs
    job, _ = await jobs.submit(new_job(), None)
    canceled = await jobs.cancel(job.id, "acme")
    assert canceled is not None
    assert canceled.status is JobStatus.CANCELED
    assert canceled.error is not None
    assert canceled.error.code == "canceled"
    assert await jobs.claim("w1", LEASE_S, 0.3) is None
    assert (await jobs.cancel(job.id, "acme")) == canceled  # idempotent


async def test_cancel_while_processing_stops_the_worker(backends: Backends) -> None:
    jobs = backends.jobs
    job, _ = await jobs.submit(new_job(), None)
    lease = await jobs.claim("w1", LEASE_S, 1.0)
    assert lease is not None
    await jobs.cancel(job.id, "acme")
    assert await jobs.heartbeat(lease, LEASE_S, 0.3) is None
    assert await jobs.finish(lease, JobStatus.SUCCEEDED, result={}) is None
    final = await jobs.get(job.id)
    assert final is not None
    assert final.status is JobStatus.CANCELED
    assert final.result is None


async def test_expired_lease_is_claimed_again_and_old_holder_is_refused(
    backends: Backends,
) -> None:
    jobs = backends.jobs
    job, _ = await jobs.submit(new_job(), None)
    first = await jobs.claim("w1", LEASE_S, 1.0)
    assert first is not None
    assert await jobs.claim("w2", LEASE_S, 0.0) is None  # lease still valid
    await asyncio.sleep(LEASE_S + 0.1)
    second = await jobs.claim("w2", LEASE_S, 1.0)
    assert second is not None
    assert second.job_id == job.id
    assert second.token != first.token
    assert await jobs.heartbeat(first, LEASE_S, 0.5) is None
    assert await jobs.finish(first, JobStatus.SUCCEEDED, result={}) is None
    done = await jobs.finish(second, JobStatus.SUCCEEDED, result={"rep_count": 2})
    assert done is not None
    assert done.attempts == 2
    assert done.result == {"rep_count": 2}


async def test_heartbeat_keeps_the_lease(backends: Backends) -> None:
    jobs = backends.jobs
    await jobs.submit(new_job(), None)
    lease = await jobs.claim("w1", LEASE_S, 1.0)
    assert lease is not None
    for _ in range(4):
        await asyncio.sleep(LEASE_S / 2)
        assert await jobs.heartbeat(lease, LEASE_S, None) is not None
    assert await jobs.claim("w2", LEASE_S, 0.0) is None


async def test_worker_lost_after_max_attempts(backends: Backends) -> None:
    jobs = backends.jobs  # max_attempts = 2
    job, _ = await jobs.submit(new_job(), None)
    for worker in ("w1", "w2"):
        assert await jobs.claim(worker, LEASE_S, 1.0) is not None
        await asyncio.sleep(LEASE_S + 0.1)
    assert await jobs.claim("w3", LEASE_S, 0.3) is None
    final = await jobs.get(job.id)
    assert final is not None
    assert final.status is JobStatus.FAILED
    assert final.error is not None
    assert final.error.code == "worker_lost"
    assert (await jobs.stats())["jobs_total:worker_lost"] == 1  # counted for /metrics


async def test_release_requeues_without_spending_an_attempt(backends: Backends) -> None:
    jobs = backends.jobs
    job, _ = await jobs.submit(new_job(), None)
    lease = await jobs.claim("w1", LEASE_S, 1.0)
    assert lease is not None
    await jobs.release(lease)
    queued = await jobs.get(job.id)
    assert queued is not None
    assert queued.status is JobStatus.QUEUED
    assert queued.attempts == 0
    again = await jobs.claim("w2", 10.0, 1.0)
    assert again is not None
    assert again.job_id == job.id


async def test_list_pages_newest_first_and_delete(backends: Backends) -> None:
    jobs = backends.jobs
    ids = []
    for _ in range(5):
        job, _ = await jobs.submit(new_job(), None)
        ids.append(job.id)
        await asyncio.sleep(0.002)
    page1 = await jobs.list_jobs("acme", 3)
    page2 = await jobs.list_jobs("acme", 3, position(page1[-1]))
    assert [j.id for j in page1 + page2] == ids[::-1]
    assert await jobs.list_jobs("beta", 10) == []
    deleted = await jobs.delete(ids[0], "acme")
    assert deleted is not None
    assert await jobs.get(ids[0]) is None
    assert len(await jobs.list_jobs("acme", 10)) == 4


async def test_list_after_a_position_breaks_ties_by_id(backends: Backends) -> None:
    """Jobs created in the same instant are ordered by id, on both backends alike."""
    jobs = backends.jobs
    ids = sorted([(await jobs.submit(new_job(created_at=1000.0), None))[0].id for _ in range(4)])
    newest_first = ids[::-1]
    assert [j.id for j in await jobs.list_jobs("acme", 10)] == newest_first
    for i, job_id in enumerate(newest_first):
        after = await jobs.list_jobs("acme", 10, JobPosition(1000.0, job_id))
        assert [j.id for j in after] == newest_first[i + 1 :]


def position(job: Job) -> JobPosition:
    return JobPosition(job.created_at, job.id)


async def test_retention_expiry_and_purge(backends: Backends) -> None:
    jobs = backends.jobs  # result_retention_s = 0.5
    job, _ = await jobs.submit(new_job(), None)
    lease = await jobs.claim("w1", LEASE_S, 1.0)
    assert lease is not None
    await jobs.finish(lease, JobStatus.SUCCEEDED, result={"rep_count": 1})
    assert await jobs.expired() == []
    await asyncio.sleep(0.6)
    assert await jobs.expired() == [job.id]
    await jobs.purge(job.id)
    assert await jobs.get(job.id) is None
    assert await jobs.expired() == []


async def test_outcome_stats(backends: Backends) -> None:
    jobs = backends.jobs
    await jobs.record_outcome("succeeded", 3.0, 90)
    await jobs.record_outcome("no_person", 1.0, 30)
    stats = await jobs.stats()
    assert stats["jobs_total:succeeded"] == 1
    assert stats["jobs_total:no_person"] == 1
    assert stats["duration_count"] == 2
    assert stats["duration_sum"] == 4.0
    assert stats["frames_total"] == 120
    assert stats["duration_bucket:5"] == 2
    assert stats["duration_bucket:2"] == 1


async def test_keys_hashed_authenticated_and_revoked(backends: Backends) -> None:
    keys = backends.keys
    new = await create_key(keys, "acme")
    assert new.webhook_secret.startswith("whsec_")
    assert await authenticate(keys, new.api_key) == "acme"
    stored = await keys.get_key(new.key_id)
    assert stored is not None
    assert new.api_key.split("_", 2)[2] not in stored.hash
    assert await authenticate(keys, new.api_key[:-1] + "x") is None
    assert await authenticate(keys, "garbage") is None
    second = await create_key(keys, "acme")  # same tenant keeps one webhook secret
    assert second.webhook_secret == new.webhook_secret
    assert await keys.webhook_secret("acme") == new.webhook_secret
    assert await keys.revoke(new.key_id, time.time())
    assert await authenticate(keys, new.api_key) is None
    assert await authenticate(keys, second.api_key) == "acme"
    assert await ensure_dev_key(keys, None) is None  # real keys exist: no dev key


async def test_dev_key_kept_until_real_keys_exist(backends: Backends) -> None:
    first = await ensure_dev_key(backends.keys, None)
    assert first is not None
    assert await ensure_dev_key(backends.keys, first) == first  # a restart keeps it
    second = await ensure_dev_key(backends.keys, None)  # the saved copy was lost
    assert second is not None
    assert second != first
    # Nothing revokes: another process may be showing the first one.
    assert await authenticate(backends.keys, first) == "dev"
    assert await authenticate(backends.keys, second) == "dev"
    assert await ensure_dev_key(backends.keys, "kc_000000000000_gone") not in (None, first)
    assert await revoke_dev_keys(backends.keys) == 3
    assert await authenticate(backends.keys, first) is None
    assert await revoke_dev_keys(backends.keys) == 0


async def test_rate_limiter(backends: Backends) -> None:
    quotas = [await take(backends.rate, SUBMIT, "acme", 3) for _ in range(4)]
    assert [q.exceeded for q in quotas] == [False, False, False, True]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0]
    assert all(1 <= q.reset_s <= 60 for q in quotas)
    # Budgets are per policy and per tenant; looking counts nothing.
    assert (await take(backends.rate, POLL, "acme", 3)).used == 1
    assert (await take(backends.rate, SUBMIT, "beta", 3)).used == 1
    assert (await look(backends.rate, SUBMIT, "acme", 3)).used == 4
    assert (await look(backends.rate, SUBMIT, "acme", 3)).used == 4


async def test_tenant_limits_are_kept_per_tenant(backends: Backends) -> None:
    await create_key(backends.keys, "acme")
    await create_key(backends.keys, "beta")
    assert await backends.keys.limits("acme") == TenantLimits()
    await backends.keys.set_limits("acme", TenantLimits(max_active=50, rate=None, poll_rate=9))
    assert await backends.keys.limits("acme") == TenantLimits(50, None, 9)
    assert await backends.keys.limits("beta") == TenantLimits()
    assert await backends.keys.limits("nobody") == TenantLimits()


async def test_a_named_lease_has_one_holder_at_a_time(backends: Backends) -> None:
    jobs = backends.jobs
    assert await jobs.hold("metrics", "api-a", 0.3)
    assert await jobs.hold("metrics", "api-a", 0.3)  # renewed
    assert not await jobs.hold("metrics", "api-b", 0.3)
    assert await jobs.hold("other", "api-b", 0.3)  # leases are per name
    await asyncio.sleep(0.4)
    assert await jobs.hold("metrics", "api-b", 0.3)  # lapsed: taken over
    assert not await jobs.hold("metrics", "api-a", 0.3)
