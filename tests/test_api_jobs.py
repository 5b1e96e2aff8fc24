"""Job endpoints over real HTTP against `kneecave serve` (API only), on SQLite and on Redis:
read, list, cancel, delete, tenants, limits, retention, problem+json, OpenAPI, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from service.jobs.backends import open_backends
from tests.service_support import SHORT_CLIP, Env, Server, make_env, upload


@dataclass
class Deployment:
    server: Server
    env: Env
    acme: str
    beta: str

    def client(self, key: str | None = None) -> httpx.Client:
        return self.server.client(self.acme if key is None else key)

    def blob(self, job_id: str) -> Path:
        return self.env.data_dir / "blobs" / job_id


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp(f"jobs-{request.param}")
    with make_env(request.param, tmp) as env:
        acme, beta = env.create_key("acme").api_key, env.create_key("beta").api_key
        server = Server(env, tmp, workers=0)
        yield Deployment(server, env, acme, beta)
        server.stop()


def test_get_and_list_with_paging(deployment: Deployment) -> None:
    with deployment.client() as c:
        ids = [upload(c).json()["id"] for _ in range(3)]
        page = c.get("/v1/jobs", params={"limit": 2}).json()
        assert [j["id"] for j in page["items"]] == ids[::-1][:2]
        after = {"limit": 2, "starting_after": page["next_cursor"]}
        rest = c.get("/v1/jobs", params=after).json()
        assert [j["id"] for j in rest["items"]] == [ids[0]]
        assert rest["next_cursor"] is None
        job = c.get(f"/v1/jobs/{ids[0]}")
        assert job.status_code == 200
        assert job.json()["status"] == "queued"
        assert job.headers["retry-after"]


def test_paging_is_stable_while_jobs_arrive_and_go(deployment: Deployment) -> None:
    """An offset would repeat a job when one arrives between pages and skip one when a job
    of an earlier page is deleted; a cursor does neither."""
    with deployment.client() as c:
        old = [upload(c).json()["id"] for _ in range(5)][::-1]  # newest first
        page = c.get("/v1/jobs", params={"limit": 2}).json()
        assert [j["id"] for j in page["items"]] == old[:2]
        upload(c)  # a new job at the head of the list
        assert c.delete(f"/v1/jobs/{old[1]}").status_code == 204  # the cursor's own job
        seen = [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        while cursor is not None:
            page = c.get("/v1/jobs", params={"limit": 2, "starting_after": cursor}).json()
            seen += [j["id"] for j in page["items"]]
            cursor = page["next_cursor"]
        assert seen[: len(old)] == old  # older jobs of other tests follow
        assert len(set(seen)) == len(seen)
        for bad in ("0", "bm90IGEgY3Vyc29y", "x" * 201):
            refused = c.get("/v1/jobs", params={"starting_after": bad})
            assert refused.status_code == 422
            assert refused.json()["code"] in ("invalid_cursor", "invalid_request")
        assert c.get("/v1/jobs", params={"cursor": "2"}).status_code == 422  # the old offset


def test_cancel_queued_job_deletes_the_video(deployment: Deployment) -> None:
    with deployment.client() as c:
        job_id = upload(c).json()["id"]
        assert deployment.blob(job_id).exists()
        r = c.post(f"/v1/jobs/{job_id}/cancel")
        assert r.status_code == 200
        job = r.json()
        assert job["status"] == "canceled"
        assert job["error"]["code"] == "canceled"
        assert job["finished_at"] is not None
        assert not deployment.blob(job_id).exists()
        assert c.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "canceled"


def test_delete_removes_job_and_video(deployment: Deployment) -> None:
    with deployment.client() as c:
        job_id = upload(c).json()["id"]
        assert c.delete(f"/v1/jobs/{job_id}").status_code == 204
        assert not deployment.blob(job_id).exists()
        r = c.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 404
        assert r.json()["code"] == "job_not_found"
        assert c.delete(f"/v1/jobs/{job_id}").status_code == 404


def test_foreign_tenant_sees_404_everywhere(deployment: Deployment) -> None:
    with deployment.client() as acme, deployment.client(deployment.beta) as beta:
        job_id = upload(acme).json()["id"]
        for r in (
            beta.get(f"/v1/jobs/{job_id}"),
            beta.post(f"/v1/jobs/{job_id}/cancel"),
            beta.delete(f"/v1/jobs/{job_id}"),
        ):
            assert r.status_code == 404, r.text
            assert r.headers["content-type"] == "application/problem+json"
        assert job_id not in [j["id"] for j in beta.get("/v1/jobs").json()["items"]]
        assert acme.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"


def test_bad_keys_are_401(deployment: Deployment) -> None:
    for key in (None, "kc_nope_nope", deployment.acme[:-2] + "zz"):
        with deployment.server.client(key) as c:
            r = c.get("/v1/jobs")
        assert r.status_code == 401
        assert r.json()["code"] == "unauthorized"


def test_problem_json_shape(deployment: Deployment) -> None:
    with deployment.client() as c:
        r = c.get("/v1/jobs/job_does_not_exist")
        body = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail", "code"} <= body.keys()
        assert body["status"] == 404
        assert body["type"].endswith("/job_not_found")
        r = c.get("/v1/jobs", params={"limit": 1000})
        assert r.status_code == 422
        assert r.json()["errors"]
        assert c.get("/no/such/route").json()["code"] == "not_found"


def test_webhook_secret_per_tenant(deployment: Deployment) -> None:
    with deployment.client() as acme, deployment.client(deployment.beta) as beta:
        a, b = acme.get("/v1/webhook-secret").json(), beta.get("/v1/webhook-secret").json()
    assert a["secret"].startswith("whsec_")
    assert a["secret"] != b["secret"]


def test_health_ready_and_metrics(deployment: Deployment) -> None:
    with deployment.client() as c:
        upload(c)
        assert c.get("/healthz").json()["status"] == "ok"
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["jobs"] == "ok"
        text = c.get("/metrics").text
    depth = next(line for line in text.splitlines() if line.startswith("kneecave_queue_depth "))
    assert float(depth.split()[1]) >= 1
    assert "kneecave_job_duration_seconds_bucket" in text
    assert "kneecave_frames_per_second" in text


def test_metrics_sum_failure_codes_into_one_failed_series(deployment: Deployment) -> None:
    async def record() -> None:
        async with open_backends(deployment.env.settings()) as backends:
            await backends.jobs.record_outcome("no_person", 1.0, 30)
            await backends.jobs.record_outcome("video_unreadable", None, 0)

    with deployment.client() as c:
        before = _finished(c.get("/metrics").text)
        asyncio.run(record())
        after = _finished(c.get("/metrics").text)
    # One sample per series (Prometheus drops a repeated one as a duplicate sample).
    labels = [k for k, _ in after]
    assert len(labels) == len(set(labels))
    failed = [v for k, v in after if k == 'outcome="failed"']
    assert failed == [sum(v for k, v in before if k == 'outcome="failed"') + 2]


def _finished(text: str) -> list[tuple[str, float]]:
    """(labels, value) of every kneecave_jobs_finished_total sample, in order."""
    prefix = "kneecave_jobs_finished_total{"
    rows = [line.removeprefix(prefix).split("} ") for line in text.splitlines()]
    return [
        (row[0], float(row[1]))
        for line, row in zip(text.splitlines(), rows, strict=True)
        if line.startswith(prefix)
    ]


def test_openapi_reads_well(deployment: Deployment) -> None:
    with deployment.client() as c:
        spec = c.get("/openapi.json").json()
    post = spec["paths"]["/v1/jobs"]["post"]
    assert post["operationId"] == "jobs-create_job"
    assert post["responses"]["202"]["links"]["GetJob"]["operationId"] == "jobs-get_job"
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert spec["paths"]["/v1/jobs/{job_id}"]["get"]["operationId"] == "jobs-get_job"
    assert "ScoreResult" in spec["components"]["schemas"]
    assert "application/problem+json" in post["responses"]["413"]["content"]
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("limited")
    with make_env("sqlite", tmp) as env:
        acme, beta = env.create_key("acme").api_key, env.create_key("beta").api_key
        server = Server(
            env,
            tmp,
            workers=0,
            poll_rate_limit_per_minute=6,
            max_active_jobs_per_tenant=2,
        )
        yield Deployment(server, env, acme, beta)
        server.stop()


def test_429_rate_limit_with_retry_after(limited: Deployment) -> None:
    with limited.client(limited.beta) as c:
        codes = [c.get("/v1/jobs") for _ in range(14)]
    refused = [r for r in codes if r.status_code == 429]
    assert refused, "no request was refused"
    # A fixed window may roll over once mid-test: at most 2 x limit pass.
    assert sum(r.status_code == 200 for r in codes) <= 12
    assert 1 <= int(refused[0].headers["retry-after"]) <= 60
    assert refused[0].json()["code"] == "rate_limited"


def test_429_too_many_active_jobs(limited: Deployment) -> None:
    with limited.client() as c:
        first = upload(c).json()["id"]
        assert upload(c).status_code == 202
        r = upload(c)
        assert r.status_code == 429
        assert r.json()["code"] == "too_many_active_jobs"
        assert int(r.headers["retry-after"]) >= 1
        c.post(f"/v1/jobs/{first}/cancel")
        assert upload(c).status_code == 202  # a slot was freed


def test_retention_removes_finished_jobs(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, result_retention_s=1, sweep_interval_s=0.2)
        try:
            with server.client(key) as c:
                ended, active = upload(c).json()["id"], upload(c).json()["id"]
                job = c.post(f"/v1/jobs/{ended}/cancel").json()
                assert job["expires_at"] is not None
                deadline = time.monotonic() + 10
                while c.get(f"/v1/jobs/{ended}").status_code != 404:
                    assert time.monotonic() < deadline, "retention sweep did not remove the job"
                    time.sleep(0.2)
                assert c.get(f"/v1/jobs/{active}").status_code == 200  # still queued: kept
        finally:
            server.stop()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_retry_at_the_active_limit_gets_its_job_not_429(kind: str, tmp_path: Path) -> None:
    with make_env(kind, tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=0, max_active_jobs_per_tenant=1)
        try:
            with server.client(key) as c:
                headers = {"Idempotency-Key": "lost-response-1"}
                with SHORT_CLIP.open("rb") as f:
                    first = c.post("/v1/jobs", files={"video": f}, headers=headers)
                assert first.status_code == 202, first.text  # the tenant is now at its limit
                with SHORT_CLIP.open("rb") as f:
                    again = c.post("/v1/jobs", files={"video": f}, headers=headers)
                assert again.status_code == 202, again.text
                assert again.json()["id"] == first.json()["id"]
                assert again.headers["idempotent-replayed"] == "true"
                with SHORT_CLIP.open("rb") as f:
                    other = c.post(
                        "/v1/jobs", files={"video": f}, data={"view": "side"}, headers=headers
                    )
                assert other.status_code == 409, other.text
                assert other.json()["code"] == "idempotency_conflict"
                # A new key (or none) is a new job: still over the limit.
                for extra in ({"Idempotency-Key": "lost-response-2"}, {}):
                    with SHORT_CLIP.open("rb") as f:
                        r = c.post("/v1/jobs", files={"video": f}, headers=extra)
                    assert r.status_code == 429, r.text
                    assert r.json()["code"] == "too_many_active_jobs"
                assert len(c.get("/v1/jobs").json()["items"]) == 1
                assert len(list((env.data_dir / "blobs").glob("job_*"))) == 1  # replays discarded
        finally:
            server.stop()
