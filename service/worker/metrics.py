"""Process-local Prometheus metrics of the workers: queue wait, stage durations, webhooks.

Kept in this process's default registry (summed across pods, unlike the backend-wide
series of /metrics): `kneecave serve` shows them on its /metrics (its workers run in
the API process); `kneecave worker` serves them on its own port (``metrics_port``).
"""

from __future__ import annotations

import logging
from typing import Literal

from prometheus_client import Counter, Histogram, start_http_server

from service.jobs.model import Job

log = logging.getLogger("kneecave.worker")

Stage = Literal["decode", "pose", "score", "webhook"]
# result.timings key → stage label (the pipeline stages a job's result reports).
_RESULT_STAGES: dict[str, Stage] = {"decode_ms": "decode", "pose_ms": "pose", "score_ms": "score"}

QUEUE_WAIT = Histogram(
    "kneecave_job_queue_wait_seconds",
    "Time from a job's submission to the claim of the worker that ended it",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
STAGE_DURATION = Histogram(
    "kneecave_stage_duration_seconds",
    "Busy time of one job stage: decode (decoder thread, overlaps pose), pose, score,"
    " webhook (all attempts of one delivery)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
WEBHOOK_DELIVERIES = Counter(
    "kneecave_webhook_deliveries",
    "Webhook events by outcome: delivered, failed (attempts exhausted or not retryable),"
    " not_sent (the tenant has no webhook secret)",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "kneecave_webhook_attempts",
    "Webhook HTTP attempts by result: ok, 4xx, 5xx, other status class, or error (no answer)",
    ["result"],
)


def observe_job(job: Job) -> None:
    """Queue wait and the pipeline stages of a job this worker ended."""
    if job.started_at is not None:
        QUEUE_WAIT.observe(max(0.0, job.started_at - job.created_at))
    timings = (job.result or {}).get("timings") or {}
    for key, stage in _RESULT_STAGES.items():
        value = timings.get(key)
        if isinstance(value, int | float):
            STAGE_DURATION.labels(stage).observe(value / 1e3)


def observe_webhook(outcome: str, attempts: list[tuple[bool, int | None]], seconds: float) -> None:
    """One event's delivery: its outcome, each attempt's (ok, status code), the time taken."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    for ok, status_code in attempts:
        if ok:
            result = "ok"
        elif status_code is None:
            result = "error"
        else:
            result = f"{status_code // 100}xx"
        WEBHOOK_ATTEMPTS.labels(result).inc()
    if attempts:
        STAGE_DURATION.labels("webhook").observe(seconds)


def serve_metrics(port: int | None) -> None:
    """`kneecave worker`: expose this process's registry on ``port`` (all interfaces, for
    the scraper); nothing when unset."""
    if port is None:
        return
    start_http_server(port)
    log.info("metrics served", extra={"port": port})
