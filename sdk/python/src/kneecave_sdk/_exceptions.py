"""Exceptions raised by the client.

KneecaveError                    root of everything this package raises
├── APIError                     anything that went wrong talking to the API
│   ├── APIConnectionError       no response (DNS, refused, reset)
│   │   └── APITimeoutError      the request timed out
│   └── APIStatusError           the API answered 4xx/5xx (RFC 9457 problem+json)
│       ├── BadRequestError          400
│       ├── AuthenticationError      401
│       ├── PermissionDeniedError    403
│       ├── NotFoundError            404
│       ├── ConflictError            409 (e.g. Idempotency-Key reused with another body)
│       ├── PayloadTooLargeError     413
│       ├── UnsupportedMediaTypeError 415
│       ├── ValidationError          422
│       ├── RateLimitError           429 (.retry_after, .rate_limit)
│       └── InternalServerError      5xx
├── JobFailedError               wait()/score(): the job ended "failed" (.code, .detail, .job)
│   └── JobCanceledError         ... or "canceled" (code "canceled")
├── WaitTimeoutError             wait()/score() gave up waiting (also a TimeoutError; .job)
└── WebhookVerificationError     verify_webhook() rejected a delivery
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from kneecave_sdk._models import Problem
from kneecave_sdk._ratelimit import RateLimit

if TYPE_CHECKING:
    from kneecave_sdk._models import Job


class KneecaveError(Exception):
    """Root of every exception this package raises."""


class APIError(KneecaveError):
    """A request to the API did not produce a successful response.

    ``request_id`` is the server's id for the request (quote it to support); None when no
    response came back.
    """

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.request_id: str | None = None


class APIConnectionError(APIError):
    def __init__(self, message: str = "Connection error.", *, request: httpx.Request) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    def __init__(self, request: httpx.Request) -> None:
        super().__init__("Request timed out.", request=request)


class APIStatusError(APIError):
    """The API answered with an error status; fields come from its problem+json body.

    ``code`` is the server's stable error code (e.g. ``unsupported_media_type``), ``status_code``
    the HTTP status, ``request_id`` the server's id for this request (quote it to support).
    ``problem`` is the typed body, or None when the body was not a problem (e.g. a proxy's page).
    """

    def __init__(self, response: httpx.Response, body: dict[str, Any]) -> None:
        self.response = response
        self.status_code = response.status_code
        self.body = body
        self.problem: Problem | None = _parse_problem(body)
        self.code: str | None = _str_or_none(body.get("code"))
        self.title: str | None = _str_or_none(body.get("title"))
        detail = body.get("detail")
        # FastAPI's own 422 puts a list of field errors in "detail"; keep it readable.
        self.detail: str | None = detail if isinstance(detail, str | None) else json.dumps(detail)
        errors = body.get("errors")
        self.errors: list[dict[str, Any]] = errors if isinstance(errors, list) else []
        request_id = response.headers.get("x-request-id") or _str_or_none(body.get("request_id"))
        summary = self.detail or self.title or response.reason_phrase
        code = f" [{self.code}]" if self.code else ""
        rid = f" (request {request_id})" if request_id else ""
        super().__init__(f"{self.status_code}{code}: {summary}{rid}", request=response.request)
        self.request_id = request_id


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class PayloadTooLargeError(APIStatusError):
    pass


class UnsupportedMediaTypeError(APIStatusError):
    pass


class ValidationError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    """Over a budget: ``retry_after`` (s) is the server's Retry-After, ``rate_limit`` the
    budget that ran out (policy, limit, remaining, reset_s), when the server said."""

    def __init__(
        self, response: httpx.Response, body: dict[str, Any], retry_after: float | None
    ) -> None:
        super().__init__(response, body)
        self.retry_after = retry_after
        self.rate_limit: RateLimit | None = RateLimit.from_headers(response.headers)


class InternalServerError(APIStatusError):
    pass


class JobFailedError(KneecaveError):
    """The job ended without a result: ``code``/``detail`` are its error (e.g. ``no_person``)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.code: str | None = job.error.code if job.error else None
        self.detail: str | None = job.error.detail if job.error else None
        why = f" [{self.code}]: {self.detail}" if job.error else ""
        super().__init__(f"job {job.id} {job.status}{why}")


class JobCanceledError(JobFailedError):
    """The job was canceled (by this or another client) before it produced a result."""


class WaitTimeoutError(KneecaveError, TimeoutError):
    """wait() ran out of time; ``job`` is the last state seen."""

    def __init__(self, job: Job, timeout: float) -> None:
        self.job = job
        super().__init__(f"job {job.id} still {job.status} after {timeout:g}s")


class WebhookVerificationError(KneecaveError):
    """A webhook delivery whose signature, headers or timestamp do not check out."""


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: ValidationError,
}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _parse_problem(body: dict[str, Any]) -> Problem | None:
    try:
        return Problem.model_validate(body)
    except pydantic.ValidationError:
        return None


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:500]} if response.text else {}
    return body if isinstance(body, dict) else {"detail": json.dumps(body)}


def error_from_response(response: httpx.Response, retry_after: float | None) -> APIStatusError:
    """Map an error response to the exception class for its status."""
    body = _body(response)
    status = response.status_code
    if status == 429:
        return RateLimitError(response, body, retry_after)
    if status >= 500:
        return InternalServerError(response, body)
    return _STATUS_ERRORS.get(status, APIStatusError)(response, body)
