"""Synthetic squat keypoints with known ground truth.

A 2D stick figure in the image plane. Each rep drops the pelvis by a known
fraction of the leg with a smooth (raised-cosine) profile; the knee of each
side is placed so that its frontal-plane projection angle (FPPA) follows a
known path: ``fppa_stand`` standing, ``fppa_mid`` over the whole mid-depth
window (40-80% of the drop), ``fppa_bottom`` from 95% of the drop. The thigh
and shank are equal in 2D, so the knee sits on the perpendicular bisector of
hip-ankle at an offset of (|hip-ankle|/2)·tan(FPPA/2): FPPA is exact by
construction. Every other truth (knee/toe ratio, KASR) is computed from the
noise-free points.

Knobs: reps, fps, tempo, pauses, lead-in, starting mid-rep, noise, dropouts,
scale/translation, side view, mirrored video, resampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_ANKLE, NUM_LANDMARKS, R_ANKLE

F64 = npt.NDArray[np.float64]

# Landmarks used below; everything else is placed near the torso so nothing is NaN.
NOSE, LS, RS, LH, RH, LK, RK, LA, RA, LHE, RHE, LT, RT = (
    0,
    11,
    12,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
)
MID_LO, MID_HI, BOTTOM = 0.4, 0.8, 0.95
# The FPPA path reaches its mid value by RAMP_MID and its bottom value by
# RAMP_BOTTOM, a margin inside the scorer's windows so that the jitter filter's
# few frames of blur at a transition never reach them.
RAMP_MID, RAMP_BOTTOM_FROM, RAMP_BOTTOM = 0.3, 0.85, 0.92


@dataclass
class RepSpec:
    fppa_mid: tuple[float, float] = (0.0, 0.0)  # (left, right), degrees, valgus +
    fppa_bottom: tuple[float, float] | None = None  # default: = fppa_mid
    drop: float = 0.5  # pelvis drop, leg lengths
    down_s: float = 1.0
    up_s: float = 1.0
    pause_bottom_s: float = 0.0
    pause_top_s: float = 0.6
    feet_move: float = (
        0.0  # feet spread sideways with depth by this much (leg lengths): not a squat
    )


@dataclass
class Truth:
    rep_count: int
    bottoms_s: list[float]
    fppa_mid: list[tuple[float, float]]
    fppa_bottom: list[tuple[float, float]]
    knee_toe_ratio_mid: list[tuple[float, float]] = field(default_factory=list)
    kasr_mid: list[float] = field(default_factory=list)


def profile(
    spec: list[RepSpec], lead_s: float, tail_s: float, fps: float
) -> tuple[F64, F64, list[int], list[float]]:
    """Depth fraction d(t) in [0, 1], rep id per frame (-1 standing), bottoms (s)."""
    t = lead_s
    bottoms = []
    knots_t, knots_d, knots_r = [0.0, lead_s], [0.0, 0.0], [-1, -1]
    for i, r in enumerate(spec):
        t += r.down_s
        bottoms.append(t + r.pause_bottom_s / 2)
        knots_t += [t, t + r.pause_bottom_s]
        knots_d += [1.0, 1.0]
        knots_r += [i, i]
        t += r.pause_bottom_s + r.up_s
        knots_t += [t, t + r.pause_top_s]
        knots_d += [0.0, 0.0]
        knots_r += [i, -1]
        t += r.pause_top_s
    total = t + tail_s
    n = round(total * fps)
    ts = np.arange(n) / fps
    kt = np.asarray(knots_t)
    seg = np.clip(np.searchsorted(kt, ts, side="right") - 1, 0, len(kt) - 2)
    t0, t1 = kt[seg], kt[seg + 1]
    d0, d1 = np.asarray(knots_d)[seg], np.asarray(knots_d)[seg + 1]
    w = np.where(t1 > t0, (ts - t0) / np.maximum(t1 - t0, 1e-9), 0.0)
    w = np.clip(w, 0, 1)
    w = 0.5 - 0.5 * np.cos(np.pi * w)  # raised cosine: smooth like a real squat
    d = d0 + (d1 - d0) * w
    d = np.where(ts >= kt[-1], 0.0, d)
    rep = np.full(n, -1)
    starts = [knots_t[2 + 4 * i] - spec[i].down_s for i in range(len(spec))]
    for i, r in enumerate(spec):
        s = starts[i]
        e = s + r.down_s + r.pause_bottom_s + r.up_s
        rep[(ts >= s) & (ts <= e)] = i
    return ts, d, rep.tolist(), bottoms


def make_squats(
    reps: list[RepSpec],
    *,
    fps: float = 30.0,
    lead_s: float = 1.0,
    tail_s: float = 1.0,
    leg_px: float = 400.0,
    width: int = 720,
    height: int = 1280,
    center: tuple[float, float] = (360.0, 700.0),
    stance: float = 0.22,  # ankle half-width, leg lengths
    toe_out: float = 0.03,  # toe sideways offset from the ankle, leg lengths
    fppa_stand: float = 0.0,
    view: str = "front",
    noise_px: float = 0.0,
    dropout: float = 0.0,
    gap: tuple[float, float] | None = None,  # (start_s, length_s) with no detection
    start_s: float = 0.0,  # cut the clip here (start mid-rep)
    seed: int = 0,
) -> tuple[Keypoints, Truth]:
    rng = np.random.default_rng(seed)
    ts, d, rep_of, bottoms = profile(reps, lead_s, tail_s, fps)
    n = ts.size
    L = leg_px
    cx, ground = center
    ankle_y = np.full(n, ground)
    drop = np.array([reps[i].drop if i >= 0 else 0.0 for i in rep_of])
    spread_px = np.array([reps[i].feet_move if i >= 0 else 0.0 for i in rep_of]) * d * L / 2
    pelvis_y = ground - L * (0.97 - drop * d)

    # FPPA path per side: standing -> mid (by 40% depth) -> bottom (by 95% depth).
    ph = np.zeros((n, 2))
    for s in (0, 1):
        mid = np.array([reps[i].fppa_mid[s] if i >= 0 else fppa_stand for i in rep_of])
        bot = np.array(
            [(reps[i].fppa_bottom or reps[i].fppa_mid)[s] if i >= 0 else fppa_stand for i in rep_of]
        )
        a = np.clip(d / RAMP_MID, 0, 1)
        b = np.clip((d - RAMP_BOTTOM_FROM) / (RAMP_BOTTOM - RAMP_BOTTOM_FROM), 0, 1)
        ph[:, s] = np.where(
            d <= RAMP_BOTTOM_FROM, fppa_stand + (mid - fppa_stand) * a, mid + (bot - mid) * b
        )

    lm = np.zeros((n, NUM_LANDMARKS, 5))
    lm[..., 3:] = 1.0
    side_sign = np.array([1.0, -1.0])  # subject's left is image right (+x) facing the camera
    hip_half = 0.15 * L
    for s, (hip, knee, ank, heel, toe) in enumerate(((LH, LK, LA, LHE, LT), (RH, RK, RA, RHE, RT))):
        sg = side_sign[s]
        H = np.stack([cx + sg * hip_half + 0 * ts, pelvis_y], axis=1)
        A = np.stack([cx + sg * (stance * L + spread_px), ankle_y], axis=1)
        D = A - H
        dist = np.linalg.norm(D, axis=1)
        nrm = np.stack([-D[:, 1], D[:, 0]], axis=1) / dist[:, None]
        # normal pointing medial (towards -sg in x)
        nrm *= np.where(np.sign(nrm[:, 0]) == -sg, 1.0, -1.0)[:, None]
        off = 0.5 * dist * np.tan(np.radians(ph[:, s]) / 2)
        K = 0.5 * (H + A) + nrm * off[:, None]
        lm[:, hip, :2], lm[:, knee, :2], lm[:, ank, :2] = H, K, A
        lm[:, heel, :2] = A + np.array([-sg * 0.01 * L, 0.04 * L])
        lm[:, toe, :2] = A + np.array([sg * toe_out * L, 0.06 * L])
    # torso: shoulders above the hips, leaning a little with depth
    torso = 0.62 * L
    for s, sh in enumerate((LS, RS)):
        lm[:, sh, 0] = cx + side_sign[s] * 0.22 * L
        lm[:, sh, 1] = pelvis_y - torso * (1 - 0.2 * d)
    lm[:, NOSE, 0] = cx
    lm[:, NOSE, 1] = lm[:, LS, 1] - 0.25 * L
    for j in range(NUM_LANDMARKS):  # unused points: near the nose / shoulders
        if not lm[:, j, :2].any():
            lm[:, j, :2] = lm[:, NOSE, :2] + [0.01 * L * (j % 5), 0.01 * L * (j % 3)]

    if view == "side":
        # Side on: left and right coincide in x, knees travel forward with depth,
        # and MediaPipe's z separates the sides by the body's breadth.
        for left, right in ((LS, RS), (LH, RH), (LK, RK), (LA, RA), (LHE, RHE), (LT, RT)):
            for j in (left, right):
                lm[:, j, 0] = cx
            lm[:, left, 2] = -0.15 * L / width
            lm[:, right, 2] = 0.15 * L / width
        for k in (LK, RK):
            lm[:, k, 0] = cx + 0.35 * L * np.sin(np.pi / 2 * d)
        for t_ in (LT, RT):
            lm[:, t_, 0] = cx + 0.25 * L
        for h_ in (LHE, RHE):
            lm[:, h_, 0] = cx - 0.05 * L

    truth = _truth(lm, d, rep_of, reps=reps, bottoms=bottoms, start_s=start_s)
    if noise_px > 0:
        lm[..., :2] += rng.normal(0, noise_px, size=(n, NUM_LANDMARKS, 2))
    det = np.ones(n, bool)
    if dropout > 0:
        det &= rng.random(n) >= dropout
    if gap is not None:
        det &= ~((ts >= gap[0]) & (ts < gap[0] + gap[1]))
    lm[~det] = np.nan
    keep = ts >= start_s
    kp = Keypoints.build(
        lm[keep].astype(np.float32), fps=fps, width=width, height=height, detected=det[keep]
    )
    return kp, truth


def _truth(
    lm: F64,
    d: F64,
    rep_of: list[int],
    *,
    reps: list[RepSpec],
    bottoms: list[float],
    start_s: float,
) -> Truth:
    rep = np.asarray(rep_of)
    fmid: list[tuple[float, float]] = []
    fbot: list[tuple[float, float]] = []
    rmid: list[tuple[float, float]] = []
    kasr: list[float] = []
    kept = [i for i, _ in enumerate(bottoms) if _rep_start(reps, bottoms, i) >= start_s]
    for i in kept:
        m = (rep == i) & (d >= MID_LO) & (d <= MID_HI)
        b = (rep == i) & (d >= BOTTOM)
        fmid.append((float(_fppa_ref(lm[m], 0).mean()), float(_fppa_ref(lm[m], 1).mean())))
        fbot.append((float(_fppa_ref(lm[b], 0).mean()), float(_fppa_ref(lm[b], 1).mean())))
        with np.errstate(divide="ignore", invalid="ignore"):  # side view: ratios undefined
            mt = 0.5 * (lm[m, LT, 0] + lm[m, RT, 0])
            rl = (lm[m, LK, 0] - mt) / (lm[m, LT, 0] - mt)
            rr = (lm[m, RK, 0] - mt) / (lm[m, RT, 0] - mt)
            ka = (lm[m, LK, 0] - lm[m, RK, 0]) / (lm[m, LA, 0] - lm[m, RA, 0])
        rmid.append((float(np.median(rl)), float(np.median(rr))))
        kasr.append(float(np.median(ka)))
    return Truth(len(kept), [bottoms[i] - start_s for i in kept], fmid, fbot, rmid, kasr)


def _rep_start(reps: list[RepSpec], bottoms: list[float], i: int) -> float:
    return bottoms[i] - reps[i].pause_bottom_s / 2 - reps[i].down_s


def _fppa_ref(lm: F64, s: int) -> F64:
    """Reference FPPA by the law of cosines (independent of the scorer's formula)."""
    hip, knee, ank = ((LH, LK, LA), (RH, RK, RA))[s]
    H, K, A = lm[:, hip, :2], lm[:, knee, :2], lm[:, ank, :2]
    a = np.linalg.norm(K - H, axis=1)
    b = np.linalg.norm(A - K, axis=1)
    c = np.linalg.norm(A - H, axis=1)
    inner = np.degrees(np.arccos(np.clip((a**2 + b**2 - c**2) / (2 * a * b), -1, 1)))
    # valgus when the knee is nearer the midline (x = centre) than the hip-ankle line
    mid_x = H[:, 0] + (A[:, 0] - H[:, 0]) * (K[:, 1] - H[:, 1]) / (A[:, 1] - H[:, 1])
    outward = 1.0 if s == 0 else -1.0
    sign = np.where((K[:, 0] - mid_x) * outward < 0, 1.0, -1.0)
    out: F64 = (180.0 - inner) * sign
    return out


def hide(kp: Keypoints, landmarks: list[int], visibility: float = 0.05) -> Keypoints:
    """The same clip with some landmarks reported as not visible (e.g. feet out of frame)."""
    lm = kp.landmarks.copy()
    lm[:, landmarks, 3] = visibility
    return Keypoints.build(
        lm,
        fps=kp.fps,
        width=kp.width,
        height=kp.height,
        world=kp.world,
        detected=kp.detected,
        t_s=kp.t_s,
    )


def walk_in(kp: Keypoints, seconds: float, distance_px: float) -> Keypoints:
    """The person walks in from the side over the first ``seconds`` (off-frame points missing)."""
    lm = kp.landmarks.copy()
    shift = np.clip(1 - kp.t_s / seconds, 0, 1) * distance_px
    lm[..., 0] -= shift[:, None].astype(np.float32)
    lm[lm[..., 0] < 0] = np.nan
    return Keypoints.build(lm, fps=kp.fps, width=kp.width, height=kp.height, t_s=kp.t_s)


def approach(kp: Keypoints, t0: float, t1: float, size: tuple[float, float]) -> Keypoints:
    """The person walks towards (size grows) or away from the camera between ``t0`` and ``t1``:
    drawn ``size[0]`` times as big before, ``size[1]`` times after, about their feet."""
    lm = kp.landmarks.copy()
    k = np.interp(kp.t_s, [t0, t1], size)[:, None]
    feet = np.nanmedian(lm[:, [L_ANKLE, R_ANKLE], :2], axis=1)
    for axis in (0, 1):
        lm[..., axis] = feet[:, None, axis] + (lm[..., axis] - feet[:, None, axis]) * k
    return Keypoints.build(lm, fps=kp.fps, width=kp.width, height=kp.height, t_s=kp.t_s)


def mirror(kp: Keypoints) -> Keypoints:
    """The same clip filmed mirrored: x -> width - x, left/right landmarks swapped (the
    service's own un-mirroring, which is its own inverse)."""
    return kp.unmirrored()


def resample(kp: Keypoints, fps: float) -> Keypoints:
    """Linear resampling to a new frame rate (NaN frames stay NaN where both neighbours are)."""
    t_new = np.arange(0.0, kp.t_s[-1] - kp.t_s[0] + 1e-9, 1.0 / fps) + kp.t_s[0]
    pos = np.interp(t_new, kp.t_s, np.arange(kp.frames))
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, kp.frames - 1)
    w = (pos - i0)[:, None, None]
    lm = kp.landmarks[i0] * (1 - w) + kp.landmarks[i1] * w
    world = kp.world[i0] * (1 - w) + kp.world[i1] * w
    det = kp.detected[i0] & kp.detected[i1]
    return Keypoints.build(
        lm.astype(np.float32),
        fps=fps,
        width=kp.width,
        height=kp.height,
        world=world.astype(np.float32),
        detected=det,
        t_s=t_new,
    )


def transform(
    kp: Keypoints, scale: float, dx: float, dy: float, *, roll_deg: float = 0.0
) -> Keypoints:
    """Scale, roll about the frame centre and translate (camera distance, tilt, framing)."""
    lm = kp.landmarks.copy()
    cx, cy = kp.width / 2, kp.height / 2
    a = math.radians(roll_deg)
    x, y = lm[..., 0] - cx, lm[..., 1] - cy
    lm[..., 0] = (x * math.cos(a) - y * math.sin(a) + cx) * scale + dx
    lm[..., 1] = (x * math.sin(a) + y * math.cos(a) + cy) * scale + dy
    w = max(1, math.ceil(kp.width * scale + abs(dx)))
    h = max(1, math.ceil(kp.height * scale + abs(dy)))
    # z is in units of the image width: keep z * width (pixels) scaling with the picture.
    lm[..., 2] = lm[..., 2] * scale * kp.width / w
    return Keypoints.build(
        lm, fps=kp.fps, width=w, height=h, world=kp.world, detected=kp.detected, t_s=kp.t_s
    )
