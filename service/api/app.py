"""create_app(settings): the FastAPI app, its lifespan (backends, sweeper, embedded workers).

Nothing is built at import time: the lifespan opens the backends chosen by
`settings.queue` and, for `kneecave serve`, runs workers in the same process
(the pipeline runs in threads, so the event loop keeps answering).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from pydantic import BaseModel

from service import __version__
from service.api.deps import known_query_only
from service.api.http_metrics import HttpMetrics
from service.api.middleware import HeadAsGet, RateLimitHeaders, RequestLog, SecurityHeaders
from service.api.openapi import complete_openapi
from service.api.problems import (
    UnexpectedErrors,
    install_problem_handlers,
    problem_openapi,
)
from service.api.routes import account, health, jobs, keypoints, landmarks, metrics, webhooks
from service.api.schemas import KeypointsIn
from service.config import Settings
from service.jobs.backends import open_backends
from service.storage.local import LocalBlobStore
from service.webui import mount_web
from service.worker.embedded import embedded_workers as run_embedded_workers
from service.worker.main import PipelineLoader, load_pipeline, sweeping

log = logging.getLogger("kneecave.api")

DESCRIPTION = """\
Per-rep knee-cave (knee valgus) and ankle scoring for squat videos.

Submit a video with `POST /v1/jobs`, then poll the job (honour `Retry-After`)
or receive a signed webhook. Errors are RFC 9457 problem+json with a stable
`code` (see docs/api.md). The service reports movement quality, never injury
risk or a diagnosis.
"""


def _operation_id(route: APIRoute) -> str:
    """`tag-name` ids (template style) keep the OpenAPI stable for SDK generation."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


# What a browser app sends and must be able to read (fetch hides other response headers).
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"]
CORS_EXPOSED_HEADERS = [
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "X-Request-Id",
    "RateLimit",
    "RateLimit-Policy",
]


def _with_schemas(spec: dict[str, Any], *models: type[BaseModel]) -> dict[str, Any]:
    """Add request bodies that routes read themselves (FastAPI only sees parameters)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return spec


def create_app(
    settings: Settings,
    *,
    embedded_workers: int = 0,
    load: PipelineLoader = load_pipeline,
    sweep: bool = True,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            backends = await stack.enter_async_context(open_backends(settings))
            app.state.backends = backends
            app.state.blobs = LocalBlobStore(settings.blob_dir)
            if sweep:
                await stack.enter_async_context(sweeping(settings, backends))
            if embedded_workers > 0:
                # /readyz reads this: ready once the pipeline is loaded and warmed up.
                app.state.worker_health = await stack.enter_async_context(
                    run_embedded_workers(settings, backends, embedded_workers, load)
                )
            log.info("api ready", extra={"backend": backends.kind, "workers": embedded_workers})
            yield

    app = FastAPI(
        title="kneecave",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # FastAPI's /docs and /redoc pull scripts from a CDN onto the API's origin, where
        # the demo page keeps an API key (and they are blank offline): the spec is served
        # at /openapi.json for any viewer or SDK generator instead.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "jobs", "description": "Video analysis jobs"},
            {"name": "scoring", "description": "Synchronous scoring of landmarks"},
            {"name": "account", "description": "Tenant settings"},
            {"name": "ops", "description": "Health and metrics"},
        ],
    )
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (jobs, landmarks, keypoints, account, webhooks, health, metrics):
        app.include_router(module.router, dependencies=[Depends(known_query_only)])
    mount_web(app, settings.web_dir)  # after the routers: a mount at / would shadow them
    app.add_middleware(UnexpectedErrors)  # innermost: its 500 gets every header below
    app.add_middleware(HttpMetrics)  # sees the route the router matched
    app.add_middleware(HeadAsGet)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(SecurityHeaders)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(RequestLog)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = problem_openapi(FastAPI.openapi(app))
            app.openapi_schema = complete_openapi(_with_schemas(spec, KeypointsIn))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
