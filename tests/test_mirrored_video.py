"""A mirrored video (a front camera's selfie clip) reads as the same squat with sides swapped.

The pose model is not mirror-symmetric, so the swapped deviations are not equal: on the
ten front clips with a reference they move by a median 0.012 and at most 0.040 leg
(benchmarks/mirror.py, 2026-11-30, scorer 2.3.0), and 2 of 100 sides change band where
they sit near an edge (front_overhead_squat_mild_right_valgus_7037's labelled right knee:
0.092 mild, 0.074 none on the mirror image). What must hold is that each move stays
within the deviation's own stated uncertainty: at most 1.01 of the two sides' combined
sd there. A pipeline that mixed up the sides or the medial direction on mirrored footage moves
a caving knee by twice its deviation, many sds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from service.config import Settings
from service.pipeline.analyze import VideoAnalyzer
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_KNEE, R_KNEE
from service.pipeline.pose import PoseEngine
from service.pipeline.scoring import score_keypoints
from service.pipeline.scoring.schema import KneeSide, ScoreResult
from tests.derived import build, mirrored
from tests.pose_cache import pose_keypoints

# Two combined sds: the pose model's own mirror asymmetry reaches about one.
MAX_SDS = 2.0


@dataclass(frozen=True)
class SideMove:
    rep: int
    side: str  # on the original
    original: KneeSide
    mirror: KneeSide  # the other side on the mirror image (the same, scored as mirrored)

    @property
    def moved(self) -> float:
        assert self.original.deviation_leg is not None
        assert self.mirror.deviation_leg is not None
        return self.mirror.deviation_leg - self.original.deviation_leg

    @property
    def sds(self) -> float:
        sd = math.hypot(self.original.deviation_sd_leg or 0.0, self.mirror.deviation_sd_leg or 0.0)
        return abs(self.moved) / sd if sd else math.inf


def side_moves(original: ScoreResult, mirror: ScoreResult, *, swap: bool = True) -> list[SideMove]:
    """Each graded side of the original against the other side on the mirror image (the
    same side where ``swap`` is false: a mirror image scored as such)."""
    out = []
    pairs = (
        (("left", "right"), ("right", "left")) if swap else (("left", "left"), ("right", "right"))
    )
    for a, b in zip(original.reps, mirror.reps, strict=True):
        for side, other in pairs:
            x, y = getattr(a.knee_cave, side), getattr(b.knee_cave, other)
            if x is not None and y is not None and None not in (x.deviation_leg, y.deviation_leg):
                out.append(SideMove(a.index, side, x, y))
    return out


@pytest.mark.slow
def test_a_video_said_to_be_mirrored_is_reported_on_the_persons_sides() -> None:
    """7037's right knee caves (labelled mild). Its mirror image, uploaded with
    ``mirrored``, must put that knee on the right again; the overlay's points stay where
    the picture shows them, named for the person's sides."""
    clip = "front_overhead_squat_mild_right_valgus_7037"
    original = score_keypoints(pose_keypoints(clip))
    path, _truth = build(mirrored(clip))
    analyze = VideoAnalyzer(PoseEngine.from_settings(Settings(device="cpu")))
    seen: list[Keypoints] = []
    told = ScoreResult.model_validate(analyze(path, mirrored=True, on_keypoints=seen.append))
    plain = ScoreResult.model_validate(analyze(path))
    assert all(res.rep_count == 1 for res in (original, told, plain))
    # Told it is mirrored: each side reads as on the original (within the pose model's own
    # mirror asymmetry); not told, the sides come out swapped.
    kept = side_moves(original, told, swap=False)
    assert kept
    assert max(m.sds for m in kept) <= MAX_SDS
    assert max(m.sds for m in side_moves(original, plain, swap=False)) > MAX_SDS
    # The overlay keeps the picture's positions with the person's names: the person's left
    # knee is on the picture's left (a facing person's left is on the camera's right).
    (kp,) = seen
    assert np.nanmedian(kp.landmarks[:, L_KNEE, 0] - kp.landmarks[:, R_KNEE, 0]) < 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip", ["front_valgus_then_correct", "front_overhead_squat_mild_right_valgus_7037"]
)
def test_mirrored_clip_reads_the_same_squat_sides_swapped(clip: str) -> None:
    original = score_keypoints(pose_keypoints(clip))
    path, _truth = build(mirrored(clip))
    mirror = score_keypoints(PoseEngine.from_settings(Settings(device="cpu")).process_video(path))
    assert (mirror.rep_count, mirror.view) == (original.rep_count, original.view)
    assert [r.view for r in mirror.reps] == [r.view for r in original.reps]
    moves = side_moves(original, mirror)
    assert len(moves) == 2 * original.rep_count  # every side graded on both
    worst = max(moves, key=lambda m: m.sds)
    assert worst.sds <= MAX_SDS, worst
