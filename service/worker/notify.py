"""Signed webhook for a job that ended on its own (succeeded or failed), recorded on the job.

Canceled jobs send none: the client asked for the cancel and already knows.
Delivery is best effort after the job is stored: a worker that dies while
retrying loses the remaining attempts (the result itself is safe).
"""

from __future__ import annotations

import logging
import time

from service.jobs.model import Job, JobStatus
from service.jobs.public import JobPublic
from service.logs import bind
from service.webhooks import WebhookSender
from service.worker.handler import WorkerContext
from service.worker.metrics import observe_webhook

log = logging.getLogger("kneecave.webhooks")


async def notify(ctx: WorkerContext, job: Job) -> None:
    if job.webhook_url is None or job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return
    s = ctx.settings
    with bind(**job.log_fields()):
        secret = await ctx.keys.webhook_secret(job.tenant)
        if secret is None:
            log.warning("tenant has no webhook secret; webhook not sent")
            observe_webhook("not_sent", [], 0.0)
            return
        sender = WebhookSender(
            secret,
            timeout_s=s.webhook_timeout_s,
            max_attempts=s.webhook_max_attempts,
            allow_private=s.webhook_allow_private,
            backoff_s=s.webhook_backoff_s,
        )
        payload = JobPublic.of(job).model_dump(mode="json", exclude={"webhook_deliveries"})
        start = time.perf_counter()
        attempts = await sender.deliver(
            job.webhook_url,
            msg_id=f"{job.id}.{job.status.value}",
            event_type=f"job.{job.status.value}",
            payload=payload,
        )
        delivered = bool(attempts) and attempts[-1].ok
        observe_webhook(
            "delivered" if delivered else "failed",
            [(a.ok, a.status_code) for a in attempts],
            time.perf_counter() - start,
        )
        await ctx.jobs.record_deliveries(job.id, [a.model_dump(mode="json") for a in attempts])
        log.info(
            "webhook delivered" if delivered else "webhook failed",
            extra={"attempts": len(attempts)},
        )
