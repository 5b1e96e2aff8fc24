"""Opaque list cursors: a job's position (created_at, id), not an offset.

A position stays valid when the job it names is deleted, and new jobs (at the
head of a newest-first list) cannot shift it. The encoding is url-safe base64
so clients treat it as opaque and never build one.
"""

from __future__ import annotations

import base64
import binascii
import math
import re

from service.errors import InvalidRequestError
from service.jobs.model import Job, JobPosition

_JOB_ID = re.compile(r"^job_[0-9a-f]{32}$")


def encode_cursor(job: Job) -> str:
    raw = f"{job.created_at!r}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> JobPosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|")
        created_at = float(created)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    if not math.isfinite(created_at) or not _JOB_ID.match(job_id):
        raise _invalid()
    return JobPosition(created_at, job_id)


def _invalid() -> InvalidRequestError:
    return InvalidRequestError(
        "starting_after is not a cursor this API gave out (pass `next_cursor` as it came)",
        code="invalid_cursor",
    )
