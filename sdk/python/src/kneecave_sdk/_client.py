"""Client: the synchronous API client (BaseClient + blocking send and sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

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

__all__ = ["Client"]


class Client(BaseClient):
    """Synchronous client; use it as a context manager (``with Client() as kc:``).

    ``api_key`` and ``base_url`` default to $KNEECAVE_API_KEY and $KNEECAVE_BASE_URL.
    ``poll_interval`` (s) paces wait()/score(); None follows the server's Retry-After.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = c.DEFAULT_TIMEOUT,
        max_retries: int = c.DEFAULT_MAX_RETRIES,
        poll_interval: float | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(api_key, base_url, max_retries, poll_interval)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)
        self._sleep: Callable[[float], None] = time.sleep

    def _send_once(self, spec: RequestSpec, attempt: int) -> httpx.Response:
        with self._opened(spec) as upload:
            request = self._build(self._http, spec, attempt, upload)
            try:
                response = self._http.send(request)
            except httpx.TimeoutException as exc:
                raise APITimeoutError(request) from exc
            except httpx.TransportError as exc:
                raise APIConnectionError(str(exc) or type(exc).__name__, request=request) from exc
            return self._seen(response)

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

    # --- jobs -------------------------------------------------------------------------------

    def create_job(
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
        """Upload a video (path, bytes or binary file) and queue it; returns the queued job.

        One Idempotency-Key (``idempotency_key``, or a generated one) is sent on every retry,
        so a retry after a lost answer never makes a second job. ``mirrored``: the video is
        mirror-image (a front camera's preview saved as shown); knees are then reported on
        the person's own sides.
        """
        spec = self._create_job_spec(
            video,
            view=view,
            mirrored=mirrored,
            exercise=exercise,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            filename=filename,
        )
        return parse(self._request(spec), Job)

    def get_job(self, job: JobRef) -> Job:
        return parse(self._request(self._get_job_spec(job)), Job)

    def get_landmarks(self, job: JobRef) -> JobLandmarks:
        """Per-frame landmarks of a succeeded job, for drawing the skeleton over the video.

        NotFoundError ``landmarks_not_found`` until the job has succeeded (or when none were
        kept), ``landmarks_disabled`` when the tenant opted out, ``job_not_found`` once deleted.
        """
        return parse(self._request(self._landmarks_spec(job)), JobLandmarks)

    def list_jobs(self, *, limit: int | None = None, starting_after: str | None = None) -> JobList:
        """One page of jobs, newest first; pass ``next_cursor`` as ``starting_after``."""
        return parse(self._request(self._list_jobs_spec(limit, starting_after)), JobList)

    def iter_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Every job of this API key, newest first, fetching ``limit`` per page."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(limit=limit, starting_after=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel_job(self, job: JobRef) -> Job:
        """Cancel a queued or running job (idempotent); returns it, now ``canceled``."""
        return parse(self._request(self._cancel_job_spec(job)), Job)

    def delete_job(self, job: JobRef) -> None:
        """Delete a job and its result (canceling it first if it still runs)."""
        raise_for_status(self._request(self._delete_job_spec(job)))

    def wait(
        self,
        job: JobRef,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = c.DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """Poll until the job is terminal and return it.

        ``on_progress(job)`` is called after every poll, the last one included. Raises
        JobFailedError (JobCanceledError) for a failed (canceled) job unless
        ``raise_on_failure=False``, and WaitTimeoutError after ``timeout`` seconds (None: never).
        """
        check_interval(poll_interval)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            response = self._request(self._get_job_spec(job))
            current = parse(response, Job)
            if on_progress is not None:
                on_progress(current)
            if current.terminal:
                return finished(current, raise_on_failure)
            delay = self._poll_delay(response, poll_interval)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(current, timeout or 0.0)
                delay = min(delay, remaining)
            self._sleep(delay)

    def score(
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
        """Upload, wait and return the result in one call.

        Raises JobFailedError (``.code``, ``.detail``) when the job fails, WaitTimeoutError
        after ``timeout`` seconds (the job keeps running: ``exc.job.id``).
        """
        job = self.create_job(
            video, view=view, mirrored=mirrored, idempotency_key=idempotency_key, filename=filename
        )
        done = self.wait(job, on_progress=on_progress, timeout=timeout, poll_interval=poll_interval)
        return result_of(done)

    # --- scoring without a video, webhooks --------------------------------------------------

    def score_keypoints(
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
        """Score landmarks from on-device pose synchronously (no job).

        ``landmarks``: (T, 33, 5|4|3) = x_px, y_px, z, visibility, presence in the upright
        frame; ``t_s``: frame timestamps (s); ``world``: (T, 33, 3) metric landmarks. Numpy
        arrays or nested lists; NaN is sent as null.
        """
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
        return parse(self._request(spec), ScoreResult)

    def send_test_webhook(self, url: str) -> WebhookTestResult:
        """Have the API send one signed ``webhook.test`` event to ``url`` now (no job)."""
        return parse(self._request(self._test_webhook_spec(url)), WebhookTestResult)

    def get_webhook_secret(self) -> str:
        """This API key's tenant secret, for verify_webhook()."""
        return parse(self._request(self._webhook_secret_spec()), WebhookSecret).secret

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
