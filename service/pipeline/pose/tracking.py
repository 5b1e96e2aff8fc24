"""Single-person tracking across frames, as pose_landmark_cpu.pbtxt wires it.

The detector runs only when there is no ROI from the previous frame. The
landmark model then runs on that ROI; if its pose flag is not above the
tracking threshold the pose is lost (filters reset, next frame re-detects).
Otherwise the smoothed auxiliary points give the next frame's ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.pipeline.pose.detector import PoseDetector
from service.pipeline.pose.landmark import LandmarkModel, RoiLandmarks
from service.pipeline.pose.roi import Roi, alignment_rect, roi_from_points
from service.pipeline.pose.smoothing import PoseSmoother

FloatArray = npt.NDArray[np.float64]
BGRImage = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FramePose:
    landmarks: FloatArray  # (33, 5) x px, y px, z (÷ width), visibility, presence
    world: FloatArray  # (33, 3)
    score: float
    detected_now: bool  # the detector ran on this frame (not tracked)


class PoseTracker:
    def __init__(
        self,
        detector: PoseDetector,
        landmark_model: LandmarkModel,
        *,
        min_tracking_confidence: float = 0.5,
        smooth: bool = True,
    ) -> None:
        self.detector = detector
        self.landmark_model = landmark_model
        self.min_tracking_confidence = min_tracking_confidence
        self.smoother = PoseSmoother(enabled=smooth)
        self._roi: Roi | None = None
        self._detected_now = False

    def reset(self) -> None:
        self._roi = None
        self.smoother.reset()

    def next_roi(self, image: BGRImage) -> Roi | None:
        """The crop for this frame: tracked from the last one, else from a fresh detection."""
        self._detected_now = self._roi is None
        roi = self._roi
        if roi is None:
            detections = self.detector(image)
            if not detections:
                self.reset()
                return None
            kp = detections[0].keypoints
            roi = roi_from_points(kp[0], kp[1])
        if not roi.is_usable():
            self.reset()
            return None
        return roi

    def update(self, t_s: float, frame_width: int, result: RoiLandmarks) -> FramePose | None:
        """Take the landmark model's output for this frame's ROI; smooth; set the next ROI."""
        if not result.pose_score > self.min_tracking_confidence:
            self.reset()
            return None
        # The filters' object scale: the unfiltered auxiliary points' alignment box.
        object_scale = alignment_rect(result.aux[0, :2], result.aux[1, :2]).size
        landmarks, aux, world = self.smoother.apply(
            t_s,
            result.landmarks,
            result.aux,
            result.world,
            object_scale=object_scale,
            frame_width=frame_width,
        )
        self._roi = roi_from_points(aux[0, :2], aux[1, :2])
        return FramePose(landmarks, world, result.pose_score, self._detected_now)

    def __call__(self, image: BGRImage, t_s: float) -> FramePose | None:
        roi = self.next_roi(image)
        if roi is None:
            return None
        return self.update(t_s, image.shape[1], self.landmark_model([(image, roi)])[0])
