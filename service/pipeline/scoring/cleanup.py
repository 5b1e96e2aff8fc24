"""Keypoint clean-up: mask unreliable points, bridge short gaps, remove jitter.

Everything is vectorised over (T, K, 2). Two rules from Pose2Sim's filtering
(STYLE §6): interpolate only short gaps and leave long ones NaN (a 1 s hole
filled linearly would invent a squat that never happened), and never smooth
across a gap. Smoothing here is a NaN-aware Gaussian (normalised convolution:
the kernel is renormalised over the valid samples under it), so a gap is never
bridged by the filter and its width is set in seconds, not frames, which keeps
results stable from 10 to 60 fps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_HIP, L_SHOULDER, LEG, NUM_LANDMARKS, R_HIP, R_SHOULDER

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

# Points below this visibility are treated as missing. MediaPipe reports
# ~0.2-0.5 for a leg hidden behind the other in a side view and ~1 for a
# clearly visible one; 0.3 keeps partially occluded but tracked joints.
MIN_VISIBILITY = 0.3
# Gaps up to this long are bridged linearly: at 0.25 s a squatting hip moves
# at most ~10% of a leg length, so a line is a fair guess; longer is invention.
MAX_GAP_S = 0.25
# Jitter filter. Landmark noise is mostly > 5 Hz; squat motion < 2 Hz.
# sigma 0.04 s is a ~4 Hz (-3 dB) low-pass: kills jitter, keeps the rep shape.
JITTER_SIGMA_S = 0.04
# The landmarks the scorer reads: shoulders (torso, view), the legs and feet.
USED = [L_SHOULDER, R_SHOULDER, *LEG]
WORLD_USED = [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]


@dataclass(frozen=True, slots=True)
class Cleaned:
    """Cleaned pixel coordinates and what was done to them."""

    xy: F64  # (T, 33, 2) pixels, NaN where unknown
    z: F64  # (T, 33) MediaPipe relative depth in pixels (z * width), NaN where unknown
    valid: B  # (T, 33) point was observed (not interpolated) with enough visibility
    vis: F64  # (T, 33) visibility of USED points as reported (1 where the client sent none), else 0
    world: F64  # (T, 33, 3) metres, NaN when absent
    t_s: F64
    fps: float
    width: int
    height: int

    @property
    def frames(self) -> int:
        return int(self.xy.shape[0])


def interpolate_short_gaps(a: F64, max_gap: int) -> F64:
    """Linearly fill NaN runs of length <= max_gap along axis 0 (all other axes at once).

    Runs touching either end stay NaN: there is nothing to interpolate towards.
    """
    t = a.shape[0]
    whole = a.reshape(t, -1)
    # Only columns with a hole need work (most clips have none on most points).
    holed = np.flatnonzero(~np.isfinite(whole).all(axis=0))
    if holed.size == 0 or max_gap <= 0:
        return a.copy()
    flat = whole[:, holed]
    ok = np.isfinite(flat)
    idx = np.arange(t)[:, None]
    # index of the previous / next valid sample for every (frame, channel)
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(ok, idx, t)[::-1], axis=0)[::-1]
    gap = nxt - prev - 1
    fill = ~ok & (prev >= 0) & (nxt < t) & (gap <= max_gap)
    pi = np.clip(prev, 0, t - 1)
    ni = np.clip(nxt, 0, t - 1)
    cols = np.arange(flat.shape[1])[None, :]
    vp = flat[pi, cols]
    vn = flat[ni, cols]
    w = np.where(fill, (idx - prev) / np.maximum(nxt - prev, 1), 0.0)
    res = whole.copy()
    res[:, holed] = np.where(fill, vp + (vn - vp) * w, flat)
    return res.reshape(a.shape)


def nan_gaussian(a: F64, sigma_frames: float) -> F64:
    """Gaussian smoothing along axis 0 that ignores NaN and keeps NaN where input was NaN."""
    if sigma_frames < 0.5:
        return a.copy()
    ok = np.isfinite(a)
    if ok.all():  # no gaps: a plain filter (edges renormalised the same way)
        num = gaussian_filter1d(a, sigma_frames, axis=0, mode="constant", truncate=3.0)
        den1 = gaussian_filter1d(
            np.ones(a.shape[0]), sigma_frames, mode="constant", truncate=3.0
        ).reshape((-1,) + (1,) * (a.ndim - 1))
        plain: F64 = num / den1
        return plain
    filled = np.where(ok, a, 0.0)
    num = gaussian_filter1d(filled, sigma_frames, axis=0, mode="constant", truncate=3.0)
    den = gaussian_filter1d(
        ok.astype(np.float64), sigma_frames, axis=0, mode="constant", truncate=3.0
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(ok, out, np.nan)


def clean(kp: Keypoints, *, min_visibility: float = MIN_VISIBILITY) -> Cleaned:
    """Clean the landmarks the scorer uses (USED); the others stay NaN in ``xy``."""
    t = kp.frames
    lm = kp.landmarks[:, USED].astype(np.float64)
    vis = lm[:, :, 3]
    # Missing visibility (a client that sends x, y only) means "trust the point".
    low = np.isfinite(vis) & (vis < min_visibility)
    ok = np.isfinite(lm[:, :, :2]).all(axis=2) & ~low
    xy_u = np.where(ok[..., None], lm[:, :, :2], np.nan)
    z_u = np.where(ok, lm[:, :, 2] * kp.width, np.nan)

    max_gap = round(MAX_GAP_S * kp.fps)
    sigma = JITTER_SIGMA_S * kp.fps
    xy = np.full((t, NUM_LANDMARKS, 2), np.nan)
    z = np.full((t, NUM_LANDMARKS), np.nan)
    xy[:, USED] = nan_gaussian(interpolate_short_gaps(xy_u, max_gap), sigma)
    z[:, USED] = nan_gaussian(interpolate_short_gaps(z_u, max_gap), sigma)
    valid = np.zeros((t, NUM_LANDMARKS), bool)
    valid[:, USED] = ok
    vis_out = np.zeros((t, NUM_LANDMARKS))
    present = np.isfinite(lm[:, :, 0])
    vis_out[:, USED] = np.where(np.isfinite(vis), vis, np.where(present, 1.0, 0.0))
    # World landmarks: only the shoulders and hips are read (view); no float64 copy of the rest.
    world = np.full((t, NUM_LANDMARKS, 3), np.nan)
    world[:, WORLD_USED] = kp.world[:, WORLD_USED]
    return Cleaned(xy, z, valid, vis_out, world, kp.t_s, kp.fps, kp.width, kp.height)
