"""AsyncClient: the asyncio twin of Client (same methods, awaited)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import IO, Any

import httpx

from kneecave_sdk import _constants as c
from kneecave_sdk._base import (
    BaseClient,
    JobRef,
    ProgressCallback,
    RequestSpec,
    VideoInput,
    check_interval,
    finished,
    parse,
    raise_for_status,
    result_of,
)
from kneecave_sdk._exceptions import APIConnectionError, APITimeoutError, WaitTimeoutError
from kneecave_sdk._models import (
    Exercise,
    Job,
    JobLandmarks,
    JobList,
    ScoreResult,
    View,
    WebhookSecret,
    WebhookTestResult,
)
from kneecave_sdk._retry import retry_delay, should_retry

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient):
    """Asynchronous twin of Client; same methods, awaited (``async with AsyncClient() as kc:``).

    ``on_progress`` may be a plain function or a coroutine function.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = c.DEFAULT_TIMEOUT,
        max_retries: int = c.DEFAULT_MAX_RETRIES,
        poll_interval: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, max_retries, poll_interval)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _send_once(self, spec: RequestSpec, attempt: int) -> httpx.Response:
        opened: AbstractContextManager[IO[bytes] | None] = self._opened(spec)
        with opened as upload:
            request = self._build(self._http, spec, attempt, upload)
            try:
                response = await self._http.send(request)
            except httpx.TimeoutException as exc:
                raise APITimeoutError(request) from exc
            except httpx.TransportError as exc:
                raise APIConnectionError(str(exc) or type(exc).__name__, request=request) from exc
            return self._seen(response)

    async def _request(self, spec: RequestSpec) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._send_once(spec, attempt)
            except APIConnectionError:
                if not self._can_retry(spec, attempt):
                    raise
                await self._sleep(retry_delay(attempt, None))
            else:
                if not (should_retry(response) and self._can_retry(spec, attempt)):
                    return response
                await self._sleep(retry_delay(attempt, response.headers))
            attempt += 1

    # --- jobs -------------------------------------------------------------------------------

    async def create_job(
        self,
        video: VideoInput,
        *,
        view: View = "auto",
        mirrored: bool = False,
        exercise: Exercise | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
    ) -> Job:
        """See Client.create_job. A file path is read in chunks by httpx (blocking reads)."""
        spec = self._create_job_spec(
            video,
            view=view,
            mirrored=mirrored,
            exercise=exercise,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            filename=filename,
        )
        return parse(await self._request(spec), Job)

    async def get_job(self, job: JobRef) -> Job:
        return parse(await self._request(self._get_job_spec(job)), Job)

    async def get_landmarks(self, job: JobRef) -> JobLandmarks:
        """See Client.get_landmarks."""
        return parse(await self._request(self._landmarks_spec(job)), JobLandmarks)

    async def list_jobs(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> JobList:
        return parse(await self._request(self._list_jobs_spec(limit, starting_after)), JobList)

    async def iter_jobs(self, *, limit: int | None = None) -> AsyncIterator[Job]:
        cursor: str | None = None
        while True:
            page = await self.list_jobs(limit=limit, starting_after=cursor)
            for job in page.items:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def cancel_job(self, job: JobRef) -> Job:
        return parse(await self._request(self._cancel_job_spec(job)), Job)

    async def delete_job(self, job: JobRef) -> None:
        raise_for_status(await self._request(self._delete_job_spec(job)))

    async def wait(
        self,
        job: JobRef,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = c.DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """See Client.wait; ``on_progress`` may also return an awaitable, which is awaited."""
        check_interval(poll_interval)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            response = await self._request(self._get_job_spec(job))
            current = parse(response, Job)
            if on_progress is not None:
                called = on_progress(current)
                if inspect.isawaitable(called):
                    await called
            if current.terminal:
                return finished(current, raise_on_failure)
            delay = self._poll_delay(response, poll_interval)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(current, timeout or 0.0)
                delay = min(delay, remaining)
            await self._sleep(delay)

    async def score(
        self,
        video: VideoInput,
        *,
        view: View = "auto",
        mirrored: bool = False,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = c.DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
    ) -> ScoreResult:
        """See Client.score."""
        job = await self.create_job(
            video, view=view, mirrored=mirrored, idempotency_key=idempotency_key, filename=filename
        )
        done = await self.wait(
            job, on_progress=on_progress, timeout=timeout, poll_interval=poll_interval
        )
        return result_of(done)

    # --- scoring without a video, webhooks --------------------------------------------------

    async def score_keypoints(
        self,
        landmarks: Sequence[Any] | Any,
        *,
        fps: float,
        width: int,
        height: int,
        view: View = "auto",
        t_s: Sequence[float] | Any | None = None,
        world: Sequence[Any] | Any | None = None,
        mirrored: bool = False,
    ) -> ScoreResult:
        """See Client.score_keypoints."""
        spec = self._score_keypoints_spec(
            landmarks,
            fps=fps,
            width=width,
            height=height,
            view=view,
            t_s=t_s,
            world=world,
            mirrored=mirrored,
        )
        return parse(await self._request(spec), ScoreResult)

    async def send_test_webhook(self, url: str) -> WebhookTestResult:
        """Have the API send one signed ``webhook.test`` event to ``url`` now (no job)."""
        return parse(await self._request(self._test_webhook_spec(url)), WebhookTestResult)

    async def get_webhook_secret(self) -> str:
        return parse(await self._request(self._webhook_secret_spec()), WebhookSecret).secret

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
