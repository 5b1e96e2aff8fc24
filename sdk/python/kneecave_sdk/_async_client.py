"""AsyncClient: the asyncio twin of Client (same methods, awaited)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import IO, Any

import httpx

from kneecave_sdk import _constants as c
from kneecave_sdk._base import (
    BaseClient,
    RequestSpec,
    VideoInput,
    finished,
    parse_dict,
    parse_job,
    parse_job_list,
    raise_for_status,
)
from kneecave_sdk._exceptions import APIConnectionError, APITimeoutError, WaitTimeoutError
from kneecave_sdk._retry import poll_delay, retry_delay, should_retry
from kneecave_sdk.types import Job, JobList

__all__ = ["AsyncClient"]


class AsyncClient(BaseClient):
    """Asynchronous twin of Client; same methods, awaited."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = c.DEFAULT_TIMEOUT,
        max_retries: int = c.DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _send_once(self, spec: RequestSpec, attempt: int) -> httpx.Response:
        opened: AbstractContextManager[IO[bytes] | None] = self._opened(spec)
        with opened as upload:
            request = self._build(self._http, spec, attempt, upload)
            try:
                return await self._http.send(request)
            except httpx.TimeoutException as exc:
                raise APITimeoutError(request) from exc
            except httpx.TransportError as exc:
                raise APIConnectionError(str(exc) or type(exc).__name__, request=request) from exc

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

    async def create_job(
        self,
        video: VideoInput,
        *,
        view: str = "auto",
        exercise: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
    ) -> Job:
        spec = self._create_job_spec(
            video,
            view=view,
            exercise=exercise,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            filename=filename,
        )
        return parse_job(await self._request(spec))

    async def get_job(self, job_id: str) -> Job:
        return parse_job(await self._request(self._get_job_spec(job_id)))

    async def list_jobs(self, *, limit: int | None = None, cursor: str | None = None) -> JobList:
        return parse_job_list(await self._request(self._list_jobs_spec(limit, cursor)))

    async def iter_jobs(self, *, limit: int | None = None) -> AsyncIterator[Job]:
        cursor: str | None = None
        while True:
            page = await self.list_jobs(limit=limit, cursor=cursor)
            for job in page.items:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def cancel_job(self, job_id: str) -> Job:
        return parse_job(await self._request(self._cancel_job_spec(job_id)))

    async def delete_job(self, job_id: str) -> None:
        raise_for_status(await self._request(self._delete_job_spec(job_id)))

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = c.DEFAULT_WAIT_TIMEOUT,
        poll: float = c.DEFAULT_POLL_INTERVAL,
        raise_on_failure: bool = True,
    ) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            response = await self._request(self._get_job_spec(job_id))
            job = parse_job(response)
            if job.terminal:
                return finished(job, raise_on_failure)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(job, timeout)
            await self._sleep(min(poll_delay(response.headers, poll), remaining))

    async def score_keypoints(
        self,
        landmarks: Sequence[Any] | Any,
        *,
        fps: float,
        width: int,
        height: int,
        view: str = "auto",
        t_s: Sequence[float] | Any | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        spec = self._score_keypoints_spec(
            landmarks, fps=fps, width=width, height=height, view=view, t_s=t_s, extra=extra
        )
        return parse_dict(await self._request(spec))

    async def get_webhook_secret(self) -> str:
        return str(parse_dict(await self._request(self._webhook_secret_spec()))["secret"])

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
