"""Single-person tracking across frames: MediaPipe's loop, plus checks that it holds the person.

MediaPipe (pose_landmark_cpu.pbtxt) runs the detector only when there is no
ROI from the previous frame; the landmark model runs on the ROI, a pose flag at
or below the tracking threshold drops the pose (filters reset, re-detect), and
otherwise the smoothed auxiliary points give the next frame's ROI.

That loop can lock onto a wrong pose: an ROI that drifts onto something
person-like (a barbell plate over the hips, the plates around the head side
on) feeds the landmark model a crop that confirms the drift, and the pose flag
stays high. Three checks, none of which changes a frame MediaPipe tracks well
(docs/pose.md):

- *Plausible*: a pose whose hips and knees the model itself places outside its
  crop (mean presence < MIN_PRESENCE; ≥ 0.97 on every frame of the shared
  clips), or whose shank (knee to ankle, the longer side) collapses below
  MIN_SHANK_RATIO of its median over the person's last accepted frames, is
  wrong: a shank keeps most of its length in any squat from any side.
- *Hold*: a dropped pose (flag low or implausible) is retried once on the ROI
  of the last accepted frame, if that is recent; the person rarely moves far in
  HOLD_S, while a fresh detection needs the face, which plates and crops hide.
- *Recheck*: every RECHECK_S the detector also runs while tracking, and the
  detection nearest the tracked ROI (the same person, not the most confident
  one) is compared with the ROI this frame's landmarks give; when their hip
  centres lie more than RECHECK_SHIFT of the ROI apart (but less than
  SAME_PERSON_SHIFT: farther is someone else) or their sizes differ by more
  than RECHECK_SCALE, the frame is redone on the detection and tracking
  restarts from it. After a loss the detection nearest the last accepted ROI is taken.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.pipeline.landmarks import L_ANKLE, L_HIP, L_KNEE, R_ANKLE, R_HIP, R_KNEE
from service.pipeline.pose.detector import PersonDetection, PoseDetector
from service.pipeline.pose.landmark import LandmarkModel, RoiLandmarks
from service.pipeline.pose.roi import Roi, alignment_rect, roi_from_points
from service.pipeline.pose.smoothing import PoseSmoother

FloatArray = npt.NDArray[np.float64]
BGRImage = npt.NDArray[np.uint8]

RECHECK_S = 0.5
RECHECK_SHIFT = 0.15  # hip centres apart, fraction of the tracked ROI's side
RECHECK_SCALE = 2.0  # sides differ by more than this factor (a deep squat alone: up to ~1.7)
SAME_PERSON_SHIFT = 0.4  # a detection farther than this is someone else
MIN_SHANK_RATIO = 0.5
MIN_PRESENCE = 0.6
PLAUSIBLE_HISTORY = 60  # accepted frames the shank is compared with
HOLD_S = 1.0


@dataclass(frozen=True, slots=True)
class FramePose:
    landmarks: FloatArray  # (33, 5) x px, y px, z (÷ width), visibility, presence
    world: FloatArray  # (33, 3)
    score: float
    detected_now: bool  # the detector ran on this frame (not tracked)


@dataclass(slots=True)
class TrackerStats:
    rechecks: int = 0  # detector runs that checked a tracked ROI
    restarts: int = 0  # ... and replaced it
    implausible: int = 0  # poses rejected as implausible
    held: int = 0  # dropped poses recovered on the last accepted ROI


def _rois(detections: list[PersonDetection]) -> list[Roi]:
    rois = [roi_from_points(d.keypoints[0], d.keypoints[1]) for d in detections]
    return [r for r in rois if r.is_usable()]


def _nearest(rois: list[Roi], roi: Roi) -> Roi:
    return min(rois, key=lambda r: math.hypot(r.cx - roi.cx, r.cy - roi.cy))


def disagrees(tracked: Roi, detected: Roi) -> bool:
    """The same person (near), but a different hip centre or scale than tracking holds."""
    shift = math.hypot(detected.cx - tracked.cx, detected.cy - tracked.cy) / tracked.size
    if shift > SAME_PERSON_SHIFT:
        return False
    ratio = detected.size / tracked.size
    return shift > RECHECK_SHIFT or not 1 / RECHECK_SCALE <= ratio <= RECHECK_SCALE


def shank_px(landmarks: FloatArray) -> float:
    """The longer knee-to-ankle distance of a (33, ≥2) landmark array, px."""
    d = landmarks[[L_KNEE, R_KNEE], :2] - landmarks[[L_ANKLE, R_ANKLE], :2]
    lengths = np.hypot(d[:, 0], d[:, 1])
    return float(np.nanmax(lengths)) if np.isfinite(lengths).any() else math.nan


class PoseTracker:
    def __init__(
        self,
        detector: PoseDetector,
        landmark_model: LandmarkModel,
        *,
        min_tracking_confidence: float = 0.5,
        smooth: bool = True,
        fps: float = 30.0,
        checks: bool = True,
    ) -> None:
        self.detector = detector
        self.landmark_model = landmark_model
        self.min_tracking_confidence = min_tracking_confidence
        self.smoother = PoseSmoother(enabled=smooth)
        self.checks = checks  # False: MediaPipe's loop exactly
        self.recheck_frames = max(1, round(RECHECK_S * fps))
        self.hold_frames = max(1, round(HOLD_S * fps))
        self.stats = TrackerStats()
        self._roi: Roi | None = None  # next frame's tracked ROI
        self._used: Roi | None = None  # the ROI handed out for this frame
        self._good: Roi | None = None  # the last accepted frame's ROI...
        self._since_good = 0  # ... this many frames ago
        self._since_check = 0
        self._check: Roi | None = None  # this frame's detection of the tracked person
        self._detected_now = False
        self._shanks: deque[float] = deque(maxlen=PLAUSIBLE_HISTORY)

    def reset(self) -> None:
        self._roi = None
        self.smoother.reset()

    def next_roi(self, image: BGRImage) -> Roi | None:
        """The crop for this frame: tracked from the last one, else from a fresh detection."""
        self._since_good += 1
        self._detected_now = self._roi is None
        self._check = None
        roi = self._roi
        if roi is None:
            roi = self._detect(image)
        else:
            self._check = self._maybe_recheck(image, roi)
        if roi is None or not roi.is_usable():
            self.reset()
            self._used = None
            return None
        self._used = roi
        return roi

    def _detect(self, image: BGRImage) -> Roi | None:
        rois = _rois(self.detector(image))
        self._since_check = 0
        if not rois:
            return None
        if self.checks and self._good is not None and self._since_good <= self.hold_frames:
            return _nearest(rois, self._good)  # the person we had, not the most confident one
        return rois[0]

    def _maybe_recheck(self, image: BGRImage, roi: Roi) -> Roi | None:
        """Every RECHECK_S, the detection nearest the tracked ROI (None otherwise)."""
        if not (self.checks and roi.is_usable()):
            return None
        self._since_check += 1
        if self._since_check < self.recheck_frames:
            return None
        self._since_check = 0
        self.stats.rechecks += 1
        rois = _rois(self.detector(image))
        return _nearest(rois, roi) if rois else None

    def _restart(self, image: BGRImage, result: RoiLandmarks) -> tuple[RoiLandmarks, Roi] | None:
        """The pose on this frame's detection, if it and the tracked pose disagree.

        Compared on the same frame: the ROI the landmarks themselves give (not the
        one predicted from the last frame, which lags a fast squat at a low frame
        rate) against the detector's.
        """
        check = self._check
        if check is None:
            return None
        seen = roi_from_points(result.aux[0, :2], result.aux[1, :2])
        if not disagrees(seen, check):
            return None
        retry = self.landmark_model([(image, check)])[0]
        if not self._acceptable(retry):
            return None
        self.stats.restarts += 1
        self.smoother.reset()
        self._detected_now = True
        return retry, check

    def _acceptable(self, result: RoiLandmarks) -> bool:
        if not result.pose_score > self.min_tracking_confidence:
            return False
        if not self.checks:
            return True
        presence = float(np.mean(result.landmarks[[L_HIP, R_HIP, L_KNEE, R_KNEE], 4]))
        if presence < MIN_PRESENCE:
            self.stats.implausible += 1
            return False
        shank = shank_px(result.landmarks)
        history = len(self._shanks) >= PLAUSIBLE_HISTORY // 2
        if history and shank < MIN_SHANK_RATIO * float(np.median(self._shanks)):
            self.stats.implausible += 1
            return False
        return True

    def update(self, t_s: float, image: BGRImage, result: RoiLandmarks) -> FramePose | None:
        """Take the landmark model's output for this frame's ROI; smooth; set the next ROI."""
        used = self._used
        if not self._acceptable(result):
            held = self._hold(image, used)
            if held is None:
                self.reset()
                return None
            result, used = held
        elif restarted := self._restart(image, result):
            result, used = restarted
        if math.isfinite(shank := shank_px(result.landmarks)):
            self._shanks.append(shank)
        self._good, self._since_good = used, 0
        # The filters' object scale: the unfiltered auxiliary points' alignment box.
        object_scale = alignment_rect(result.aux[0, :2], result.aux[1, :2]).size
        landmarks, aux, world = self.smoother.apply(
            t_s,
            result.landmarks,
            result.aux,
            result.world,
            object_scale=object_scale,
            frame_width=image.shape[1],
        )
        self._roi = roi_from_points(aux[0, :2], aux[1, :2])
        return FramePose(landmarks, world, result.pose_score, self._detected_now)

    def _hold(self, image: BGRImage, used: Roi | None) -> tuple[RoiLandmarks, Roi] | None:
        """The landmark model once more on the last accepted ROI, if recent and not this one."""
        good = self._good
        if not self.checks or good is None or good == used or self._since_good > self.hold_frames:
            return None
        retry = self.landmark_model([(image, good)])[0]
        if not self._acceptable(retry):
            return None
        self.stats.held += 1
        return retry, good

    def __call__(self, image: BGRImage, t_s: float) -> FramePose | None:
        roi = self.next_roi(image)
        if roi is None:
            return None
        return self.update(t_s, image, self.landmark_model([(image, roi)])[0])
