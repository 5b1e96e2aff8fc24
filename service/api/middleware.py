"""ASGI middleware around every response: the request id and the access log, the rate
limit header fields, security headers, and HEAD served as GET.

Pure ASGI (no BaseHTTPMiddleware): they wrap `send` and never buffer a body, so
streamed uploads and responses stay streamed.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import bind
from service.ratelimit import Quota

log = logging.getLogger("kneecave.api")

REQUEST_ID_HEADER = "X-Request-Id"
# A client's own id is kept if it is a plain token (it ends up in logs and headers).
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str | None:
    state: dict[str, Any] = scope.get("state") or {}
    rid = state.get("request_id")
    return str(rid) if rid else None


class RequestLog:
    """Every request gets an id (the client's `X-Request-Id` if it is a plain token, else a
    new one), echoed in the answer and carried by every log line of the request; one
    access-log line per request with status, duration, tenant and job id (never headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = given if _CLIENT_ID.fullmatch(given) else f"req_{uuid.uuid4().hex}"
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        start = time.perf_counter()
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        with bind(request_id=rid):
            try:
                await self.app(scope, receive, with_id)
            finally:
                fields = {k: str(state[k]) for k in ("tenant", "job_id") if k in state}
                with bind(**fields):
                    log.info(
                        "%s %s %d",
                        scope["method"],
                        scope["path"],
                        status,
                        extra={
                            "status": status,
                            "ms": round((time.perf_counter() - start) * 1e3, 1),
                        },
                    )


class RateLimitHeaders:
    """`RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) for the
    budget the request was counted against (service.ratelimit), on success and error
    alike; routes that count nothing (health, metrics, the page) send none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def with_quota(message: Message) -> None:
            quota: Quota | None = state.get("quota")
            if message["type"] == "http.response.start" and quota is not None:
                headers = MutableHeaders(scope=message)
                for name, value in quota.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_quota)


# The API answers JSON; nothing it serves may be framed, sniffed into another type,
# cached by a shared cache (results are per tenant) or leak the URL onwards.
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE_PREFIXES = ("/v1/",)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope["path"]).startswith(NO_STORE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in API_HEADERS.items():
                    headers.setdefault(name, value)
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """HEAD runs the GET route (FastAPI registers GET only) and sends no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
