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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from service.pipeline.keypoints import MAX_FPS, MIN_FPS, Keypoints
from service.pipeline.landmarks import L_HIP, L_SHOULDER, LEG, R_HIP, R_SHOULDER

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

# Points below this visibility are treated as missing. MediaPipe reports
# ~0.2-0.5 for a leg hidden behind the other in a side view and ~1 for a
# clearly visible one; 0.3 keeps partially occluded but tracked joints.
MIN_VISIBILITY = 0.3
# Gaps up to this long are bridged linearly: a rep lasts >= 1 s, so over a
# quarter second the path is close to a straight line; longer is invention.
MAX_GAP_S = 0.25
# Jitter filter. Landmark noise is mostly > 5 Hz; squat motion < 2 Hz.
# A Gaussian of sigma 0.04 s is a ~3.3 Hz (-3 dB) low-pass: it removes the
# jitter and keeps the rep shape (FPPA within 0.5° on synthetic truth).
JITTER_SIGMA_S = 0.04
# The landmarks the scorer reads: shoulders (torso, view), the legs and feet.
USED = [L_SHOULDER, R_SHOULDER, *LEG]
WORLD_USED = [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]
_USED_SLICES = (slice(L_SHOULDER, R_SHOULDER + 1), slice(LEG[0], LEG[-1] + 1))
assert [i for s in _USED_SLICES for i in range(s.start, s.stop)] == USED


class Points:
    """Landmark-indexed access to a compact (T, K, ...) array of the landmarks in ``ids``.

    ``pts[j]`` is landmark j over time, ``pts[[a, b]]`` several (T, 2, ...). Only
    the landmarks the scorer reads are stored: an hour of video is 108,000 frames,
    and copying all 33 landmarks through every step would dominate the run time.
    """

    __slots__ = ("_col", "data")

    def __init__(self, data: npt.NDArray[Any], ids: Sequence[int]) -> None:
        self.data = data
        self._col = {j: k for k, j in enumerate(ids)}

    def cols(self, j: int | Sequence[int]) -> int | list[int]:
        return self._col[j] if isinstance(j, int) else [self._col[i] for i in j]

    def __getitem__(self, j: int | Sequence[int]) -> npt.NDArray[Any]:
        out: npt.NDArray[Any] = self.data[:, self.cols(j)]
        return out


@dataclass(frozen=True, slots=True)
class Cleaned:
    """Cleaned pixel coordinates of the USED landmarks and what was done to them."""

    xy: Points  # (T, 2) per landmark, pixels, NaN where unknown
    z: Points  # (T,) MediaPipe depth in pixels (z * width) for WORLD_USED, NaN where unknown
    valid: Points  # (T,) bool: observed (not interpolated) with enough visibility
    vis: Points  # (T,) visibility as reported (1 where the client sent none, 0 if absent)
    world: Points  # (T, 3) metres for WORLD_USED, NaN when absent
    t_s: F64
    fps: float
    width: int
    height: int

    @property
    def frames(self) -> int:
        return int(self.t_s.shape[0])


def interpolate_short_gaps(a: F64, max_gap: int) -> F64:
    """Linearly fill NaN runs of length <= max_gap along axis 0 (all other axes at once).

    Runs touching either end stay NaN: there is nothing to interpolate towards.
    """
    t = a.shape[0]
    whole = a.reshape(t, -1)
    # Only columns with a hole need work (most clips have none on most points).
    holed = np.flatnonzero(~np.isfinite(whole).all(axis=0))
    if holed.size == 0 or max_gap <= 0:
        return a  # nothing to fill; callers never write into the result
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


def _plain_gaussian(a: F64, sigma_frames: float) -> F64:
    """Gaussian along axis 0 of gap-free data, renormalised at the two ends like the NaN path."""
    num: F64 = gaussian_filter1d(
        np.ascontiguousarray(a), sigma_frames, axis=0, mode="constant", truncate=3.0
    )
    den = gaussian_filter1d(np.ones(a.shape[0]), sigma_frames, mode="constant", truncate=3.0)
    edge = np.flatnonzero(den < 1.0 - 1e-12)  # only within 3 sigma of either end
    num[edge] /= den[edge].reshape((-1,) + (1,) * (a.ndim - 1))
    return num


def nan_gaussian(a: F64, sigma_frames: float, *, all_finite: bool | None = None) -> F64:
    """Gaussian smoothing along axis 0 that ignores NaN and keeps NaN where input was NaN.

    ``all_finite``: the caller already knows there is no NaN (skips a full-size check).
    """
    if sigma_frames < 0.5:
        return a.copy()
    if all_finite or (all_finite is None and np.isfinite(a).all()):
        return _plain_gaussian(a, sigma_frames)
    ok = np.isfinite(a)
    filled = np.where(ok, a, 0.0)
    num = gaussian_filter1d(filled, sigma_frames, axis=0, mode="constant", truncate=3.0)
    den = gaussian_filter1d(
        ok.astype(np.float64), sigma_frames, axis=0, mode="constant", truncate=3.0
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(ok, out, np.nan)


def sampling_rate(kp: Keypoints) -> float:
    """Frames per second as the timestamps have them, for every width set in seconds.

    A variable-frame-rate phone video, or an app whose pose runs slower than the camera,
    delivers fewer frames than its stated ``fps``: filters and windows sized from that
    number would be too wide in time (a 22.5 fps stream labelled 30 moved the goblet
    clip's deviations by up to 0.033 leg; with the timestamps' rate, 0.003).
    """
    span = float(kp.t_s[-1] - kp.t_s[0]) if kp.frames > 1 else 0.0
    if not span > 0:
        return kp.fps
    return float(np.clip((kp.frames - 1) / span, MIN_FPS, MAX_FPS))


def observed(
    lm: npt.NDArray[np.floating[Any]],
    width: int,
    height: int,
    min_visibility: float = MIN_VISIBILITY,
) -> B:
    """(T, K) which landmarks (T, K, ≥4: x, y, z, visibility) count as seen.

    Missing visibility (a client that sends x, y only) means "trust the point". A
    landmark outside the picture was never seen: the pose model extrapolates it from the
    rest of the body (feet cut off by the frame still come back with visibility ~0.9), so
    a knee-over-foot verdict built on it would be a guess.
    """
    x, y, vis = lm[..., 0], lm[..., 1], lm[..., 3]
    with np.errstate(invalid="ignore"):
        ok: B = np.isfinite(x) & np.isfinite(y) & ~(np.isfinite(vis) & (vis < min_visibility))
        ok &= (x >= 0) & (x < width) & (y >= 0) & (y < height)
    return ok


def clean(kp: Keypoints, *, min_visibility: float = MIN_VISIBILITY) -> Cleaned:
    """Clean the landmarks the scorer uses (USED); the others are not kept."""
    # x, y, z, visibility of the USED landmarks; two slices, not a fancy-index gather.
    src = kp.landmarks
    lm = np.concatenate([src[:, s, :4] for s in _USED_SLICES], axis=1).astype(np.float64)
    vis = lm[:, :, 3]
    present = np.isfinite(lm[:, :, 0])
    vis_known = np.isfinite(vis)
    ok = observed(lm, kp.width, kp.height, min_visibility)
    zcols = [USED.index(j) for j in WORLD_USED]  # depth is only read for the view
    fps = sampling_rate(kp)
    max_gap = round(MAX_GAP_S * fps)
    sigma = JITTER_SIGMA_S * fps
    if ok.all():  # the common case: no masking, no gaps to fill, a plain filter
        xy = nan_gaussian(lm[:, :, :2], sigma, all_finite=True)
        # z may be missing (NaN) where x, y are not: let the filter check.
        z = nan_gaussian(interpolate_short_gaps(lm[:, zcols, 2] * kp.width, max_gap), sigma)
    else:
        xy_u = np.where(ok[..., None], lm[:, :, :2], np.nan)
        z_u = np.where(ok[:, zcols], lm[:, zcols, 2] * kp.width, np.nan)
        xy = nan_gaussian(interpolate_short_gaps(xy_u, max_gap), sigma)
        z = nan_gaussian(interpolate_short_gaps(z_u, max_gap), sigma)
    vis_out = vis if vis_known.all() else np.where(vis_known, vis, present.astype(np.float64))
    world = kp.world[:, WORLD_USED].astype(np.float64)
    return Cleaned(
        Points(xy, USED),
        Points(z, WORLD_USED),
        Points(ok, USED),
        Points(vis_out, USED),
        Points(world, WORLD_USED),
        kp.t_s,
        fps,
        kp.width,
        kp.height,
    )
