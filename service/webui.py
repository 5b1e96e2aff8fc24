"""The demo page (web/) served by the API itself at `/`.

Same origin as the API, so the page needs no CORS and its Content-Security-Policy
can forbid every other origin. A wheel installed without the repository has no
web/ directory: then nothing is mounted and the API works as before.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

log = logging.getLogger("kneecave.api")

WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def mount_web(app: FastAPI, web_dir: Path | None = None) -> None:
    """Serve ``web_dir`` (default: the repository's web/) at `/`, index.html for `/`.

    Call it after every router is included: a mount at `/` matches every path,
    so routes added after it would never be reached. Routes added before it
    (/v1/*, /healthz, /openapi.json, …) keep winning, and unknown paths still get the
    API's problem+json 404 (StaticFiles raises the same HTTPException).
    """
    web_dir = WEB_DIR if web_dir is None else web_dir
    if not (web_dir / "index.html").is_file():
        log.info("no demo page: %s has no index.html", web_dir)
        return
    app.mount("/", StaticFiles(directory=web_dir, html=True), name="web")
