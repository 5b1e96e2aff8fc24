"""Keypoints -> ScoreResult: clean-up, view, reps, knee, ankle, summary."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy

from service.errors import KeypointsError
from service.pipeline.keypoints import MAX_FPS, MIN_FPS, Keypoints
from service.pipeline.landmarks import (
    L_ANKLE,
    L_HEEL,
    L_HIP,
    L_KNEE,
    L_TOE,
    NUM_LANDMARKS,
    R_ANKLE,
    R_HEEL,
    R_HIP,
    R_KNEE,
    R_TOE,
)
from service.pipeline.scoring import ankle as ankle_mod
from service.pipeline.scoring import knee as knee_mod
from service.pipeline.scoring import lift
from service.pipeline.scoring.body import Body, body_geometry
from service.pipeline.scoring.cleanup import Cleaned, clean
from service.pipeline.scoring.frames import ANKLE, HIP, KNEE, FrontalFrames, frontal_frames
from service.pipeline.scoring.phases import agg, rep_frames, spread
from service.pipeline.scoring.reps import Rep as RawRep
from service.pipeline.scoring.reps import height_signal, segment_reps
from service.pipeline.scoring.schema import (
    ClipView,
    Depth,
    ModelInfo,
    Rep,
    ScoreResult,
    VideoInfo,
    ViewName,
)
from service.pipeline.scoring.squat_check import Rejected, check_squat, knee_height_diff
from service.pipeline.scoring.summary import summarise
from service.pipeline.scoring.version import SCORER_VERSION
from service.pipeline.scoring.view import (
    ASYMMETRY_SUSPECT,
    classify,
    frame_yaw,
    view_confidence,
    visibility_asymmetry,
    window_view,
)

F64 = npt.NDArray[np.float64]
ViewArg = Literal["auto", "front", "side"]


def _validate(kp: Keypoints) -> None:
    lm = kp.landmarks
    if lm.ndim != 3 or lm.shape[1] != NUM_LANDMARKS or lm.shape[2] != 5:
        raise KeypointsError(f"landmarks must have shape (T, {NUM_LANDMARKS}, 5); got {lm.shape}")
    if lm.shape[0] == 0:
        raise KeypointsError("landmarks hold no frames (T = 0)")
    if np.isinf(lm).any():
        raise KeypointsError("landmarks contain infinite values")
    if not math.isfinite(kp.fps) or not MIN_FPS <= kp.fps <= MAX_FPS:
        raise KeypointsError(f"fps must be between {MIN_FPS:g} and {MAX_FPS:g}; got {kp.fps}")


def _r(x: float, nd: int = 3) -> float | None:
    return round(float(x), nd) if math.isfinite(x) else None


def _depth(r: RawRep, c: Cleaned, view: str) -> Depth:
    below = None
    flex = None
    if view == "side":
        b = r.bottom
        at = c.xy.data[b]  # (K, 2) this frame
        hip_y = np.nanmean(at[c.xy.cols([L_HIP, R_HIP]), 1])
        knee_y = np.nanmean(at[c.xy.cols([L_KNEE, R_KNEE]), 1])
        if math.isfinite(hip_y) and math.isfinite(knee_y):
            below = bool(hip_y > knee_y)
        thigh = at[c.xy.cols(list(HIP))] - at[c.xy.cols(list(KNEE))]
        shank = at[c.xy.cols(list(ANKLE))] - at[c.xy.cols(list(KNEE))]
        cos = np.einsum("ij,ij->i", thigh, shank) / (
            np.linalg.norm(thigh, axis=1) * np.linalg.norm(shank, axis=1)
        )
        inner = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        if np.isfinite(inner).any():
            flex = _r(180.0 - float(np.nanmin(inner)), 1)
    return Depth(
        hip_drop_leg=round(r.drop, 3),
        bottom_height_leg=round(r.bottom_height, 3),
        below_parallel=below,
        knee_flexion_deg=flex,
    )


def _no_rep_reason(c: Cleaned, h: F64, rejected: list[Rejected]) -> str:
    if not np.isfinite(c.xy.data).any():
        return "no person detected"
    if not np.isfinite(h).any():
        return "hips, knees or ankles never visible together: cannot follow the pelvis"
    if rejected:
        reasons = Counter(x.reason for x in rejected)
        parts = "; ".join(f"{n} x {why}" for why, n in reasons.most_common())
        return f"not a squat: {len(rejected)} hip drop(s) found but rejected ({parts})"
    return "no squat found: the hips never dropped and came back up by 15% of a leg length"


def _range_mean(per_frame: F64, reps: list[RawRep]) -> F64:
    """Mean of a per-frame value over each rep's [start, end], via a cumulative sum."""
    cs = np.concatenate([[0.0], np.cumsum(per_frame)])
    start = np.array([r.start for r in reps], np.intp)
    end = np.array([r.end for r in reps], np.intp) + 1
    out: F64 = (cs[end] - cs[start]) / np.maximum(end - start, 1)
    return out


@dataclass(frozen=True, slots=True)
class _RepContext:
    """Everything per rep that is computed for all reps at once."""

    yaw: F64
    yaw_spread: F64
    vis_asym: F64
    visibility: F64
    near_side: npt.NDArray[np.intp]
    knee: knee_mod.KneeArrays
    ankle: ankle_mod.AnkleArrays


def _context(raw: list[RawRep], c: Cleaned, h: F64, yaw: F64, ff: FrontalFrames) -> _RepContext:
    rf = rep_frames(raw, h, c.fps)
    lifted = lift.lift_legs(c)
    legs = list(HIP) + list(KNEE) + list(ANKLE)
    vis = _range_mean(c.valid[legs].mean(axis=1), raw)
    left = _range_mean(c.vis[[L_ANKLE, L_HEEL, L_TOE]].mean(axis=1), raw)
    right = _range_mean(c.vis[[R_ANKLE, R_HEEL, R_TOE]].mean(axis=1), raw)
    return _RepContext(
        yaw=agg(yaw, rf.whole),
        yaw_spread=spread(yaw, rf.whole, 0.1, 0.9),
        vis_asym=agg(visibility_asymmetry(c), rf.whole),
        visibility=vis,
        near_side=np.where(left >= right, 0, 1).astype(np.intp),
        knee=knee_mod.knee_arrays(ff, lifted, rf),
        ankle=ankle_mod.ankle_arrays(ff, rf),
    )


def _build_rep(i: int, r: RawRep, c: Cleaned, ctx: _RepContext, view_arg: ViewArg) -> Rep:
    yaw_deg, yaw_spread = float(ctx.yaw[i]), float(ctx.yaw_spread[i])
    auto_view: ViewName = "oblique"
    vconf = 0.0
    if math.isfinite(yaw_deg):
        auto_view, vconf = classify(yaw_deg), view_confidence(yaw_deg, yaw_spread)
        if auto_view == "front" and abs(float(ctx.vis_asym[i])) > ASYMMETRY_SUSPECT:
            vconf *= 0.7  # one side reported hidden: maybe not as frontal as it looks
    view: ViewName = auto_view if view_arg == "auto" else view_arg
    if view_arg not in ("auto", auto_view):
        vconf = min(vconf, 0.5)  # the caller overrode what the body geometry says
    side_on = view_arg == "side" or (
        view_arg == "auto" and not yaw_deg <= knee_mod.MAX_YAW_DEG  # NaN: not graded
    )
    if side_on:
        kc = knee_mod.null_knee("side view: knee cave needs a front or oblique view")
    else:
        # Front and oblique alike (up to MAX_YAW_DEG, past the view's 50° label edge): the 3D
        # rebuild does not assume a frontal camera; an oblique view's lower view confidence
        # and the foot's larger uncertainty lower the rep's confidence instead.
        kc = knee_mod.knee_cave(ctx.knee, i)
        if kc.score is not None:
            vconf *= float(ctx.knee.confidence[i])
    return Rep(
        index=i + 1,
        start_s=round(float(c.t_s[r.start]), 3),
        bottom_s=round(float(c.t_s[r.bottom]), 3),
        end_s=round(float(c.t_s[r.end]), 3),
        start_frame=r.start,
        bottom_frame=r.bottom,
        end_frame=r.end,
        view=view,
        yaw_deg=_r(yaw_deg, 1),
        depth=_depth(r, c, view),
        knee_cave=kc,
        ankle=ankle_mod.ankle(ctx.ankle, i, view, int(ctx.near_side[i])),
        confidence=round(vconf * float(ctx.visibility[i]), 3),
    )


def _clip_view(reps: list[Rep], yaw: F64, view_arg: ViewArg) -> tuple[ClipView, float]:
    if view_arg != "auto":
        return view_arg, 1.0
    if reps:
        votes = Counter(r.view for r in reps)
        best = max(votes, key=lambda v: (votes[v], sum(r.confidence for r in reps if r.view == v)))
        conf = float(np.mean([r.confidence for r in reps if r.view == best]))
        return best, conf
    # No squat: the body's yaw over the clip still says how sure the geometry is, but there is
    # no rep whose view the result could describe.
    _, _, conf = window_view(yaw, slice(None))
    return "other", conf


def score_keypoints(
    kp: Keypoints, *, view: ViewArg = "auto", pose_model: str = "unknown"
) -> ScoreResult:
    """Score a keypoint sequence. Not a squat gives rep_count 0 and a reason, not an error."""
    if view not in ("auto", "front", "side"):
        raise KeypointsError(f"view must be auto, front or side; got {view!r}")
    _validate(kp)
    t0 = time.perf_counter()
    c = clean(kp)
    body: Body = body_geometry(c)
    t1 = time.perf_counter()
    h = height_signal(body, c.fps)
    xy = c.xy
    feet = np.stack(
        [
            xy[L_ANKLE] - xy[R_ANKLE],
            xy[L_HEEL] - xy[R_HEEL],
            xy[L_TOE] - xy[R_TOE],
        ],
        axis=1,
    )
    cand = segment_reps(h, c.fps)
    trunk = (body.pelvis[:, 1] - body.shoulders[:, 1]) / body.leg
    yaw = frame_yaw(c, body)
    keep, rejected = check_squat(
        cand,
        rep_frames(cand, h, c.fps),
        feet_vec=feet,
        knee_dy=knee_height_diff(c, body),
        leg=body.leg,
        trunk=trunk,
        yaw=yaw,
    )
    raw = [r for r, k in zip(cand, keep, strict=True) if k]
    t2 = time.perf_counter()
    ff = frontal_frames(c, body)
    reps: list[Rep] = []
    if raw:
        ctx = _context(raw, c, h, yaw, ff)
        reps = [_build_rep(i, r, c, ctx, view) for i, r in enumerate(raw)]
    summary = summarise(reps)
    t3 = time.perf_counter()

    clip_view, vconf = _clip_view(reps, yaw, view)
    notes: list[str] = []
    changes = len({r.view for r in reps}) > 1
    if changes:
        seq = ", ".join(f"{r.index}: {r.view}" for r in reps)
        notes.append(f"the camera view changes during the set (rep: view = {seq})")
    if raw:
        est = np.isnan(body.ankles[:, 1]) & np.isfinite(body.ground_y)
        share = float(_range_mean(est.astype(np.float64), raw).mean())
        if share > 0.2:
            notes.append(
                f"feet not visible in {share:.0%} of the rep frames: the floor is estimated "
                "from the knees there, so depth reads shallower and ankle proxies are missing"
            )
    for x in rejected:
        notes.append(f"hip drop at {float(c.t_s[x.rep.bottom]):.2f} s not counted: {x.reason}")
    confidence = float(np.mean([r.confidence for r in reps])) if reps else vconf * 0.5
    return ScoreResult(
        rep_count=len(reps),
        view=clip_view,
        view_changes=changes,
        confidence=round(confidence, 3),
        reason=None if reps else _no_rep_reason(c, h, rejected),
        notes=notes,
        video=VideoInfo(
            fps=round(kp.fps, 3),
            frames=kp.frames,
            width=kp.width,
            height=kp.height,
            duration_s=round(kp.frames / kp.fps, 3),
        ),
        reps=reps,
        summary=summary,
        model=ModelInfo(
            pose=pose_model,
            scorer=SCORER_VERSION,
            versions={
                "scorer": SCORER_VERSION,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
            },
        ),
        timings={
            "cleanup_ms": round((t1 - t0) * 1e3, 2),
            "reps_view_ms": round((t2 - t1) * 1e3, 2),
            "metrics_ms": round((t3 - t2) * 1e3, 2),
            "total_ms": round((t3 - t0) * 1e3, 2),
        },
    )
