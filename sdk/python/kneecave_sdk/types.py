"""Response models (DESIGN §4). Tolerant on purpose: unknown fields are kept, not rejected,
so a newer server never breaks an older app; the per-rep ``result`` stays a plain dict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from kneecave_sdk._constants import TERMINAL_STATUSES

__all__ = ["Job", "JobError", "JobList"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class JobError(_Model):
    code: str
    detail: str | None = None


class Job(_Model):
    id: str
    # A plain str, not an Enum: a status added server-side must not make old clients fail.
    status: str
    progress: float | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: JobError | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class JobList(_Model):
    items: list[Job]
    next_cursor: str | None = None
