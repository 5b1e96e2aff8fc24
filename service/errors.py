"""Typed errors with stable codes.

Every failure a client can see carries a ``code`` that never changes once
published (docs/api.md lists them), an HTTP status for the synchronous paths,
and a human message. A job that fails records the same code and message.
"""

from __future__ import annotations


class KneecaveError(Exception):
    """Base for all errors that map to a stable client-facing code."""

    code: str = "internal_error"
    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class VideoError(KneecaveError):
    """The input could not be used as a video (unreadable, truncated, not a video)."""

    code = "video_unreadable"
    status = 422
    title = "Video cannot be read"


class VideoTooLongError(VideoError):
    code = "too_long"
    status = 422
    title = "Video too long"


class RequestTimeoutError(KneecaveError):
    """The client stopped sending the body (no data for the idle timeout)."""

    code = "request_timeout"
    status = 408
    title = "Request body timed out"


class ClientDisconnectedError(KneecaveError):
    """The client closed the connection before the body was complete; nobody reads
    the answer, but the access log shows it for what it is."""

    code = "client_disconnected"
    status = 400
    title = "Client disconnected"


class RequestTooLargeError(KneecaveError):
    """A request body over its limit (413), refused before or while it is read."""

    code = "too_large"
    status = 413
    title = "Request too large"


class TooManyFramesError(VideoTooLongError):
    """More frames (or frames x pixels) than a job may decode, whatever the duration."""

    code = "too_many_frames"
    title = "Too many frames"


class VideoTooLargeError(VideoError):
    code = "too_large"
    status = 413
    title = "Video too large"


class NoPersonError(KneecaveError):
    code = "no_person"
    status = 422
    title = "No person found"


class KeypointsError(KneecaveError):
    """Keypoints that break the (T, 33, 5) contract."""

    code = "keypoints_invalid"
    status = 422
    title = "Invalid keypoints"


class ModelError(KneecaveError):
    """A model file is missing, corrupt or cannot run on the requested device."""

    code = "model_unavailable"
    status = 503
    title = "Model unavailable"


class WebhookURLError(KneecaveError):
    """A webhook target that is malformed or points at a private/internal address (SSRF guard)."""

    code = "webhook_url_refused"
    status = 422
    title = "Webhook URL refused"


# --- service (API, jobs, tenants) ----------------------------------------------------


class Canceled(KneecaveError):  # noqa: N818 (the name analyze_video raises)
    """The work was stopped on request (client cancel, lost lease or worker shutdown)."""

    code = "canceled"
    status = 409
    title = "Canceled"


class NotFoundError(KneecaveError):
    code = "not_found"
    status = 404
    title = "Not found"


class UnauthorizedError(KneecaveError):
    code = "unauthorized"
    status = 401
    title = "Missing or invalid API key"


class IdempotencyConflictError(KneecaveError):
    code = "idempotency_conflict"
    status = 409
    title = "Idempotency-Key reused with a different request"


class UnsupportedMediaError(KneecaveError):
    code = "unsupported_media_type"
    status = 415
    title = "Not a supported video format"


class InvalidRequestError(KneecaveError):
    code = "invalid_request"
    status = 422
    title = "Invalid request"


class RateLimitedError(KneecaveError):
    """Too many requests (or too many active jobs); ``retry_after_s`` feeds Retry-After."""

    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after_s = retry_after_s


class UnavailableError(KneecaveError):
    code = "unavailable"
    status = 503
    title = "Service unavailable"
