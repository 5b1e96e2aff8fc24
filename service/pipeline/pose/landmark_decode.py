"""Landmark-model tensors → landmarks, as tensors_to_pose_landmarks_and_segmentation does.

Pure numpy. The model outputs 39 landmarks (33 body + 2 auxiliary ROI points +
4 unused) as (x, y, z, visibility logit, presence logit) in 256-px crop units,
a 64x64x39 heatmap of logits, and 39 world points (metres, hip-centred, in the
crop's rotation).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from service.pipeline.pose.roi import Roi, project_to_frame

FloatArray = npt.NDArray[np.float64]

INPUT_SIZE = 256
NUM_OUTPUT_LANDMARKS = 39
NUM_BODY = 33
AUX = slice(33, 35)  # hip centre, full-body scale point: the next frame's ROI
# The graph (tensors_to_pose_landmarks_and_segmentation.pbtxt) asks for kernel_size 7,
# but MediaPipe 0.10.14 runs the calculator with its proto default, 9: only a 9x9
# window reproduces its refined landmarks (to 0.01 px, where 7x7 is off by 1–2 px).
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5
POSE_FLAG_THRESHOLD = 0.5


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def decode_landmarks(raw: npt.ArrayLike) -> FloatArray:
    """(195,) → (39, 5) crop-normalised x, y, z (÷256) and sigmoid visibility/presence."""
    lm = np.asarray(raw, np.float64).reshape(NUM_OUTPUT_LANDMARKS, 5).copy()
    lm[:, :3] /= INPUT_SIZE
    lm[:, 3:] = sigmoid(lm[:, 3:])
    return lm


def refine_from_heatmap(
    landmarks: FloatArray,
    heatmap: npt.ArrayLike,
    *,
    kernel: int = HEATMAP_KERNEL,
    min_confidence: float = HEATMAP_MIN_CONFIDENCE,
) -> FloatArray:
    """Replace x, y by the sigmoid-weighted centroid of the heatmap around each landmark.

    As RefineLandmarksFromHeatmapCalculator: the window is centred on the
    truncated heatmap cell, centroids use cell indices (no half-cell offset),
    and a landmark is refined only if the window's peak confidence reaches
    ``min_confidence``. Points outside the heatmap are left alone.
    """
    hm = np.asarray(heatmap, np.float32)
    h, w, n = hm.shape
    out = landmarks.copy()
    offset = (kernel - 1) // 2
    # C++ int conversion truncates toward zero (so -0.3 → 0 stays inside).
    cols = np.trunc(landmarks[:n, 0] * w).astype(np.int64)
    rows = np.trunc(landmarks[:n, 1] * h).astype(np.int64)
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    # All windows at once: (n, k) row and column indices, clipped windows masked out.
    steps = np.arange(-offset, offset + 1)
    rr = rows[:, None] + steps
    cc = cols[:, None] + steps
    valid = ((rr >= 0) & (rr < h))[:, :, None] & ((cc >= 0) & (cc < w))[:, None, :]
    channel = np.arange(n)[:, None, None]
    window = hm[np.clip(rr, 0, h - 1)[:, :, None], np.clip(cc, 0, w - 1)[:, None, :], channel]
    conf = np.where(valid, sigmoid(window), 0.0)
    total = conf.sum(axis=(1, 2))
    peak = conf.max(axis=(1, 2))
    refine = inside & (peak >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    x = (conf * cc[:, None, :]).sum(axis=(1, 2)) / w / safe
    y = (conf * rr[:, :, None]).sum(axis=(1, 2)) / h / safe
    out[:n, 0] = np.where(refine, x, landmarks[:n, 0])
    out[:n, 1] = np.where(refine, y, landmarks[:n, 1])
    return out


def to_frame(landmarks: FloatArray, roi: Roi, frame_width: int) -> FloatArray:
    """Crop-normalised (N, 5) → frame pixels x, y; z in MediaPipe's units.

    MediaPipe scales z like x: × ROI side ÷ frame width.
    """
    out = project_to_frame(landmarks, roi)
    out[:, 2] = landmarks[:, 2] * roi.size / frame_width
    return out


def world_to_frame(raw_world: npt.ArrayLike, roi: Roi) -> FloatArray:
    """(117,) → (39, 3) metres, rotated back by the ROI rotation (WorldLandmarkProjection)."""
    wl = np.asarray(raw_world, np.float64).reshape(NUM_OUTPUT_LANDMARKS, 3).copy()
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    x, y = wl[:, 0].copy(), wl[:, 1].copy()
    wl[:, 0] = c * x - s * y
    wl[:, 1] = s * x + c * y
    return wl
