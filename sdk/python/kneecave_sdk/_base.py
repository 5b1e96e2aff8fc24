"""What the sync and async clients share: configuration, request building for every endpoint,
upload re-opening and response parsing. Client and AsyncClient only differ in send and sleep."""

from __future__ import annotations

import io
import mimetypes
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from kneecave_sdk import _constants as c
from kneecave_sdk._exceptions import JobFailedError, KneecaveError, error_from_response
from kneecave_sdk._retry import parse_retry_after
from kneecave_sdk.types import Job, JobList

__version__ = "0.1.0"

VideoInput = str | os.PathLike[str] | bytes | IO[bytes]


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


def parse_job(response: httpx.Response) -> Job:
    return Job.model_validate(raise_for_status(response).json())


def parse_job_list(response: httpx.Response) -> JobList:
    return JobList.model_validate(raise_for_status(response).json())


def parse_dict(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = raise_for_status(response).json()
    return body


def finished(job: Job, raise_on_failure: bool) -> Job:
    if job.status == "failed" and raise_on_failure:
        raise JobFailedError(job)
    return job


def _tolist(value: Any) -> Any:
    # numpy arrays (or anything array-like) without importing numpy here.
    return value.tolist() if hasattr(value, "tolist") else value


class BaseClient:
    """Configuration and per-endpoint request specs, shared by Client and AsyncClient."""

    def __init__(self, api_key: str | None, base_url: str | None, max_retries: int) -> None:
        api_key = api_key or os.environ.get(c.API_KEY_ENV)
        if not api_key:
            raise KneecaveError(f"no API key: pass api_key= or set {c.API_KEY_ENV}")
        self.api_key = api_key
        self.base_url = (base_url or os.environ.get(c.BASE_URL_ENV) or c.DEFAULT_BASE_URL).rstrip(
            "/"
        )
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries

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
    ) -> RequestSpec:
        data = {"view": view}
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
    def _get_job_spec(job_id: str) -> RequestSpec:
        return RequestSpec("GET", f"/v1/jobs/{_segment(job_id)}")

    @staticmethod
    def _list_jobs_spec(limit: int | None, cursor: str | None) -> RequestSpec:
        params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
        return RequestSpec("GET", "/v1/jobs", params=params or None)

    @staticmethod
    def _cancel_job_spec(job_id: str) -> RequestSpec:
        return RequestSpec("POST", f"/v1/jobs/{_segment(job_id)}/cancel")

    @staticmethod
    def _delete_job_spec(job_id: str) -> RequestSpec:
        return RequestSpec("DELETE", f"/v1/jobs/{_segment(job_id)}")

    @staticmethod
    def _webhook_secret_spec() -> RequestSpec:
        return RequestSpec("GET", "/v1/webhook-secret")

    @staticmethod
    def _score_keypoints_spec(
        landmarks: Sequence[Any] | Any,
        *,
        fps: float,
        width: int,
        height: int,
        view: str,
        t_s: Sequence[float] | Any | None,
        extra: Mapping[str, Any] | None,
    ) -> RequestSpec:
        body: dict[str, Any] = {
            "landmarks": _tolist(landmarks),
            "fps": fps,
            "width": width,
            "height": height,
            "view": view,
        }
        if t_s is not None:
            body["t_s"] = _tolist(t_s)
        body.update(extra or {})
        return RequestSpec("POST", "/v1/score/keypoints", json=body)


def _segment(job_id: str) -> str:
    """Refuse ids that would change the path (e.g. "../keys"): ids are opaque tokens."""
    if not job_id or any(ch in job_id for ch in "/?#%") or job_id in (".", ".."):
        raise ValueError(f"invalid job id: {job_id!r}")
    return job_id
