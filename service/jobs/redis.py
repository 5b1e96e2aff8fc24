"""Shared backend: a Redis Stream with one consumer group is the queue; jobs are JSON strings.

Any number of API and worker processes on any machines share one Redis. A
delivery stays in the group's pending list until acked; a worker heartbeats by
re-claiming its entry (XCLAIM JUSTID resets the idle time), and an entry idle
longer than the lease is taken over with XAUTOCLAIM. Job writes are
compare-and-set (WATCH/MULTI), so a superseded worker cannot overwrite anything.
"""

from __future__ import annotations

import base64
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError, WatchError

from service.jobs.base import DURATION_BUCKETS_S, ActiveLimitReachedError, JobBackend, Mutation
from service.jobs.model import ACTIVE, Job, JobPosition, JobStatus, Lease

GROUP = "workers"


# Take the lease when it is free or ours (renewing it), atomically.
_HOLD = """
local current = redis.call('GET', KEYS[1])
if not current or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class RedisKeys:
    """Every key this service writes, under one prefix (arq's constants.py)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.stream = f"{prefix}queue"
        self.expiry = f"{prefix}expiry"
        self.stats = f"{prefix}stats"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def lease(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    def landmarks(self, job_id: str) -> str:
        return f"{self.prefix}landmarks:{job_id}"

    def tenant_jobs(self, tenant: str) -> str:
        return f"{self.prefix}tenant-jobs:{tenant}"

    def active(self, tenant: str) -> str:
        return f"{self.prefix}active:{tenant}"

    def status(self, status: JobStatus) -> str:
        return f"{self.prefix}status:{status.value}"

    def idempotency(self, tenant: str, key: str) -> str:
        if ":" in tenant:
            # Length-prefixed, or tenant "a:b" + key "c" would share tenant "a" + key "b:c".
            return f"{self.prefix}idem-n:{len(tenant)}:{tenant}:{key}"
        return f"{self.prefix}idem:{tenant}:{key}"


class RedisJobBackend(JobBackend):
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_attempts: int,
        retention_s: float,
        poll_s: float = 0.2,
    ) -> None:
        super().__init__(max_attempts=max_attempts, retention_s=retention_s, poll_s=poll_s)
        # redis-py's stubs type replies as bytes|str|…; with decode_responses they are str.
        self.r: Any = redis
        self.k = RedisKeys(prefix)
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.r.xgroup_create(self.k.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _stage(self, pipe: Any, old: Job | None, new: Job) -> None:
        """Queue the writes that keep the indexes in step with a job's new state."""
        pipe.set(self.k.job(new.id), new.model_dump_json())
        if old is None:
            pipe.zadd(self.k.tenant_jobs(new.tenant), {new.id: new.created_at})
        if old is None or old.status != new.status:
            if old is not None:
                pipe.srem(self.k.status(old.status), new.id)
            pipe.sadd(self.k.status(new.status), new.id)
        if new.status in ACTIVE:
            pipe.sadd(self.k.active(new.tenant), new.id)
        else:
            pipe.srem(self.k.active(new.tenant), new.id)
        if new.expires_at is not None:
            pipe.zadd(self.k.expiry, {new.id: new.expires_at})

    async def _insert(self, job: Job, idempotency_key: str | None, max_active: int | None) -> Job:
        await self._ensure_group()
        idem = None if idempotency_key is None else self.k.idempotency(job.tenant, idempotency_key)
        active = self.k.active(job.tenant)
        # Key, record and queue entry in one MULTI: a job is never stored without its
        # delivery, and a concurrent duplicate never sees the key before the job exists.
        # The tenant's active set is watched too: two uploads cannot both take the last slot.
        async with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(active, *([idem] if idem is not None else []))
                    if idem is not None:
                        existing_id = await pipe.get(idem)
                        existing = await self._load(existing_id) if existing_id else None
                        if existing is not None:
                            await pipe.unwatch()
                            return existing
                    if max_active is not None and await pipe.scard(active) >= max_active:
                        await pipe.unwatch()
                        raise ActiveLimitReachedError(job.tenant)
                    pipe.multi()
                    if idem is not None:
                        pipe.set(idem, job.id)  # unused, or the earlier job is gone
                    self._stage(pipe, None, job)
                    pipe.xadd(self.k.stream, {"job_id": job.id})
                    await pipe.execute()
                    return job
                except WatchError:
                    continue  # a concurrent request took the key: replay its job

    async def _load(self, job_id: str) -> Job | None:
        raw = await self.r.get(self.k.job(job_id))
        return None if raw is None else Job.model_validate_json(raw)

    async def _find_by_key(self, tenant: str, key: str) -> Job | None:
        job_id = await self.r.get(self.k.idempotency(tenant, key))
        return await self._load(job_id) if job_id else None

    async def _mutate(self, job_id: str, fn: Mutation) -> Job | None:
        key = self.k.job(job_id)
        async with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    old = None if raw is None else Job.model_validate_json(raw)
                    new = None if old is None else fn(old)
                    if new is None:
                        await pipe.unwatch()
                        return None
                    pipe.multi()
                    self._stage(pipe, old, new)
                    await pipe.execute()
                    return new
                except WatchError:
                    continue  # someone wrote in between: re-read and re-decide

    async def _list(self, tenant: str, limit: int, before: JobPosition | None) -> list[Job]:
        key = self.k.tenant_jobs(tenant)
        if before is None:
            ids = await self.r.zrevrange(key, 0, limit - 1)
        else:
            # Same score: members in reverse lexical order, as SQLite's `id DESC`; those not
            # below the position's id are skipped (ties are rare: scores are microseconds).
            ties = await self.r.zcount(key, before.created_at, before.created_at)
            found = await self.r.zrevrangebyscore(
                key, before.created_at, "-inf", start=0, num=limit + ties, withscores=True
            )
            ids = [
                i
                for i, score in found
                if score < before.created_at or (score == before.created_at and i < before.job_id)
            ][:limit]
        if not ids:
            return []
        raws = await self.r.mget([self.k.job(i) for i in ids])
        return [Job.model_validate_json(raw) for raw in raws if raw is not None]

    async def _remove(self, job: Job) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.delete(self.k.job(job.id), self.k.landmarks(job.id))
            pipe.zrem(self.k.tenant_jobs(job.tenant), job.id)
            pipe.srem(self.k.active(job.tenant), job.id)
            for status in JobStatus:
                pipe.srem(self.k.status(status), job.id)
            pipe.zrem(self.k.expiry, job.id)
            await pipe.execute()
        if job.idempotency_key is not None:
            await self._free_key(self.k.idempotency(job.tenant, job.idempotency_key), job.id)

    async def _put_landmarks(self, job_id: str, data: bytes) -> None:
        # Text, as every reply is decoded; the record's removal deletes it, and the TTL
        # covers a record removed by hand. A day past the retention: a sweeper running
        # late must not leave a job whose landmarks expired before it.
        ttl_s = int(self.retention_s) + 86400
        await self.r.set(self.k.landmarks(job_id), base64.b64encode(data).decode(), ex=ttl_s)

    async def _get_landmarks(self, job_id: str) -> bytes | None:
        raw = await self.r.get(self.k.landmarks(job_id))
        return None if raw is None else base64.b64decode(raw)

    async def _drop_landmarks(self, job_id: str) -> None:
        await self.r.delete(self.k.landmarks(job_id))

    async def _drop_tenant_landmarks(self, tenant: str) -> None:
        ids = await self.r.zrange(self.k.tenant_jobs(tenant), 0, -1)
        for start in range(0, len(ids), 500):
            await self.r.delete(*(self.k.landmarks(i) for i in ids[start : start + 500]))

    async def _free_key(self, idem: str, job_id: str) -> None:
        """Delete ``idem`` only while it still names ``job_id`` (compare-and-delete): a
        submit that took the key meanwhile keeps it."""
        async with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(idem)
                    if await pipe.get(idem) != job_id:
                        await pipe.unwatch()
                        return
                    pipe.multi()
                    pipe.delete(idem)
                    await pipe.execute()
                    return
                except WatchError:
                    continue  # the key changed in between: re-read and re-decide

    async def _active_count(self, tenant: str) -> int:
        return int(await self.r.scard(self.k.active(tenant)))

    async def _status_counts(self) -> dict[JobStatus, int]:
        async with self.r.pipeline(transaction=False) as pipe:
            for status in JobStatus:
                pipe.scard(self.k.status(status))
            counts = await pipe.execute()
        return {s: int(n) for s, n in zip(JobStatus, counts, strict=True)}

    async def _expired(self, now: float, limit: int) -> list[str]:
        return list(await self.r.zrangebyscore(self.k.expiry, "-inf", now, start=0, num=limit))

    async def _enqueue(self, job: Job) -> None:
        return None  # queued atomically with the record in `_insert`

    async def _reserve(
        self, worker_id: str, lease_s: float, timeout_s: float
    ) -> tuple[str, str] | None:
        await self._ensure_group()
        try:
            return await self._next_entry(worker_id, lease_s, timeout_s)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted (flush, restore): recreate
            return None

    async def _next_entry(
        self, worker_id: str, lease_s: float, timeout_s: float
    ) -> tuple[str, str] | None:
        # First a delivery whose holder stopped heartbeating, then new work.
        _, claimed, _ = await self.r.xautoclaim(
            self.k.stream, GROUP, worker_id, min_idle_time=int(lease_s * 1000), count=1
        )
        for entry_id, fields in claimed:
            if fields:
                return fields["job_id"], entry_id
        block_ms = int(timeout_s * 1000)
        reply = await self.r.xreadgroup(
            GROUP, worker_id, {self.k.stream: ">"}, count=1, block=block_ms or None
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                return fields["job_id"], entry_id
        return None

    async def _touch(self, lease: Lease) -> None:
        await self.r.xclaim(self.k.stream, GROUP, lease.worker_id, 0, [lease.receipt], justid=True)

    async def _ack(self, lease: Lease) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.xack(self.k.stream, GROUP, lease.receipt)
            pipe.xdel(self.k.stream, lease.receipt)
            await pipe.execute()

    async def _requeue(self, lease: Lease) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.xack(self.k.stream, GROUP, lease.receipt)
            pipe.xdel(self.k.stream, lease.receipt)
            pipe.xadd(self.k.stream, {"job_id": lease.job_id})
            await pipe.execute()

    async def record_outcome(self, code: str, duration_s: float | None, frames: int) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hincrbyfloat(self.k.stats, f"jobs_total:{code}", 1)
            if duration_s is not None:
                pipe.hincrbyfloat(self.k.stats, "duration_count", 1)
                pipe.hincrbyfloat(self.k.stats, "duration_sum", duration_s)
                pipe.hincrbyfloat(self.k.stats, "frames_total", frames)
                for bound in DURATION_BUCKETS_S:
                    if duration_s <= bound:
                        pipe.hincrbyfloat(self.k.stats, f"duration_bucket:{bound:g}", 1)
            await pipe.execute()

    async def stats(self) -> dict[str, float]:
        raw = await self.r.hgetall(self.k.stats)
        return {str(k): float(v) for k, v in raw.items()}

    async def hold(self, name: str, holder: str, ttl_s: float) -> bool:
        taken = await self.r.eval(_HOLD, 1, self.k.lease(name), holder, int(ttl_s * 1000))
        return bool(taken)

    async def ping(self) -> None:
        await self.r.ping()

    async def close(self) -> None:
        return None  # the connection is closed by whoever opened it (see backends.py)
