"""Liveness (/healthz: the process answers) and readiness (/readyz: backends reachable)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import BackendsDep
from service.api.schemas import Health

router = APIRouter(tags=["ops"])
log = logging.getLogger("kneecave.api")


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: job store reachable, blob dir writable, workers warmed",
    responses={503: {"model": Health}},
)
async def readyz(request: Request, backends: BackendsDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await backends.jobs.ping()
        checks["jobs"] = "ok"
    except Exception as exc:  # report, do not raise: this is the probe
        checks["jobs"] = f"error: {type(exc).__name__}"
    blob_dir = request.app.state.settings.blob_dir
    checks["blobs"] = "ok" if blob_dir.is_dir() else "missing"
    ready_workers = getattr(request.app.state, "workers_ready", None)
    if ready_workers is not None:
        checks["workers"] = "ok" if ready_workers.is_set() else "warming up"
        worker = getattr(request.app.state, "worker", None)
        if worker is not None and worker.fatal is not None:
            checks["workers"] = "stopped: pipeline unavailable"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
