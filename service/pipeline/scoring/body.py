"""Per-frame body geometry shared by the scorers: centres, segment lengths, scale.

All lengths are in pixels of the upright frame; the scorers divide by a body
length so that every threshold is in body units (framing, resolution and
camera distance drop out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import maximum_filter1d, median_filter

from service.pipeline.landmarks import (
    L_ANKLE,
    L_HIP,
    L_KNEE,
    L_SHOULDER,
    R_ANKLE,
    R_HIP,
    R_KNEE,
    R_SHOULDER,
)
from service.pipeline.scoring.cleanup import Cleaned, Points, interpolate_short_gaps

F64 = npt.NDArray[np.float64]

# Reach of the running leg-length estimate, each side of a frame. The 2D leg is
# foreshortened at the bottom of a front-view squat, so the scale at a frame is
# the longest the leg was within SCALE_REACH_S before it *and* within
# SCALE_REACH_S after it (the smaller of the two maxima, then median-smoothed):
# a rep has a standing frame on each side, and a person walking towards the
# camera (or a zoom) after the rep, or before it, lengthens one side only, so
# it never shrinks the scale of the rep. 4 s covers a slow tempo squat.
SCALE_REACH_S = 4.0
# Thigh (hip-knee) share of the hip-knee-ankle length (anthropometry: ~0.5).
THIGH_FRACTION = 0.5


def seg_len(xy: Points, a: int, b: int) -> F64:
    d: F64 = np.linalg.norm(xy[a] - xy[b], axis=-1)
    return d


def pair_mid(xy: Points, a: int, b: int) -> F64:
    """Midpoint of a left/right pair; the one visible point when the other is hidden."""
    pa, pb = xy[a], xy[b]
    mid = 0.5 * (pa + pb)
    mid = np.where(np.isfinite(mid), mid, pa)
    out: F64 = np.where(np.isfinite(mid), mid, pb)
    return out


def running_max(a: F64, reach: int) -> F64:
    """The smaller of the NaN-aware maxima over the ``reach`` frames up to and from each frame.

    A length that only foreshortens (never reads longer than it is) gets its true
    value back where it was seen whole on both sides; a real change of scale on
    one side (the person came nearer) is ignored until it holds on both. A side
    cut short by the clip's start or end is no evidence (the clip may start or
    end mid-squat): the other side decides there, and the larger of the two
    where both are cut short. NaN only where both sides are all NaN.
    """
    n = max(reach, 0) + 1
    filled = np.where(np.isfinite(a), a, -np.inf)
    past = maximum_filter1d(filled, size=n, origin=(n - 1) // 2, mode="nearest")
    future = maximum_filter1d(filled, size=n, origin=-(n // 2), mode="nearest")
    idx = np.arange(a.size)
    full_past = np.where(idx >= reach, past, np.inf)
    full_future = np.where(idx < a.size - reach, future, np.inf)
    out = np.minimum(full_past, full_future)
    out = np.where(np.isinf(out) & (out > 0), np.maximum(past, future), out)
    return np.where(np.isfinite(out), out, np.nan)


@dataclass(frozen=True, slots=True)
class Body:
    pelvis: F64  # (T, 2) mid-hip
    shoulders: F64  # (T, 2) mid-shoulder
    ankles: F64  # (T, 2) mid-ankle
    ground_y: F64  # (T,) ankle height in the image; estimated from the knees where feet are out
    torso: F64  # (T,) mid-shoulder to mid-hip, px
    leg: F64  # (T,) running leg length (hip-knee-ankle, longest side), px
    leg_clip: float  # one leg length for the clip, px (median of ``leg``)


def body_geometry(c: Cleaned) -> Body:
    xy = c.xy
    pelvis = pair_mid(xy, L_HIP, R_HIP)
    shoulders = pair_mid(xy, L_SHOULDER, R_SHOULDER)
    ankles = pair_mid(xy, L_ANKLE, R_ANKLE)
    torso: F64 = np.linalg.norm(shoulders - pelvis, axis=1)
    thigh = np.fmax(seg_len(xy, L_HIP, L_KNEE), seg_len(xy, R_HIP, R_KNEE))
    leg_l = seg_len(xy, L_HIP, L_KNEE) + seg_len(xy, L_KNEE, L_ANKLE)
    leg_r = seg_len(xy, R_HIP, R_KNEE) + seg_len(xy, R_KNEE, R_ANKLE)
    # fmax: one leg hidden (NaN) still leaves a usable length. Feet out of the
    # frame (a common phone framing): thigh and shank are about equal in length.
    leg_raw = np.fmax(leg_l, leg_r)
    leg_raw = np.where(np.isfinite(leg_raw), leg_raw, thigh / THIGH_FRACTION)
    leg = running_max(leg_raw, round(SCALE_REACH_S * c.fps))
    # The running max is biased up by single-frame spikes; a median over ~1 s removes them.
    # The scale changes slowly: take the median at ~10 samples/s and interpolate back.
    step = max(1, round(c.fps / 10))
    coarse = np.nan_to_num(leg[::step], nan=0.0)
    coarse = median_filter(coarse, size=max(3, round(c.fps / step)), mode="nearest")
    leg = np.interp(np.arange(leg.size), np.arange(0, leg.size, step), coarse)
    leg = np.where(leg > 0, leg, np.nan)
    leg = interpolate_short_gaps(leg, c.frames)  # scale is slow: bridge any gap
    # A frame with no body at all keeps NaN through everything downstream.
    finite = leg[np.isfinite(leg)]
    leg_clip = float(np.median(finite)) if finite.size else float("nan")
    # Where the ankles are unknown but the knees are seen, put the ankles one
    # standing shank below the knees: in a squat the shank tilts but keeps most
    # of its height (cos 30° = 0.87), so the height signal errs by < 0.07 leg.
    knees_y = pair_mid(xy, L_KNEE, R_KNEE)[:, 1]
    ground_y = np.where(
        np.isfinite(ankles[:, 1]), ankles[:, 1], knees_y + (1 - THIGH_FRACTION) * leg
    )
    return Body(pelvis, shoulders, ankles, ground_y, torso, leg, leg_clip)
