"""Clean-up, view and segmentation units on hand-made signals."""

from __future__ import annotations

import numpy as np
import pytest

from service.pipeline.scoring.cleanup import interpolate_short_gaps, nan_gaussian
from service.pipeline.scoring.phases import agg, spread
from service.pipeline.scoring.view import classify, view_confidence


def test_short_gaps_are_filled_linearly_long_gaps_stay_nan() -> None:
    a = np.arange(20, dtype=float)[:, None]
    a[3:5] = np.nan  # 2 frames: filled
    a[10:16] = np.nan  # 6 frames: left alone
    out = interpolate_short_gaps(a, 3)
    assert out[3:5, 0] == pytest.approx([3.0, 4.0])
    assert np.isnan(out[10:16]).all()
    # edges have nothing to interpolate towards
    b = np.array([np.nan, 1.0, 2.0, np.nan])[:, None]
    assert np.isnan(interpolate_short_gaps(b, 5)[[0, 3]]).all()


def test_smoothing_never_bridges_a_gap() -> None:
    a = np.concatenate([np.zeros(30), np.full(10, np.nan), np.full(30, 100.0)])
    out = nan_gaussian(a, 3.0)
    assert np.isnan(out[30:40]).all()
    # a jump across the gap does not leak into either side
    assert out[:30] == pytest.approx(0.0)
    assert out[40:] == pytest.approx(100.0)


def test_smoothing_removes_jitter_and_keeps_a_constant() -> None:
    rng = np.random.default_rng(0)
    a = 5.0 + rng.normal(0, 1, 3000)
    out = nan_gaussian(a, 2.0)
    assert np.std(out) < 0.5 * np.std(a)
    assert nan_gaussian(np.full(50, 7.0), 4.0) == pytest.approx(7.0)


def test_grouped_median_and_spread_ignore_padding_and_nan() -> None:
    a = np.array([1.0, 2.0, 3.0, np.nan, 10.0, 20.0])
    idx = np.array([[0, 1, 2, 3], [4, 5, -1, -1], [-1, -1, -1, -1]])
    med = agg(a, idx)
    assert med[:2] == pytest.approx([2.0, 15.0])
    assert np.isnan(med[2])
    assert spread(a, idx, 0.0, 1.0)[:2] == pytest.approx([2.0, 10.0])


@pytest.mark.parametrize(
    ("yaw", "view"), [(0.0, "front"), (29.0, "front"), (40.0, "oblique"), (55.0, "side")]
)
def test_view_classes(yaw: float, view: str) -> None:
    assert classify(yaw) == view
    assert 0.0 <= view_confidence(yaw, 5.0) <= 1.0


def test_view_confidence_falls_near_a_boundary_and_with_spread() -> None:
    assert view_confidence(5.0, 2.0) > view_confidence(28.0, 2.0)
    assert view_confidence(5.0, 2.0) > view_confidence(5.0, 30.0)
