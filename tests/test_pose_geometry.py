"""ROI maths, crops and projection (pure; no model needed)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from service.pipeline.pose.roi import (
    Roi,
    alignment_rect,
    crop,
    crop_matrix,
    letterbox_roi,
    normalize_radians,
    project_to_frame,
    roi_from_points,
)


def test_upright_body_has_no_rotation() -> None:
    # Scale point straight above the hip centre (y grows downwards): already upright.
    roi = roi_from_points(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert roi.rotation == pytest.approx(0.0, abs=1e-12)
    assert (roi.cx, roi.cy) == (100.0, 200.0)
    assert roi.size == pytest.approx(2 * 80 * 1.25)


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [(80.0, 0.0, math.pi / 2), (-80.0, 0.0, -math.pi / 2), (0.0, 80.0, -math.pi)],
)
def test_rotation_turns_scale_vector_up(dx: float, dy: float, expected: float) -> None:
    roi = alignment_rect(np.array([0.0, 0.0]), np.array([dx, dy]))
    assert roi.rotation == pytest.approx(expected)
    # Rotating the hip→scale vector by -rotation (into the crop) must point it up.
    c, s = math.cos(-roi.rotation), math.sin(-roi.rotation)
    up = np.array([c * dx - s * dy, s * dx + c * dy])
    assert up[0] == pytest.approx(0.0, abs=1e-9)
    assert up[1] < 0


def test_normalize_radians_range() -> None:
    for a in np.linspace(-10, 10, 41):
        n = normalize_radians(float(a))
        assert -math.pi <= n < math.pi
        assert math.isclose(math.cos(n), math.cos(a), abs_tol=1e-9)


def test_crop_matrix_inverts_projection() -> None:
    roi = Roi(cx=310.0, cy=420.0, size=250.0, rotation=0.7)
    m = crop_matrix(roi, 256)
    local = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.25, 0.8, 0.0], [0.5, 0.5, 0.0]])
    frame = project_to_frame(local, roi)
    back = (m[:, :2] @ frame[:, :2].T).T + m[:, 2]
    np.testing.assert_allclose(back / 256.0, local[:, :2], atol=1e-9)
    # The crop centre is the ROI centre.
    np.testing.assert_allclose(frame[3, :2], [310.0, 420.0])


def test_crop_samples_like_classic_fixed_point_warp() -> None:
    # MediaPipe maps cv::boxPoints of the rotated rect onto the output corners and
    # samples with (its bundled OpenCV's) fixed-point warpPerspective: positions
    # rounded to 1/32 px. cv2.convertMaps makes such fixed-point maps from float
    # maps independently of our code; remapping with them must give our crop.
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = np.asarray(cv2.GaussianBlur(noise, (9, 9), 3), np.uint8)
    roi = Roi(cx=300.0, cy=250.0, size=300.0, rotation=-0.4)
    ours = crop(image, roi, 256, border=cv2.BORDER_REPLICATE)
    rect = ((roi.cx, roi.cy), (roi.size, roi.size), math.degrees(roi.rotation))
    src = cv2.boxPoints(rect).astype(np.float32)
    dst = np.array([[0, 256], [0, 0], [256, 0], [256, 256]], np.float32)
    inv = np.linalg.inv(cv2.getPerspectiveTransform(src, dst))
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float64)
    w = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    map_x = ((inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / w).astype(np.float32)
    map_y = ((inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / w).astype(np.float32)
    fixed_xy, fixed_frac = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    ref = cv2.remap(image, fixed_xy, fixed_frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.mean() < 0.01  # float32 maps may round a rare position the other way
    assert diff.max() <= 1
    # And it is the same picture as today's OpenCV warpPerspective (which rounds differently).
    new = cv2.warpPerspective(
        image,
        cv2.getPerspectiveTransform(src, dst),
        (256, 256),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    assert np.abs(ours.astype(int) - new.astype(int)).mean() < 0.5


def test_letterbox_pads_short_side() -> None:
    roi, pad_x, pad_y = letterbox_roi(400, 800)
    assert roi.size == 800
    assert (pad_x, pad_y) == (0.25, 0.0)
    assert not Roi(1.0, 1.0, 0.0, 0.0).is_usable()
    assert not Roi(math.nan, 1.0, 10.0, 0.0).is_usable()
