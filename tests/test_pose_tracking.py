"""The tracker's checks on a scripted detector and landmark model (no video, no ONNX).

A person stands at a known place; the scripted landmark model answers for
whichever ROI it is given, so each check's decision can be driven directly:
a collapsed shank is dropped and held on the last good ROI, a drifted ROI is
restarted from the detection, and a detection far away (someone else) is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service.pipeline.pose.detector import PersonDetection
from service.pipeline.pose.landmark import RoiLandmarks
from service.pipeline.pose.roi import Roi
from service.pipeline.pose.tracking import (
    MIN_PRESENCE,
    PLAUSIBLE_HISTORY,
    RECHECK_SHIFT,
    SAME_PERSON_SHIFT,
    PoseTracker,
    disagrees,
)

IMAGE = np.zeros((720, 720, 3), np.uint8)
HIP = np.array([360.0, 400.0])  # the person's hip centre
HEAD = np.array([360.0, 200.0])  # the detector's "full body" point
FAR = np.array([330.0, 0.0])  # another person, beside


def _detection(hip: np.ndarray, top: np.ndarray) -> PersonDetection:
    kp = np.array([hip, top, hip, top], np.float64)
    return PersonDetection(0.9, np.array([0, 0, 720, 720], np.float64), kp)


class Detector:
    def __init__(self) -> None:
        self.people: list[tuple[np.ndarray, np.ndarray]] = [(HIP, HEAD)]
        self.calls = 0

    def __call__(self, _image: np.ndarray) -> list[PersonDetection]:
        self.calls += 1
        return [_detection(h, t) for h, t in self.people]


class Model:
    """Landmarks of a person whose hip is at the ROI centre; the shank as scripted."""

    def __init__(self) -> None:
        self.shank = 100.0
        self.presence = 1.0
        self.score = 0.99
        self.bad_rois: set[tuple[int, int]] = set()  # ROI centres that give a collapsed pose

    def __call__(self, crops: Sequence[tuple[np.ndarray, Roi]]) -> list[RoiLandmarks]:
        out = []
        for _image, roi in crops:
            centre = np.array([roi.cx, roi.cy])
            lm = np.zeros((33, 5))
            lm[:, :2] = centre
            shank = 10.0 if (round(roi.cx), round(roi.cy)) in self.bad_rois else self.shank
            lm[[25, 26], 1] = centre[1] + 100  # knees
            lm[[27, 28], 1] = centre[1] + 100 + shank  # ankles
            lm[:, 3] = 0.9
            lm[:, 4] = self.presence
            aux = np.zeros((2, 5))
            aux[0, :2] = centre
            aux[1, :2] = centre + (HEAD - HIP)
            out.append(RoiLandmarks(self.score, lm, aux, np.zeros((33, 3))))
        return out


def _tracker(detector: Detector, model: Model) -> PoseTracker:
    return PoseTracker(detector, model, smooth=False, fps=30.0)  # type: ignore[arg-type]


def _run(tracker: PoseTracker, frames: int) -> list[bool]:
    return [tracker(IMAGE, i / 30) is not None for i in range(frames)]


def test_disagreement_rule() -> None:
    tracked = Roi(360.0, 400.0, 500.0, 0.0)
    near = Roi(360.0, 400.0 + 0.5 * RECHECK_SHIFT * 500, 500.0, 0.0)
    drifted = Roi(360.0, 400.0 + 1.5 * RECHECK_SHIFT * 500, 500.0, 0.0)
    other = Roi(360.0 + 1.2 * SAME_PERSON_SHIFT * 500, 400.0, 500.0, 0.0)
    assert not disagrees(tracked, near)
    assert disagrees(tracked, drifted)
    assert not disagrees(tracked, other)  # someone else: keep tracking
    assert disagrees(tracked, Roi(360.0, 400.0, 1100.0, 0.0))  # scale jump
    assert not disagrees(tracked, Roi(360.0, 400.0, 300.0, 0.0))  # the box at a deep squat


def test_collapsed_pose_is_dropped_and_held_on_the_last_good_roi() -> None:
    det, model = Detector(), Model()
    tracker = _tracker(det, model)
    assert all(_run(tracker, PLAUSIBLE_HISTORY))
    model.shank = 10.0  # the pose folds up (slid onto an object)
    # The retry on the last good ROI folds too: dropped, not emitted.
    assert tracker(IMAGE, 10.0) is None
    assert tracker.stats.implausible >= 1
    model.shank = 100.0
    assert tracker(IMAGE, 10.1) is not None


def test_hold_recovers_a_frame_whose_crop_drifted() -> None:
    det, model = Detector(), Model()
    tracker = _tracker(det, model)
    _run(tracker, PLAUSIBLE_HISTORY)
    # This frame's crop gives a folded pose, the last good crop a sound one.
    tracker._roi = Roi(300.0, 300.0, 500.0, 0.0)
    tracker._since_check = 0  # no detector check on this frame
    model.bad_rois.add((300, 300))
    pose = tracker(IMAGE, 5.0)
    assert pose is not None
    assert tracker.stats.held == 1
    assert abs(pose.landmarks[23, 1] - HIP[1]) < 1.0  # the person, not the drifted crop


def test_low_presence_is_not_accepted() -> None:
    det, model = Detector(), Model()
    tracker = _tracker(det, model)
    model.presence = MIN_PRESENCE - 0.1
    assert not any(_run(tracker, 5))


def test_recheck_restarts_a_drifted_roi_but_not_onto_someone_else() -> None:
    det, model = Detector(), Model()
    tracker = _tracker(det, model)
    _run(tracker, 3)
    # Tracking drifted 0.2 of the ROI up the body; the detector still sees the hips.
    tracker._roi = Roi(360.0, 400.0 - 0.2 * 500, 500.0, 0.0)
    tracker._since_check = tracker.recheck_frames - 1  # the next frame is a check
    _run(tracker, 1)
    assert tracker.stats.restarts == 1
    # Now the only detection is another person, far away: tracking is kept.
    det.people = [(HIP + FAR, HEAD + FAR)]
    restarts = tracker.stats.restarts
    _run(tracker, 3 * tracker.recheck_frames)
    assert tracker.stats.restarts == restarts
    assert tracker._roi is not None
    assert abs(tracker._roi.cx - HIP[0]) < 1.0


def test_after_a_loss_the_nearest_detection_is_taken() -> None:
    det, model = Detector(), Model()
    tracker = _tracker(det, model)
    _run(tracker, 5)
    # Two people now, the other one listed first (more confident); the pose is lost.
    det.people = [(HIP + FAR, HEAD + FAR), (HIP, HEAD)]
    model.score = 0.1
    assert tracker(IMAGE, 1.0) is None
    model.score = 0.99
    assert tracker(IMAGE, 1.1) is not None
    assert tracker._roi is not None
    assert abs(tracker._roi.cx - HIP[0]) < 1.0


def test_mediapipe_loop_without_checks() -> None:
    det, model = Detector(), Model()
    tracker = PoseTracker(det, model, smooth=False, fps=30.0, checks=False)  # type: ignore[arg-type]
    _run(tracker, 40)
    assert det.calls == 1  # detect once, then track only
    assert tracker.stats.rechecks == 0
