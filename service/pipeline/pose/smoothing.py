"""Temporal smoothing as MediaPipe's pose_landmark_filtering.pbtxt does in video mode.

- visibility: a low-pass filter (alpha 0.1) — VisibilitySmoothingCalculator;
- image landmarks: a One Euro filter (min_cutoff 0.05, beta 80, derivative
  cutoff 1) on pixel coordinates, with the speed scaled by 1 / object size
  (the alignment box of the unfiltered auxiliary points), so that the same
  motion relative to the body smooths the same at any distance;
- auxiliary ROI points: the same filter, heavier (min_cutoff 0.01, beta 10);
- world landmarks: One Euro (min_cutoff 0.1, beta 40) without value scaling.

Every filter works on a whole (N, D) array at once; all state resets when a
frame has no pose (as the calculators do on an empty packet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_DEFAULT_FREQUENCY = 30.0


class LowPass:
    """y = alpha * x + (1 - alpha) * y_prev; the first value passes through."""

    def __init__(self) -> None:
        self.raw: FloatArray | None = None
        self.stored: FloatArray | None = None

    def apply(self, value: FloatArray, alpha: float | FloatArray) -> FloatArray:
        out = value.copy() if self.stored is None else alpha * value + (1.0 - alpha) * self.stored
        self.raw = value.copy()
        self.stored = out
        return out


@dataclass(frozen=True, slots=True)
class OneEuroParams:
    min_cutoff: float
    beta: float
    derivate_cutoff: float = 1.0
    value_scaling: bool = True


LANDMARKS = OneEuroParams(min_cutoff=0.05, beta=80.0)
AUXILIARY = OneEuroParams(min_cutoff=0.01, beta=10.0)
WORLD = OneEuroParams(min_cutoff=0.1, beta=40.0, value_scaling=False)
VISIBILITY_ALPHA = 0.1


class OneEuro:
    """One Euro filter (Casiez et al. 2012) with MediaPipe's conventions.

    The sampling frequency comes from the timestamps (the first frame assumes
    30 Hz), the speed of the first sample is 0, and a non-increasing timestamp
    returns the input unfiltered.
    """

    def __init__(self, params: OneEuroParams) -> None:
        self.params = params
        self._x = LowPass()
        self._dx = LowPass()
        self._last_t: float | None = None
        self._frequency = _DEFAULT_FREQUENCY

    def _alpha(self, cutoff: float | FloatArray) -> float | FloatArray:
        te = 1.0 / self._frequency
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / te)

    def apply(self, t_s: float, value: FloatArray, value_scale: float = 1.0) -> FloatArray:
        if self._last_t is not None:
            if t_s <= self._last_t:
                return value.copy()
            self._frequency = 1.0 / (t_s - self._last_t)
        self._last_t = t_s
        p = self.params
        if self._x.raw is None:
            speed = np.zeros_like(value)
        else:
            speed = (value - self._x.raw) * value_scale * self._frequency
        smoothed_speed = self._dx.apply(speed, self._alpha(p.derivate_cutoff))
        cutoff = p.min_cutoff + p.beta * np.abs(smoothed_speed)
        return self._x.apply(value, self._alpha(cutoff))


class PoseSmoother:
    """The filters of one tracked pose; ``reset()`` when the pose is lost."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.reset()

    def reset(self) -> None:
        self._vis = LowPass()
        self._aux_vis = LowPass()
        self._landmarks = OneEuro(LANDMARKS)
        self._aux = OneEuro(AUXILIARY)
        self._world = OneEuro(WORLD)

    def apply(
        self,
        t_s: float,
        landmarks: FloatArray,
        aux: FloatArray,
        world: FloatArray,
        *,
        object_scale: float,
        frame_width: int,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Smooth (33, 5) landmarks, (2, 5) aux points and (33, 3) world points of one frame.

        x, y are pixels and z is normalised by the frame width (MediaPipe's
        units); z is filtered in pixels like x, as the calculator does.
        ``object_scale`` is the pose's size in pixels; below 1e-6 the image
        landmarks pass unfiltered (MediaPipe's min_allowed_object_scale).
        """
        scale = 1.0 / object_scale if object_scale >= 1e-6 else None
        aux = self._smooth_image(self._aux_vis, self._aux, t_s, aux, scale, frame_width)
        if not self.enabled:
            return landmarks, aux, world
        landmarks = self._smooth_image(
            self._vis, self._landmarks, t_s, landmarks, scale, frame_width
        )
        world = self._world.apply(t_s, world)
        return landmarks, aux, world

    @staticmethod
    def _smooth_image(  # noqa: PLR0917 - a private helper over one frame's arrays
        vis: LowPass,
        coords: OneEuro,
        t_s: float,
        points: FloatArray,
        value_scale: float | None,
        frame_width: int,
    ) -> FloatArray:
        out = points.copy()
        out[:, 3] = vis.apply(points[:, 3], VISIBILITY_ALPHA)
        if value_scale is not None:
            xyz = points[:, :3] * np.array([1.0, 1.0, frame_width])
            out[:, :3] = coords.apply(t_s, xyz, value_scale) / np.array([1.0, 1.0, frame_width])
        return out
