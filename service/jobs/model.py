"""The Job record, its status machine and the predicates the queue logic asks of it.

Backends store and deliver jobs; every decision about *which* change is legal
lives here (saq's `job.py`), so SQLite and Redis cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL: frozenset[JobStatus] = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}
)
ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})

# The only legal status changes. processing → queued is a release (worker shutdown);
# processing → processing is a re-claim after the previous worker's lease expired.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.PROCESSING, JobStatus.QUEUED, *TERMINAL},
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}


class IllegalTransitionError(Exception):
    """A status change the table above does not allow (a bug, never user input)."""


# An absolute path (two or more segments) in a message: the server's directories.
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"]+/)+([^\s/'\"]*)")


class JobError(BaseModel):
    """What a failed job tells its client: a stable code and a human message, never a
    path on the server (a decoder or model message may quote one)."""

    code: str
    detail: str

    @field_validator("detail")
    @classmethod
    def _no_server_paths(cls, detail: str) -> str:
        return _ABS_PATH.sub(lambda m: m.group(1) or "…", detail)


@dataclass(frozen=True)
class JobPosition:
    """Where a job sits in its tenant's newest-first list: (created_at, id) descending."""

    created_at: float
    job_id: str


class Job(BaseModel):
    """One analysis request. Times are Unix seconds (floats) so backends can index them."""

    id: str
    tenant: str
    status: JobStatus = JobStatus.QUEUED
    progress: float = Field(0.0, ge=0.0, le=1.0)
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0

    # Request
    view: str = "auto"
    exercise: str = "squat"
    mirrored: bool = False
    webhook_url: str | None = None
    blob_key: str
    size_bytes: int = 0
    content_type: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    # The X-Request-Id of the upload that created the job: the worker's log lines carry it,
    # so one id finds the request and the analysis it started.
    request_id: str | None = None

    # Outcome
    result: dict[str, Any] | None = None
    error: JobError | None = None
    # When the result (and the record) is removed; set on the terminal transition.
    expires_at: float | None = None
    deliveries: list[dict[str, Any]] = Field(default_factory=list)

    # Lease: who works on it now, until when (extended by heartbeats).
    worker_id: str | None = None
    lease_token: str | None = None
    lease_expires_at: float | None = None

    # --- predicates -------------------------------------------------------
    def log_fields(self) -> dict[str, str]:
        """What every log line about this job carries (service.logs.bind)."""
        fields = {"job_id": self.id, "tenant": self.tenant}
        if self.request_id is not None:
            fields["request_id"] = self.request_id
        return fields

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def lease_expired(self, now: float) -> bool:
        return self.lease_expires_at is None or self.lease_expires_at <= now

    def claimable(self, now: float) -> bool:
        """Queued, or processing under a lease nobody renewed in time."""
        if self.status is JobStatus.QUEUED:
            return True
        return self.status is JobStatus.PROCESSING and self.lease_expired(now)

    def holds(self, token: str) -> bool:
        """Whether the lease identified by ``token`` is still the current one."""
        return self.status is JobStatus.PROCESSING and self.lease_token == token

    def exhausted(self, max_attempts: int) -> bool:
        return self.attempts > max_attempts

    # --- transitions (pure: each returns a new Job) -----------------------
    def _to(self, status: JobStatus, now: float, **changes: Any) -> Job:
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransitionError(f"job {self.id}: {self.status} → {status}")
        return self.model_copy(update={"status": status, "updated_at": now, **changes})

    def claimed(self, worker_id: str, token: str, now: float, lease_s: float) -> Job:
        return self._to(
            JobStatus.PROCESSING,
            now,
            attempts=self.attempts + 1,
            started_at=now,
            worker_id=worker_id,
            lease_token=token,
            lease_expires_at=now + lease_s,
        )

    def renewed(self, now: float, lease_s: float, progress: float | None) -> Job:
        update: dict[str, Any] = {"updated_at": now, "lease_expires_at": now + lease_s}
        if progress is not None:
            update["progress"] = min(1.0, max(self.progress, progress))
        return self.model_copy(update=update)

    def released(self, now: float) -> Job:
        """Back to the queue without spending an attempt (the worker is shutting down)."""
        return self._to(
            JobStatus.QUEUED,
            now,
            attempts=max(0, self.attempts - 1),
            worker_id=None,
            lease_token=None,
            lease_expires_at=None,
        )

    def finished(
        self,
        status: JobStatus,
        now: float,
        retention_s: float,
        *,
        result: dict[str, Any] | None = None,
        error: JobError | None = None,
    ) -> Job:
        if status not in TERMINAL:
            raise IllegalTransitionError(f"job {self.id}: {status} is not terminal")
        return self._to(
            status,
            now,
            finished_at=now,
            expires_at=now + retention_s,
            progress=1.0 if status is JobStatus.SUCCEEDED else self.progress,
            result=result,
            error=error,
            lease_token=None,
            lease_expires_at=None,
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on a job: the token proves ownership, the receipt acks delivery."""

    job_id: str
    token: str
    worker_id: str
    receipt: str = ""
