"""Knee cave per side per rep: where the knee tracks against the toes at matched depth.

The graded measure is the coach's "knees inside the line of the toes": the
knee's sideways distance from the midline of the feet over the toe's, at
mid-depth of the descent and the ascent (``phases.MID_LO``-``MID_HI`` of the
rep's hip drop). 1.0 = knee over the toe, < 1 = inside. It is a ratio of two
distances in the same image row band, so camera distance, resolution, zoom and
stance width drop out; it is taken at mid-depth, where the thigh is not yet
pointing at the camera (raw FPPA at the bottom of a deep squat is dominated by
that foreshortening, DESIGN §1), and it is signed per side against the body's
own midline, so a mirrored video swaps the sides and nothing else.

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

import numpy as np
import numpy.typing as npt

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


def _f(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 3)


@dataclass(frozen=True, slots=True)
class KneeArrays:
    """Per-rep (n,) or (n, 2 sides) aggregates, computed for every rep at once."""

    ratio_mid: F64
    ratio_desc: F64
    ratio_asc: F64
    ratio_bottom: F64
    ankle_ratio_mid: F64
    mkd: F64
    fppa_bottom: F64
    fppa_mid: F64
    fppa_stand: F64
    kasr_mid: F64
    kasr_bottom: F64
    ktsr_mid: F64
    mid_frames: npt.NDArray[np.intp]


def knee_arrays(ff: FrontalFrames, rf: RepFrames) -> KneeArrays:
    return KneeArrays(
        ratio_mid=agg(ff.knee_toe_ratio, rf.mid),
        ratio_desc=agg(ff.knee_toe_ratio, rf.descent_mid),
        ratio_asc=agg(ff.knee_toe_ratio, rf.ascent_mid),
        ratio_bottom=agg(ff.knee_toe_ratio, rf.bottom),
        ankle_ratio_mid=agg(ff.knee_ankle_ratio, rf.mid),
        mkd=agg(ff.knee_lat, rf.standing) - agg(ff.knee_lat, rf.mid),
        fppa_bottom=agg(ff.fppa_deg, rf.bottom),
        fppa_mid=agg(ff.fppa_deg, rf.mid),
        fppa_stand=agg(ff.fppa_deg, rf.standing),
        kasr_mid=agg(ff.kasr, rf.mid),
        kasr_bottom=agg(ff.kasr, rf.bottom),
        ktsr_mid=agg(ff.ktsr, rf.mid),
        mid_frames=(rf.mid >= 0).sum(axis=1),
    )


def _side(k: KneeArrays, i: int, s: int) -> KneeSide | None:
    ratio = float(k.ratio_mid[i, s])
    if not math.isfinite(ratio):
        return None
    score = ratio_score(ratio)
    fm, fs = float(k.fppa_mid[i, s]), float(k.fppa_stand[i, s])
    return KneeSide(
        score=score,
        severity=severity(score),
        knee_toe_ratio_mid=_f(ratio),
        knee_toe_ratio_descent=_f(float(k.ratio_desc[i, s])),
        knee_toe_ratio_ascent=_f(float(k.ratio_asc[i, s])),
        knee_toe_ratio_bottom=_f(float(k.ratio_bottom[i, s])),
        knee_ankle_ratio_mid=_f(float(k.ankle_ratio_mid[i, s])),
        medial_knee_displacement_leg=_f(float(k.mkd[i, s])),
        fppa_deg=_f(float(k.fppa_bottom[i, s])),
        fppa_mid_deg=_f(fm),
        fppa_standing_deg=_f(fs),
        fppa_mid_change_deg=_f(fm - fs),
    )


def null_knee(reason: str) -> KneeCave:
    return KneeCave(score=None, severity=None, left=None, right=None, reason=reason)


def knee_cave(k: KneeArrays, i: int) -> KneeCave:
    """Knee cave for rep ``i`` seen from the front."""
    if int(k.mid_frames[i]) < MIN_MID_FRAMES:
        return null_knee("too few frames at mid-depth (rep too fast for the frame rate)")
    left, right = _side(k, i, 0), _side(k, i, 1)
    scored = [
        (s.score, name)
        for s, name in ((left, "left"), (right, "right"))
        if s is not None and s.score is not None
    ]
    if not scored:
        return null_knee("knees or feet not visible at mid-depth")
    score, worse = min(scored)
    tie = len(scored) == 2 and scored[0][0] == scored[1][0]
    return KneeCave(
        score=score,
        severity=severity(score),
        worse_side=None if tie else ("left" if worse == "left" else "right"),
        left=left,
        right=right,
        kasr_mid=_f(float(k.kasr_mid[i])),
        kasr_bottom=_f(float(k.kasr_bottom[i])),
        ktsr_mid=_f(float(k.ktsr_mid[i])),
        reason=None if left and right else "one leg not visible at mid-depth",
    )
