"""Bad keypoints give typed errors with stable codes; odd-but-valid input gives a result."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from service.errors import KeypointsError
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import score_keypoints
from tests.synthetic import RepSpec, make_squats


def _good() -> Keypoints:
    kp, _ = make_squats([RepSpec()], noise_px=1.0)
    return kp


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((10, 17, 5), "shape"),
        ((10, 33), "shape"),
        ((0, 33, 5), "no frames"),
        ((10, 33, 7), "shape"),
    ],
)
def test_wrong_shapes(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(KeypointsError, match=match) as ei:
        Keypoints.build(np.zeros(shape, np.float32), fps=30, width=100, height=100)
    assert ei.value.code == "keypoints_invalid"


@pytest.mark.parametrize("fps", [0.0, -1.0, 1.0, 1000.0, float("nan"), float("inf")])
def test_absurd_fps(fps: float) -> None:
    with pytest.raises(KeypointsError, match="fps"):
        Keypoints.build(np.zeros((10, 33, 5), np.float32), fps=fps, width=100, height=100)


def test_infinite_values() -> None:
    lm = _good().landmarks.copy()
    lm[3, 25, 0] = np.inf
    with pytest.raises(KeypointsError, match="infinite"):
        Keypoints.build(lm, fps=30, width=720, height=1280)


def test_scorer_revalidates_hand_built_keypoints() -> None:
    kp = _good()
    bad_fps = dataclasses.replace(kp, fps=1e6)
    with pytest.raises(KeypointsError, match="fps"):
        score_keypoints(bad_fps)
    empty = dataclasses.replace(kp, landmarks=np.zeros((0, 33, 5), np.float32))
    with pytest.raises(KeypointsError, match="no frames"):
        score_keypoints(empty)
    inf = kp.landmarks.copy()
    inf[0, 0, 0] = -np.inf
    with pytest.raises(KeypointsError, match="infinite"):
        score_keypoints(dataclasses.replace(kp, landmarks=inf))
    with pytest.raises(KeypointsError, match="view"):
        score_keypoints(kp, view="top")  # type: ignore[arg-type]


def test_nan_frames_and_partial_nan_are_gaps_not_errors() -> None:
    lm = _good().landmarks.copy()
    lm[5:9] = np.nan  # no detection
    lm[20, 25, :2] = np.nan  # one missing knee
    kp = Keypoints.build(lm, fps=30, width=720, height=1280)
    res = score_keypoints(kp)
    assert res.rep_count == 1


def test_single_frame_and_all_nan() -> None:
    one = Keypoints.build(_good().landmarks[:1], fps=30, width=720, height=1280)
    assert score_keypoints(one).rep_count == 0
    nan = Keypoints.build(np.full((50, 33, 5), np.nan, np.float32), fps=30, width=10, height=10)
    res = score_keypoints(nan)
    assert res.rep_count == 0
    assert res.reason == "no person detected"


def test_xy_only_keypoints_are_scored() -> None:
    lm = _good().landmarks[..., :3]  # x, y, z: no visibility / presence from the client
    res = score_keypoints(Keypoints.build(lm, fps=30, width=720, height=1280))
    assert res.rep_count == 1
