"""Ankle per side per rep: the pronation proxies a 33-landmark video shows.

Ankle pronation (arch collapse) cannot be measured from body landmarks. What
can be seen, and is reported as a proxy, never as a diagnosis:

- front view, graded: medial drift of the ankle against the heel-toe
  midpoint, from the person's own standing alignment to mid-depth (the ankle
  falling inside the foot). On the 3D harness it tracks the true ankle drop
  inside the heel-toe line (Spearman 0.71), reading about half of it.
- front view, reported only: frontal shank tilt change and toe-out change.
  Neither tracks ankle collapse on the harness (Spearman ~0): a shank tilting
  in over a planted foot moves the knee, which the knee-cave measure grades.
- side view: heel lift (the heel rising off the floor relative to the toe),
  not validated on the harness (its heels never lift).

Score bands (0-100): the drift is free up to 0.025 leg (its 98th percentile
with no collapse on the harness), 60 at 0.045, 0 at 0.08 (~7 cm); heel lift
is free up to 5% of leg length (the labelled side clips, flat-footed, read
-0.03..+0.07 from the heel-toe landmarks alone), 60 at 8%, 0 at 15%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.pipeline.scoring.convert import optional, rounded
from service.pipeline.scoring.frames import FOOT_LEN_LEG, FrontalFrames
from service.pipeline.scoring.phases import RepFrames, agg
from service.pipeline.scoring.schema import Ankle, AnkleSide

F64 = npt.NDArray[np.float64]

DRIFT_KNOTS, DRIFT_SCORES = (0.025, 0.045, 0.08), (100.0, 60.0, 0.0)
HEEL_KNOTS, HEEL_SCORES = (0.05, 0.08, 0.15), (100.0, 60.0, 0.0)


@dataclass(frozen=True, slots=True)
class AnkleArrays:
    """Per-rep aggregates and scores for every rep at once, as Python lists [rep][side]."""

    tilt_mid: list[Any]
    tilt_change: list[Any]
    drift: list[Any]
    toe_change: list[Any]
    front_score: list[Any]  # NaN where the drift is not known
    heel_lift: list[Any]
    heel_score: list[Any]


def _toe_out_deg(x: F64) -> F64:
    out: F64 = np.degrees(np.arcsin(np.clip(x / FOOT_LEN_LEG, -1.0, 1.0)))
    return out


def _interp(x: F64, knots: tuple[float, ...], scores: tuple[float, ...]) -> F64:
    out: F64 = np.where(np.isfinite(x), np.interp(np.nan_to_num(x), knots, scores), np.nan)
    return out


def ankle_arrays(ff: FrontalFrames, rf: RepFrames) -> AnkleArrays:
    tilt_mid = agg(ff.shank_tilt_deg, rf.mid)
    tilt_change = tilt_mid - agg(ff.shank_tilt_deg, rf.standing)
    drift = agg(ff.ankle_vs_foot, rf.standing) - agg(ff.ankle_vs_foot, rf.mid)
    toe_change = _toe_out_deg(agg(ff.toe_out, rf.mid)) - _toe_out_deg(agg(ff.toe_out, rf.standing))
    front = _interp(drift, DRIFT_KNOTS, DRIFT_SCORES)
    lift = agg(ff.heel_rise, rf.bottom) - agg(ff.heel_rise, rf.standing)
    return AnkleArrays(
        tilt_mid=rounded(tilt_mid, 2),
        tilt_change=rounded(tilt_change, 2),
        drift=rounded(drift, 3),
        toe_change=rounded(toe_change, 2),
        front_score=rounded(front, 1),
        heel_lift=rounded(lift, 3),
        heel_score=rounded(_interp(lift, HEEL_KNOTS, HEEL_SCORES), 1),
    )


def _front_side(a: AnkleArrays, i: int, s: int) -> AnkleSide | None:
    score = a.front_score[i][s]
    if math.isnan(score):
        return None
    return AnkleSide(
        score=score,
        shank_tilt_mid_deg=optional(a.tilt_mid[i][s]),
        shank_tilt_change_deg=optional(a.tilt_change[i][s]),
        medial_ankle_drift_leg=optional(a.drift[i][s]),
        toe_out_change_deg=optional(a.toe_change[i][s]),
    )


def _side_view_side(a: AnkleArrays, i: int, s: int) -> AnkleSide | None:
    score = a.heel_score[i][s]
    if math.isnan(score):
        return None
    return AnkleSide(score=score, heel_lift_leg=optional(a.heel_lift[i][s]))


def ankle(a: AnkleArrays, i: int, view: str, near_side: int = 0) -> Ankle:
    """Ankle proxies for rep ``i``. ``near_side``: the foot facing the camera in a side view."""
    if view == "front":
        left, right = _front_side(a, i, 0), _front_side(a, i, 1)
        reason = None
    elif view == "side":
        # The far foot is hidden behind the near one: its landmarks are guesses.
        near = _side_view_side(a, i, near_side)
        left, right = (near, None) if near_side == 0 else (None, near)
        reason = (
            "side view: heel lift of the foot nearer the camera only "
            "(frontal-plane proxies need a front view)"
        )
    else:
        return Ankle(
            score=None,
            left=None,
            right=None,
            reason="oblique view: neither frontal nor sagittal proxies are reliable",
        )
    scores = [s.score for s in (left, right) if s is not None and s.score is not None]
    if not scores:
        return Ankle(score=None, left=left, right=right, reason="feet not visible in this rep")
    if (left is None or right is None) and view == "front":
        reason = "one foot not visible"
    return Ankle(score=min(scores), left=left, right=right, reason=reason)
