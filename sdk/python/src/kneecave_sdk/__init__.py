"""Typed client for the kneecave API: upload a squat video, wait, read per-rep knee-cave scores.

    from kneecave_sdk import Client

    with Client() as kc:  # $KNEECAVE_API_KEY, $KNEECAVE_BASE_URL
        result = kc.score("squat.mp4", on_progress=lambda job: print(job.progress))
        print(result.reps[0].knee_cave.severity)

Every response is a typed model (kneecave_sdk.types, generated from the API's OpenAPI).
"""

from kneecave_sdk._async_client import AsyncClient
from kneecave_sdk._base import JobRef, ProgressCallback, VideoInput, __version__
from kneecave_sdk._client import Client
from kneecave_sdk._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    JobCanceledError,
    JobFailedError,
    KneecaveError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    UnsupportedMediaTypeError,
    ValidationError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from kneecave_sdk._models import (
    Job,
    JobError,
    JobEvent,
    JobLandmarks,
    JobList,
    Rep,
    ScoreResult,
    WebhookTestEvent,
)
from kneecave_sdk._ratelimit import RateLimit
from kneecave_sdk.webhooks import UnknownEvent, WebhookEvent, verify_webhook

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "InternalServerError",
    "Job",
    "JobCanceledError",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobLandmarks",
    "JobList",
    "JobRef",
    "KneecaveError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProgressCallback",
    "RateLimit",
    "RateLimitError",
    "Rep",
    "ScoreResult",
    "UnknownEvent",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "VideoInput",
    "WaitTimeoutError",
    "WebhookEvent",
    "WebhookTestEvent",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
