"""Knee cave per side per rep: the knee against the plane of its own foot, rebuilt in 3D.

The graded measure (``lift.py``) is the knee's distance inside the plane
through the hip and the ankle that contains the foot's direction, in leg
lengths, median over the deep part of the rep (from 40% of the hip drop down
and back up: where a knee falls in, and where the thigh is far enough from the
hip-ankle line for the plane to be defined). A knee tracking over a turned-out
foot reads 0 at any stance width; a knee falling inside it reads positive;
knees pushed out read negative.

Severity bands, in true deviation (what a coach sees, for an adult leg of
~85 cm; a forefoot is ~10 cm wide, ~0.11 leg):
    < 0.08 none      the knee within ~7 cm of the line of its foot: still over
                     the foot, between its second and big toe
    < 0.15 mild      over the inside edge of the foot
    < 0.22 moderate  a foot's width or more inside the foot
    >= 0.22 severe   knees falling towards each other
The "none" edge is also the measure's own limit: on the 3D harness a knee
with no deviation reads 0.08 or more in about 2% of reps when the landmarks
also carry a fixed per-clip offset (docs/scoring.md). The score maps the
deviation piecewise linearly onto 0-100 with these edges at 85 / 60 / 35.

2D measures are still reported, not graded: the knee/toe ratio (it cannot tell
a turned-out foot from a caving knee), FPPA (dominated by thigh foreshortening
at the bottom of a deep squat, DESIGN §1) and KASR (Mizner et al. 2012).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.pipeline.scoring import lift
from service.pipeline.scoring.convert import optional, rounded
from service.pipeline.scoring.frames import FrontalFrames
from service.pipeline.scoring.phases import RepFrames, agg
from service.pipeline.scoring.schema import KneeCave, KneeSide, Severity

F64 = npt.NDArray[np.float64]

DEVIATION_KNOTS = (0.0, 0.08, 0.15, 0.22, 0.30)
SCORE_KNOTS = (100.0, 85.0, 60.0, 35.0, 0.0)
SEVERITY_BANDS: tuple[tuple[float, Severity], ...] = (
    (85.0, "none"),
    (60.0, "mild"),
    (35.0, "moderate"),
    (-1.0, "severe"),
)
# Body yaw beyond which knee cave is not graded. The 3D rebuild needs no frontal camera, but
# side on one leg hides the other and both feet point across the picture; up to here (past
# the 50° edge of the "oblique" label, whose estimate spreads by several degrees) it holds
# on the harness.
MAX_YAW_DEG = 60.0
# A rep needs this many frames in the deep part to be graded.
MIN_DEEP_FRAMES = 3
# Deviation uncertainty (leg lengths) at which a side's confidence halves. Above it the side
# is not graded: the two-sigma band would span more than a whole severity band. It happens
# when the foot points across the picture (an oblique camera on the far side of a turned-out
# foot), where the foot's depth, and so its direction, is poorly determined.
MAX_SD = 0.05


def deviation_score(dev: F64) -> F64:
    out: F64 = np.where(
        np.isfinite(dev), np.interp(np.nan_to_num(dev), DEVIATION_KNOTS, SCORE_KNOTS), np.nan
    )
    return out


def severity(score: float) -> Severity:
    for edge, name in SEVERITY_BANDS:
        if score >= edge:
            return name
    return "severe"


@dataclass(frozen=True, slots=True)
class KneeArrays:
    """Per-rep aggregates for every rep at once, as Python lists [rep] or [rep][side]."""

    score: list[Any]
    dev: list[Any]
    dev_deg: list[Any]
    dev_desc: list[Any]
    dev_asc: list[Any]
    dev_bottom: list[Any]
    dev_sd: list[Any]
    confidence: list[Any]  # [rep]: from the worse side's uncertainty
    ratio_mid: list[Any]
    ratio_desc: list[Any]
    ratio_asc: list[Any]
    ratio_bottom: list[Any]
    ankle_ratio_mid: list[Any]
    mkd: list[Any]
    fppa_bottom: list[Any]
    fppa_mid: list[Any]
    fppa_stand: list[Any]
    fppa_change: list[Any]
    kasr_mid: list[Any]
    kasr_bottom: list[Any]
    ktsr_mid: list[Any]
    deep_frames: list[int]


def knee_arrays(ff: FrontalFrames, legs: lift.Legs, rf: RepFrames) -> KneeArrays:
    feet = lift.rep_feet(legs, rf.around, rf.deep)
    foot_rep = lift.foot_direction(feet)
    own = lift.owner(rf.whole, ff.fppa_deg.shape[0])
    dev = lift.deviation(legs, lift.per_frame(foot_rep, own))
    # Descent and ascent weigh the same however long the lifter sits at the bottom.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # neither half seen: NaN
        deep = np.nanmean(np.stack([agg(dev.leg, rf.deep_down), agg(dev.leg, rf.deep_up)]), 0)
        deep_deg = np.nanmean(np.stack([agg(dev.deg, rf.deep_down), agg(dev.deg, rf.deep_up)]), 0)
    sd = agg(lift.deviation_sd(legs, feet, own), rf.deep)
    sd = np.where(lift.foot_across(foot_rep), np.nan, sd)  # not measurable
    score = deviation_score(deep)
    worse = np.where(score[:, 0] <= score[:, 1], 0, 1) if score.size else np.zeros(0, np.intp)
    sd_worse = np.take_along_axis(sd, worse[:, None], axis=1)[:, 0] if sd.size else sd[:, 0]
    conf = 1.0 / (1.0 + np.nan_to_num(sd_worse, nan=MAX_SD) / MAX_SD)
    fppa_mid, fppa_stand = agg(ff.fppa_deg, rf.mid), agg(ff.fppa_deg, rf.standing)
    return KneeArrays(
        score=rounded(score, 1),
        dev=rounded(deep),
        dev_deg=rounded(deep_deg, 1),
        dev_desc=rounded(agg(dev.leg, rf.descent_mid)),
        dev_asc=rounded(agg(dev.leg, rf.ascent_mid)),
        dev_bottom=rounded(agg(dev.leg, rf.bottom)),
        dev_sd=rounded(sd),
        confidence=rounded(conf),
        ratio_mid=rounded(agg(ff.knee_toe_ratio, rf.mid)),
        ratio_desc=rounded(agg(ff.knee_toe_ratio, rf.descent_mid)),
        ratio_asc=rounded(agg(ff.knee_toe_ratio, rf.ascent_mid)),
        ratio_bottom=rounded(agg(ff.knee_toe_ratio, rf.bottom)),
        ankle_ratio_mid=rounded(agg(ff.knee_ankle_ratio, rf.mid)),
        mkd=rounded(agg(ff.knee_lat, rf.standing) - agg(ff.knee_lat, rf.mid)),
        fppa_bottom=rounded(agg(ff.fppa_deg, rf.bottom)),
        fppa_mid=rounded(fppa_mid),
        fppa_stand=rounded(fppa_stand),
        fppa_change=rounded(fppa_mid - fppa_stand),
        kasr_mid=rounded(agg(ff.kasr, rf.mid)),
        kasr_bottom=rounded(agg(ff.kasr, rf.bottom)),
        ktsr_mid=rounded(agg(ff.ktsr, rf.mid)),
        deep_frames=(rf.deep >= 0).sum(axis=1).tolist(),
    )


def _side(k: KneeArrays, i: int, s: int) -> KneeSide | None:
    score = k.score[i][s]
    if math.isnan(score) or not k.dev_sd[i][s] <= MAX_SD:
        return None
    return KneeSide(
        score=score,
        severity=severity(score),
        deviation_leg=optional(k.dev[i][s]),
        deviation_deg=optional(k.dev_deg[i][s]),
        deviation_descent_leg=optional(k.dev_desc[i][s]),
        deviation_ascent_leg=optional(k.dev_asc[i][s]),
        deviation_bottom_leg=optional(k.dev_bottom[i][s]),
        deviation_sd_leg=optional(k.dev_sd[i][s]),
        knee_toe_ratio_mid=optional(k.ratio_mid[i][s]),
        knee_toe_ratio_descent=optional(k.ratio_desc[i][s]),
        knee_toe_ratio_ascent=optional(k.ratio_asc[i][s]),
        knee_toe_ratio_bottom=optional(k.ratio_bottom[i][s]),
        knee_ankle_ratio_mid=optional(k.ankle_ratio_mid[i][s]),
        medial_knee_displacement_leg=optional(k.mkd[i][s]),
        fppa_deg=optional(k.fppa_bottom[i][s]),
        fppa_mid_deg=optional(k.fppa_mid[i][s]),
        fppa_standing_deg=optional(k.fppa_stand[i][s]),
        fppa_mid_change_deg=optional(k.fppa_change[i][s]),
    )


def null_knee(reason: str) -> KneeCave:
    return KneeCave(score=None, severity=None, left=None, right=None, reason=reason)


def knee_cave(k: KneeArrays, i: int) -> KneeCave:
    """Knee cave for rep ``i`` (front or oblique view)."""
    if k.deep_frames[i] < MIN_DEEP_FRAMES:
        return null_knee("too few frames in the deep part of the rep (too fast for the frame rate)")
    left, right = _side(k, i, 0), _side(k, i, 1)
    scored = [
        (s.score, name)
        for s, name in ((left, "left"), (right, "right"))
        if s is not None and s.score is not None
    ]
    if not scored:
        if any(math.isfinite(x) for x in k.dev[i]):
            return null_knee(FOOT_ACROSS)
        return null_knee("hips, knees or feet not visible in the deep part of the rep")
    score, worse = min(scored)
    tie = len(scored) == 2 and scored[0][0] == scored[1][0]
    return KneeCave(
        score=score,
        severity=severity(score),
        worse_side=None if tie else ("left" if worse == "left" else "right"),
        left=left,
        right=right,
        kasr_mid=optional(k.kasr_mid[i]),
        kasr_bottom=optional(k.kasr_bottom[i]),
        ktsr_mid=optional(k.ktsr_mid[i]),
        reason=None if left and right else _one_side_reason(k, i, 0 if left is None else 1),
    )


FOOT_ACROSS = (
    "the foot points across the picture from this camera: its direction, and so the knee's "
    "deviation from it, cannot be measured well enough"
)


def _one_side_reason(k: KneeArrays, i: int, s: int) -> str:
    name = ("left", "right")[s]
    if math.isfinite(k.dev[i][s]):
        return f"{name} knee not graded: {FOOT_ACROSS}"
    return f"{name} leg not visible in the deep part of the rep"
