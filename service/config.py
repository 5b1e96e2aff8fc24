"""Settings from the environment (prefix KNEECAVE_), one object for the whole process."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_DIR = Path(__file__).resolve().parent.parent
REPO_MODELS_DIR = REPO_DIR / "models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KNEECAVE_", extra="ignore")

    # Where the SQLite job db and the local blob dir live.
    data_dir: Path = Path(".kneecave")
    # "sqlite" (embedded, default) or a redis:// URL shared by API and workers.
    queue: str = "sqlite"

    # Inference
    models_dir: Path = REPO_MODELS_DIR
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(0, ge=0, description="ONNX Runtime intra-op threads; 0 = all cores")
    landmark_model: Literal["full"] = "full"
    batch_size: int = Field(8, ge=1, le=256, description="frames per landmark-model batch")
    # Cross-job batching of landmark calls (PoseEngine used by several threads, i.e. a
    # worker with --concurrency > 1): "auto" = on with cuda, off on the cpu, where a
    # batch costs as much as its frames one by one (docs/pose.md, GPU).
    landmark_batching: Literal["auto", "on", "off"] = "auto"
    batch_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="longest wait for other jobs' frames; 0 = none"
    )
    # Pose smoothing (MediaPipe's video-mode filters). "mediapipe" runs the One Euro
    # filters on MediaPipe's legacy clock (frames 1/30 s apart whatever the real rate),
    # which is what the reference landmarks used; "video" uses the container timestamps.
    pose_smoothing: bool = True
    pose_smoothing_clock: Literal["mediapipe", "video"] = "mediapipe"
    # Frame rate the pose engine analyses at: faster video (60 fps, 120/240 fps slow
    # motion) keeps every n-th frame, timestamps kept; 0 analyses every frame.
    analysis_fps: float = Field(30.0, ge=0, le=240)

    # Input limits
    max_upload_bytes: int = Field(200 * 1024 * 1024, ge=1)
    # POST /v1/score/keypoints: ~1.3 KB of JSON per frame, so 32 MiB holds the 18,000
    # frames of a 5-minute clip at 60 fps; at most this many bodies are parsed at once.
    max_keypoints_bytes: int = Field(32 * 1024 * 1024, ge=1)
    keypoints_concurrency: int = Field(2, ge=1)
    # A body that sends nothing for this long is dropped (408) and its partial file removed.
    upload_idle_timeout_s: float = Field(30.0, gt=0)
    max_duration_s: float = Field(300.0, gt=0)
    max_pixels: int = Field(3840 * 2160, ge=1)
    # What a job may decode, whatever its duration says: 5 minutes at 240 fps, and
    # frames x pixels of 5 minutes of 4K at 60 fps (= 1080p at 240 fps). Slow motion is
    # accepted and analysed at analysis_fps; a 1000 fps file of tiny frames is not.
    max_frames: int = Field(300 * 240, ge=1)
    max_decode_pixels: float = Field(300 * 60 * 3840 * 2160, gt=0)

    # Server and workers
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=0, description="embedded workers started by `kneecave serve`")
    lease_s: float = Field(60.0, gt=0)
    heartbeat_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    result_retention_s: float = Field(7 * 24 * 3600.0, gt=0)
    sweep_interval_s: float = Field(60.0, gt=0)
    # A job's time limit: base + per frame × the frames analysed (after decimation to
    # analysis_fps), so heartbeats cannot keep a hung decode alive. The per-frame
    # default is ~15x the CPU rate measured (docs/performance.md): a 300 s clip gets 38 min.
    job_deadline_base_s: float = Field(60.0, gt=0)
    job_deadline_per_frame_s: float = Field(0.25, ge=0)
    # After a deadline, the time the analysis thread gets to stop; one stuck past it
    # (blocked inside a C call) makes the worker exit (status 4) to be restarted.
    stuck_grace_s: float = Field(30.0, gt=0)
    # `kneecave worker` rewrites this status file every few seconds; `kneecave worker
    # --check` reads it (k8s probes). One per container: not on a shared volume.
    worker_health_file: Path = Path(tempfile.gettempdir()) / "kneecave-worker.json"
    worker_health_stale_s: float = Field(30.0, gt=0, description="--check: max file age")
    # `kneecave worker` serves its own metrics (queue wait, stages, webhooks) on this port,
    # on all interfaces, for Prometheus; unset: none (`kneecave serve` shows them on /metrics).
    # The API replica holding this lease (renewed at each of its scrapes) exports the
    # backend-wide series; another takes over once it lapses. Longer than the scrape interval.
    metrics_lease_s: float = Field(60.0, gt=0)
    metrics_port: int | None = Field(None, ge=1, le=65535)

    # The demo page; absent in an image built without web/.
    web_dir: Path = REPO_DIR / "web"

    # Tenancy and limits (a tenant may have its own: `kneecave keys create --max-active N
    # --rate N --poll-rate N`). Submissions (uploads, keypoints, cancel, delete) and reads
    # have separate budgets, so polling never starves uploads: 1200 reads/min let one app
    # follow ~40 jobs at the 2 s Retry-After hint.
    rate_limit_per_minute: int = Field(120, ge=1, description="submissions per tenant")
    poll_rate_limit_per_minute: int = Field(1200, ge=1, description="reads per tenant")
    # Failed authentications per client address and minute before it gets 429 (behind a
    # proxy, run uvicorn with --proxy-headers so the address is the client's).
    auth_failures_per_minute: int = Field(30, ge=1)
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips: addresses or
    # "*"). Behind an ingress set it to the ingress's addresses, or every client shares the
    # proxy's address and so its failed-authentication budget.
    forwarded_allow_ips: str = "127.0.0.1"
    # Web origins whose pages may call the API from the browser (CORS), comma-separated,
    # e.g. "https://app.example.com"; empty: none (the demo page is same-origin). Only for
    # apps whose users hold their own API key: a shared key belongs on the app's backend.
    cors_origins: str = ""
    max_active_jobs_per_tenant: int = Field(8, ge=1)
    # `kneecave serve` with no real key prints a dev key (tenant "dev"), kept across
    # restarts; off in production (k8s/), which also revokes any dev key.
    dev_key: bool = True

    # Webhooks
    webhook_allow_private: bool = False
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 5

    # Service internals (jobs, queue, API)
    redis_prefix: str = Field("kneecave:", description="key prefix for everything kept in Redis")
    poll_s: float = Field(1.0, gt=0, description="how long a worker waits for work per claim")
    progress_interval_s: float = Field(0.5, gt=0, description="how often progress is written")
    shutdown_grace_s: float = Field(30.0, ge=0, description="SIGTERM: time to finish a job")
    retry_after_s: int = Field(2, ge=1, description="Retry-After on 202 (poll interval hint)")
    webhook_backoff_s: float = Field(1.0, ge=0)
    orphan_blob_s: float = Field(3600.0, gt=0, description="age after which a jobless blob goes")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _heartbeat_inside_lease(self) -> Settings:
        # A heartbeat slower than the lease lets another worker claim a running job.
        if self.heartbeat_s >= self.lease_s:
            raise ValueError(
                f"heartbeat_s ({self.heartbeat_s}) must be shorter than lease_s ({self.lease_s})"
            )
        return self

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kneecave.db"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
