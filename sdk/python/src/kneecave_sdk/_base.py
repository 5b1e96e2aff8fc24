"""What the sync and async clients share: configuration, request building for every endpoint,
upload re-opening and response parsing. Client and AsyncClient only differ in send and sleep."""

from __future__ import annotations

import io
import math
import mimetypes
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias, TypeVar

import httpx

from kneecave_sdk import _constants as c
from kneecave_sdk._exceptions import (
    JobCanceledError,
    JobFailedError,
    KneecaveError,
    error_from_response,
)
from kneecave_sdk._model_base import Model
from kneecave_sdk._models import Job, ScoreResult
from kneecave_sdk._ratelimit import RateLimit
from kneecave_sdk._retry import parse_retry_after

__version__ = "0.3.0"

VideoInput: TypeAlias = str | os.PathLike[str] | bytes | IO[bytes]
"""A video to upload: a file path, the bytes, or a binary file object (rewound on retries)."""
JobRef: TypeAlias = Job | str
"""A job, or its id."""
ProgressCallback: TypeAlias = Callable[[Job], object]
"""Called with the job after every poll (its ``status``, and ``progress`` from 0 to 1)."""

M = TypeVar("M", bound=Model)


class VideoSource:
    """Re-openable upload body: each retry must send the whole file again from its start."""

    def __init__(self, video: VideoInput, filename: str | None = None) -> None:
        self._video = video
        self._seekable = True
        if isinstance(video, str | os.PathLike):
            self.filename = filename or Path(video).name
        elif isinstance(video, bytes):
            self.filename = filename or "video"
        else:
            self.filename = filename or Path(str(getattr(video, "name", "video"))).name
            self._seekable = video.seekable()
        self.content_type = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"

    @property
    def rewindable(self) -> bool:
        return self._seekable

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        video = self._video
        if isinstance(video, str | os.PathLike):
            # Opened per attempt and streamed by httpx in chunks: never read whole into memory.
            with open(video, "rb") as f:
                yield f
        elif isinstance(video, bytes):
            yield io.BytesIO(video)
        else:
            # The whole file is the upload (httpx's multipart also seeks to 0 before sending).
            if self._seekable:
                video.seek(0)
            yield video


@dataclass
class RequestSpec:
    """One logical API call; rebuilt into an httpx.Request on every attempt."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] = field(default_factory=dict)
    video: VideoSource | None = None
    idempotency_key: str | None = None

    @property
    def retryable(self) -> bool:
        return self.video is None or self.video.rewindable


def raise_for_status(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise error_from_response(response, parse_retry_after(response.headers))


def parse(response: httpx.Response, model: type[M]) -> M:
    return model.model_validate_json(raise_for_status(response).content)


def finished(job: Job, raise_on_failure: bool) -> Job:
    """The terminal job, or JobFailedError / JobCanceledError when it has no result."""
    if raise_on_failure and job.status == "failed":
        raise JobFailedError(job)
    if raise_on_failure and job.status == "canceled":
        raise JobCanceledError(job)
    return job


def result_of(job: Job) -> ScoreResult:
    if job.result is None:  # a succeeded job always has one; guard a server bug anyway
        raise JobFailedError(job)
    return job.result


def job_id(job: JobRef) -> str:
    return job.id if isinstance(job, Job) else job


def _jsonable(value: Any) -> Any:
    """Nested lists of numbers (a numpy array is fine) with NaN/inf as null, as the API wants."""
    if hasattr(value, "tolist"):  # numpy arrays, without importing numpy here
        value = value.tolist()
    if not isinstance(value, list | tuple):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if value and not isinstance(value[0], list | tuple):
        return [None if isinstance(v, float) and not math.isfinite(v) else v for v in value]
    return [_jsonable(v) for v in value]


class BaseClient:
    """Configuration and per-endpoint request specs, shared by Client and AsyncClient."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        max_retries: int,
        poll_interval: float | None,
    ) -> None:
        api_key = api_key or os.environ.get(c.API_KEY_ENV)
        if not api_key:
            raise KneecaveError(f"no API key: pass api_key= or set {c.API_KEY_ENV}")
        self.api_key = api_key
        url = base_url or os.environ.get(c.BASE_URL_ENV) or c.DEFAULT_BASE_URL
        self.base_url = url.rstrip("/")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.poll_interval = check_interval(poll_interval)
        """Seconds between polls in wait()/score(); None follows the server's Retry-After."""
        self.last_rate_limit: RateLimit | None = None
        """The budget the last response reported (None when it sent no RateLimit field)."""

    def _default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json, application/problem+json",
            "User-Agent": f"kneecave-sdk-python/{__version__}",
        }

    def _headers(self, spec: RequestSpec, attempt: int) -> dict[str, str]:
        headers: dict[str, str] = {}
        if spec.idempotency_key is not None:
            headers[c.IDEMPOTENCY_HEADER] = spec.idempotency_key
        if attempt:
            headers["X-Retry-Count"] = str(attempt)
        return headers

    @contextmanager
    def _opened(self, spec: RequestSpec) -> Iterator[IO[bytes] | None]:
        if spec.video is None:
            yield None
        else:
            with spec.video.open() as f:
                yield f

    def _build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        spec: RequestSpec,
        attempt: int,
        upload: IO[bytes] | None,
    ) -> httpx.Request:
        files = None
        if upload is not None and spec.video is not None:
            # httpx streams a file object in chunks, so a large video never sits in memory.
            files = {"video": (spec.video.filename, upload, spec.video.content_type)}
        return http.build_request(
            spec.method,
            self.base_url + spec.path,
            params=spec.params,
            json=spec.json,
            data=spec.data or None,
            files=files,
            headers={**self._default_headers(), **self._headers(spec, attempt)},
        )

    def _seen(self, response: httpx.Response) -> httpx.Response:
        """Every response passes here, retried ones too: the budget it reports is the latest."""
        self.last_rate_limit = RateLimit.from_headers(response.headers)
        return response

    def _can_retry(self, spec: RequestSpec, attempt: int) -> bool:
        return attempt < self.max_retries and spec.retryable

    # --- one spec per endpoint --------------------------------------------------------------

    @staticmethod
    def _create_job_spec(
        video: VideoInput,
        *,
        view: str,
        exercise: str | None,
        webhook_url: str | None,
        idempotency_key: str | None,
        filename: str | None,
        mirrored: bool = False,
    ) -> RequestSpec:
        data = {"view": view}
        if mirrored:
            data["mirrored"] = "true"
        if exercise is not None:
            data["exercise"] = exercise
        if webhook_url is not None:
            data["webhook_url"] = webhook_url
        # One key per logical create, reused by every retry: a retry after a lost 202 then
        # returns the job already made instead of analysing the same video twice.
        key = idempotency_key or f"kc-{uuid.uuid4()}"
        return RequestSpec(
            "POST", "/v1/jobs", data=data, video=VideoSource(video, filename), idempotency_key=key
        )

    @staticmethod
    def _get_job_spec(job: JobRef) -> RequestSpec:
        return RequestSpec("GET", f"/v1/jobs/{_segment(job_id(job))}")

    @staticmethod
    def _landmarks_spec(job: JobRef) -> RequestSpec:
        return RequestSpec("GET", f"/v1/jobs/{_segment(job_id(job))}/landmarks")

    @staticmethod
    def _list_jobs_spec(limit: int | None, starting_after: str | None) -> RequestSpec:
        pairs = (("limit", limit), ("starting_after", starting_after))
        params = {k: v for k, v in pairs if v is not None}
        return RequestSpec("GET", "/v1/jobs", params=params or None)

    @staticmethod
    def _cancel_job_spec(job: JobRef) -> RequestSpec:
        return RequestSpec("POST", f"/v1/jobs/{_segment(job_id(job))}/cancel")

    @staticmethod
    def _delete_job_spec(job: JobRef) -> RequestSpec:
        return RequestSpec("DELETE", f"/v1/jobs/{_segment(job_id(job))}")

    @staticmethod
    def _webhook_secret_spec() -> RequestSpec:
        return RequestSpec("GET", "/v1/webhook-secret")

    @staticmethod
    def _test_webhook_spec(url: str) -> RequestSpec:
        return RequestSpec("POST", "/v1/webhooks/test", json={"url": url})

    @staticmethod
    def _score_keypoints_spec(
        landmarks: Sequence[Any] | Any,
        *,
        fps: float,
        width: int,
        height: int,
        view: str,
        t_s: Sequence[float] | Any | None,
        world: Sequence[Any] | Any | None,
        mirrored: bool = False,
    ) -> RequestSpec:
        body: dict[str, Any] = {
            "landmarks": _jsonable(landmarks),
            "fps": fps,
            "width": width,
            "height": height,
            "view": view,
        }
        if mirrored:
            body["mirrored"] = True
        if t_s is not None:
            body["t_s"] = _jsonable(t_s)
        if world is not None:
            body["world"] = _jsonable(world)
        return RequestSpec("POST", "/v1/score/keypoints", json=body)

    def _poll_delay(self, response: httpx.Response, override: float | None) -> float:
        """Seconds until the next poll: the caller's interval, else the client's, else the
        server's Retry-After on the job (capped), else the default."""
        interval = override
        if interval is None:
            interval = self.poll_interval
        if interval is not None:
            return interval
        retry_after = parse_retry_after(response.headers)
        if retry_after is None:
            return c.DEFAULT_POLL_INTERVAL
        return min(retry_after, c.MAX_RETRY_AFTER)


def check_interval(seconds: float | None) -> float | None:
    if seconds is not None and not seconds >= 0:
        raise ValueError("poll_interval must be >= 0")
    return seconds


def _segment(job_id: str) -> str:
    """Refuse ids that would change the path (e.g. "../keys"): ids are opaque tokens."""
    if not job_id or any(ch in job_id for ch in "/?#%") or job_id in (".", ".."):
        raise ValueError(f"invalid job id: {job_id!r}")
    return job_id
