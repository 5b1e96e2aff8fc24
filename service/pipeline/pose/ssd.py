"""SSD post-processing for the BlazePose detector, as pose_detection_cpu.pbtxt configures it.

Pure numpy: anchors (SsdAnchorsCalculator), raw tensor decoding
(TensorsToDetectionsCalculator) and weighted non-maximum suppression
(NonMaxSuppressionCalculator, WEIGHTED, IoU 0.3). Coordinates are normalised to
the detector's square input until the caller removes the letterbox.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

INPUT_SIZE = 224
NUM_BOXES = 2254
NUM_KEYPOINTS = 4
MIN_SCORE = 0.5
NMS_IOU = 0.3
_STRIDES = (8, 16, 32, 32, 32)
_SCORE_CLIP = 100.0


@dataclass(frozen=True, slots=True)
class Detections:
    """K detections: scores (K,), boxes (K, 4) xmin ymin xmax ymax, keypoints (K, 4, 2)."""

    scores: FloatArray
    boxes: FloatArray
    keypoints: FloatArray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@cache
def anchors() -> FloatArray:
    """(2254, 2) anchor centres; fixed_anchor_size makes every anchor 1x1."""
    centres: list[FloatArray] = []
    layer = 0
    while layer < len(_STRIDES):
        stride = _STRIDES[layer]
        per_cell = 0
        # Layers sharing a stride share a grid; each contributes one aspect-ratio
        # anchor (1.0) plus the interpolated-scale anchor.
        while layer < len(_STRIDES) and _STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        size = math.ceil(INPUT_SIZE / stride)
        ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        grid = np.stack([(xs + 0.5) / size, (ys + 0.5) / size], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
    out = np.concatenate(centres).astype(np.float64)
    assert out.shape == (NUM_BOXES, 2)
    return out


def decode(
    raw_boxes: npt.ArrayLike, raw_scores: npt.ArrayLike, min_score: float = MIN_SCORE
) -> Detections:
    """Decode one image's (2254, 12) regressors and (2254, 1) logits, keeping scores ≥ min_score."""
    boxes = np.asarray(raw_boxes, np.float64).reshape(NUM_BOXES, 12)
    logits = np.asarray(raw_scores, np.float64).reshape(NUM_BOXES)
    logits = np.clip(logits, -_SCORE_CLIP, _SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    a = anchors()[keep]
    b = boxes[keep] / INPUT_SIZE
    # reverse_output_order: x, y, w, h; anchors are 1x1 so offsets scale by 1.
    cx = b[:, 0] + a[:, 0]
    cy = b[:, 1] + a[:, 1]
    w, h = b[:, 2], b[:, 3]
    out_boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = b[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return Detections(scores[keep], out_boxes, kps)


def iou(box: FloatArray, others: FloatArray) -> FloatArray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms(dets: Detections, iou_threshold: float = NMS_IOU) -> Detections:
    """MediaPipe's WEIGHTED NMS: each cluster becomes the score-weighted mean of its members.

    The cluster keeps the top member's score; clusters come out best first.
    """
    order = np.argsort(-dets.scores, kind="stable")
    remaining = order
    scores: list[float] = []
    boxes: list[FloatArray] = []
    kps: list[FloatArray] = []
    while remaining.size:
        top = remaining[0]
        overlap = iou(dets.boxes[top], dets.boxes[remaining])
        members = remaining[overlap > iou_threshold]
        if members.size == 0:  # a degenerate (zero-area) top box overlaps nothing, not even itself
            members = remaining[:1]
        w = dets.scores[members]
        total = w.sum()
        scores.append(float(dets.scores[top]))
        boxes.append((dets.boxes[members] * w[:, None]).sum(axis=0) / total)
        kps.append((dets.keypoints[members] * w[:, None, None]).sum(axis=0) / total)
        remaining = np.setdiff1d(remaining, members, assume_unique=True)
        remaining = remaining[np.argsort(-dets.scores[remaining], kind="stable")]
    if not scores:
        return Detections(np.zeros(0), np.zeros((0, 4)), np.zeros((0, NUM_KEYPOINTS, 2)))
    return Detections(np.array(scores), np.stack(boxes), np.stack(kps))


def remove_letterbox(dets: Detections, pad_x: float, pad_y: float) -> Detections:
    """From the padded square's [0, 1] to the frame's [0, 1] (DetectionLetterboxRemoval)."""
    sx, sy = 1.0 - 2 * pad_x, 1.0 - 2 * pad_y
    boxes = (dets.boxes - np.array([pad_x, pad_y, pad_x, pad_y])) / np.array([sx, sy, sx, sy])
    kps = (dets.keypoints - np.array([pad_x, pad_y])) / np.array([sx, sy])
    return Detections(dets.scores, boxes, kps)
