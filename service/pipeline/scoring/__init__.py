"""Knee-cave and ankle scoring: keypoints (T, 33, 5) -> per-rep result.

``score_keypoints(kp, view="auto")`` is the one entry point; the result models
live in ``schema``. Method and thresholds: docs/scoring.md.
"""

from service.pipeline.scoring.schema import ScoreResult
from service.pipeline.scoring.score import score_keypoints
from service.pipeline.scoring.version import SCORER_VERSION

__all__ = ["SCORER_VERSION", "ScoreResult", "score_keypoints"]
