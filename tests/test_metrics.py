"""/metrics over real HTTP after a real job: queue wait, per-stage durations, webhook
deliveries, the HTTP histogram by route template, process series, `result.timings`;
with embedded workers (`kneecave serve`) on SQLite and with a separate `kneecave worker`
process (its own metrics port) on Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service_support import (
    Server,
    WebhookReceiver,
    free_port,
    make_env,
    start_worker,
    upload,
    wait_for,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
STAGES = ("decode", "pose", "score", "webhook")


def scrape(url: str) -> Samples:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"duplicate sample {key}"  # Prometheus would drop one
            samples[key] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def hook_url() -> Iterator[str]:
    """A real webhook receiver on loopback that answers 204."""
    with WebhookReceiver() as rec:
        yield rec.url


def run_job(client: httpx.Client, hook_url: str) -> dict[str, Any]:
    r = upload(client, webhook_url=hook_url)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = wait_for(client, job_id)
    assert job["status"] == "succeeded", job
    for _ in range(100):  # the webhook goes out after the job is stored
        if job["webhook_deliveries"]:
            break
        job = wait_for(client, job_id)
    assert job["webhook_deliveries"][-1]["ok"], job
    return job


def assert_job_series(samples: Samples, job: dict[str, Any]) -> None:
    """Exactly one job and one delivery seen by this process, with sensible figures."""
    assert value(samples, "kneecave_job_queue_wait_seconds_count") == 1
    assert value(samples, "kneecave_job_queue_wait_seconds_sum") > 0
    wait_le_inf = value(samples, "kneecave_job_queue_wait_seconds_bucket", le="+Inf")
    assert wait_le_inf == 1
    for stage in STAGES:
        assert value(samples, "kneecave_stage_duration_seconds_count", stage=stage) == 1, stage
        assert value(samples, "kneecave_stage_duration_seconds_sum", stage=stage) > 0, stage
    timings = job["result"]["timings"]
    for stage in ("decode", "pose", "score"):
        seconds = value(samples, "kneecave_stage_duration_seconds_sum", stage=stage)
        assert seconds == pytest.approx(timings[f"{stage}_ms"] / 1e3, abs=1e-4)
    assert value(samples, "kneecave_webhook_deliveries_total", outcome="delivered") == 1
    assert value(samples, "kneecave_webhook_deliveries_total", outcome="failed") == 0
    assert value(samples, "kneecave_webhook_attempts_total", result="ok") == 1


def assert_timings(job: dict[str, Any]) -> None:
    t = job["result"]["timings"]
    # The scorer's own keys stay (backwards compatible); the video stages are added.
    assert {"cleanup_ms", "reps_view_ms", "metrics_ms", "total_ms"} <= t.keys()
    assert all(t[k] > 0 for k in ("decode_ms", "pose_ms", "score_ms", "analysis_ms")), t
    # The pose loop and scoring run one after the other inside the analysis.
    assert t["pose_ms"] + t["score_ms"] <= t["analysis_ms"]
    assert t["score_ms"] >= t["total_ms"]
    assert t["pose_ms"] > t["score_ms"]  # the model is where the time goes


def http_count(samples: Samples, method: str, route: str, status: str) -> float:
    name = "kneecave_http_request_duration_seconds_count"
    return value(samples, name, method=method, route=route, status=status)


def test_embedded_workers_on_metrics(tmp_path: Path, hook_url: str) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme")
        server = Server(env, tmp_path, workers=1, webhook_allow_private="true")
        try:
            with server.client(key.api_key) as c:
                job = run_job(c, hook_url)
                assert c.get("/v1/jobs/job_doesnotexist").status_code == 404
                assert c.get("/no/such/page/really").status_code == 404
            samples = scrape(f"{server.url}/metrics")
        finally:
            server.stop()
    assert_timings(job)
    assert_job_series(samples, job)
    # By route template, never the raw path (the job id is not a label value).
    assert http_count(samples, "POST", "/v1/jobs", "2xx") == 1
    assert http_count(samples, "GET", "/v1/jobs/{job_id}", "2xx") >= 1
    assert http_count(samples, "GET", "/v1/jobs/{job_id}", "4xx") == 1
    assert http_count(samples, "GET", "/*", "4xx") == 1  # served (404) by the web page's mount
    routes = {dict(labels).get("route", "") for _, labels in samples}
    assert not any(job["id"] in r for r in routes), routes
    # Backend-wide series once, process series alongside.
    assert value(samples, "kneecave_jobs_finished_total", outcome="succeeded") == 1
    assert ("kneecave_queue_depth", frozenset()) in samples
    assert value(samples, "process_resident_memory_bytes") > 0


def test_worker_process_serves_its_own_metrics(tmp_path: Path, hook_url: str) -> None:
    with make_env("redis", tmp_path) as env:
        key = env.create_key("acme")
        port = free_port()
        options: dict[str, Any] = {"webhook_allow_private": "true"}
        server = Server(env, tmp_path, workers=0, **options)
        worker = start_worker(
            env,
            tmp_path,
            metrics_port=port,
            worker_health_file=tmp_path / "health.json",
            **options,
        )
        try:
            with server.client(key.api_key) as c:
                job = run_job(c, hook_url)
            worker_samples = scrape(f"http://127.0.0.1:{port}/metrics")
            api_samples = scrape(f"{server.url}/metrics")
        finally:
            assert worker.stop() == 0, worker.log()
            server.stop()
    assert_timings(job)
    assert_job_series(worker_samples, job)
    # The API process ran no job: its own copies stay at zero, so a sum() over pods
    # counts the job once; the backend-wide outcome counter saw it.
    assert value(api_samples, "kneecave_job_queue_wait_seconds_count") == 0
    for stage in STAGES:
        assert value(api_samples, "kneecave_stage_duration_seconds_count", stage=stage) == 0
    assert value(api_samples, "kneecave_jobs_finished_total", outcome="succeeded") == 1
    assert http_count(api_samples, "POST", "/v1/jobs", "2xx") == 1


def test_backend_series_come_from_one_replica(tmp_path: Path) -> None:
    """Two API replicas on one Redis: only the holder of the metrics lease exports the
    backend-wide series, so a sum over replicas counts each job once; when it goes, the
    other takes over once the lease lapses."""
    with make_env("redis", tmp_path) as env:
        servers = [Server(env, tmp_path, workers=0, metrics_lease_s=1.5) for _ in range(2)]
        try:
            scrapes = [scrape(f"{s.url}/metrics") for s in servers]
            exporting = [value(m, "kneecave_backend_metrics_exporter") for m in scrapes]
            assert sorted(exporting) == [0.0, 1.0]
            leader = exporting.index(1.0)
            depth = [("kneecave_queue_depth", frozenset()) in m for m in scrapes]
            assert depth == [i == leader for i in range(2)]
            # The exporter keeps its lease while it is scraped.
            assert (
                value(scrape(f"{servers[leader].url}/metrics"), "kneecave_backend_metrics_exporter")
                == 1
            )
            servers[leader].stop()
            other = servers[1 - leader]
            deadline = time.monotonic() + 10
            exporter = "kneecave_backend_metrics_exporter"
            while value(scrape(f"{other.url}/metrics"), exporter) != 1:
                assert time.monotonic() < deadline, "the other replica never took over"
                time.sleep(0.3)
            assert ("kneecave_queue_depth", frozenset()) in scrape(f"{other.url}/metrics")
        finally:
            for s in servers:
                s.stop()
