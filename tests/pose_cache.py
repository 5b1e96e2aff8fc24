"""Our pose output per shared clip, computed once and cached in tests/.cache (git-ignored).

``pose_keypoints(clip_id)`` runs the real PoseEngine on the clip the first time
and saves the Keypoints to ``tests/.cache/<clip_id>-<key>.npz``, where the key
hashes the model files' manifest sha256s and the engine version, so that any
change to the models or to the pipeline recomputes it. Other test modules (the
scorer's) use it to get real pose output cheaply.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import cache
from pathlib import Path

from service.config import Settings
from service.pipeline.keypoints import Keypoints
from service.pipeline.pose import ENGINE_VERSION, PoseEngine
from service.pipeline.pose.models import models_fingerprint
from tests.clips import REPO, clip_path

CACHE_DIR = REPO / "tests" / ".cache"
_lock = threading.Lock()


DEFAULT_RATE = 30.0


def _settings(analysis_fps: float = DEFAULT_RATE) -> Settings:
    # Cached output must not depend on the environment's device or pose options.
    return Settings(
        device="cpu",
        pose_smoothing=True,
        pose_smoothing_clock="mediapipe",
        analysis_fps=analysis_fps,
    )


def cache_key(analysis_fps: float = DEFAULT_RATE) -> str:
    raw = f"{models_fingerprint(_settings())}:{ENGINE_VERSION}"
    if analysis_fps != DEFAULT_RATE:
        raw += f":{analysis_fps:g}fps"
    return hashlib.sha256(raw.encode()).hexdigest()[:10]


def cache_path(clip_id: str, analysis_fps: float = DEFAULT_RATE) -> Path:
    return CACHE_DIR / f"{clip_id}-{cache_key(analysis_fps)}.npz"


@cache
def _engine(analysis_fps: float) -> PoseEngine:
    return PoseEngine.from_settings(_settings(analysis_fps))


def pose_keypoints(clip_id: str, analysis_fps: float = DEFAULT_RATE) -> Keypoints:
    """Our Keypoints for a shared clip (computed on first use, then read from the cache)."""
    path = cache_path(clip_id, analysis_fps)
    if path.exists():
        return Keypoints.load(path)
    with _lock:  # one engine, one video at a time
        if path.exists():
            return Keypoints.load(path)
        keypoints = _engine(analysis_fps).process_video(clip_path(clip_id))
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            keypoints.save(fh)
        tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return keypoints
