"""Our pose output against MediaPipe 0.10.14's on every clip with a reference.

The bar (issues 3 and 12): leg landmarks (23–32) within a median 2% and a 95th
percentile 5% of the torso length (shoulder midpoint to hip midpoint, from the
reference, per frame) on frames where both found the person, and the same
frames detected ≥ 97% of the time.
Our output comes from tests/pose_cache.py, so each clip runs once per
model/engine version.
"""

from __future__ import annotations

import numpy as np
import pytest

from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_HIP, L_SHOULDER, LEG, R_HIP, R_SHOULDER
from tests.clips import clips_with_reference, reference_path
from tests.pose_cache import pose_keypoints

MAX_MEDIAN_LEG_ERROR = 0.02  # × torso length
MAX_P95_LEG_ERROR = 0.05
MIN_DETECTION_AGREEMENT = 0.97


def leg_errors(ours: Keypoints, ref: Keypoints) -> np.ndarray:
    """Per (frame, leg landmark) pixel distance ÷ the reference torso length, both detected."""
    both = ours.detected & ref.detected
    r = ref.landmarks[both]
    torso = np.linalg.norm(
        (r[:, L_SHOULDER, :2] + r[:, R_SHOULDER, :2]) / 2 - (r[:, L_HIP, :2] + r[:, R_HIP, :2]) / 2,
        axis=1,
    )
    legs = list(LEG)
    dist = np.linalg.norm(ours.landmarks[both][:, legs, :2] - r[:, legs, :2], axis=2)
    return np.asarray(dist / torso[:, None])


# A 45 cm plate held side on hides the lifter's torso: the landmark model cannot place
# the hips, and neither skeleton is right there (docs/pose.md, "Where it fails"). Checked
# by eye on frame 50: the near knee is at ~(345, 495) px, MediaPipe puts it at ~(320, 400)
# and we at (332, 470); MediaPipe's references for the H.264 and VP9 encodes differ from
# each other by a median 0.051 torso. Not a tracking fault: the ROI check keeps the crop
# on the lifter, the model inside it fails. Strict: a pass here must be noticed.
UNSTABLE_REFERENCE = {
    "side_plate_squat_3reps": "plate hides the torso side on: landmark model limit",
    "side_plate_squat_3reps_vp9": "plate hides the torso side on: landmark model limit",
}


def _clip_params() -> list[object]:
    return [
        pytest.param(
            c,
            marks=pytest.mark.xfail(reason=UNSTABLE_REFERENCE[c], strict=True)
            if c in UNSTABLE_REFERENCE
            else (),
        )
        for c in clips_with_reference()
    ]


def test_unstable_reference_claim_holds() -> None:
    # The evidence behind UNSTABLE_REFERENCE, recomputed from the two references.
    a = Keypoints.load(reference_path("side_plate_squat_3reps"))
    b = Keypoints.load(reference_path("side_plate_squat_3reps_vp9"))
    n = min(a.frames, b.frames)
    cut = Keypoints.build(a.landmarks[:n], fps=a.fps, width=a.width, height=a.height)
    other = Keypoints.build(b.landmarks[:n], fps=b.fps, width=b.width, height=b.height)
    assert float(np.median(leg_errors(other, cut))) > 2 * MAX_MEDIAN_LEG_ERROR


def test_reference_set_is_complete() -> None:
    assert len(clips_with_reference()) >= 22


@pytest.mark.slow
@pytest.mark.parametrize("clip_id", _clip_params())
def test_matches_mediapipe(clip_id: str) -> None:
    ref = Keypoints.load(reference_path(clip_id))
    ours = pose_keypoints(clip_id)
    assert ours.frames == ref.frames
    assert (ours.width, ours.height) == (ref.width, ref.height)
    assert ours.fps == pytest.approx(ref.fps, rel=1e-3)
    agreement = float((ours.detected == ref.detected).mean())
    assert agreement >= MIN_DETECTION_AGREEMENT, f"detection agreement {agreement:.3f}"
    err = leg_errors(ours, ref)
    assert err.size, "no frame where both found the person"
    median = float(np.median(err))
    assert median <= MAX_MEDIAN_LEG_ERROR, f"median leg error {median:.4f} torso lengths"
    p95 = float(np.percentile(err, 95))
    assert p95 <= MAX_P95_LEG_ERROR, f"95th percentile leg error {p95:.4f} torso lengths"
