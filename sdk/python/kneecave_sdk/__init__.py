"""Typed client for the kneecave API: upload a squat video, wait, read per-rep knee-cave scores.

from kneecave_sdk import Client
with Client("kc_live_...", base_url="https://kneecave.example") as kc:
    job = kc.wait(kc.create_job("squat.mp4").id)
"""

from kneecave_sdk._async_client import AsyncClient
from kneecave_sdk._base import __version__
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
from kneecave_sdk.types import Job, JobError, JobList
from kneecave_sdk.webhooks import verify_webhook

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
    "JobError",
    "JobFailedError",
    "JobList",
    "KneecaveError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
