"""The scorer against 3D ground truth: the tables and plots of docs/scoring.md.

    .venv/bin/python benchmarks/harness.py [--cases 400] [--plots docs/img]

Draws squat sets over the nuisance ranges (tests/harness/sweep.py), projects
them through random phone cameras, scores them with the real scorer and
prints, as markdown: the figures per camera-yaw band at three noise levels,
per nuisance range, the real mocap squats from ten cameras, the view
classifier's confusion and the ankle proxies' rank correlation. Writes two SVG
plots: score against true deviation, and one real clip's per-frame deviation
with the rep phases.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import lift, score_keypoints
from service.pipeline.scoring.body import body_geometry
from service.pipeline.scoring.cleanup import clean
from service.pipeline.scoring.phases import rep_frames
from service.pipeline.scoring.reps import height_signal, segment_reps
from tests.clips import reference_path
from tests.harness import mocap, sweep
from tests.harness.camera import Camera
from tests.harness.landmarks import Noise, keypoints

NOISES = {"nominal": Noise.nominal(), "stress": Noise.stress(), "none": Noise.none()}


def _row(label: str, f: sweep.Figures) -> str:
    return (
        f"| {label} | {f.n} | {f.graded:.0%} | {f.rho:.3f} | {f.false_flag:.1%} | "
        f"{f.missed_moderate:.1%} | {f.band_accuracy:.0%} | {f.error_sd:.3f} | {f.error_p95:.3f} |"
    )


HEAD = (
    "| | sides | graded | Spearman ρ | false flag | moderate+ graded none | band accuracy "
    "| error sd | error p95 |\n|---|---|---|---|---|---|---|---|---|"
)


def yaw_table(n: int, seed: int) -> dict[str, list[sweep.RepOutcome]]:
    print("### By camera yaw and noise\n")
    print(HEAD)
    out = {}
    for name, noise in NOISES.items():
        rows = sweep.run_all(sweep.cases(n, seed, noise))
        out[name] = rows
        for lo, hi in ((0, 30), (30, 50)):
            print(_row(f"{name}, \\|yaw\\| {lo}-{hi}°", sweep.figures(sweep.within(rows, lo, hi))))
    print()
    return out


def nuisance_table(rows: list[sweep.RepOutcome], cases: Sequence[sweep.Case]) -> None:
    print("### By nuisance (nominal noise, \\|yaw\\| ≤ 50°)\n")
    print(HEAD)
    bins: list[tuple[str, Callable[[sweep.Case], bool]]] = [
        ("stance 0.8-1.3", lambda c: c.squat.stance < 1.3),
        ("stance 1.3-1.8", lambda c: 1.3 <= c.squat.stance < 1.8),
        ("stance 1.8-2.2", lambda c: c.squat.stance >= 1.8),
        ("depth < 0.8 (half)", lambda c: c.squat.depth < 0.8),
        ("depth ≥ 0.8 (to full)", lambda c: c.squat.depth >= 0.8),
        ("pitch < -7°", lambda c: c.camera.pitch_deg < -7),
        ("pitch -7..7°", lambda c: -7 <= c.camera.pitch_deg <= 7),
        ("pitch > 7°", lambda c: c.camera.pitch_deg > 7),
        ("wide lens 23-30 mm", lambda c: c.camera.focal_35mm < 40),
        ("tele lens 48-80 mm", lambda c: c.camera.focal_35mm >= 40),
        ("10-24 fps", lambda c: c.fps <= 24),
        ("25-60 fps", lambda c: c.fps > 24),
        ("mirrored", lambda c: c.camera.mirrored),
        ("tripod", lambda c: c.camera.sway_deg == 0),
        ("hand-held, sway 1-4°", lambda c: c.camera.sway_deg > 0),
        ("ankle collapse", lambda c: max(c.squat.ankle_collapse) > 0),
    ]
    for label, pred in bins:
        sel = [r for r in rows if pred(cases[r.case])]
        print(_row(label, sweep.figures(sel)))
    for lo, hi in ((0, 15), (15, 30), (30, 40)):
        sel = [r for r in rows if lo <= r.toe_out_deg < hi or (hi == 40 and r.toe_out_deg >= lo)]
        print(_row(f"toe-out {lo}-{hi}°", sweep.figures(sel)))
    print()


LENSES = (
    ("ultra-wide 13-16 mm (a phone's 0.5x)", 13.0, 16.0),
    ("main 23-30 mm", 23.0, 30.0),
    ("tele 48-80 mm", 48.0, 80.0),
)


def lens_table(n: int, seed: int) -> None:
    """The same front-view sets re-shot through each lens, the scorer's focal fixed."""
    print("### By lens, the same sets (front views, \\|yaw\\| ≤ 30°, nominal noise)\n")
    print(
        "| | sides | graded | Spearman ρ | false flag | moderate+ graded none | band accuracy "
        "| mean error | error sd | error p95 |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    cases = sweep.cases(n, seed, Noise.nominal(), max_yaw=30.0)
    for label, lo, hi in LENSES:
        rng = np.random.default_rng(seed)
        rows: list[sweep.RepOutcome] = []
        for i, c in enumerate(cases):
            lens = replace(c.camera, focal_35mm=float(rng.uniform(lo, hi)))
            rows.extend(sweep.run(replace(c, camera=lens), i)[1])
        f = sweep.figures(rows)
        bias = float(np.mean([r.est_dev - r.truth_dev for r in rows if r.est_dev is not None]))
        print(
            f"| {label} | {f.n} | {f.graded:.0%} | {f.rho:.3f} | {f.false_flag:.1%} | "
            f"{f.missed_moderate:.1%} | {f.band_accuracy:.0%} | {bias:+.3f} | {f.error_sd:.3f} | "
            f"{f.error_p95:.3f} |"
        )
    print()


def mocap_table() -> None:
    cams = [
        Camera(yaw_deg=y, pitch_deg=p, focal_35mm=f)
        for y in (-45.0, -20.0, 0.0, 20.0, 45.0)
        for p, f in ((-15.0, 26.0), (15.0, 70.0))
    ]
    print("### Real mocap squats (no cave recorded), ten cameras each, nominal noise\n")
    print("| trial | reps found | sides graded | flagged | largest deviation read |")
    print("|---|---|---|---|---|")
    for trial in mocap.trials():
        j = mocap.load(trial, 30.0)
        reps = graded = flagged = 0
        worst = -1.0
        for i, cam in enumerate(cams):
            res = score_keypoints(keypoints(j, cam, Noise.nominal(), i))
            reps += res.rep_count
            for rep in res.reps:
                for side in (rep.knee_cave.left, rep.knee_cave.right):
                    if side is None or side.deviation_leg is None:
                        continue
                    graded += 1
                    flagged += side.severity != "none"
                    worst = max(worst, side.deviation_leg)
        print(f"| {trial} | {reps} | {graded} | {flagged} | {worst:.3f} |")
    print()


def view_table(n: int, seed: int) -> None:
    conf: Counter[tuple[str, str]] = Counter()
    for c in sweep.cases(n, seed, Noise.nominal(), max_yaw=90.0):
        yaw = abs(c.camera.yaw_deg)
        truth = "front" if yaw < 30 else "side" if yaw > 50 else "oblique"
        res = score_keypoints(keypoints(c.build(), c.camera, c.noise, c.seed))
        for rep in res.reps:
            conf[(truth, rep.view)] += 1
    print("### View classifier (camera yaw 0-90°, pitch ±20°, nominal noise; rows: truth)\n")
    views = ("front", "oblique", "side")
    print("| | " + " | ".join(views) + " |\n|---|---|---|---|")
    for t in views:
        print(f"| {t} | " + " | ".join(str(conf[(t, v)]) for v in views) + " |")
    print()


def ankle_table(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = [
        replace(
            c,
            squat=replace(
                c.squat, ankle_collapse=(float(rng.uniform(0, 0.06)), float(rng.uniform(0, 0.06)))
            ),
        )
        for c in sweep.cases(n, seed, Noise.nominal(), max_yaw=30.0)
    ]
    rows = [r for r in sweep.run_all(cases) if r.ankle_proxies]
    truth = [r.truth_ankle for r in rows]
    print("### Ankle proxies against true ankle collapse (front views, nominal noise)\n")
    print("| proxy | Spearman ρ | graded |\n|---|---|---|")
    for key, graded in (
        ("medial_ankle_drift_leg", "yes"),
        ("shank_tilt_change_deg", "no (reported)"),
        ("toe_out_change_deg", "no (reported)"),
    ):
        vals = [float(r.ankle_proxies[key] or np.nan) for r in rows]
        print(f"| {key} | {sweep.spearman(vals, truth):.2f} | {graded} |")
    print()


def clip_table() -> None:
    """Every labelled front clip, both keypoint sources: per rep severity and L/R deviation."""
    from tests.clips import manifest  # noqa: PLC0415
    from tests.pose_cache import pose_keypoints  # noqa: PLC0415

    print("### Shared clips (deviation L/R, leg lengths; [label] from the manifest)\n")
    print("| clip | label (side) | source | reps | per rep: severity L/R |\n|---|---|---|---|---|")
    for cid, m in manifest().items():
        if m["view"] != "front":
            continue
        label = f"{m['valgus']['label']} ({m['valgus']['side'] or '-'})"
        for source in ("MediaPipe", "ours"):
            kp = (
                Keypoints.load(reference_path(cid))
                if source == "MediaPipe"
                else pose_keypoints(cid)
            )
            res = score_keypoints(kp)
            cells = []
            for rep in res.reps:
                seg = [
                    g["label"]
                    for g in m["valgus"]["segments"]
                    if g["start_frame"] <= rep.bottom_frame <= g["end_frame"]
                ]
                kc = rep.knee_cave
                lr = "/".join(
                    f"{s.deviation_leg:.3f}" if s and s.deviation_leg is not None else "-"
                    for s in (kc.left, kc.right)
                )
                cells.append(f"{kc.severity} {lr}" + (f" [{seg[0]}]" if seg else ""))
            print(f"| {cid} | {label} | {source} | {res.rep_count} | {'; '.join(cells)} |")
    print()


# --- plots (plain SVG: no plotting dependency) -------------------------------------------


def _svg(
    path: Path, series: list[tuple[list[float], list[float], str, str]], labels: tuple[str, str]
) -> None:
    xs = [x for s in series for x in s[0]]
    ys = [y for s in series for y in s[1]]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    w, h, m = 640, 400, 50

    def px(x: float) -> float:
        return m + (x - x0) / (x1 - x0 or 1) * (w - 2 * m)

    def py(y: float) -> float:
        return h - m - (y - y0) / (y1 - y0 or 1) * (h - 2 * m)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
        f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
        f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">{labels[0]}</text>',
        f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" '
        f'text-anchor="middle">{labels[1]}</text>',
    ]
    for k in range(5):
        xv, yv = x0 + k * (x1 - x0) / 4, y0 + k * (y1 - y0) / 4
        parts.append(f'<text x="{px(xv)}" y="{h - m + 16}" text-anchor="middle">{xv:.2f}</text>')
        parts.append(f'<text x="{m - 6}" y="{py(yv) + 4}" text-anchor="end">{yv:.2f}</text>')
    for sx, sy, colour, kind in series:
        if kind == "dots":
            parts += [
                f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2" fill="{colour}" '
                'fill-opacity="0.5"/>'
                for a, b in zip(sx, sy, strict=True)
            ]
        else:
            pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(sx, sy, strict=True))
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}"/>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))


def plot_score(rows: list[sweep.RepOutcome], out: Path) -> None:
    ok = [r for r in rows if r.score is not None and abs(r.yaw_deg) <= 50]
    front = [r for r in ok if abs(r.yaw_deg) <= 30]
    obl = [r for r in ok if abs(r.yaw_deg) > 30]
    _svg(
        out,
        [
            ([r.truth_dev for r in front], [float(r.score or 0) for r in front], "#1f77b4", "dots"),
            ([r.truth_dev for r in obl], [float(r.score or 0) for r in obl], "#ff7f0e", "dots"),
        ],
        ("true knee deviation, leg lengths", "score"),
    )


def plot_clip(clip: str, out: Path) -> None:
    kp = Keypoints.load(reference_path(clip))
    c = clean(kp)
    body = body_geometry(c)
    h = height_signal(body, c.fps)
    reps = segment_reps(h, c.fps)
    rf = rep_frames(reps, h, c.fps)
    legs = lift.lift_legs(c)
    own = lift.owner(rf.whole, c.frames)
    dev = lift.deviation(
        legs, lift.per_frame(lift.foot_direction(lift.rep_feet(legs, rf.around, rf.deep)), own)
    )
    t = c.t_s.tolist()
    deep = np.full(c.frames, np.nan)
    deep[rf.deep[rf.deep >= 0]] = -0.12
    keep = np.isfinite(dev.leg).all(axis=1)
    tt = [x for x, k in zip(t, keep, strict=True) if k]
    series = [
        (tt, dev.leg[keep, 0].tolist(), "#1f77b4", "line"),
        (tt, dev.leg[keep, 1].tolist(), "#d62728", "line"),
        (t, [0.08] * len(t), "#999999", "line"),
        (t, (h * 0.2 - 0.3).tolist(), "#2ca02c", "line"),
        (
            [x for x, d in zip(t, deep, strict=True) if np.isfinite(d)],
            [float(d) for d in deep if np.isfinite(d)],
            "#000000",
            "dots",
        ),
    ]
    _svg(
        out,
        series,
        ("time, s", "knee deviation, leg lengths"),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--plots", type=Path, default=None, help="write SVG plots here")
    args = ap.parse_args()
    rows = yaw_table(args.cases, args.seed)
    cases = sweep.cases(args.cases, args.seed, Noise.nominal())
    nuisance_table(rows["nominal"], cases)
    lens_table(args.cases // 2, args.seed + 3)
    mocap_table()
    view_table(args.cases // 2, args.seed + 1)
    ankle_table(args.cases // 2, args.seed + 2)
    clip_table()
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
        plot_score(rows["nominal"], args.plots / "score_vs_truth.svg")
        plot_clip("front_valgus_then_correct", args.plots / "clip_deviation.svg")
        print(f"plots written to {args.plots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
