"""HTTP request histogram by method, route template and status class (pure ASGI middleware).

Labels stay bounded whatever clients send: the route is the template of the
route that matched (``/v1/jobs/{job_id}``, never a raw path), ``unmatched`` for
anything no route serves, and unknown methods count as ``other``.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUEST_DURATION = Histogram(
    "kneecave_http_request_duration_seconds",
    "HTTP requests served by this API process, by method, route template and status class",
    ["method", "route", "status"],
    # Uploads stream whole videos: the top buckets are for them.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The path template of the route that served ``scope`` (the router records it in the
    scope); else the mount whose prefix it falls under (the web page: ``/*``), which is
    what served it; else ``unmatched``."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "")) or "/"
    router = getattr(scope.get("app"), "router", None)
    for mount in getattr(router, "routes", ()):
        if isinstance(mount, Mount) and mount.matches(scope)[0] is not Match.NONE:
            return f"{mount.path}/*"
    return "unmatched"


class HttpMetrics:
    """Times every HTTP request from its start to its last byte sent. Installed inside
    HeadAsGet, which hands on a copy of the scope: a HEAD counts as the GET it is served as."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception with no answer started

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            labels = (method, route_template(scope), f"{status // 100}xx")
            HTTP_REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - start)
