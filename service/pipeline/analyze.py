"""VideoAnalyzer: video → result JSON, pose (PoseEngine) then scoring. The story of the system.

Built from the Settings its owner was given and nothing else: ``load`` builds the
ONNX sessions, ``warmup`` runs each model once, then it analyses videos. One per
process (sessions are expensive), shared by the worker's job threads without a
lock: per-video state (tracker, filters, decoder) is local to each call and ONNX
Runtime sessions are thread-safe. So ``--concurrency N`` runs N videos at once,
and with landmark batching (on with cuda) their landmark calls share batches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import Canceled
from service.pipeline import video
from service.pipeline.keypoints import Keypoints
from service.pipeline.pose import PoseEngine, ProcessingStoppedError
from service.pipeline.pose.engine import PoseStats
from service.pipeline.scoring import score_keypoints


class VideoAnalyzer:
    def __init__(self, engine: PoseEngine) -> None:
        self.engine = engine
        self.settings = engine.settings

    @classmethod
    def load(cls, settings: Settings) -> VideoAnalyzer:
        """Build the model sessions; ModelError if a model is missing, corrupt or the
        device unusable."""
        return cls(PoseEngine.from_settings(settings))

    def warmup(self) -> None:
        """Run each model once (ModelError if it cannot run): the analyzer is ready after."""
        self.engine.warmup()

    def close(self) -> None:
        self.engine.close()

    def analysed_frames(self, path: Path) -> int:
        """Frames the pose engine will analyse (after decimation to ``analysis_fps``),
        from the container's metadata; raises VideoError like the analysis would."""
        s = self.settings
        info = video.probe(
            path,
            max_duration_s=s.max_duration_s,
            max_pixels=s.max_pixels,
            max_frames=s.max_frames,
            max_decode_pixels=s.max_decode_pixels,
        )
        frames = info.frame_count or round(info.duration_s * info.fps)
        return math.ceil(frames / video.analysis_stride(info.fps, s.analysis_fps))

    def __call__(
        self,
        path: Path,
        *,
        view: str = "auto",
        mirrored: bool = False,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_keypoints: Callable[[Keypoints], None] | None = None,
    ) -> dict[str, Any]:
        """The result JSON for one video; raises KneecaveError subclasses (Canceled when
        ``should_stop()`` turned True, ModelError when inference itself failed).
        ``on_keypoints`` is handed the keypoints the result is scored from, in the picture
        as uploaded. ``mirrored``: the video is mirror-image (a selfie preview saved as
        shown), so every side is relabelled to be the person's own and the score is taken
        on the picture flipped back."""
        engine, stats, start = self.engine, PoseStats(), time.perf_counter()
        try:
            kp = engine.process_video(path, progress=progress, should_stop=should_stop, stats=stats)
        except ProcessingStoppedError as exc:
            raise Canceled(str(exc)) from exc
        if on_keypoints is not None:
            on_keypoints(kp.sides_swapped() if mirrored else kp)
        scoring = time.perf_counter()
        result = score_keypoints(
            kp.unmirrored() if mirrored else kp,
            view=view,  # type: ignore[arg-type]
            pose_model=engine.version,
        )
        done = time.perf_counter()
        # Added to the scorer's own keys (kept as they were): the stages of the whole video.
        result.timings.update(
            {
                "decode_ms": round(stats.decode_s * 1e3, 2),
                "pose_ms": round(stats.pose_s * 1e3, 2),
                "score_ms": round((done - scoring) * 1e3, 2),
                "analysis_ms": round((done - start) * 1e3, 2),
            }
        )
        return result.model_dump(mode="json")
