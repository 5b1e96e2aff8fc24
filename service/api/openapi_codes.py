"""Every stable error code, as the OpenAPI document's enums (`ProblemCode`, `JobErrorCode`).

Codes live at their raise sites (`service.errors` classes and `code="…"` arguments);
this is the published list of them. tests/test_openapi.py greps the code base for
code literals and fails on one missing here, and docs/api.md must list each.
"""

from __future__ import annotations

# In problem+json bodies of failed requests (`Problem.code`).
PROBLEM_CODES: tuple[str, ...] = (
    "bad_request",
    "client_disconnected",
    "unauthorized",
    "not_found",
    "job_not_found",
    "landmarks_disabled",
    "landmarks_not_found",
    "method_not_allowed",
    "request_timeout",
    "idempotency_conflict",
    "too_large",
    "unsupported_media_type",
    "invalid_request",
    "invalid_cursor",
    "keypoints_invalid",
    "webhook_url_refused",
    "rate_limited",
    "too_many_active_jobs",
    "too_many_auth_failures",
    "http_error",
    "unavailable",
    "internal_error",
)

# On a failed or canceled job (`JobPublic.error.code`, also in the `job.failed` webhook).
JOB_ERROR_CODES: tuple[str, ...] = (
    "video_unreadable",
    "too_long",
    "too_many_frames",
    "too_large",
    "no_person",
    "keypoints_invalid",
    "video_missing",
    "worker_lost",
    "timeout",
    "internal_error",
    "canceled",
)

# Defined in service.errors but never sent to a client; why, for the drift test.
NOT_SENT: dict[str, str] = {
    "model_unavailable": "the pipeline cannot run: the worker exits (status 3), the job is"
    " handed back to the queue, not failed",
}
