"""Detector and landmark tensor decoding, heatmap refinement, smoothing (pure; no model)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from service.pipeline.pose import landmark_decode as dec
from service.pipeline.pose import ssd
from service.pipeline.pose.roi import Roi
from service.pipeline.pose.smoothing import (
    AUXILIARY,
    LANDMARKS,
    LowPass,
    OneEuro,
    PoseSmoother,
)


def test_anchor_grid() -> None:
    a = ssd.anchors()
    assert a.shape == (2254, 2)
    # First layer: 28x28 cells, 2 anchors per cell; last block: 7x7 cells, 6 anchors.
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[28 * 28 * 2], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def _raw_with(
    anchor: int, offset_px: tuple[float, float], size_px: float, logit: float
) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.zeros((2254, 12), np.float32)
    scores = np.full((2254, 1), -20.0, np.float32)
    boxes[anchor, :4] = [offset_px[0], offset_px[1], size_px, size_px]
    boxes[anchor, 4:6] = offset_px  # keypoint 0 at the box centre
    boxes[anchor, 6:8] = [offset_px[0], offset_px[1] - size_px / 2]  # keypoint 1 above it
    scores[anchor] = logit
    return boxes, scores


def test_decode_box_and_keypoints() -> None:
    anchor = 100
    boxes, scores = _raw_with(anchor, (11.2, -22.4), 56.0, 3.0)
    dets = ssd.decode(boxes, scores)
    assert len(dets) == 1
    cx, cy = ssd.anchors()[anchor] + np.array([11.2, -22.4]) / 224
    np.testing.assert_allclose(dets.boxes[0], [cx - 0.125, cy - 0.125, cx + 0.125, cy + 0.125])
    np.testing.assert_allclose(dets.keypoints[0, 0], [cx, cy], atol=1e-6)
    np.testing.assert_allclose(dets.keypoints[0, 1], [cx, cy - 0.125], atol=1e-6)
    assert dets.scores[0] == pytest.approx(1 / (1 + math.exp(-3.0)))
    assert len(ssd.decode(boxes, scores, min_score=0.99)) == 0


def test_weighted_nms_merges_overlaps_and_keeps_separate() -> None:
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.52, 0.5], [0.6, 0.6, 0.9, 0.9]])
    kps = np.zeros((3, 4, 2))
    kps[:, 0] = [[0.3, 0.3], [0.32, 0.3], [0.75, 0.75]]
    scores = np.array([0.9, 0.6, 0.7])
    out = ssd.weighted_nms(ssd.Detections(scores, boxes, kps))
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    np.testing.assert_allclose(out.boxes[0, 0], (0.1 * 0.9 + 0.12 * 0.6) / 1.5)
    np.testing.assert_allclose(out.keypoints[0, 0, 0], (0.3 * 0.9 + 0.32 * 0.6) / 1.5)
    np.testing.assert_allclose(out.boxes[1], boxes[2])


def test_remove_letterbox() -> None:
    dets = ssd.Detections(
        np.array([0.9]), np.array([[0.25, 0.0, 0.75, 1.0]]), np.full((1, 4, 2), 0.5)
    )
    out = ssd.remove_letterbox(dets, 0.25, 0.0)
    np.testing.assert_allclose(out.boxes[0], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(out.keypoints[0, 0], [0.5, 0.5])


def test_decode_landmarks_units_and_activations() -> None:
    raw = np.zeros((39, 5))
    raw[0] = [128.0, 64.0, -25.6, 0.0, 100.0]
    lm = dec.decode_landmarks(raw.reshape(-1))
    np.testing.assert_allclose(lm[0], [0.5, 0.25, -0.1, 0.5, 1.0])


def _gaussian_heatmap(row: float, col: float, peak_logit: float) -> np.ndarray:
    rr, cc = np.mgrid[0:64, 0:64]
    g = np.exp(-((rr - row) ** 2 + (cc - col) ** 2) / (2 * 1.5**2))
    # Logits whose sigmoid is ~peak*g: far cells are strongly negative.
    p = np.clip(g * (1 / (1 + math.exp(-peak_logit))), 1e-6, 1 - 1e-6)
    logits = np.log(p / (1 - p))
    return np.repeat(logits[:, :, None], 39, axis=2).astype(np.float32)


def test_heatmap_refines_towards_peak() -> None:
    lm = np.zeros((39, 5))
    lm[:, :2] = [20.0 / 64, 30.0 / 64]  # model says cell (row 30, col 20)
    hm = _gaussian_heatmap(row=31.0, col=21.0, peak_logit=4.0)
    out = dec.refine_from_heatmap(lm, hm)
    assert out[0, 0] == pytest.approx(21.0 / 64, abs=0.15 / 64)
    assert out[0, 1] == pytest.approx(31.0 / 64, abs=0.15 / 64)


def test_heatmap_leaves_low_confidence_and_outside_points() -> None:
    lm = np.zeros((39, 5))
    lm[:, :2] = [20.0 / 64, 30.0 / 64]
    lm[1, :2] = [1.2, 0.5]  # outside the crop
    weak = _gaussian_heatmap(row=31.0, col=21.0, peak_logit=-1.0)  # max sigmoid < 0.5
    np.testing.assert_array_equal(dec.refine_from_heatmap(lm, weak), lm)
    strong = _gaussian_heatmap(row=31.0, col=21.0, peak_logit=4.0)
    np.testing.assert_array_equal(dec.refine_from_heatmap(lm, strong)[1], lm[1])


def test_to_frame_and_world_rotation() -> None:
    roi = Roi(cx=500.0, cy=300.0, size=200.0, rotation=math.pi / 2)
    lm = np.array([[0.5, 0.0, 0.1, 0.9, 0.8]])  # top-centre of the crop
    out = dec.to_frame(lm, roi, frame_width=1000)
    # A quarter turn clockwise moves the crop's top to the frame's right.
    np.testing.assert_allclose(out[0, :2], [600.0, 300.0], atol=1e-9)
    assert out[0, 2] == pytest.approx(0.1 * 200 / 1000)
    np.testing.assert_allclose(out[0, 3:], [0.9, 0.8])
    world = np.zeros((39, 3))
    world[0] = [0.0, -1.0, 0.5]
    np.testing.assert_allclose(
        dec.world_to_frame(world.reshape(-1), roi)[0], [1.0, 0.0, 0.5], atol=1e-12
    )


def test_low_pass() -> None:
    f = LowPass()
    np.testing.assert_allclose(f.apply(np.array([1.0]), 0.1), [1.0])
    np.testing.assert_allclose(f.apply(np.array([0.0]), 0.1), [0.9])


def test_one_euro_static_and_moving() -> None:
    f = OneEuro(LANDMARKS)
    x = np.array([[100.0, 200.0, 0.0]])
    for i in range(10):
        np.testing.assert_allclose(f.apply(i / 30, x, 1 / 300), x)
    # A jump is followed partly (fast motion opens the filter), not ignored nor copied.
    jumped = f.apply(10 / 30, x + 30.0, 1 / 300)
    assert 100.0 < jumped[0, 0] < 130.0
    # Non-increasing timestamps pass the value through unchanged.
    np.testing.assert_allclose(f.apply(10 / 30, x + 50.0, 1 / 300), x + 50.0)


def test_auxiliary_filter_is_heavier() -> None:
    light, heavy = OneEuro(LANDMARKS), OneEuro(AUXILIARY)
    x = np.array([[0.0, 0.0, 0.0]])
    for f in (light, heavy):
        f.apply(0.0, x, 0.01)
    moved = x + 5.0
    assert heavy.apply(1 / 30, moved, 0.01)[0, 0] < light.apply(1 / 30, moved, 0.01)[0, 0]


def test_pose_smoother_reset_and_disabled() -> None:
    lm = np.zeros((33, 5))
    lm[:, 3] = 1.0
    aux = np.zeros((2, 5))
    aux[1, 1] = -100.0
    world = np.zeros((33, 3))
    sm = PoseSmoother()
    sm.apply(0.0, lm, aux, world, object_scale=200.0, frame_width=640)
    lm2 = lm.copy()
    lm2[:, 3] = 0.0
    out, _, _ = sm.apply(1 / 30, lm2, aux, world, object_scale=200.0, frame_width=640)
    np.testing.assert_allclose(out[:, 3], 0.9)  # visibility low-passed
    sm.reset()
    out, _, _ = sm.apply(2 / 30, lm2, aux, world, object_scale=200.0, frame_width=640)
    np.testing.assert_allclose(out[:, 3], 0.0)  # fresh filters pass the first value
    off = PoseSmoother(enabled=False)
    off.apply(0.0, lm, aux, world, object_scale=200.0, frame_width=640)
    out, _, _ = off.apply(1 / 30, lm2, aux, world, object_scale=200.0, frame_width=640)
    np.testing.assert_array_equal(out, lm2)


def _refine_loop(
    lm: np.ndarray, hm: np.ndarray, kernel: int = 7, min_conf: float = 0.5
) -> np.ndarray:
    """Line-by-line transcription of RefineLandmarksFromHeatmapCalculator, as the oracle."""
    h, w, n = hm.shape
    out = lm.copy()
    off = (kernel - 1) // 2
    for i in range(n):
        col, row = int(lm[i, 0] * w), int(lm[i, 1] * h)  # int() truncates like C++
        if col < 0 or col >= w or row < 0 or row >= h:
            continue
        total = wc = wr = peak = 0.0
        for r in range(max(0, row - off), min(h, row + off + 1)):
            for c in range(max(0, col - off), min(w, col + off + 1)):
                conf = 1 / (1 + math.exp(-float(hm[r, c, i])))
                total += conf
                peak = max(peak, conf)
                wc += c * conf
                wr += r * conf
        if peak >= min_conf and total > 0:
            out[i, 0] = wc / w / total
            out[i, 1] = wr / h / total
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_refinement_matches_calculator(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hm = rng.normal(-1.0, 2.5, (64, 64, 39)).astype(np.float32)
    lm = np.zeros((39, 5))
    lm[:, :2] = rng.uniform(-0.08, 1.08, (39, 2))  # some near and beyond the edges
    np.testing.assert_allclose(
        dec.refine_from_heatmap(lm, hm), _refine_loop(lm, hm, kernel=dec.HEATMAP_KERNEL), atol=1e-9
    )
