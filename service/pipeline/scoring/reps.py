"""Rep segmentation from the pelvis's vertical path, in leg lengths.

The signal is the height of the pelvis above the ankles divided by the running
leg length: ~0.95 standing, ~0.3-0.5 at the bottom of a deep squat. Dividing by
the leg makes every threshold body-relative (camera distance, resolution and
zoom drop out); measuring from the ankles (which stay on the floor in a squat)
makes it immune to the camera or the person drifting up and down the frame.

A rep is a bottom (a peak of the inverted signal, scipy ``find_peaks``) whose
prominence on *both* sides is at least MIN_DEPTH: the hips went down and came
back up. That one rule gives hysteresis (jitter and a pause at the bottom are
below the prominence), rejects a clip that ends at the bottom of a descent
(no ascent), and a clip that starts mid-rep (no descent). Times are the first
and last frames within RETURN_FRAC of the rep's drop from the standing level
around it, so a pause at the top is not part of the rep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import find_peaks

from service.pipeline.scoring.body import Body
from service.pipeline.scoring.cleanup import nan_gaussian

F64 = npt.NDArray[np.float64]

# Minimum hip drop for a rep, in leg lengths (both sides of the bottom). A
# quarter squat drops the hips ~0.15-0.2 leg lengths; standing sway and
# landmark jitter stay under 0.05, a jumping jack's bent-knee landing ~0.1.
MIN_DEPTH = 0.15
# The rep's start/end: within this fraction of the drop from the standing level.
RETURN_FRAC = 0.1
# Rep duration bounds (s): faster than 0.5 s is a bounce, not a squat;
# slower than 30 s is not one rep.
MIN_REP_S = 0.5
MAX_REP_S = 30.0
# Smoothing of the height signal (s), on top of the jitter filter.
SIGNAL_SIGMA_S = 0.08


@dataclass(frozen=True, slots=True)
class Rep:
    start: int  # frame index
    bottom: int
    end: int
    top_before: float  # signal at the standing level before, leg lengths
    top_after: float
    bottom_height: float  # signal at the bottom, leg lengths

    @property
    def drop(self) -> float:
        """Hip drop from the lower of the two standing levels, in leg lengths."""
        return min(self.top_before, self.top_after) - self.bottom_height


def height_signal(body: Body, fps: float) -> F64:
    """Pelvis height above the ankles, in running leg lengths (NaN where unknown)."""
    h = (body.ground_y - body.pelvis[:, 1]) / body.leg
    return nan_gaussian(h, SIGNAL_SIGMA_S * fps)


def _runs(ok: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    d = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _segment_run(h: F64, offset: int, fps: float) -> list[Rep]:
    if h.size < 3:
        return []
    bottoms, props = find_peaks(
        -h, prominence=MIN_DEPTH, distance=max(1, round(MIN_REP_S * fps / 2))
    )
    reps: list[Rep] = []
    for b, lb, rb in zip(bottoms, props["left_bases"], props["right_bases"], strict=True):
        # Standing level on each side: the highest point between this bottom and its base.
        pre = h[lb : b + 1]
        post = h[b : rb + 1]
        top_pre = float(pre.max())
        top_post = float(post.max())
        hb = float(h[b])
        # Both sides must clear MIN_DEPTH (scipy's prominence uses the higher base only).
        if min(top_pre, top_post) - hb < MIN_DEPTH:
            continue
        # Start: last frame before the bottom still within RETURN_FRAC of the top.
        thr_pre = top_pre - RETURN_FRAC * (top_pre - hb)
        above_pre = np.flatnonzero(pre >= thr_pre)
        start = lb + int(above_pre[-1])
        thr_post = top_post - RETURN_FRAC * (top_post - hb)
        above_post = np.flatnonzero(post >= thr_post)
        end = b + int(above_post[0])
        dur = (end - start) / fps
        if not MIN_REP_S <= dur <= MAX_REP_S:
            continue
        reps.append(Rep(offset + start, offset + int(b), offset + end, top_pre, top_post, hb))
    return reps


def segment_reps(h: F64, fps: float) -> list[Rep]:
    """Reps in time order. A long gap (person out of frame) splits the signal: no rep spans it."""
    reps: list[Rep] = []
    for s, e in _runs(np.isfinite(h)):
        reps.extend(_segment_run(h[s:e], s, fps))
    # Neighbouring reps share a standing phase; never let them overlap.
    out: list[Rep] = []
    for cand in reps:
        r = cand
        if out and r.start < out[-1].end:
            prev = out[-1]
            mid = (prev.end + r.start) // 2
            mid = min(max(mid, prev.bottom + 1), r.bottom - 1)
            out[-1] = Rep(
                prev.start, prev.bottom, mid, prev.top_before, prev.top_after, prev.bottom_height
            )
            r = Rep(mid, r.bottom, r.end, r.top_before, r.top_after, r.bottom_height)
        out.append(r)
    return out
