"""The BlazePose person detector: frame → scored detections with 4 alignment keypoints.

preprocess (letterbox to 224, RGB in [-1, 1]) → inference → postprocess
(pure SSD decoding and weighted NMS from ``ssd``, then back to frame pixels).
Keypoint 0 is the hip centre and keypoint 1 the full-body scale point, which is
all the ROI needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from service.pipeline.pose import ssd
from service.pipeline.pose.models import ModelSession
from service.pipeline.pose.roi import crop, letterbox_roi

FloatArray = npt.NDArray[np.float64]
BGRImage = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class PersonDetection:
    score: float
    box: FloatArray  # xmin, ymin, xmax, ymax in frame pixels
    keypoints: FloatArray  # (4, 2) frame pixels


@dataclass(frozen=True, slots=True)
class Letterbox:
    width: int
    height: int
    pad_x: float
    pad_y: float


def preprocess(image: BGRImage) -> tuple[npt.NDArray[np.float32], Letterbox]:
    """Letterbox a BGR frame into the (224, 224, 3) RGB [-1, 1] input; zero (→ -1) borders."""
    height, width = image.shape[:2]
    roi, pad_x, pad_y = letterbox_roi(width, height)
    patch = crop(image, roi, ssd.INPUT_SIZE, border=cv2.BORDER_CONSTANT)
    rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
    tensor = np.multiply(rgb, np.float32(2.0 / 255.0), dtype=np.float32)
    tensor -= np.float32(1.0)
    return tensor, Letterbox(width, height, pad_x, pad_y)


def postprocess(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, letterbox: Letterbox, min_score: float
) -> list[PersonDetection]:
    """One image's raw outputs → detections in frame pixels, best first."""
    dets = ssd.decode(boxes, scores, min_score)
    if not len(dets):
        return []
    dets = ssd.remove_letterbox(ssd.weighted_nms(dets), letterbox.pad_x, letterbox.pad_y)
    size = np.array([letterbox.width, letterbox.height], np.float64)
    return [
        PersonDetection(float(s), b * np.tile(size, 2), k * size)
        for s, b, k in zip(dets.scores, dets.boxes, dets.keypoints, strict=True)
    ]


class PoseDetector:
    def __init__(self, session: ModelSession, min_score: float = ssd.MIN_SCORE) -> None:
        self.session = session
        self.min_score = min_score

    def __call__(self, image: BGRImage) -> list[PersonDetection]:
        tensor, letterbox = preprocess(image)
        out = self.session.run(tensor[None])
        return postprocess(out["boxes"][0], out["scores"][0], letterbox, self.min_score)
