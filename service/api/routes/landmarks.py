"""GET /v1/jobs/{id}/landmarks: the per-frame landmarks a client draws over its video.

The worker stores them gzipped with a succeeded job (service.pipeline.overlay);
they are sent as stored to a client that accepts gzip, inflated for one that
does not. Tenant-scoped like every job route, removed with the job, and off for
a tenant that opted out (`kneecave keys create --no-landmarks`).
"""

from __future__ import annotations

import gzip
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from service.api.deps import BackendsDep, TenantDep
from service.api.problems import problem_responses
from service.errors import NotFoundError
from service.jobs.model import JobStatus
from service.pipeline.overlay import JobLandmarks

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "model": JobLandmarks,
        "description": "The landmarks; `Content-Encoding: gzip` when the request accepts it.",
        "headers": {
            "Content-Encoding": {
                "description": "`gzip` when the request's Accept-Encoding allows it",
                "schema": {"type": "string"},
            }
        },
    }
}


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding value allows gzip (by name or `*`, with q > 0)."""
    allowed: dict[str, bool] = {}
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[name.strip()] = q > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


@router.get(
    "/{job_id}/landmarks",
    summary="Per-frame landmarks of a succeeded job, for drawing over the video",
    description="Shoulders, hips, knees, ankles, heels and toes per frame, in upright-frame"
    " pixels, with the frame timestamps (the rep times of the result use the same clock)."
    " 404 `landmarks_disabled` when the tenant opted out, `landmarks_not_found` until the job"
    " has succeeded.",
    response_class=Response,
    responses={**_OK, **problem_responses(401, 404, 422, 429)},
)
async def get_landmarks(
    job_id: str,
    tenant: TenantDep,
    backends: BackendsDep,
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    if not await backends.keys.landmarks_enabled(tenant):
        raise NotFoundError(
            "landmarks are not kept for this tenant (turned off with"
            " `kneecave keys create --no-landmarks`)",
            code="landmarks_disabled",
        )
    job = await backends.jobs.get(job_id, tenant)
    if job is None:
        raise NotFoundError(f"no job {job_id} for this API key", code="job_not_found")
    data = await backends.jobs.get_landmarks(job_id) if job.status is JobStatus.SUCCEEDED else None
    if data is None:
        detail = (
            f"the job is {job.status.value}: landmarks are kept once it has succeeded"
            if job.status is not JobStatus.SUCCEEDED
            else "no landmarks were kept for this job"
        )
        raise NotFoundError(detail, code="landmarks_not_found")
    headers = {"Vary": "Accept-Encoding"}
    if accepts_gzip(accept_encoding):
        headers["Content-Encoding"] = "gzip"
    else:
        data = gzip.decompress(data)
    return Response(data, media_type="application/json", headers=headers)
