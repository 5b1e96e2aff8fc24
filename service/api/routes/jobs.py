"""/v1/jobs: submit a video (streamed), read, list, cancel and delete jobs."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from service.api.cursor import decode_cursor, encode_cursor
from service.api.deps import BlobsDep, JobsDep, LimitsDep, SettingsDep, TenantDep
from service.api.middleware import request_id_of
from service.api.problems import problem_responses
from service.api.schemas import JobList
from service.api.upload import UploadInfo, receive_video
from service.errors import InvalidRequestError, KneecaveError, NotFoundError, RateLimitedError
from service.jobs.base import ActiveLimitReachedError
from service.jobs.model import Job
from service.jobs.public import Exercise, JobPublic, View
from service.webhooks import validate_webhook_url

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",  # visible ASCII: no empty or blank key
        description="Same key + same body → the same job; a different body → 409.",
    ),
]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["video"],
                    "properties": {
                        "video": {"type": "string", "format": "binary"},
                        "view": {"type": "string", "enum": [v.value for v in View]},
                        "exercise": {"type": "string", "enum": [e.value for e in Exercise]},
                        "mirrored": {
                            "type": "boolean",
                            "description": "the video is mirror-image (a front camera's"
                            " preview saved as shown): knees are reported on the person's"
                            " own sides",
                        },
                        "webhook_url": {"type": "string", "format": "uri"},
                    },
                }
            },
            "video/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_GET_LINK = {
    "GetJob": {
        "operationId": "jobs-get_job",
        "parameters": {"job_id": "$response.body#/id"},
        "description": "Poll the job (honour Retry-After) until `status` is terminal.",
    }
}


def _not_found(job_id: str) -> NotFoundError:
    return NotFoundError(f"no job {job_id} for this API key", code="job_not_found")


@dataclass(frozen=True, slots=True)
class Options:
    view: View
    exercise: Exercise
    webhook_url: str | None
    mirrored: bool = False

    def digest(self, upload: UploadInfo) -> str:
        """What Idempotency-Key compares: the video bytes and every option."""
        text = f"{upload.video_hash}|{self.view}|{self.exercise}|{self.webhook_url or ''}"
        if self.mirrored:  # absent from older keys' digests: they stay valid
            text += "|mirrored"
        return hashlib.sha256(text.encode()).hexdigest()


_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def _flag(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidRequestError(f"`{name}` must be true or false, not {value[:20]!r}")


def _or(form: bool | None, query: bool | None) -> bool:
    return form if form is not None else bool(query)


def _options(
    upload: UploadInfo,
    view: View | None,
    exercise: Exercise | None,
    webhook_url: str | None,
    mirrored: bool | None = None,
) -> Options:
    """Form fields win over query parameters (the raw-body form only has the latter)."""
    try:
        return Options(
            view=View(upload.fields.get("view") or view or View.AUTO),
            exercise=Exercise(upload.fields.get("exercise") or exercise or Exercise.SQUAT),
            webhook_url=upload.fields.get("webhook_url") or webhook_url,
            mirrored=_or(_flag("mirrored", upload.fields.get("mirrored")), mirrored),
        )
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a video for analysis",
    description="Streams the video (multipart field `video`, or the raw body with a video/*"
    " content type) to storage and queues a job. Poll `Location` or wait for the webhook.",
    responses={
        202: {"links": _GET_LINK, "description": "Accepted; see `Location`"},
        **problem_responses(401, 409, 413, 415, 422, 429),
    },
    openapi_extra=_UPLOAD_BODY,
)
async def create_job(
    request: Request,
    *,
    response: Response,
    tenant: TenantDep,
    limits: LimitsDep,
    jobs: JobsDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
    view: Annotated[View | None, Query(description="raw-body uploads: camera view")] = None,
    exercise: Annotated[Exercise | None, Query(description="raw-body uploads")] = None,
    webhook_url: Annotated[str | None, Query(description="raw-body uploads")] = None,
    mirrored: Annotated[bool | None, Query(description="raw-body uploads")] = None,
) -> JobPublic:
    # A retry of a keyed request is not a new job: it gets the first one (or 409, once the
    # body is hashed) even while the tenant is at its limit.
    earlier = None
    if idempotency_key is not None:
        earlier = await jobs.find_by_idempotency_key(tenant, idempotency_key)
    limit = limits.max_active
    too_many = RateLimitedError(
        f"at most {limit} jobs may be queued or running",
        retry_after_s=settings.retry_after_s * 5,
        code="too_many_active_jobs",
    )
    # Cheap early refusal before the upload; the authoritative check is atomic with the
    # insert (submit's max_active), after it.
    if earlier is None and await jobs.active_count(tenant) >= limit:
        raise too_many
    job_id = f"job_{uuid.uuid4().hex}"
    request.state.job_id = job_id  # the access log line names the job
    upload = await receive_video(
        request, blobs, job_id, settings.max_upload_bytes, settings.upload_idle_timeout_s
    )
    try:
        options = _options(upload, view, exercise, webhook_url, mirrored)
        hook = options.webhook_url
        if hook:
            # Resolves the host (blocking DNS): off the event loop.
            hook = await asyncio.to_thread(
                validate_webhook_url, hook, allow_private=settings.webhook_allow_private
            )
        now = time.time()
        job = Job(
            id=job_id,
            tenant=tenant,
            created_at=now,
            updated_at=now,
            view=options.view.value,
            exercise=options.exercise.value,
            mirrored=options.mirrored,
            webhook_url=hook,
            blob_key=job_id,
            size_bytes=upload.size,
            content_type=upload.container,
            idempotency_key=idempotency_key,
            request_hash=options.digest(upload),
            request_id=request_id_of(request.scope),
        )
        stored, created = await jobs.submit(job, idempotency_key, max_active=limit)
    except ActiveLimitReachedError:
        await blobs.delete(job_id)
        raise too_many from None
    except KneecaveError:  # refused (options, webhook URL, idempotency): no job was stored
        await blobs.delete(job_id)
        raise
    # Anything else (the store died mid-answer) may have stored the job: its video stays,
    # for the retry that replays it; if no job holds it, the sweeper removes it as an orphan.
    request.state.job_id = stored.id
    if not created:
        await blobs.delete(job_id)  # a replay: the first upload is the one that counts
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/jobs/{stored.id}"
    response.headers["Retry-After"] = str(settings.retry_after_s)
    return JobPublic.of(stored)


@router.get(
    "/{job_id}",
    summary="Get a job (status, progress, result)",
    responses=problem_responses(401, 404, 422, 429),
)
async def get_job(
    job_id: str, tenant: TenantDep, jobs: JobsDep, response: Response, settings: SettingsDep
) -> JobPublic:
    job = await jobs.get(job_id, tenant)
    if job is None:
        raise _not_found(job_id)
    if not job.is_terminal:
        response.headers["Retry-After"] = str(settings.retry_after_s)
    return JobPublic.of(job)


@router.get(
    "",
    summary="List jobs, newest first",
    description="Pages follow `next_cursor`: pass it as `starting_after` for the next page. A"
    " cursor is a position in the list, not an offset, so jobs created or deleted meanwhile"
    " neither repeat nor skip a job.",
    responses=problem_responses(401, 422, 429),
)
async def list_jobs(
    tenant: TenantDep,
    jobs: JobsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the previous page (opaque): the jobs after that one.",
        ),
    ] = None,
) -> JobList:
    before = None if starting_after is None else decode_cursor(starting_after)
    items = await jobs.list_jobs(tenant, limit + 1, before)
    page = items[:limit]
    more = len(items) > limit
    return JobList(
        items=[JobPublic.of(j) for j in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a queued or running job",
    description="Idempotent. A running job stops at its worker's next heartbeat; the video is"
    " deleted now.",
    responses=problem_responses(401, 404, 422, 429),
)
async def cancel_job(job_id: str, tenant: TenantDep, jobs: JobsDep, blobs: BlobsDep) -> JobPublic:
    job = await jobs.cancel(job_id, tenant)
    if job is None:
        raise _not_found(job_id)
    await blobs.delete(job.blob_key)
    return JobPublic.of(job)


@router.delete(
    "/{job_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a job and its result (cancels it first if needed)",
    responses=problem_responses(401, 404, 422, 429),
)
async def delete_job(job_id: str, tenant: TenantDep, jobs: JobsDep, blobs: BlobsDep) -> Response:
    job = await jobs.delete(job_id, tenant)
    if job is None:
        raise _not_found(job_id)
    await blobs.delete(job.blob_key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
