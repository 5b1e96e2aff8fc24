"""A job as clients see it (`JobPublic`): the API's responses and the webhooks' payloads.

It lives with the jobs, not in the API, so that the worker (which sends the
webhooks) can build it without importing the API layer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.model import Job, JobError, JobStatus
from service.pipeline.scoring.schema import ScoreResult


class View(StrEnum):
    AUTO = "auto"
    FRONT = "front"
    SIDE = "side"


class Exercise(StrEnum):
    SQUAT = "squat"


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class WebhookDelivery(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    ok: bool


JOB_EXAMPLE: dict[str, Any] = {
    "id": "job_3f2a9c1e7b4d4e0f8a6b5c4d3e2f1a0b",
    "status": "processing",
    "progress": 0.42,
    "created_at": "2026-11-24T23:40:00Z",
    "started_at": "2026-11-24T23:40:01Z",
    "finished_at": None,
    "attempts": 1,
    "view": "auto",
    "exercise": "squat",
    "mirrored": False,
    "result": None,
    "error": None,
}


class JobPublic(BaseModel):
    """A job as the API shows it; `result` is set once `status` is `succeeded`."""

    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    id: str
    status: JobStatus
    progress: Annotated[float, Field(ge=0.0, le=1.0, description="fraction of frames done")]
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = Field(
        None, description="when the result (and this record) will be removed"
    )
    attempts: int = Field(description="deliveries to a worker so far")
    view: View
    exercise: Exercise
    mirrored: bool = Field(
        False, description="the video was mirror-image; sides are the person's own"
    )
    webhook_url: str | None = None
    result: ScoreResult | None = None
    error: JobError | None = Field(None, description="`code` is stable; see docs/api.md")
    webhook_deliveries: list[WebhookDelivery] = Field(default_factory=list)

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls.model_validate(
            {
                "id": job.id,
                "status": job.status,
                "progress": job.progress,
                "created_at": _dt(job.created_at),
                "started_at": _dt(job.started_at),
                "finished_at": _dt(job.finished_at),
                "expires_at": _dt(job.expires_at),
                "attempts": job.attempts,
                "view": job.view,
                "exercise": job.exercise,
                "mirrored": job.mirrored,
                "webhook_url": job.webhook_url,
                "result": job.result,
                "error": job.error,
                "webhook_deliveries": job.deliveries,
            }
        )
