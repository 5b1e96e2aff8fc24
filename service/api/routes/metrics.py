"""GET /metrics (Prometheus): backend-wide figures, then this process's own series.

Backend-wide (queue depth, jobs by status, outcomes, claim-to-end durations,
frames): read from the job backend at each scrape, whichever process ran the
jobs, and exported by one API replica only: the holder of the `metrics` lease
in the job store, renewed at each of its scrapes (`METRICS_LEASE_S`), taken
over by another replica once it lapses. So `sum()` across replicas stays
right; `kneecave_backend_metrics_exporter` says which replica exports them.
Process-local (this process's default registry): HTTP requests, process and GC
figures, and, with embedded workers (`kneecave serve`), the workers' queue wait,
stage durations and webhook deliveries; these do add up across pods.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from service.api.deps import JobsDep, SettingsDep
from service.jobs.base import DURATION_BUCKETS_S
from service.jobs.model import JobStatus

# Registered in the default registry on import: an API-only process exports them at zero.
from service.worker import metrics as _worker_metrics  # noqa: F401

router = APIRouter(tags=["ops"])

_OUTCOMES = {s.value for s in JobStatus}


METRICS_LEASE = "metrics"


def instance_id(app: Any) -> str:
    """This API process's name for the metrics lease (made once per app)."""
    if not hasattr(app.state, "instance_id"):
        app.state.instance_id = f"api-{uuid.uuid4().hex[:12]}"
    return str(app.state.instance_id)


class _Exporter(Collector):
    def __init__(self, exporting: bool) -> None:
        self.exporting = exporting

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "kneecave_backend_metrics_exporter",
            "1 on the one API replica exporting the backend-wide series, else 0",
            value=int(self.exporting),
        )


class _ProcessSeries(Collector):
    """The default registry's series, served after the backend's in one exposition."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class Snapshot(Collector):
    """A one-shot collector over figures read just before exposition."""

    def __init__(self, counts: dict[JobStatus, int], stats: dict[str, float]) -> None:
        self.counts = counts
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("kneecave_queue_depth", "Jobs waiting for a worker")
        depth.add_metric([], self.counts.get(JobStatus.QUEUED, 0))
        yield depth
        jobs = GaugeMetricFamily("kneecave_jobs", "Jobs stored, by status", labels=["status"])
        for status, n in self.counts.items():
            jobs.add_metric([status.value], n)
        yield jobs
        outcomes = CounterMetricFamily(
            "kneecave_jobs_finished", "Jobs finished by workers, by outcome", labels=["outcome"]
        )
        failures = CounterMetricFamily(
            "kneecave_job_failures", "Failed jobs by error code", labels=["code"]
        )
        by_outcome: dict[str, float] = {}
        for name, value in sorted(self.stats.items()):
            if name.startswith("jobs_total:"):
                code = name.split(":", 1)[1]
                outcome = code if code in _OUTCOMES else "failed"
                # Every failure code adds to the one `failed` series: a repeated series is
                # a duplicate sample to Prometheus, which keeps one and undercounts.
                by_outcome[outcome] = by_outcome.get(outcome, 0.0) + value
                if code not in _OUTCOMES:
                    failures.add_metric([code], value)
        for outcome, value in by_outcome.items():
            outcomes.add_metric([outcome], value)
        yield outcomes
        yield failures
        buckets = [
            (f"{b:g}", self.stats.get(f"duration_bucket:{b:g}", 0.0)) for b in DURATION_BUCKETS_S
        ]
        count = self.stats.get("duration_count", 0.0)
        yield HistogramMetricFamily(
            "kneecave_job_duration_seconds",
            "Time from a worker's claim to the job's end",
            buckets=[*buckets, ("+Inf", count)],
            sum_value=self.stats.get("duration_sum", 0.0),
        )
        frames = self.stats.get("frames_total", 0.0)
        yield CounterMetricFamily("kneecave_frames_processed", "Video frames analysed", frames)
        fps = GaugeMetricFamily(
            "kneecave_frames_per_second", "Frames analysed per second of job time (all jobs)"
        )
        busy = self.stats.get("duration_sum", 0.0)
        fps.add_metric([], frames / busy if busy > 0 else 0.0)
        yield fps


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request, jobs: JobsDep, settings: SettingsDep) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    exporter = await jobs.hold(METRICS_LEASE, instance_id(request.app), settings.metrics_lease_s)
    if exporter:
        registry.register(Snapshot(await jobs.status_counts(), await jobs.stats()))
    registry.register(_Exporter(exporter))
    registry.register(_ProcessSeries())
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
