"""Is a hip drop a squat? Standing up again, feet planted, knees level.

A bilateral squat returns to standing, keeps both feet where they were and
bends both knees together. Each rule rejects a common look-alike with a reason
the result reports: a burpee or a fall (no return to standing), jumping jacks,
walking or a lunge step (feet move), a static split squat (knees at different
heights). All checks run over every candidate at once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.pipeline.landmarks import L_ANKLE, L_KNEE, R_ANKLE, R_KNEE
from service.pipeline.scoring.body import SCALE_REACH_S, THIGH_FRACTION, Body, running_max
from service.pipeline.scoring.cleanup import Cleaned
from service.pipeline.scoring.phases import RepFrames, agg, spread
from service.pipeline.scoring.reps import Rep
from service.pipeline.scoring.view import SIDE_MIN_YAW

F64 = npt.NDArray[np.float64]

# A rep counts when the person is back up: the pelvis at least this high above
# the ankles (leg lengths) after the bottom. Standing reads ~0.9-1.0 (cos of the
# leg's tilt in a wide stance). Rejects e.g. a descent that turns into a burpee
# (the pelvis "rises" only as the legs kick back, to ~0.6). The start is not
# checked: a clip that begins partway down still holds a complete rep.
MIN_STANDING_HEIGHT = 0.7
# ...with the trunk up: shoulders at least this far above the pelvis (leg
# lengths) around the end of the rep. Upright reads 0.4-0.8 (0.33 with the
# shoulders hidden behind a held plate), hands on the floor ~0.
MIN_TRUNK_HEIGHT = 0.2
# Feet stay planted in a squat. The left-right feet vector (ankle, heel and toe
# pairs, 5-95 percentile range, median over the pairs, leg lengths) must not
# change by more than this within the rep. Sideways (image x) and up-down
# (image y) are judged apart: feet that spread or step move sideways in the
# image (a jumping jack 0.4-0.6, a lunge step ~0.8), while the far foot hidden
# behind the near one in a side view only jitters up and down (up to ~0.3);
# planted feet read 0.02-0.16 sideways.
MAX_FEET_MOVE_X = 0.25
MAX_FEET_MOVE_Y = 0.4
# Knees at different heights above their own ankles at the bottom (leg lengths): a
# split stance (lunge, split squat), not a bilateral squat. A squat reads < 0.1 from
# the front or obliquely. Not judged side on, where the legs' toe-out alone tilts one
# shank across the picture and not the other (a lunge steps: the feet-moved rule).
MAX_KNEE_HEIGHT_DIFF = 0.25


def knee_height_diff(c: Cleaned, body: Body) -> F64:
    """(T,) how much higher the left knee stands above its ankle than the right, px.

    Each height is over that leg's own running longest shank, so that a near leg
    which perspective draws bigger, or an oblique camera that moves a far knee and
    its ankle up the picture together, does not read as a split stance. Where an
    ankle is hidden, the knees' plain height difference.
    """
    xy = c.xy
    reach = round(SCALE_REACH_S * c.fps)
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero shank: NaN, handled below
        rel = [
            (xy[a] - xy[k])[:, 1] / running_max(np.linalg.norm(xy[a] - xy[k], axis=1), reach)
            for a, k in ((L_ANKLE, L_KNEE), (R_ANKLE, R_KNEE))
        ]
    own = (rel[0] - rel[1]) * THIGH_FRACTION * body.leg
    out: F64 = np.where(np.isfinite(own), own, xy[R_KNEE][:, 1] - xy[L_KNEE][:, 1])
    return out


@dataclass(frozen=True, slots=True)
class Rejected:
    rep: Rep
    reason: str


def check_squat(
    reps: list[Rep],
    rf: RepFrames,
    *,
    feet_vec: F64,
    knee_dy: F64,
    leg: F64,
    trunk: F64,
    yaw: F64,
) -> tuple[list[bool], list[Rejected]]:
    """Which candidates look like bilateral squats (mask), and why the others do not.

    ``feet_vec`` (T, 3, 2): left minus right ankle, heel and toe, px. ``knee_dy``
    (T,): ``knee_height_diff``. ``leg`` (T,): running leg length, px. ``yaw`` (T,):
    body yaw against the camera, degrees.
    ``trunk`` (T,): shoulders above the pelvis, leg lengths.
    """
    n = len(reps)
    if n == 0:
        return [], []
    fv = (feet_vec / leg[:, None, None]).reshape(leg.size, 6)
    rng = spread(fv, rf.whole, 0.05, 0.95).reshape(n, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a rep with no feet at all
        move_x = np.nanmedian(rng[:, :, 0], axis=1)
        move_y = np.nanmedian(rng[:, :, 1], axis=1)
    moved = (move_x > MAX_FEET_MOVE_X) | (move_y > MAX_FEET_MOVE_Y)
    bottoms = np.array([r.bottom for r in reps])
    kd = np.abs(knee_dy[bottoms] / leg[bottoms])
    kd = np.where(agg(yaw, rf.whole) >= SIDE_MIN_YAW, np.nan, kd)
    top_after = np.array([r.top_after for r in reps])
    # Trunk height over the last 0.1 s-ish of the rep (a few frames either side of the end).
    ends = np.array([r.end for r in reps])
    near = np.clip(ends[:, None] + np.arange(-3, 4)[None, :], 0, trunk.size - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        trunk_end = np.nanmax(trunk[near], axis=1)
    ok: list[bool] = []
    bad: list[Rejected] = []
    for i, r in enumerate(reps):
        reason = None
        if top_after[i] < MIN_STANDING_HEIGHT or trunk_end[i] < MIN_TRUNK_HEIGHT:
            reason = "does not come back up to standing"
        elif moved[i]:
            reason = "feet moved during the movement (a jump, step or lunge)"
        elif np.isfinite(kd[i]) and kd[i] > MAX_KNEE_HEIGHT_DIFF:
            reason = "knees at different heights at the bottom (split stance)"
        ok.append(reason is None)
        if reason is not None:
            bad.append(Rejected(r, reason))
    return ok, bad
