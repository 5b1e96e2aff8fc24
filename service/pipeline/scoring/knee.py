"""Knee cave per side per rep: where the knee tracks against the toes at matched depth.

The graded measure is the coach's "knees inside the line of the toes": the
knee's sideways distance from the midline of the feet over the toe's, at
mid-depth of the descent and the ascent (``phases.MID_LO``-``MID_HI`` of the
rep's hip drop). 1.0 = knee over the toe, < 1 = inside. It is a ratio of two
distances measured the same way, so camera distance, resolution and zoom drop
out (stance width only partly: a wide, turned-out stance reads lower); it is
taken at mid-depth, where the thigh is not yet pointing at the camera (raw FPPA
at the bottom of a deep squat is dominated by that foreshortening, DESIGN §1),
and it is signed per side against the body's own midline, so a mirrored video
swaps the sides and nothing else.

Thresholds (per side, ``knee_toe_ratio_mid``):
    >= 0.93 none     knee over or outside the toe, within landmark noise
    >= 0.70 mild     knee inside the toe line by up to 30% of the half-stance
    >= 0.50 moderate
    <  0.50 severe   knee nearer the midline than halfway to the toe
Why: on the labelled clips the correct reps read 1.04-1.26, the labelled
cave reps 0.77-0.88 on the caving side (DESIGN §1: knee/toe separation 0.96 vs
1.15 bilaterally), the trainer-labelled right-knee cave 0.29. A wide,
turned-out stance (goblet clip, labelled "none" from the bottom position)
reads 0.78-0.89 at mid-depth: the knee tracks the middle of a turned-out foot,
inside its toe tip, which is why the mild band is wide. The noise of the
ratio from landmark jitter (~1-2% of torso length per point) is ~0.03-0.05, so
"none" starts two noise widths below 1.0. The score maps the ratio piecewise
linearly onto 0-100 with the band edges at 85 / 60 / 35.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.pipeline.scoring.convert import optional, rounded
from service.pipeline.scoring.frames import FrontalFrames
from service.pipeline.scoring.phases import RepFrames, agg
from service.pipeline.scoring.schema import KneeCave, KneeSide, Severity

F64 = npt.NDArray[np.float64]

RATIO_KNOTS = (0.2, 0.5, 0.70, 0.93, 1.0)
SCORE_KNOTS = (0.0, 35.0, 60.0, 85.0, 100.0)
SEVERITY_BANDS: tuple[tuple[float, Severity], ...] = (
    (85.0, "none"),
    (60.0, "mild"),
    (35.0, "moderate"),
    (-1.0, "severe"),
)
# Fewer mid-depth frames than this (per phase) and the measure is not trusted.
MIN_MID_FRAMES = 2


def ratio_score(ratio: float) -> float:
    return round(float(np.interp(ratio, RATIO_KNOTS, SCORE_KNOTS)), 1)


def severity(score: float) -> Severity:
    for edge, name in SEVERITY_BANDS:
        if score >= edge:
            return name
    return "severe"


@dataclass(frozen=True, slots=True)
class KneeArrays:
    """Per-rep aggregates for every rep at once, as Python lists [rep] or [rep][side]."""

    score: list[Any]
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
    mid_frames: list[int]


def knee_arrays(ff: FrontalFrames, rf: RepFrames) -> KneeArrays:
    ratio = agg(ff.knee_toe_ratio, rf.mid)
    score = np.where(np.isfinite(ratio), np.interp(ratio, RATIO_KNOTS, SCORE_KNOTS), np.nan)
    fppa_mid, fppa_stand = agg(ff.fppa_deg, rf.mid), agg(ff.fppa_deg, rf.standing)
    return KneeArrays(
        score=rounded(score, 1),
        ratio_mid=rounded(ratio),
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
        mid_frames=(rf.mid >= 0).sum(axis=1).tolist(),
    )


def _side(k: KneeArrays, i: int, s: int) -> KneeSide | None:
    score = k.score[i][s]
    if math.isnan(score):
        return None
    return KneeSide(
        score=score,
        severity=severity(score),
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
    """Knee cave for rep ``i`` seen from the front."""
    if k.mid_frames[i] < MIN_MID_FRAMES:
        return null_knee("too few frames at mid-depth (rep too fast for the frame rate)")
    left, right = _side(k, i, 0), _side(k, i, 1)
    scored = [
        (s.score, name)
        for s, name in ((left, "left"), (right, "right"))
        if s is not None and s.score is not None
    ]
    if not scored:
        return null_knee(
            "knees or feet not visible at mid-depth, or feet too close together to judge"
        )
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
        reason=None if left and right else "one leg not visible at mid-depth",
    )
