"""Feet cut off by the frame: a rep that needs them is left ungraded, never guessed.

A pose model extrapolates the landmarks of a body part outside the picture from the
rest of the body, and MediaPipe reports them with visibility ~0.9. Knee cave is the
knee against the plane of its foot; with the foot unseen the verdict would be a
guess (before the rule, the goblet clip below with its feet cropped read every
knee 0.1-0.26 leg *outside* the foot, against 0.01-0.08 on the whole picture).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from service.config import Settings
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_HIP, L_TOE, LEG, R_TOE
from service.pipeline.pose import PoseEngine
from service.pipeline.scoring import score_keypoints
from service.pipeline.scoring.cleanup import clean
from tests.clips import manifest
from tests.derived import build, feet_cropped
from tests.harness.body3d import Squat, Subject, parametric
from tests.harness.camera import Camera
from tests.harness.landmarks import Noise, keypoints
from tests.test_pose_reference import MIN_DETECTION_AGREEMENT

FEET_UNSEEN = "hips, knees or feet not visible in the deep part of the rep"


def _feet_cut(kp: Keypoints, keep: float) -> Keypoints:
    """The same landmarks in a frame whose bottom edge is at ``keep`` of the toes' height."""
    toes_y = float(np.nanmin(kp.landmarks[:, [L_TOE, R_TOE], 1]))
    hip_y = float(np.nanmax(kp.landmarks[:, L_HIP, 1]))
    return replace(kp, height=round(hip_y + keep * (toes_y - hip_y)))


@pytest.fixture(scope="module")
def caving_set() -> Keypoints:
    squat = Squat(reps=4, knee_dev=(0.17, 0.17), toe_out_deg=(15.0, 15.0))
    return keypoints(parametric(Subject(), squat, 30.0), Camera(), Noise.nominal(), 7)


def test_points_outside_the_picture_are_not_observed(caving_set: Keypoints) -> None:
    cut = _feet_cut(caving_set, 0.95)
    c = clean(cut)
    toes = cut.landmarks[:, [L_TOE, R_TOE], 1]
    assert (toes >= cut.height).all()  # the toes are below the bottom edge in every frame...
    assert not c.valid[[L_TOE, R_TOE]].any()  # ... so never observed
    assert c.valid[L_HIP].all()
    whole = clean(caving_set)
    assert whole.valid[list(LEG)].all()


def test_feet_cut_off_leave_knee_cave_ungraded_with_a_reason(caving_set: Keypoints) -> None:
    whole = score_keypoints(caving_set)
    assert whole.rep_count == 4
    assert all(r.knee_cave.severity == "moderate" for r in whole.reps)

    cut = score_keypoints(_feet_cut(caving_set, 0.95))
    assert cut.rep_count == 4  # the hips and knees still count the reps
    for rep in cut.reps:
        assert rep.knee_cave.score is None
        assert rep.knee_cave.severity is None
        assert rep.knee_cave.reason == FEET_UNSEEN
        assert rep.ankle.score is None
        assert rep.ankle.reason == "feet not visible in this rep"
    assert cut.summary.knee_cave.severity is None


def test_a_toe_inside_the_picture_for_a_few_frames_is_not_a_foot(caving_set: Keypoints) -> None:
    """Toes just inside the edge in a handful of frames (the model's guess at the border,
    as on the cropped goblet clip) give no foot direction; seen in most frames, they do."""
    cut = _feet_cut(caving_set, 0.95)
    lm = cut.landmarks.copy()
    few = np.arange(0, lm.shape[0], 12)  # ~8% of the frames
    lm[few[:, None], [L_TOE, R_TOE], 1] = cut.height - 1.0
    res = score_keypoints(replace(cut, landmarks=lm))
    assert all(r.knee_cave.severity is None for r in res.reps)

    lm2 = caving_set.landmarks.copy()
    lm2[few[:, None], [L_TOE, R_TOE], 1] = caving_set.height + 50.0  # out in a few frames
    res2 = score_keypoints(replace(caving_set, landmarks=lm2))
    assert all(r.knee_cave.severity == "moderate" for r in res2.reps)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("front_goblet_counter20", FEET_UNSEEN),
        (
            "side_bodyweight_squat_3reps_walkoff",
            "side view: knee cave needs a front or oblique view",
        ),
    ],
)
def test_real_clip_with_the_feet_cropped_is_not_guessed(source: str, reason: str) -> None:
    """A shared clip with the bottom 12% of the picture cut (the toes out of frame, the
    ankles just in) through the pose engine: the person is still found where the source's
    reference has them, the reps still count, and no knee is graded."""
    clip, truth = build(feet_cropped(source))
    kp = PoseEngine.from_settings(Settings(device="cpu")).process_video(clip)
    assert float((kp.detected == truth.detected).mean()) >= MIN_DETECTION_AGREEMENT
    res = score_keypoints(kp)
    assert res.rep_count == manifest()[source]["reps"]["count"]
    assert res.view == manifest()[source]["view"]
    assert all(r.knee_cave.severity is None for r in res.reps), [
        (r.index, r.knee_cave.left) for r in res.reps if r.knee_cave.severity is not None
    ]
    assert all(r.knee_cave.reason == reason for r in res.reps)
