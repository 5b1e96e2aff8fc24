"""Liveness (/healthz: the process answers) and readiness (/readyz: it can do its work).

Ready means: the job store answers and the blob directory exists; with embedded
workers (`kneecave serve`), also that their pipeline is loaded and warmed up.
An API-only process (`--workers 0`) is ready on its backends alone; standalone
workers have their own check (`kneecave worker --check`).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.api.deps import BackendsDep
from service.api.schemas import Health
from service.worker.health import WorkerHealth

router = APIRouter(tags=["ops"])
log = logging.getLogger("kneecave.api")


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: job store reachable, blob dir present, embedded workers warmed up",
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
    workers: WorkerHealth | None = getattr(request.app.state, "worker_health", None)
    if workers is not None:
        checks["workers"] = "ok" if workers.ready else workers.describe()
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
