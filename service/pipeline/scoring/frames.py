"""Per-frame frontal-plane measures, vectorised over T, one column per side.

Everything a rep needs is computed once for the whole clip here; ``knee.py``
and ``ankle.py`` only pick frames (standing, mid-depth, bottom) and aggregate.

Frame of reference: ``e[:, s]`` is the unit vector from the body's midline
towards side ``s`` (0 = subject's left, 1 = right), taken from the hip line so
it follows the person, not the image axes: a mirrored video flips it with the
sides, and a tilted camera rotates it with the body. The midline point ``c``
is the midpoint of the two toes (the base of support), so a hip shift does not
read as knee cave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.pipeline.landmarks import (
    L_ANKLE,
    L_HEEL,
    L_HIP,
    L_KNEE,
    L_TOE,
    R_ANKLE,
    R_HEEL,
    R_HIP,
    R_KNEE,
    R_TOE,
)
from service.pipeline.scoring.body import Body
from service.pipeline.scoring.cleanup import Cleaned, Points

F64 = npt.NDArray[np.float64]

HIP = (L_HIP, R_HIP)
KNEE = (L_KNEE, R_KNEE)
ANKLE = (L_ANKLE, R_ANKLE)
HEEL = (L_HEEL, R_HEEL)
TOE = (L_TOE, R_TOE)
# Heel-to-foot-index length in leg lengths (anthropometry: foot ~0.15 of height,
# hip-to-ankle ~0.49; the foot-index landmark sits short of the toe tip).
FOOT_LEN_LEG = 0.28
# Half the distance between the feet, leg lengths, below which the knee/foot
# ratios are undefined (feet together: a few px of noise would swing the ratio).
MIN_HALF_BASE = 0.04


@dataclass(frozen=True, slots=True)
class FrontalFrames:
    """(T, 2) arrays: column 0 = left, 1 = right. NaN where landmarks are missing."""

    knee_toe_ratio: F64
    knee_ankle_ratio: F64
    knee_lat: F64  # knee's sideways distance from the midline, leg lengths
    fppa_deg: F64
    shank_tilt_deg: F64  # positive = knee inside the ankle
    ankle_vs_foot: F64  # ankle's sideways offset from the heel-toe midpoint, leg lengths (+ = out)
    toe_out: F64  # toe's sideways offset from the heel, leg lengths (+ = out)
    heel_rise: F64  # heel above the toe, leg lengths
    kasr: F64  # (T,) knee separation / ankle separation
    ktsr: F64  # (T,) knee separation / toe separation


def _dot(a: F64, b: F64) -> F64:
    # Written out: for 2-vectors this beats einsum/matmul several times over.
    out: F64 = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]
    return out


def _stack(xy: Points, idx: tuple[int, int]) -> F64:
    out: F64 = xy[list(idx)]  # (T, 2 sides, 2 coords)
    return out


def fppa(hip: F64, knee: F64, ankle: F64, e: F64) -> F64:
    """Signed 2D frontal-plane projection angle, degrees, valgus (knee inside) positive.

    The angle between the thigh (hip->knee) and the shank (knee->ankle): 0 for
    a straight leg. Its sign is the side of the hip-ankle line the knee is on:
    towards the midline (against ``e``) is valgus.
    """
    thigh = knee - hip
    shank = ankle - knee
    cross = thigh[..., 0] * shank[..., 1] - thigh[..., 1] * shank[..., 0]
    ang = np.degrees(np.arctan2(np.abs(cross), _dot(thigh, shank)))
    line = ankle - hip
    with np.errstate(invalid="ignore", divide="ignore"):
        t = _dot(knee - hip, line) / _dot(line, line)
    off = knee - (hip + t[..., None] * line)
    sign = -np.sign(_dot(off, e))
    out: F64 = ang * np.where(sign == 0, 1.0, sign)
    return out


def frontal_frames(c: Cleaned, body: Body) -> FrontalFrames:
    xy = c.xy
    leg = body.leg[:, None]
    hips, knees, ankles = _stack(xy, HIP), _stack(xy, KNEE), _stack(xy, ANKLE)
    heels, toes = _stack(xy, HEEL), _stack(xy, TOE)
    u = hips[:, 0] - hips[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
    e = np.stack([u, -u], axis=1)  # (T, 2, 2): outward unit vector per side
    mid_toe = 0.5 * (toes[:, 0] + toes[:, 1])[:, None]
    mid_ank = 0.5 * (ankles[:, 0] + ankles[:, 1])[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        # Ratios need feet apart: below MIN_HALF_BASE the denominator is noise.
        toe_half = _dot(toes - mid_toe, e)
        ank_half = _dot(ankles - mid_ank, e)
        toe_half = np.where(toe_half / leg >= MIN_HALF_BASE, toe_half, np.nan)
        ank_half = np.where(ank_half / leg >= MIN_HALF_BASE, ank_half, np.nan)
        knee_toe = _dot(knees - mid_toe, e) / toe_half
        knee_ankle = _dot(knees - mid_ank, e) / ank_half
        knee_lat = _dot(knees - mid_toe, e) / leg
        shank = knees - ankles
        # Tilt from vertical (image y points down, the shank points up), + when the knee is inside.
        tilt = np.degrees(np.arctan2(-_dot(shank, e), -shank[..., 1]))
        foot_mid = 0.5 * (heels + toes)
        ankle_vs_foot = _dot(ankles - foot_mid, e) / leg
        toe_out = _dot(toes - heels, e) / leg
        heel_rise = (toes[..., 1] - heels[..., 1]) / leg
        ksep = _dot(knees[:, 0] - knees[:, 1], u)
        kasr = ksep / _dot(ankles[:, 0] - ankles[:, 1], u)
        ktsr = ksep / _dot(toes[:, 0] - toes[:, 1], u)
    return FrontalFrames(
        knee_toe_ratio=knee_toe,
        knee_ankle_ratio=knee_ankle,
        knee_lat=knee_lat,
        fppa_deg=fppa(hips, knees, ankles, e),
        shank_tilt_deg=tilt,
        ankle_vs_foot=ankle_vs_foot,
        toe_out=toe_out,
        heel_rise=heel_rise,
        kasr=kasr,
        ktsr=ktsr,
    )
