"""PoseEngine: the composite "solution" — video file in, Keypoints out.

Owns the detector, the landmark model and a tracker; ``process_video`` streams
frames from a background decoder thread (decoding overlaps inference) through
the tracker and assembles the (T, 33, 5) contract. One engine processes one
video at a time; ``reset()`` clears the tracking state (process_video calls it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.config import Settings, get_settings
from service.errors import NoPersonError
from service.pipeline import video
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import NUM_LANDMARKS
from service.pipeline.pose.detector import PoseDetector
from service.pipeline.pose.landmark import LandmarkModel
from service.pipeline.pose.models import (
    DETECTOR,
    LANDMARK_MODELS,
    load_session,
    models_fingerprint,
)
from service.pipeline.pose.tracking import PoseTracker

# Bump when a change to pre/post-processing changes the output (cache keys use it).
ENGINE_VERSION = "1"
# MediaPipe's legacy video API stamps frames 1/30 s apart whatever the real rate;
# its smoothing (and so the reference landmarks) follows that clock.
MEDIAPIPE_FRAME_STEP_S = 1.0 / 30.0


class ProcessingStoppedError(Exception):
    """``should_stop()`` returned True; the video was not finished."""


@dataclass(slots=True)
class PoseStats:
    frames: int = 0
    detector_runs: int = 0
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class PoseEngine:
    def __init__(
        self,
        detector: PoseDetector,
        landmark_model: LandmarkModel,
        *,
        settings: Settings,
        smooth: bool = True,
        smoothing_step_s: float | None = MEDIAPIPE_FRAME_STEP_S,
    ) -> None:
        self.settings = settings
        self.tracker = PoseTracker(detector, landmark_model, smooth=smooth)
        self.smoothing_step_s = smoothing_step_s
        self.last_stats = PoseStats()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PoseEngine:
        settings = settings or get_settings()
        detector = PoseDetector(load_session(DETECTOR, settings))
        landmark = LandmarkModel(load_session(LANDMARK_MODELS[settings.landmark_model], settings))
        return cls(detector, landmark, settings=settings)

    @property
    def version(self) -> str:
        """Engine + model identity, for results and caches."""
        return f"blazepose-full/{ENGINE_VERSION}/{models_fingerprint(self.settings)}"

    def reset(self) -> None:
        self.tracker.reset()

    def process_video(
        self,
        path: str | Path,
        *,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Keypoints:
        """Run pose on every frame; raise VideoError/NoPersonError/ProcessingStoppedError."""
        s = self.settings
        info = video.probe(path, max_duration_s=s.max_duration_s, max_pixels=s.max_pixels)
        self.reset()
        started = time.perf_counter()
        landmarks: list[np.ndarray] = []
        world: list[np.ndarray] = []
        t_s: list[float] = []
        stats = PoseStats()
        expected = max(info.frame_count, 1)
        next_report = 0.0
        frames = video.decode(info, max_duration_s=s.max_duration_s)
        with video.FramePrefetcher(frames) as prefetched:
            for frame in prefetched:
                if should_stop is not None and should_stop():
                    raise ProcessingStoppedError(f"stopped after {frame.index} frames")
                clock = frame.t_s if self.smoothing_step_s is None else (
                    frame.index * self.smoothing_step_s
                )
                pose = self.tracker(frame.image, clock)
                if pose is None:
                    landmarks.append(np.full((NUM_LANDMARKS, 5), np.nan, np.float32))
                    world.append(np.full((NUM_LANDMARKS, 3), np.nan, np.float32))
                else:
                    landmarks.append(pose.landmarks.astype(np.float32))
                    world.append(pose.world.astype(np.float32))
                    stats.detector_runs += int(pose.detected_now)
                t_s.append(frame.t_s)
                done = min(1.0, (frame.index + 1) / expected)
                if progress is not None and done >= next_report:
                    progress(done)
                    next_report = done + 0.01
        stats.frames = len(landmarks)
        stats.seconds = time.perf_counter() - started
        self.last_stats = stats
        lm = np.stack(landmarks)
        detected = np.isfinite(lm[:, :, 0]).all(axis=1)
        if not detected.any():
            raise NoPersonError(f"no person found in any of the {len(lm)} frames")
        if progress is not None:
            progress(1.0)
        return Keypoints.build(
            lm,
            fps=info.fps,
            width=info.width,
            height=info.height,
            world=np.stack(world),
            detected=detected,
            t_s=np.array(t_s),
        )
