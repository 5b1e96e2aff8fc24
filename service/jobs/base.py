"""The job seam: JobStore (state) and JobQueue (delivery) Protocols and the shared logic.

`JobBackend` follows saq's template methods: the public verbs (`submit`, `claim`,
`heartbeat`, `finish`, `release`, `cancel`) own status changes, attempts,
timestamps and lease checks; a backend supplies only storage primitives
(`_insert`, `_load`, `_mutate`, `_reserve`, `_ack`, …).

Delivery guarantee: at-least-once. A job whose worker dies is delivered again
after its lease expires; the lease token makes the worker's writes conditional,
so a job reaches exactly one terminal state however many workers touched it.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from service.errors import IdempotencyConflictError
from service.jobs.model import Job, JobError, JobPosition, JobStatus, Lease

Mutation = Callable[[Job], Job | None]


class ActiveLimitReachedError(Exception):
    """The tenant has as many queued or running jobs as it may (the API answers 429)."""


# Buckets (seconds) of the job-duration histogram kept in the backend for /metrics.
DURATION_BUCKETS_S: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 600)


@runtime_checkable
class JobStore(Protocol):
    """Job records: create (idempotent per tenant+key), read, list, cancel, delete."""

    async def submit(
        self, job: Job, idempotency_key: str | None, *, max_active: int | None = None
    ) -> tuple[Job, bool]: ...
    async def get(self, job_id: str, tenant: str | None = None) -> Job | None: ...
    async def find_by_idempotency_key(self, tenant: str, key: str) -> Job | None: ...
    async def list_jobs(
        self, tenant: str, limit: int, before: JobPosition | None = None
    ) -> list[Job]: ...
    async def cancel(self, job_id: str, tenant: str) -> Job | None: ...
    async def delete(self, job_id: str, tenant: str) -> Job | None: ...
    async def active_count(self, tenant: str) -> int: ...
    async def status_counts(self) -> dict[JobStatus, int]: ...
    async def get_landmarks(self, job_id: str) -> bytes | None: ...


@runtime_checkable
class JobQueue(Protocol):
    """Delivery to workers under a lease (at-least-once; handlers are idempotent by job id)."""

    async def claim(self, worker_id: str, lease_s: float, timeout_s: float) -> Lease | None: ...
    async def heartbeat(
        self, lease: Lease, lease_s: float, progress: float | None
    ) -> Job | None: ...
    async def finish(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: JobError | None = None,
        landmarks: bytes | None = None,
    ) -> Job | None: ...
    async def release(self, lease: Lease) -> None: ...


def _claim_mutation(lease: Lease, lease_s: float, now: float) -> Mutation:
    def mutate(job: Job) -> Job | None:
        if not job.claimable(now):
            return None
        return job.claimed(lease.worker_id, lease.token, now, lease_s)

    return mutate


class JobBackend(ABC):
    """Both seams over one storage; subclasses implement the underscore primitives."""

    def __init__(
        self,
        *,
        max_attempts: int,
        retention_s: float,
        poll_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_attempts = max_attempts
        self.retention_s = retention_s
        self.poll_s = poll_s
        self.clock = clock
        # Told of each job this process's `claim` failed as `worker_lost` (the worker
        # sends its webhook and removes its video, as for any other failure).
        self.on_give_up: Callable[[Job], None] | None = None

    # --- JobStore --------------------------------------------------------
    async def submit(
        self, job: Job, idempotency_key: str | None, *, max_active: int | None = None
    ) -> tuple[Job, bool]:
        """Store and enqueue ``job``; with a key, a replay returns the first job (created=False).

        With ``max_active``, raise ActiveLimitReached instead when the tenant already has
        that many queued or running jobs, checked in the same atomic step as the insert
        (a replay is still answered). A count before the insert would let concurrent
        uploads all pass it.
        """
        stored = await self._insert(job, idempotency_key, max_active)
        if stored.id != job.id:
            if stored.request_hash != job.request_hash:
                raise IdempotencyConflictError(
                    "Idempotency-Key was already used with a different request body"
                )
            return stored, False
        await self._enqueue(stored)
        return stored, True

    async def get(self, job_id: str, tenant: str | None = None) -> Job | None:
        job = await self._load(job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            return None  # another tenant's job does not exist, as far as the caller knows
        return job

    async def find_by_idempotency_key(self, tenant: str, key: str) -> Job | None:
        """The job that holds ``key`` for ``tenant`` (what a replay of it would return)."""
        return await self._find_by_key(tenant, key)

    async def list_jobs(
        self, tenant: str, limit: int, before: JobPosition | None = None
    ) -> list[Job]:
        """The tenant's jobs newest first (created_at, then id, descending), starting after
        ``before``: a position, not an offset, so pages neither skip nor repeat jobs while
        new ones arrive or old ones are deleted."""
        return await self._list(tenant, limit, before)

    async def cancel(self, job_id: str, tenant: str) -> Job | None:
        """Cancel a queued or running job (idempotent: a terminal job is returned unchanged).

        A running job's worker notices at its next heartbeat and stops; its own
        terminal write is refused because the status is no longer `processing`.
        """
        now = self.clock()

        def mutate(job: Job) -> Job | None:
            if job.tenant != tenant or job.is_terminal:
                return None
            return job.finished(
                JobStatus.CANCELED,
                now,
                self.retention_s,
                error=JobError(code="canceled", detail="canceled by the client"),
            )

        changed = await self._mutate(job_id, mutate)
        if changed is not None:
            await self._drop_landmarks(job_id)  # a crashed attempt's, never to be served
        return changed or await self.get(job_id, tenant)

    async def delete(self, job_id: str, tenant: str) -> Job | None:
        """Cancel if still active, then remove the record. Returns the job as it was."""
        job = await self.cancel(job_id, tenant)
        if job is not None:
            await self._remove(job)
        return job

    async def purge(self, job_id: str) -> None:
        """Remove a record regardless of tenant (retention sweep)."""
        job = await self._load(job_id)
        if job is not None:
            await self._remove(job)

    async def get_landmarks(self, job_id: str) -> bytes | None:
        """The gzipped `JobLandmarks` kept with a succeeded job (removed with its record)."""
        return await self._get_landmarks(job_id)

    async def drop_landmarks(self, job_id: str) -> None:
        await self._drop_landmarks(job_id)

    async def drop_tenant_landmarks(self, tenant: str) -> None:
        """Remove the landmarks of every job of ``tenant`` (it opted out of keeping them)."""
        await self._drop_tenant_landmarks(tenant)

    async def active_count(self, tenant: str) -> int:
        return await self._active_count(tenant)

    async def status_counts(self) -> dict[JobStatus, int]:
        return await self._status_counts()

    async def expired(self, limit: int = 500) -> list[str]:
        """Ids of finished jobs whose result retention has passed."""
        return await self._expired(self.clock(), limit)

    # --- JobQueue --------------------------------------------------------
    async def claim(self, worker_id: str, lease_s: float, timeout_s: float) -> Lease | None:
        """Take the next queued (or abandoned) job, waiting up to ``timeout_s``."""
        deadline = self.clock() + timeout_s
        while True:
            remaining = max(0.0, deadline - self.clock())
            reserved = await self._reserve(worker_id, lease_s, remaining)
            if reserved is None:
                return None
            lease = Lease(reserved[0], uuid.uuid4().hex, worker_id, reserved[1])
            job = await self._mutate(lease.job_id, _claim_mutation(lease, lease_s, self.clock()))
            if job is None:
                await self._settle(lease)
            elif job.exhausted(self.max_attempts):
                await self._give_up(lease)
            else:
                return lease
            if self.clock() >= deadline:
                return None

    async def _give_up(self, lease: Lease) -> None:
        """Its workers kept dying (crash, OOM kill, lost node): fail it, count it, tell
        `on_give_up` (the sweeper removes the video should no one be listening)."""
        detail = f"the worker stopped responding {self.max_attempts} times"
        error = JobError(code="worker_lost", detail=detail)
        failed = await self.finish(lease, JobStatus.FAILED, error=error)
        if failed is not None:
            await self.record_outcome(error.code, None, 0)
            if self.on_give_up is not None:
                self.on_give_up(failed)

    async def heartbeat(self, lease: Lease, lease_s: float, progress: float | None) -> Job | None:
        """Extend the lease (and record progress). None: the lease is lost or the job ended."""
        now = self.clock()
        job = await self._mutate(
            lease.job_id,
            lambda j: j.renewed(now, lease_s, progress) if j.holds(lease.token) else None,
        )
        if job is not None:
            await self._touch(lease)
        return job

    async def finish(
        self,
        lease: Lease,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: JobError | None = None,
        landmarks: bytes | None = None,
    ) -> Job | None:
        """Write the terminal state if this lease still holds the job, and ack the delivery.

        Returns the job as written, or None when the write was refused (the job was
        canceled meanwhile, or another worker took over after this lease expired).
        ``landmarks`` (gzipped `JobLandmarks`) are kept with a succeeded job only: they are
        stored before the job turns `succeeded` (a client never sees it without them), only
        while this lease holds the job (a superseded worker must not overwrite or delete the
        winner's), and removed again when the write is refused; an end written without them
        drops what an earlier, crashed attempt may have left.
        """
        kept = False
        if status is JobStatus.SUCCEEDED and landmarks is not None:
            holder = await self._load(lease.job_id)
            if holder is not None and holder.holds(lease.token):
                await self._put_landmarks(lease.job_id, landmarks)
                kept = True
        now = self.clock()
        job = await self._mutate(
            lease.job_id,
            lambda j: (
                j.finished(status, now, self.retention_s, result=result, error=error)
                if j.holds(lease.token)
                else None
            ),
        )
        if job is not None:
            if not kept:
                await self._drop_landmarks(lease.job_id)
            await self._ack(lease)
            return job
        current = await self._settle(lease)
        if kept and (current is None or current.status != JobStatus.SUCCEEDED):
            await self._drop_landmarks(lease.job_id)
        return None

    async def release(self, lease: Lease) -> None:
        """Give a job back to the queue without spending an attempt (graceful shutdown)."""
        now = self.clock()
        job = await self._mutate(
            lease.job_id, lambda j: j.released(now) if j.holds(lease.token) else None
        )
        if job is not None:
            await self._requeue(lease)
        else:
            await self._settle(lease)

    async def record_deliveries(self, job_id: str, deliveries: list[dict[str, Any]]) -> None:
        await self._mutate(
            job_id, lambda j: j.model_copy(update={"deliveries": [*j.deliveries, *deliveries]})
        )

    async def _settle(self, lease: Lease) -> Job | None:
        """After a refused write: ack a delivery whose job ended or vanished; leave a
        delivery another worker holds alone (acking it would drop their claim)."""
        current = await self._load(lease.job_id)
        if current is None or current.is_terminal:
            await self._ack(lease)
        return current

    # --- metrics kept in the backend so every process reports the same figures
    @abstractmethod
    async def record_outcome(self, code: str, duration_s: float | None, frames: int) -> None: ...

    @abstractmethod
    async def stats(self) -> dict[str, float]: ...

    @abstractmethod
    async def hold(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the named lease for ``holder`` (True), or see that another holder
        has it (False). A holder that stops renewing loses it after ``ttl_s``."""

    # --- lifecycle --------------------------------------------------------
    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # --- storage primitives ----------------------------------------------
    @abstractmethod
    async def _insert(self, job: Job, idempotency_key: str | None, max_active: int | None) -> Job:
        """Store ``job``; if the tenant already used the key for a live job, return that job;
        else if the tenant has ``max_active`` active jobs, raise ActiveLimitReached."""

    @abstractmethod
    async def _load(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def _find_by_key(self, tenant: str, key: str) -> Job | None: ...

    @abstractmethod
    async def _mutate(self, job_id: str, fn: Mutation) -> Job | None:
        """Atomically apply ``fn`` (None = no change) and return the stored result or None."""

    @abstractmethod
    async def _list(self, tenant: str, limit: int, before: JobPosition | None) -> list[Job]: ...

    @abstractmethod
    async def _remove(self, job: Job) -> None:
        """Delete the record, its indexes and its landmarks."""

    @abstractmethod
    async def _put_landmarks(self, job_id: str, data: bytes) -> None: ...

    @abstractmethod
    async def _get_landmarks(self, job_id: str) -> bytes | None: ...

    @abstractmethod
    async def _drop_landmarks(self, job_id: str) -> None: ...

    @abstractmethod
    async def _drop_tenant_landmarks(self, tenant: str) -> None: ...

    @abstractmethod
    async def _active_count(self, tenant: str) -> int: ...

    @abstractmethod
    async def _status_counts(self) -> dict[JobStatus, int]: ...

    @abstractmethod
    async def _expired(self, now: float, limit: int) -> list[str]: ...

    @abstractmethod
    async def _enqueue(self, job: Job) -> None: ...

    @abstractmethod
    async def _reserve(
        self, worker_id: str, lease_s: float, timeout_s: float
    ) -> tuple[str, str] | None:
        """Next candidate (job id, receipt): new work or a delivery whose lease ran out."""

    @abstractmethod
    async def _touch(self, lease: Lease) -> None: ...

    @abstractmethod
    async def _ack(self, lease: Lease) -> None: ...

    @abstractmethod
    async def _requeue(self, lease: Lease) -> None: ...
