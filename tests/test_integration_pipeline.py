"""End to end over HTTP with the real pipeline on a real clip, on SQLite (`kneecave serve`
with an embedded worker) and on Redis (API-only `serve` + a separate `kneecave worker`):
the result equals `kneecave score` on the same clip, the signed webhook verifies, the
video is deleted, and a running job can be canceled."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.clips import REPO
from tests.service_support import (
    SHORT_CLIP,
    Env,
    Proc,
    Server,
    WebhookReceiver,
    make_env,
    start_worker,
    upload,
    wait_for,
    without_timings,
)


@pytest.fixture(scope="module")
def cli_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("cli") / "result.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "score",
            str(SHORT_CLIP),
            "--no-progress",
            "-o",
            str(out),
        ],
        cwd=REPO,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rec:
        yield rec


@dataclass
class Deployment:
    server: Server
    env: Env
    api_key: str
    webhook_secret: str
    workers: list[Proc]

    def client(self) -> httpx.Client:
        return self.server.client(self.api_key)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with make_env(request.param, tmp) as env:
        key = env.create_key("acme")
        # This deployment may call loopback webhooks (the receiver); defaults refuse them.
        options = {"webhook_allow_private": "true", "webhook_backoff_s": 0.1}
        embedded = 1 if request.param == "sqlite" else 0
        server = Server(env, tmp, workers=embedded, **options)
        workers = [] if embedded else [start_worker(env, tmp, **options)]
        yield Deployment(server, env, key.api_key, key.webhook_secret, workers)
        for w in workers:
            assert w.stop() == 0, w.log()
        server.stop()


def test_result_equals_cli_and_webhook_is_signed(
    deployment: Deployment, cli_result: dict[str, Any], receiver: WebhookReceiver
) -> None:
    receiver.clear()
    with deployment.client() as c:
        r = upload(c, webhook_url=receiver.url)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        job = wait_for(c, job_id)
        assert job["status"] == "succeeded", job
        assert job["progress"] == 1.0
        assert job["attempts"] == 1
        assert without_timings(job["result"]) == without_timings(cli_result)
        assert not (deployment.env.data_dir / "blobs" / job_id).exists()  # privacy

        arrived = receiver.wait_for(1)
        assert arrived, "no webhook arrived"
        headers, body = arrived[0]
        payload = Webhook(deployment.webhook_secret).verify(body, headers)
        assert payload["type"] == "job.succeeded"
        assert payload["data"]["id"] == job_id
        assert without_timings(payload["data"]["result"]) == without_timings(cli_result)
        assert headers["webhook-id"] == f"{job_id}.succeeded"
        with pytest.raises(Exception, match="signature"):
            Webhook("whsec_" + "A" * 32).verify(body, headers)

        deliveries = wait_for(c, job_id)["webhook_deliveries"]
        for _ in range(50):
            if deliveries:
                break
            deliveries = c.get(f"/v1/jobs/{job_id}").json()["webhook_deliveries"]
        assert deliveries
        assert deliveries[-1]["ok"]
        assert deliveries[-1]["status_code"] == 204

        metrics = c.get("/metrics").text
    assert 'kneecave_jobs_finished_total{outcome="succeeded"}' in metrics
    # Structured logs: JSON lines carrying the job id and tenant, never the API key.
    logs = deployment.server.log() + "".join(w.log() for w in deployment.workers)
    events = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    finished = [e for e in events if e["msg"] == "job finished" and e.get("job_id") == job_id]
    assert finished, logs[-2000:]
    assert finished[0]["tenant"] == "acme"
    assert finished[0]["status"] == "succeeded"
    assert deployment.api_key not in logs


def test_cancel_running_job(deployment: Deployment) -> None:
    with deployment.client() as c:
        job_id = upload(c).json()["id"]
        running = wait_for(c, job_id, {"processing", "succeeded", "failed"})
        assert running["status"] == "processing", running
        canceled = c.post(f"/v1/jobs/{job_id}/cancel").json()
        assert canceled["status"] == "canceled"
        assert not (deployment.env.data_dir / "blobs" / job_id).exists()
        # The worker stops at its next heartbeat and cannot overwrite the terminal state;
        # it is then free for the next job.
        nxt = upload(c).json()["id"]
        assert wait_for(c, nxt)["status"] == "succeeded"
        final = c.get(f"/v1/jobs/{job_id}").json()
        assert final["status"] == "canceled"
        assert final["result"] is None


def test_unreadable_video_fails_with_a_code(deployment: Deployment, tmp_path: Path) -> None:
    # A valid container signature with garbage after it: accepted, then the probe fails.
    broken = SHORT_CLIP.read_bytes()[:4096]
    with deployment.client() as c:
        r = c.post("/v1/jobs", files={"video": ("broken.mp4", broken)})
        assert r.status_code == 202
        job = wait_for(c, r.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "video_unreadable", job["error"]
