"""A job store that dies between storing a job and answering: the upload's video must stay
for the client's retry, which replays the stored job (found by the chaos test's review)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from service.api.app import create_app
from service.jobs.model import Job
from service.jobs.sqlite import SqliteJobBackend
from tests.service_support import SHORT_CLIP, free_port, make_env


def test_store_failing_after_the_insert_keeps_the_video_for_the_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = SqliteJobBackend.submit
    failed: list[str] = []

    async def dies_once_after_storing(
        self: SqliteJobBackend, job: Job, key: str | None, **kw: Any
    ) -> tuple[Job, bool]:
        out = await real(self, job, key, **kw)
        if not failed:
            failed.append(job.id)
            raise ConnectionError("the store went away before answering")
        return out

    monkeypatch.setattr(SqliteJobBackend, "submit", dies_once_after_storing)
    with make_env("sqlite", tmp_path) as env:
        api_key = env.create_key("acme").api_key
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(env.settings()), port=port, log_config=None)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                time.sleep(0.05)
            headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "once"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as c:
                first = c.post("/v1/jobs", files={"video": SHORT_CLIP.open("rb")})
                retry = c.post("/v1/jobs", files={"video": SHORT_CLIP.open("rb")})
        finally:
            server.should_exit = True
            thread.join(10)
        assert first.status_code == 500
        assert retry.status_code == 202, retry.text
        assert retry.json()["id"] == failed[0]  # the job the first request stored
        assert retry.headers["idempotent-replayed"] == "true"
        assert (env.data_dir / "blobs" / failed[0]).is_file()  # its video is there
