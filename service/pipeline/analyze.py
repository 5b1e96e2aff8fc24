"""analyze_video(path) → result JSON: pose (PoseEngine) then scoring. The story of the system.

One PoseEngine per process (model sessions are expensive to build), shared by
the worker's job threads without a lock: its per-video state (tracker, filters,
decoder) is local to each ``process_video`` call and ONNX Runtime sessions are
thread-safe. So ``--concurrency N`` runs N videos at once, and with landmark
batching (on with cuda) their landmark calls share batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.config import get_settings
from service.errors import Canceled
from service.pipeline.pose import PoseEngine, ProcessingStoppedError
from service.pipeline.scoring import score_keypoints

_build_lock = threading.Lock()  # only so two first jobs don't both build the engine
_engine: PoseEngine | None = None


def _get_engine() -> PoseEngine:
    global _engine  # noqa: PLW0603 - the process-wide engine, built on first use
    with _build_lock:
        if _engine is None:
            _engine = PoseEngine.from_settings(get_settings())
        return _engine


def analyze_video(
    path: Path,
    *,
    view: str = "auto",
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The result JSON for one video; raises KneecaveError subclasses (Canceled when
    ``should_stop()`` turned True)."""
    engine = _get_engine()
    try:
        kp = engine.process_video(path, progress=progress, should_stop=should_stop)
    except ProcessingStoppedError as exc:
        raise Canceled(str(exc)) from exc
    pose_model = engine.version
    result = score_keypoints(kp, view=view, pose_model=pose_model)  # type: ignore[arg-type]
    return result.model_dump(mode="json")
