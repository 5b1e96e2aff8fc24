"""Regions of interest: the rotated square crop the landmark model sees.

MediaPipe builds every ROI the same way (AlignmentPointsRectsCalculator then
RectTransformationCalculator in pose_detection_to_roi / pose_landmarks_to_roi):
the centre is the hip-centre point, the side is twice the distance to the
"full body" scale point, the rotation turns the hip→scale vector to point up
(target angle 90°), and the box is enlarged by 1.25 and squared on its long
side. We keep ROIs in upright-frame pixels, where "square" is literal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

ROI_SCALE = 1.25
_TARGET_ANGLE = math.pi / 2


@dataclass(frozen=True, slots=True)
class Roi:
    """A square region in pixels: centre, side, rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float

    def is_usable(self) -> bool:
        return all(math.isfinite(v) for v in (self.cx, self.cy, self.size, self.rotation)) and (
            self.size > 1.0
        )


def normalize_radians(angle: float) -> float:
    """Wrap to [-pi, pi) as MediaPipe's NormalizeRadians does."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def alignment_rect(center: FloatArray, scale_point: FloatArray) -> Roi:
    """Box centred on ``center`` (px) whose side is twice the distance to ``scale_point``."""
    dx = float(scale_point[0] - center[0])
    dy = float(scale_point[1] - center[1])
    size = 2.0 * math.hypot(dx, dy)
    rotation = normalize_radians(_TARGET_ANGLE - math.atan2(-dy, dx))
    return Roi(float(center[0]), float(center[1]), size, rotation)


def roi_from_points(center: FloatArray, scale_point: FloatArray, scale: float = ROI_SCALE) -> Roi:
    """The landmark model's crop: alignment rect, squared (already square in px) and enlarged."""
    raw = alignment_rect(center, scale_point)
    return Roi(raw.cx, raw.cy, raw.size * scale, raw.rotation)


def crop_matrix(roi: Roi, out_size: int) -> FloatArray:
    """2x3 affine mapping frame pixels to the ``out_size`` crop of ``roi``.

    Matches MediaPipe's OpenCV ImageToTensor converter, which maps the rotated
    rect's corners (cv::boxPoints) onto the output's corners (0..size, not pixel
    centres) and samples with warpPerspective.
    """
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    k = out_size / roi.size
    # local = R(-θ)·(p - centre) / size + 0.5, output = local * out_size
    a = np.array([[c * k, s * k], [-s * k, c * k]], np.float64)
    t = np.array([out_size / 2.0, out_size / 2.0]) - a @ np.array([roi.cx, roi.cy])
    return np.hstack([a, t[:, None]])


def crop(
    image: npt.NDArray[np.uint8], roi: Roi, out_size: int, *, border: int
) -> npt.NDArray[np.uint8]:
    """Bilinear crop of the rotated ROI, sampled exactly as MediaPipe 0.10's CPU converter does.

    MediaPipe maps the rect's float32 corners (cv::boxPoints) onto the output's
    corners with getPerspectiveTransform and warpPerspective on the uint8
    frame. Its bundled OpenCV samples with the classic fixed-point scheme
    (positions rounded to 1/32 px, integer bilinear weights); OpenCV ≥ 4.11
    rewrote warpPerspective and rounds differently. The landmark model is
    sensitive enough for that to show, so we rebuild the classic maps and let
    cv2.remap's fixed-point path do the sampling.
    """
    rect = ((roi.cx, roi.cy), (roi.size, roi.size), math.degrees(roi.rotation))
    src = cv2.boxPoints(rect).astype(np.float32)
    n = float(out_size)
    dst = np.array([[0.0, n], [0.0, 0.0], [n, 0.0], [n, n]], np.float32)
    matrix = np.asarray(cv2.getPerspectiveTransform(src, dst), np.float64)
    xy, frac = _classic_warp_maps(matrix, out_size)
    patch = cv2.remap(image, xy, frac, cv2.INTER_LINEAR, borderMode=border, borderValue=(0, 0, 0))
    return np.asarray(patch, dtype=np.uint8)


_INTER_BITS = 5
_INTER_TAB = 1 << _INTER_BITS


def _classic_warp_maps(
    matrix: FloatArray, out_size: int
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint16]]:
    """warpPerspective's fixed-point maps: integer source pixel + 5-bit x/y fraction index."""
    inv = cv2.invert(matrix)[1]
    xs, ys = _axis(out_size), _axis(out_size)[:, None]
    # Same arithmetic as cv::warpPerspective (double), broadcast over rows and columns.
    w = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    w = np.where(w != 0, _INTER_TAB / np.where(w != 0, w, 1.0), 0.0)
    # rint: round half to even, as cvRound.
    x = np.rint((inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) * w).astype(np.int32)
    y = np.rint((inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) * w).astype(np.int32)
    xy = np.stack([x >> _INTER_BITS, y >> _INTER_BITS], axis=-1).astype(np.int16)
    frac = ((y & (_INTER_TAB - 1)) * _INTER_TAB + (x & (_INTER_TAB - 1))).astype(np.uint16)
    return xy, frac


@cache
def _axis(size: int) -> FloatArray:
    return np.arange(size, dtype=np.float64)


def project_to_frame(points: FloatArray, roi: Roi) -> FloatArray:
    """Map (N, 2+) ROI-normalised points ([0, 1] across the crop) to frame pixels.

    Extra columns are passed through; LandmarkProjectionCalculator's rotation
    about the crop centre, then scale by the ROI side.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    x = points[:, 0] - 0.5
    y = points[:, 1] - 0.5
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    out[:, 0] = (c * x - s * y) * roi.size + roi.cx
    out[:, 1] = (s * x + c * y) * roi.size + roi.cy
    return out


def letterbox_roi(width: int, height: int) -> tuple[Roi, float, float]:
    """The whole frame padded to a centred square (detector input) and its padding fractions.

    Returns the ROI and the (horizontal, vertical) padding, each side, as a
    fraction of the square, as ImageToTensor's keep_aspect_ratio does.
    """
    side = float(max(width, height))
    roi = Roi(width / 2.0, height / 2.0, side, 0.0)
    return roi, (1.0 - width / side) / 2.0, (1.0 - height / side) / 2.0
