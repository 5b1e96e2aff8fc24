"""The one place errors become HTTP: RFC 9457 `application/problem+json` with a stable `code`.

Routes raise domain errors (`service.errors.KneecaveError` subclasses); request
validation errors, unknown routes and unexpected exceptions get the same shape.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.middleware import REQUEST_ID_HEADER, request_id_of
from service.errors import (
    KneecaveError,
    RateLimitedError,
    RequestTimeoutError,
    RequestTooLargeError,
    UnauthorizedError,
    UnavailableError,
    VideoTooLargeError,
)

log = logging.getLogger("kneecave.api")
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://kneecave.dev/problems/"

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is the stable machine-readable part."""

    type: str = Field(examples=[f"{TYPE_BASE}not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no job job_3f2a… for this API key"])
    code: str = Field(examples=["not_found"])
    instance: str | None = None
    request_id: str | None = Field(
        None, description="this request's id (also the `X-Request-Id` header and in the logs)"
    )
    errors: list[dict[str, Any]] | None = Field(None, description="field errors (422 only)")


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    request: Request | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    request_id = request_id_of(request.scope) if request is not None else None
    body = Problem(
        type=f"{TYPE_BASE}{code}",
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path if request is not None else None,
        request_id=request_id,
        errors=errors,
    )
    if request_id is not None:
        # The 500 path answers from outside the middleware that sets it on the rest.
        headers = {**(headers or {}), REQUEST_ID_HEADER: request_id}
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json for ``statuses``."""
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": HTTPStatus(s).phrase}
        for s in statuses
    }


async def _kneecave_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KneecaveError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = 'Bearer realm="kneecave"'
    if isinstance(exc, VideoTooLargeError | RequestTooLargeError | RequestTimeoutError):
        # The rest of the body is unread: without this uvicorn would drain (discard) it
        # all before the client could see the 413. Closing makes the refusal early.
        headers["Connection"] = "close"
    if exc.status >= 500:
        log.error("request failed: %s", exc.detail, extra={"code": exc.code})
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, request=request, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    return problem_response(
        422,
        "invalid_request",
        "Invalid request",
        "the request does not match the schema; see `errors`",
        request=request,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    phrase = HTTPStatus(exc.status_code).phrase
    return problem_response(
        exc.status_code,
        code,
        phrase,
        str(exc.detail),
        request=request,
        headers=dict(exc.headers or {}),
    )


# Seconds a client is told to wait when the job store cannot be reached.
STORE_RETRY_AFTER_S = 5


def store_unreachable(exc: BaseException) -> bool:
    """The job store (Redis, or a SQLite file another process holds locked) cannot be
    reached right now: the request may succeed on a retry, so it is a 503, not a bug."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    # Imported only if a Redis backend loaded it: the embedded server needs no redis.
    redis_errors = sys.modules.get("redis.exceptions")
    return redis_errors is not None and isinstance(
        exc, redis_errors.ConnectionError | redis_errors.TimeoutError
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if store_unreachable(exc):
        log.warning(
            "job store unreachable: %s: %s",
            type(exc).__name__,
            exc,
            extra={"request_id": request_id_of(request.scope)},
        )
        down = UnavailableError("the job store cannot be reached; retry shortly")
        return problem_response(
            down.status,
            down.code,
            down.title,
            down.detail,
            request=request,
            headers={"Retry-After": str(STORE_RETRY_AFTER_S), "Connection": "close"},
        )
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id_of(request.scope)})
    # The server closes the connection after an unhandled error: say so, or a client
    # reusing it for its retry meets a dropped socket instead of an answer.
    return problem_response(
        500,
        "internal_error",
        "Internal error",
        "unexpected error",
        request=request,
        headers={"Connection": "close"},
    )


class UnexpectedErrors:
    """Answers an unhandled error (the job store down mid-request) with the 500 problem
    from inside the middleware stack. Starlette's `Exception` handler answers from
    outside all middleware, so that 500 lacked the CORS fields (a browser app saw a bare
    network error, not the problem or its request id), RateLimit and no-store. Installed
    innermost; the `Exception` handler stays as the backstop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # too late for another answer: the server drops the connection
                raise
            response = await _unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)


def problem_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """Document error bodies under application/problem+json only (FastAPI also lists
    the route's default application/json for a `model=` response)."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_JSON in content and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    return spec


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KneecaveError, _kneecave_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
