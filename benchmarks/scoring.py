"""Scorer speed: one hour of 30 fps keypoints, vectorised vs a per-frame Python loop.

    .venv/bin/python benchmarks/scoring.py [--minutes 60] [--clip front_valgus_then_correct]

Builds an hour (108,000 frames) by tiling a real MediaPipe reference clip,
scores it with ``score_keypoints`` (the product path: clean-up, view, reps,
knee, ankle, summary, pydantic result), then computes the same per-frame
measures - the 2D frontal measures and the 3D rebuild of the legs with the
knee's deviation from its foot plane - with a straightforward loop over frames
(the way a per-frame pose-to-angle script does it). Prints both
times and the ratio, and checks that both paths agree. Not a timed test.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import lift, score_keypoints
from service.pipeline.scoring.body import SCALE_REACH_S, body_geometry
from service.pipeline.scoring.cleanup import (
    JITTER_SIGMA_S,
    MAX_GAP_S,
    MIN_VISIBILITY,
    USED,
    clean,
)
from service.pipeline.scoring.frames import MIN_HALF_BASE, frontal_frames
from service.pipeline.scoring.reps import SIGNAL_SIGMA_S, height_signal
from service.pipeline.scoring.view import frame_yaw
from tests.clips import reference_path

P = tuple[float, float]
PER_SIDE = (
    "knee_toe_ratio",
    "knee_ankle_ratio",
    "knee_lat",
    "fppa_deg",
    "shank_tilt_deg",
    "ankle_vs_foot",
    "toe_out",
    "heel_rise",
)
FRONTAL_NAMES = (
    *(f"{m}_left" for m in PER_SIDE),
    *(f"{m}_right" for m in PER_SIDE),
    "kasr",
    "ktsr",
)


def tile(kp: Keypoints, frames: int) -> Keypoints:
    reps = math.ceil(frames / kp.frames)
    lm = np.tile(kp.landmarks, (reps, 1, 1))[:frames]
    world = np.tile(kp.world, (reps, 1, 1))[:frames]
    return Keypoints.build(lm, fps=kp.fps, width=kp.width, height=kp.height, world=world)


# ---------------------------------------------------------------- per-frame baseline


def _gauss_weights(sigma: float) -> list[float]:
    r = int(3 * sigma + 0.5)
    return [math.exp(-0.5 * (k / sigma) ** 2) for k in range(-r, r + 1)]


def _smooth_loop(series: list[float | None], sigma: float) -> list[float | None]:
    w = _gauss_weights(sigma)
    r = len(w) // 2
    n = len(series)
    out: list[float | None] = [None] * n
    for t in range(n):
        if series[t] is None:
            continue
        num = den = 0.0
        for k in range(-r, r + 1):
            j = t + k
            if 0 <= j < n:
                v = series[j]
                if v is not None:
                    num += w[k + r] * v
                    den += w[k + r]
        out[t] = num / den
    return out


def _fill_loop(series: list[float | None], max_gap: int) -> list[float | None]:
    out = list(series)
    n = len(series)
    t = 0
    while t < n:
        if series[t] is None:
            s = t
            while t < n and series[t] is None:
                t += 1
            if s > 0 and t < n and t - s <= max_gap:
                a, b = series[s - 1], series[t]
                assert a is not None
                assert b is not None
                for k in range(s, t):
                    out[k] = a + (b - a) * (k - s + 1) / (t - s + 1)
        t += 1
    return out


def _nan(v: float) -> bool:
    return math.isnan(v)


def _clean_series(kp: Keypoints, j: int, col: int, scale: float = 1.0) -> list[float | None]:
    """One coordinate of one landmark: mask, fill short gaps, smooth (frame by frame)."""
    out: list[float | None] = []
    for t in range(kp.frames):
        x, y, v = (float(kp.landmarks[t, j, k]) for k in (0, 1, 3))
        ok = not (_nan(x) or _nan(y)) and not (not _nan(v) and v < MIN_VISIBILITY)
        out.append(float(kp.landmarks[t, j, col]) * scale if ok else None)
    gap = round(MAX_GAP_S * kp.fps)
    return _smooth_loop(_fill_loop(out, gap), JITTER_SIGMA_S * kp.fps)


def _yaw_pair(dx: float, dz: float) -> float:
    return math.degrees(math.atan2(abs(dz), abs(dx)))


def _frontal_side(
    hip: P, knee: P, ank: P, heel: P, toe: P, *, e: P, mid_toe: P, mid_ank: P, leg: float
) -> list[float]:
    def dot(a: P, b: P) -> float:
        return a[0] * b[0] + a[1] * b[1]

    def sub(a: P, b: P) -> P:
        return (a[0] - b[0], a[1] - b[1])

    nan = float("nan")
    toe_half = dot(sub(toe, mid_toe), e)
    ank_half = dot(sub(ank, mid_ank), e)
    ratio = dot(sub(knee, mid_toe), e) / toe_half if toe_half / leg >= MIN_HALF_BASE else nan
    aratio = dot(sub(knee, mid_ank), e) / ank_half if ank_half / leg >= MIN_HALF_BASE else nan
    thigh, shank = sub(knee, hip), sub(ank, knee)
    cross = thigh[0] * shank[1] - thigh[1] * shank[0]
    ang = math.degrees(math.atan2(abs(cross), dot(thigh, shank)))
    line = sub(ank, hip)
    s = dot(sub(knee, hip), line) / dot(line, line)
    off = sub(knee, (hip[0] + s * line[0], hip[1] + s * line[1]))
    o = dot(off, e)
    fppa = ang * (-1.0 if o > 0 else 1.0)
    sh = sub(knee, ank)
    tilt = math.degrees(math.atan2(-dot(sh, e), -sh[1]))
    foot_mid = ((heel[0] + toe[0]) / 2, (heel[1] + toe[1]) / 2)
    return [
        ratio,
        aratio,
        dot(sub(knee, mid_toe), e) / leg,
        fppa,
        tilt,
        dot(sub(ank, foot_mid), e) / leg,
        dot(sub(toe, heel), e) / leg,
        (toe[1] - heel[1]) / leg,
    ]


def loop_measures(kp: Keypoints) -> dict[str, list[float]]:
    """Every per-frame measure the scorer uses, computed frame by frame in plain Python."""
    fps, n = kp.fps, kp.frames
    xs = {j: _clean_series(kp, j, 0) for j in USED}
    ys = {j: _clean_series(kp, j, 1) for j in USED}
    zs = {j: _clean_series(kp, j, 2, float(kp.width)) for j in (11, 12, 23, 24)}

    def p(j: int, t: int) -> P | None:
        x, y = xs[j][t], ys[j][t]
        return None if x is None or y is None else (x, y)

    leg_raw: list[float] = []
    for t in range(n):
        best = float("nan")
        for h, k, a in ((23, 25, 27), (24, 26, 28)):
            ph, pk, pa = p(h, t), p(k, t), p(a, t)
            if ph and pk and pa:
                v = math.dist(ph, pk) + math.dist(pk, pa)
                best = v if _nan(best) else max(best, v)
        leg_raw.append(best)
    win = max(round(SCALE_REACH_S * fps), 1)
    leg = _running_max_loop(leg_raw, win)

    out: dict[str, list[float]] = {k: [] for k in ("height", "yaw", *FRONTAL_NAMES)}
    height: list[float | None] = []
    for t in range(n):
        pts = [p(j, t) for j in USED]
        if any(q is None for q in pts) or _nan(leg[t]):
            height.append(None)
            out["yaw"].append(float("nan"))
            for name in FRONTAL_NAMES:
                out[name].append(float("nan"))
            continue
        ls, rs, lh, rh, lk, rk, la, ra, lhe, rhe, lt, rt = (q for q in pts if q is not None)
        lg = leg[t]
        height.append(((la[1] + ra[1]) / 2 - (lh[1] + rh[1]) / 2) / lg)
        yaws = []
        for (pa, pb, breadth), (ja, jb) in zip(
            ((ls, rs, 0.45), (lh, rh, 0.30)), ((11, 12), (23, 24)), strict=True
        ):
            w = abs(pa[0] - pb[0]) / lg
            yaws.append(math.degrees(math.acos(min(1.0, w / breadth))))
            za, zb = zs[ja][t], zs[jb][t]
            if za is not None and zb is not None:
                yaws.append(_yaw_pair(pa[0] - pb[0], za - zb))
            wa, wb = kp.world[t, ja], kp.world[t, jb]
            if not (_nan(float(wa[0])) or _nan(float(wb[0]))):
                yaws.append(_yaw_pair(float(wa[0] - wb[0]), float(wa[2] - wb[2])))
        out["yaw"].append(statistics.median(yaws))
        ux, uy = lh[0] - rh[0], lh[1] - rh[1]
        norm = math.hypot(ux, uy)
        u = (ux / norm, uy / norm)
        mid_toe = ((lt[0] + rt[0]) / 2, (lt[1] + rt[1]) / 2)
        mid_ank = ((la[0] + ra[0]) / 2, (la[1] + ra[1]) / 2)
        left = _frontal_side(lh, lk, la, lhe, lt, e=u, mid_toe=mid_toe, mid_ank=mid_ank, leg=lg)
        right = _frontal_side(
            rh, rk, ra, rhe, rt, e=(-u[0], -u[1]), mid_toe=mid_toe, mid_ank=mid_ank, leg=lg
        )
        for k, name in enumerate(FRONTAL_NAMES[:8]):
            out[name].append(left[k])
        for k, name in enumerate(FRONTAL_NAMES[8:16]):
            out[name].append(right[k])
        ksep = (lk[0] - rk[0]) * u[0] + (lk[1] - rk[1]) * u[1]
        out["kasr"].append(ksep / ((la[0] - ra[0]) * u[0] + (la[1] - ra[1]) * u[1]))
        out["ktsr"].append(ksep / ((lt[0] - rt[0]) * u[0] + (lt[1] - rt[1]) * u[1]))
    sig = _smooth_loop(height, SIGNAL_SIGMA_S * fps)
    out["height"] = [float("nan") if v is None else v for v in sig]
    return out


V3 = tuple[float, float, float]


def _v3_dot(a: V3, b: V3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _v3_unit(a: V3) -> V3:
    n = math.sqrt(_v3_dot(a, a))
    return (a[0] / n, a[1] / n, a[2] / n)


def _on_ray(ray: V3, centre: V3, length: float, nearer: bool) -> V3:
    qq, qc, cc = _v3_dot(ray, ray), _v3_dot(ray, centre), _v3_dot(centre, centre)
    root = math.sqrt(max(qc * qc - qq * (cc - length * length), 0.0))
    lam = (qc - root) / qq if nearer else (qc + root) / qq
    return (lam * ray[0], lam * ray[1], lam * ray[2])


def _running_max_loop(series: list[float], reach: int) -> list[float]:
    """The scorer's ``running_max``, one frame at a time."""
    n = len(series)
    out = []
    for t in range(n):
        past = max((v for v in series[max(0, t - reach) : t + 1] if not _nan(v)), default=None)
        future = max((v for v in series[t : t + reach + 1] if not _nan(v)), default=None)
        sides = [s for s, full in ((past, t >= reach), (future, t < n - reach)) if full]
        if not sides:  # both cut short by the clip's ends: the larger
            sides = [max((s for s in (past, future) if s is not None), default=None)]
        kept = [s for s in sides if s is not None]
        out.append(min(kept) if len(kept) == len(sides) else float("nan"))
    return out


def _lengths_loop(
    thigh: list[float], shank: list[float], win: int
) -> tuple[list[float], list[float]]:
    """Running maxima of one leg's thigh and shank, completed by the standing ratio."""
    mt, ms = _running_max_loop(thigh, win), _running_max_loop(shank, win)
    total = [a + b for a, b in zip(thigh, shank, strict=True)]
    mtot = _running_max_loop(total, win)
    ratios = [
        a / b
        for a, b, tt, m in zip(thigh, shank, total, mtot, strict=True)
        if not (_nan(tt) or _nan(m)) and tt >= lift.STANDING_LEG * m and b > 0
    ]
    r = statistics.median(ratios) if ratios else 1.0
    lt = [
        max(a, b * r) if not (_nan(a) or _nan(b)) else float("nan")
        for a, b in zip(mt, ms, strict=True)
    ]
    return lt, [v / r for v in lt]


def loop_deviation(kp: Keypoints) -> dict[str, list[float]]:
    """The knee's 3D deviation from its foot plane, frame by frame in plain Python.

    Per leg: segment lengths (running maxima, twice: the second pass scales each
    image length back to the ankle's depth), rays, depth along them, the foot's
    direction, the plane and the distance. The foot is taken per frame here (the
    scorer takes it per rep), the rest is the scorer's per-frame work.
    """
    c = clean(kp)
    f = lift.FOCAL_DIAG * math.hypot(kp.width, kp.height)
    cx, cy = kp.width / 2, kp.height / 2
    win = max(round(SCALE_REACH_S * kp.fps), 1)
    out: dict[str, list[float]] = {}
    pts = {j: c.xy[j].tolist() for j in (23, 24, 25, 26, 27, 28, 29, 30, 31, 32)}

    def ray(p: list[float]) -> V3:
        return (p[0] - cx, p[1] - cy, f)

    for s, name in ((0, "deviation_left"), (1, "deviation_right")):
        hip, knee, ank = pts[23 + s], pts[25 + s], pts[27 + s]
        thigh = [math.dist(a, b) for a, b in zip(hip, knee, strict=True)]
        shank = [math.dist(a, b) for a, b in zip(knee, ank, strict=True)]
        near_k = [1.0] * kp.frames
        near_h = [1.0] * kp.frames
        for _ in range(2):
            lt, ls = _lengths_loop(
                [a * b for a, b in zip(thigh, near_h, strict=True)],
                [a * b for a, b in zip(shank, near_k, strict=True)],
                win,
            )
            rebuilt = []
            for t in range(kp.frames):
                if _nan(lt[t]) or any(_nan(v) for v in (*hip[t], *knee[t], *ank[t])):
                    rebuilt.append(None)
                    continue
                a3 = ray(ank[t])
                k3 = _on_ray(ray(knee[t]), a3, ls[t], True)
                h3 = _on_ray(ray(hip[t]), k3, lt[t], False)
                rebuilt.append((a3, k3, h3))
                dk, dh = k3[2] / a3[2], h3[2] / a3[2]
                near_k[t], near_h[t] = 0.5 * (dk + 1.0), 0.5 * (dh + dk)
        values = []
        for t in range(kp.frames):
            heel, toe, other = pts[29 + s][t], pts[31 + s][t], pts[24 - s][t]
            if rebuilt[t] is None or any(_nan(v) for v in (*heel, *toe, *other)):
                values.append(float("nan"))
                continue
            a3, k3, h3 = rebuilt[t]
            he3 = ray(heel)
            seen = math.dist(toe, heel)
            leg = lt[t] + ls[t]
            to3 = _on_ray(ray(toe), he3, max(lift.FOOT_LEN_LEG * leg, seen), True)
            foot = _v3_unit((to3[0] - he3[0], to3[1] - he3[1], to3[2] - he3[2]))
            axis = _v3_unit((h3[0] - a3[0], h3[1] - a3[1], h3[2] - a3[2]))
            n = _v3_unit(
                (
                    axis[1] * foot[2] - axis[2] * foot[1],
                    axis[2] * foot[0] - axis[0] * foot[2],
                    axis[0] * foot[1] - axis[1] * foot[0],
                )
            )
            if n[0] * (other[0] - hip[t][0]) + n[1] * (other[1] - hip[t][1]) < 0:
                n = (-n[0], -n[1], -n[2])
            rel = (k3[0] - a3[0], k3[1] - a3[1], k3[2] - a3[2])
            values.append(_v3_dot(rel, n) / leg)
        out[name] = values
    return out


def per_frame_vectorised(kp: Keypoints) -> dict[str, npt.NDArray[np.float64]]:
    """The scorer's own per-frame stage: clean-up, scale, height, yaw, frontal measures,
    the 3D rebuild of both legs and the knee's deviation from its foot plane."""
    c = clean(kp)
    b = body_geometry(c)
    ff = frontal_frames(c, b)
    vec = {"height": height_signal(b, kp.fps), "yaw": frame_yaw(c, b)}
    vec["kasr"], vec["ktsr"] = ff.kasr, ff.ktsr
    for m in PER_SIDE:
        arr = getattr(ff, m)
        vec[f"{m}_left"], vec[f"{m}_right"] = arr[:, 0], arr[:, 1]
    legs = lift.lift_legs(c)
    foot = lift.foot_direction(lift.Feet(legs.heel, legs.toe, legs.leg))  # per frame here
    dev = lift.deviation(legs, foot).leg
    vec["deviation_left"], vec["deviation_right"] = dev[:, 0], dev[:, 1]
    return vec


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--clip", default="front_valgus_then_correct")
    ap.add_argument("--repeat", type=int, default=3, help="vectorised runs (best is reported)")
    args = ap.parse_args()
    src = Keypoints.load(reference_path(args.clip))
    kp = tile(src, round(args.minutes * 60 * src.fps))
    minutes = kp.frames / kp.fps / 60
    print(f"input: {args.clip} tiled to {kp.frames:,} frames ({minutes:.1f} min, {kp.fps:g} fps)")

    score_keypoints(tile(src, 2000))  # warm-up: imports and first-call costs
    # Wall time and process CPU time: on a shared machine the CPU time is the stable figure.
    best, best_cpu, res = math.inf, math.inf, None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = score_keypoints(kp)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    assert res is not None
    print(
        f"vectorised score_keypoints (best of {args.repeat}): wall {best:.3f} s, "
        f"cpu {best_cpu:.3f} s, {res.rep_count} reps"
    )
    print(f"  stages (last run, ms): {res.timings}")

    # The same work as the loop below, vectorised: every per-frame measure, nothing per rep.
    best_pf = math.inf
    for _ in range(args.repeat):
        c0 = time.process_time()
        vec = per_frame_vectorised(kp)
        best_pf = min(best_pf, time.process_time() - c0)
    print(f"vectorised per-frame measures only (best of {args.repeat}): cpu {best_pf:.3f} s")

    t0, c0 = time.perf_counter(), time.process_time()
    loop = loop_measures(kp)
    loop.update(loop_deviation(kp))
    t_loop, c_loop = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"per-frame Python loop, per-frame measures only: wall {t_loop:.3f} s, cpu {c_loop:.3f} s"
    )
    print(f"ratio, same work (per-frame measures), cpu: {c_loop / best_pf:.0f}x")
    print(
        f"ratio, whole vectorised scorer (incl. reps, per-rep stage, result models) vs the "
        f"loop's per-frame part alone: wall {t_loop / best:.0f}x, cpu {c_loop / best_cpu:.0f}x"
    )

    # Same numbers: compare the loop's per-frame measures with the vectorised arrays.
    worst = 0.0
    for name, arr in vec.items():
        lp = np.asarray(loop[name])
        ok = np.isfinite(lp) & np.isfinite(arr)
        diff = float(np.median(np.abs(lp[ok] - arr[ok]))) if ok.any() else 0.0
        worst = max(worst, diff)
    print(f"agreement over {len(vec)} per-frame measures: worst median |diff| {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
