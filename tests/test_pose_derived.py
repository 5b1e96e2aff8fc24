"""Our pose engine on hard clips derived from the shared ones, judged against where the
person really was (tests/derived.py: the source clip's reference, transformed).

Same bars as the shared clips: leg landmarks within a median 2% and a 95th
percentile 5% of the torso, and the same frames found ≥ 97% of the time.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from service.config import Settings
from service.pipeline.keypoints import Keypoints
from service.pipeline.pose import PoseEngine
from service.pipeline.scoring import score_keypoints
from tests.clips import manifest, reference_path
from tests.derived import Derivation, build, derivations, doubled_rate
from tests.pose_cache import pose_keypoints
from tests.test_pose_reference import (
    MAX_MEDIAN_LEG_ERROR,
    MAX_P95_LEG_ERROR,
    MIN_DETECTION_AGREEMENT,
    leg_errors,
)

# Plates side on cover the face and the torso: BlazePose's detector keys on the face and its
# landmark model cannot place the hips behind the plate. MediaPipe 0.10.14 on the same clip:
# median 0.23 torso, 72% of frames found; ours 0.09 and 84% (docs/pose.md). Strict: a pass
# here must be noticed.
BEYOND_THE_MODEL = {
    "barbell_plates_side": "plates hide the face and torso side on (landmark model limit)",
}


@cache
def _engine() -> PoseEngine:
    return PoseEngine.from_settings(Settings(device="cpu"))


def _params() -> list[object]:
    return [
        pytest.param(
            d,
            id=d.name,
            marks=pytest.mark.xfail(reason=BEYOND_THE_MODEL[d.name], strict=True)
            if d.name in BEYOND_THE_MODEL
            else (),
        )
        for d in derivations()
    ]


@pytest.mark.slow
@pytest.mark.parametrize("derivation", _params())
def test_derived_clip_keeps_the_person(derivation: Derivation) -> None:
    clip, truth = build(derivation)
    ours: Keypoints = _engine().process_video(clip)
    assert ours.frames == truth.frames
    assert (ours.width, ours.height) == (truth.width, truth.height)
    agreement = float((ours.detected == truth.detected).mean())
    assert agreement >= MIN_DETECTION_AGREEMENT, f"detection agreement {agreement:.3f}"
    err = leg_errors(ours, truth)
    assert float(np.median(err)) <= MAX_MEDIAN_LEG_ERROR, derivation.why
    assert float(np.percentile(err, 95)) <= MAX_P95_LEG_ERROR, derivation.why


FLAG = {"mild", "moderate", "severe"}


@pytest.mark.slow
def test_sixty_fps_clip_is_analysed_at_thirty() -> None:
    """A 60 fps phone clip costs what a 30 fps one does, and reads the same."""
    source = "front_valgus_then_correct"
    ref = Keypoints.load(reference_path(source))
    ours = _engine().process_video(doubled_rate(source))
    assert ours.frames == ref.frames
    assert ours.fps == pytest.approx(ref.fps, rel=1e-3)
    np.testing.assert_allclose(ours.t_s, ref.t_s, atol=0.02)
    err = leg_errors(ours, ref)
    assert float(np.median(err)) <= MAX_MEDIAN_LEG_ERROR
    assert float(np.percentile(err, 95)) <= MAX_P95_LEG_ERROR
    fast, plain = score_keypoints(ours), score_keypoints(pose_keypoints(source))
    assert fast.rep_count == plain.rep_count == manifest()[source]["reps"]["count"]
    assert fast.view == plain.view
    flags = [
        [(r.knee_cave.left.severity in FLAG, r.knee_cave.right.severity in FLAG) for r in res.reps]
        for res in (fast, plain)
    ]
    assert flags[0] == flags[1]
