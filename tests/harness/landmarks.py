"""3D joints -> the 33-landmark keypoints contract, with pose-model-like errors.

Errors are modelled on what the shared clips show (docs/scoring.md gives the
figures): MediaPipe output is smoothed, so its frame-to-frame jitter is tiny
(0.02-0.3% of the leg on the clips) while its errors are slow: landmarks of
planted feet wander by 1-3% of the leg over a clip, hips and knees by ~0.6%.
The model: per landmark a slow drift (white noise low-passed at ~1.5 Hz,
``drift``), white jitter (``jitter``) and optionally a constant offset for the
whole clip (``bias``, which no clip can show), all in leg lengths; heel and
foot index get ``foot`` times as much. ``Noise.nominal()`` is the measured
level, ``Noise.stress()`` adds an offset as large as the drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_ANKLE, MIRROR, NUM_LANDMARKS, R_ANKLE
from tests.harness.body3d import Joints3D, unit
from tests.harness.camera import Camera

F64 = npt.NDArray[np.float64]

FOOT_POINTS = (29, 30, 31, 32)


@dataclass(frozen=True)
class Noise:
    bias: float = 0.0
    drift: float = 0.0
    jitter: float = 0.0
    foot: float = 1.0  # heel and foot index errors are this many times larger (hidden in front)
    z_noise: float = 0.0  # MediaPipe's z, leg lengths
    with_z: bool = True  # clients running their own pose model may send no z

    @classmethod
    def nominal(cls) -> Noise:
        """The level measured on the shared clips: slow drift and jitter (no fixed offset)."""
        return cls(drift=0.006, jitter=0.002, foot=2.0, z_noise=0.08)

    @classmethod
    def stress(cls) -> Noise:
        """Nominal plus a fixed per-clip offset per landmark as large as the drift."""
        return cls(bias=0.007, drift=0.006, jitter=0.002, foot=2.0, z_noise=0.08)

    @classmethod
    def none(cls) -> Noise:
        return cls()

    def scaled(self, k: float) -> Noise:
        return Noise(
            self.bias * k, self.drift * k, self.jitter * k, self.foot, self.z_noise * k, self.with_z
        )


def world_landmarks(j: Joints3D) -> F64:
    """(T, 33, 3) world positions of every BlazePose landmark."""
    T = j.t_s.size
    out = np.zeros((T, NUM_LANDMARKS, 3))
    st = j.stature
    fwd = j.facing
    right_dir = unit(j.shoulder[:, 1] - j.shoulder[:, 0])  # towards the subject's right
    up = unit(j.head - 0.5 * (j.shoulder[:, 0] + j.shoulder[:, 1]))
    face = j.head + fwd * 0.09 * st * 0.5
    out[:, 0] = face
    for k, (dx, dy) in enumerate(((0.012, 0.02), (0.02, 0.02), (0.03, 0.02))):
        out[:, 1 + k] = face - right_dir * dx * st + up * dy * st  # left eye: subject's left
        out[:, 4 + k] = face + right_dir * dx * st + up * dy * st
    out[:, 7] = j.head - right_dir * 0.045 * st
    out[:, 8] = j.head + right_dir * 0.045 * st
    out[:, 9] = face - right_dir * 0.015 * st - up * 0.025 * st
    out[:, 10] = face + right_dir * 0.015 * st - up * 0.025 * st
    out[:, 11], out[:, 12] = j.shoulder[:, 0], j.shoulder[:, 1]
    # Arms: hands clasped behind the head (prisoner squat), elbows out to the sides.
    for s, sign in ((0, -1.0), (1, 1.0)):
        elbow = j.shoulder[:, s] + right_dir * sign * 0.12 * st + up * 0.1 * st
        wrist = j.head - fwd * 0.05 * st + right_dir * sign * 0.03 * st
        out[:, 13 + s], out[:, 15 + s] = elbow, wrist
        for k in range(3):
            out[:, 17 + 2 * k + s] = wrist + up * 0.01 * st * (k + 1)
    out[:, 23], out[:, 24] = j.hip[:, 0], j.hip[:, 1]
    out[:, 25], out[:, 26] = j.knee[:, 0], j.knee[:, 1]
    out[:, 27], out[:, 28] = j.ankle[:, 0], j.ankle[:, 1]
    out[:, 29], out[:, 30] = j.heel[:, 0], j.heel[:, 1]
    out[:, 31], out[:, 32] = j.toe[:, 0], j.toe[:, 1]
    return out


def _slow_noise(rng: np.random.Generator, shape: tuple[int, ...], fps: float) -> F64:
    """Unit-variance noise low-passed at ~1.5 Hz (sigma 0.1 s)."""
    raw = rng.normal(size=shape)
    sig = 0.1 * fps
    out = gaussian_filter1d(raw, sig, axis=0, mode="nearest")
    out /= max(float(out.std()), 1e-9)
    return out


def subject_centre(pts: F64) -> F64:
    """The floor point the subject stands on, where the camera aims, from their world
    landmarks ``pts`` (T, 33, 3).

    Mocap labs do not put their subjects at the origin: a camera aimed there leaves
    them, feet first, outside the picture, where no landmark could have been seen.
    """
    feet = np.nanmedian(0.5 * (pts[:, L_ANKLE] + pts[:, R_ANKLE]), axis=0)
    return np.array([feet[0], 0.0, feet[2]])


def keypoints(j: Joints3D, cam: Camera, noise: Noise, seed: int) -> Keypoints:
    """Project through ``cam`` and add pose-model errors (leg-length units, scaled to pixels)."""
    rng = np.random.default_rng(seed)
    pts = world_landmarks(j)
    xy, depth = cam.project(pts, j.stature, subject_centre(pts), j.t_s)
    T = xy.shape[0]
    leg_px = float(
        np.median(
            np.linalg.norm(xy[:, 23] - xy[:, 25], axis=-1)
            + np.linalg.norm(xy[:, 25] - xy[:, 27], axis=-1)
        )
    )
    scale = np.ones(NUM_LANDMARKS)
    scale[list(FOOT_POINTS)] = noise.foot
    err = (
        rng.normal(size=(1, NUM_LANDMARKS, 2)) * noise.bias
        + _slow_noise(rng, (T, NUM_LANDMARKS, 2), 1.0 / np.median(np.diff(j.t_s))) * noise.drift
        + rng.normal(size=(T, NUM_LANDMARKS, 2)) * noise.jitter
    ) * scale[None, :, None]
    xy = xy + err * leg_px
    lm = np.zeros((T, NUM_LANDMARKS, 5))
    lm[..., :2] = xy
    if noise.with_z:
        # MediaPipe z: depth from the hips' midpoint, towards the camera negative, in
        # units of the image width; very noisy.
        mid = 0.5 * (depth[:, 23] + depth[:, 24])
        f = cam.focal_px
        zpx = (depth - mid[:, None]) * f / mid[:, None]
        zpx = zpx + rng.normal(size=(1, NUM_LANDMARKS)) * noise.z_noise * leg_px
        lm[..., 2] = zpx / cam.width
    else:
        lm[..., 2] = np.nan
    lm[..., 3] = 0.95
    lm[..., 4] = 0.99
    if cam.mirrored:
        lm = lm[:, list(MIRROR)]
    return Keypoints.build(
        lm.astype(np.float32),
        fps=float(1.0 / np.median(np.diff(j.t_s))),
        width=cam.width,
        height=cam.height,
        t_s=j.t_s,
    )
