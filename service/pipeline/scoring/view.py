"""Camera view (front / side / oblique) from body geometry.

The quantity is the body's yaw against the camera: 0° facing it, 90° side on.
Three independent estimates, combined by a per-frame median so one bad cue
cannot decide alone:

1. Width: shoulder and hip breadth against the (running, unforeshortened) leg
   length. A frontal adult shows shoulders ~0.45 and hips ~0.3 leg lengths wide
   (anthropometric ratios; 0.40-0.50 / 0.27-0.33 on the labelled clips);
   breadth shrinks with cos(yaw).
2. Depth: MediaPipe's per-landmark z. The left/right depth difference against
   the left/right image distance, atan2(|dz|, |dx|), for shoulders and hips.
3. World landmarks (metres), same angle, when the pose engine supplies them.

Visibility asymmetry (one side's joints reported as hidden) cannot give an
angle, but a "front" view with one side much less visible than the other is
suspect: it lowers that rep's view confidence (``ASYMMETRY_SUSPECT``). Yaw thresholds: below 30° the
frontal-plane projection of the knee is within cos(30°) = 87% of true scale and
sagittal knee travel leaks < 50% into it: front. Above 50°: side. Between:
oblique, where frontal knee measures are contaminated by knee flexion.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

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
from service.pipeline.scoring.body import Body
from service.pipeline.scoring.cleanup import Cleaned
from service.pipeline.scoring.phases import row_quantile

F64 = npt.NDArray[np.float64]
View = Literal["front", "side", "oblique"]

FRONT_MAX_YAW = 30.0
# Mean visibility of one side's shoulder-hip-knee-ankle minus the other's. Front
# views read |asym| < 0.05 on the labelled clips, side views 0.1-0.6.
ASYMMETRY_SUSPECT = 0.25
SIDE_MIN_YAW = 50.0
# Frontal breadths in leg lengths (see module docstring).
SHOULDER_BREADTH = 0.45
HIP_BREADTH = 0.30


def _pair_yaw(dx: F64, dz: F64) -> F64:
    with np.errstate(invalid="ignore"):
        out: F64 = np.degrees(np.arctan2(np.abs(dz), np.abs(dx)))
    return out


def frame_yaw(c: Cleaned, body: Body) -> F64:
    """Per-frame yaw estimate in degrees (0 = facing the camera), NaN where unknown."""
    xy, z, w = c.xy, c.z, c.world
    est = []
    for a, b, breadth in ((L_SHOULDER, R_SHOULDER, SHOULDER_BREADTH), (L_HIP, R_HIP, HIP_BREADTH)):
        dx = xy[a][:, 0] - xy[b][:, 0]
        width = np.abs(dx) / body.leg
        with np.errstate(invalid="ignore"):
            est.append(np.degrees(np.arccos(np.clip(width / breadth, 0.0, 1.0))))
        est.append(_pair_yaw(dx, z[a] - z[b]))
        wa, wb = w[a], w[b]
        est.append(_pair_yaw(wa[:, 0] - wb[:, 0], wa[:, 2] - wb[:, 2]))
    return row_quantile(np.stack(est, axis=1), 0.5)


def visibility_asymmetry(c: Cleaned) -> F64:
    """Per frame: left-side minus right-side mean visibility of the major joints."""
    left = c.vis[[L_SHOULDER, L_HIP, L_KNEE, L_ANKLE]].mean(axis=1)
    right = c.vis[[R_SHOULDER, R_HIP, R_KNEE, R_ANKLE]].mean(axis=1)
    out: F64 = left - right
    return out


def classify(yaw_deg: float) -> View:
    if yaw_deg <= FRONT_MAX_YAW:
        return "front"
    if yaw_deg >= SIDE_MIN_YAW:
        return "side"
    return "oblique"


def view_confidence(yaw_deg: float, spread_deg: float) -> float:
    """0..1: how far the yaw is from the nearest class boundary, less its spread."""
    view = classify(yaw_deg)
    if view == "front":
        margin = FRONT_MAX_YAW - yaw_deg
    elif view == "side":
        margin = yaw_deg - SIDE_MIN_YAW
    else:
        margin = min(yaw_deg - FRONT_MAX_YAW, SIDE_MIN_YAW - yaw_deg)
    # 15° of margin is certain; a 20° frame-to-frame spread halves confidence.
    conf = 0.5 + 0.5 * min(1.0, max(0.0, margin) / 15.0)
    conf *= 1.0 / (1.0 + max(0.0, spread_deg) / 20.0)
    return float(round(min(1.0, max(0.0, conf)), 3))


def window_view(yaw: F64, sl: slice) -> tuple[View, float, float]:
    """(view, yaw°, confidence) over a span of frames; ("oblique", nan, 0) when unknown."""
    seg = yaw[sl]
    seg = seg[np.isfinite(seg)]
    if seg.size == 0:
        return "oblique", float("nan"), 0.0
    med = float(np.median(seg))
    spread = float(np.percentile(seg, 90) - np.percentile(seg, 10))
    return classify(med), med, view_confidence(med, spread)
