"""Client: the synchronous API client (BaseClient + blocking send and sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

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

__all__ = ["Client"]


class Client(BaseClient):
    """Synchronous client. ``Client(api_key, base_url=...)``; use as a context manager."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = c.DEFAULT_TIMEOUT,
        max_retries: int = c.DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(api_key, base_url, max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)
        self._sleep: Callable[[float], None] = time.sleep

    def _send_once(self, spec: RequestSpec, attempt: int) -> httpx.Response:
        with self._opened(spec) as upload:
            request = self._build(self._http, spec, attempt, upload)
            try:
                return self._http.send(request)
            except httpx.TimeoutException as exc:
                raise APITimeoutError(request) from exc
            except httpx.TransportError as exc:
                raise APIConnectionError(str(exc) or type(exc).__name__, request=request) from exc

    def _request(self, spec: RequestSpec) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._send_once(spec, attempt)
            except APIConnectionError:
                if not self._can_retry(spec, attempt):
                    raise
                self._sleep(retry_delay(attempt, None))
            else:
                if not (should_retry(response) and self._can_retry(spec, attempt)):
                    return response
                self._sleep(retry_delay(attempt, response.headers))
            attempt += 1

    def create_job(
        self,
        video: VideoInput,
        *,
        view: str = "auto",
        exercise: str | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        filename: str | None = None,
    ) -> Job:
        """Upload a video (path, bytes or binary file) and queue it; returns the queued job."""
        spec = self._create_job_spec(
            video,
            view=view,
            exercise=exercise,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            filename=filename,
        )
        return parse_job(self._request(spec))

    def get_job(self, job_id: str) -> Job:
        return parse_job(self._request(self._get_job_spec(job_id)))

    def list_jobs(self, *, limit: int | None = None, cursor: str | None = None) -> JobList:
        return parse_job_list(self._request(self._list_jobs_spec(limit, cursor)))

    def iter_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Every job of this API key, following ``next_cursor`` page by page."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(limit=limit, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel_job(self, job_id: str) -> Job:
        return parse_job(self._request(self._cancel_job_spec(job_id)))

    def delete_job(self, job_id: str) -> None:
        raise_for_status(self._request(self._delete_job_spec(job_id)))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = c.DEFAULT_WAIT_TIMEOUT,
        poll: float = c.DEFAULT_POLL_INTERVAL,
        raise_on_failure: bool = True,
    ) -> Job:
        """Poll until the job is terminal; the server's Retry-After wins over ``poll``.

        Raises JobFailedError for a failed job (unless ``raise_on_failure=False``), and
        WaitTimeoutError.
        """
        deadline = time.monotonic() + timeout
        while True:
            response = self._request(self._get_job_spec(job_id))
            job = parse_job(response)
            if job.terminal:
                return finished(job, raise_on_failure)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(job, timeout)
            self._sleep(min(poll_delay(response.headers, poll), remaining))

    def score_keypoints(
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
        """Score landmarks (T, 33, 5: x_px, y_px, z, visibility, presence) synchronously.

        ``t_s`` are optional frame timestamps (s); a numpy array works for either argument.
        """
        spec = self._score_keypoints_spec(
            landmarks, fps=fps, width=width, height=height, view=view, t_s=t_s, extra=extra
        )
        return parse_dict(self._request(spec))

    def get_webhook_secret(self) -> str:
        """This API key's tenant secret for verify_webhook()."""
        return str(parse_dict(self._request(self._webhook_secret_spec()))["secret"])

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
