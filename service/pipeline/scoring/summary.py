"""Set summary: per-side averages, worst rep, asymmetry, trend, cues and exercises.

The headline follows the reps: a set is "none" only when no rep is flagged,
and otherwise takes the severity of its typical flagged rep. Every cue and
exercise carries ``because`` (the measurement), ``reps`` and ``sides``: what
triggered it, so a coach (or a test) can see why it is there.
"""

from __future__ import annotations

import numpy as np

from service.pipeline.scoring.knee import severity
from service.pipeline.scoring.schema import (
    Advice,
    Asymmetry,
    MetricSummary,
    Rep,
    Side,
    SideSummary,
    Summary,
)

# Later reps are "worse" when the score falls by more than 2 points per rep
# (about a severity band, 25 points, over a 12-rep set) and by at least 10
# points over the set (so 3 reps drifting 100 -> 96 within noise do not count).
TREND_WORSE = -2.0
TREND_MIN_DROP = 10.0
# Mean score gap between sides that names a worse side (~a third of a band).
ASYM_POINTS = 10.0
# A rep is flagged on a side when its knee-cave score is below the "none" band edge.
FLAG_SCORE = 85.0
ANKLE_FLAG_SCORE = 70.0


def _side_summary(reps: list[Rep], scores: list[float | None], flag: float) -> SideSummary:
    pairs = [(s, r.index) for s, r in zip(scores, reps, strict=True) if s is not None]
    if not pairs:
        return SideSummary(mean_score=None, worst_score=None, worst_rep=None, reps_flagged=0)
    worst, worst_rep = min(pairs)
    return SideSummary(
        mean_score=round(float(np.mean([p[0] for p in pairs])), 1),
        worst_score=worst,
        worst_rep=worst_rep,
        reps_flagged=sum(1 for s, _ in pairs if s < flag),
    )


def _trend(idx: list[int], scores: list[float]) -> float | None:
    if len(scores) < 3:
        return None
    slope = float(np.polyfit(np.asarray(idx, float), np.asarray(scores, float), 1)[0])
    return round(slope, 2)


def _metric(
    reps: list[Rep],
    rep_scores: list[float | None],
    left: list[float | None],
    right: list[float | None],
    *,
    with_severity: bool,
    flag: float,
    reason: str,
) -> MetricSummary:
    pairs = [(s, r.index) for s, r in zip(rep_scores, reps, strict=True) if s is not None]
    if not pairs:
        return MetricSummary(
            score=None,
            left=_side_summary(reps, left, flag),
            right=_side_summary(reps, right, flag),
            worst_rep=None,
            trend_per_rep=None,
            later_reps_worse=None,
            reason=reason,
        )
    mean = round(float(np.mean([p[0] for p in pairs])), 1)
    trend = _trend([p[1] for p in pairs], [p[0] for p in pairs])
    flagged = [(s, i) for s, i in pairs if s < flag]
    headline = None
    if with_severity:
        headline = severity(float(np.median([s for s, _ in flagged]))) if flagged else "none"
    return MetricSummary(
        score=mean,
        severity=headline,
        flagged_reps=[i for _, i in flagged],
        left=_side_summary(reps, left, flag),
        right=_side_summary(reps, right, flag),
        worst_rep=min(pairs)[1],
        trend_per_rep=trend,
        later_reps_worse=None
        if trend is None
        else (trend < TREND_WORSE and -trend * (pairs[-1][1] - pairs[0][1]) >= TREND_MIN_DROP),
    )


# Stable ids -> what the user reads. Knee cave from the hip first, the foot second.
TEXT: dict[str, str] = {
    "knees_out": "Knees out: push your knees over your little toes on the way down and up.",
    "screw_feet": "Screw your feet into the floor: keep the arch up and the big toe down.",
    "fatigue": (
        "Later reps cave more: shorten the set or rest, and keep the knees-out cue "
        "for the last reps."
    ),
    "banded_squat": (
        "Banded squats: a mini band above the knees, push out against it (2-3 x 10-15)."
    ),
    "clamshells": (
        "Clamshells with a band (2-3 x 15 per side) for the hip abductors and external rotators."
    ),
    "x_band_walk": "X-band walks (2-3 x 10 steps each way).",
    "lateral_squat_walk": "Lateral squat walks with a band (2-3 x 10 steps each way).",
    "banded_lunge_warmup": (
        "Banded lunge warm-up: a band pulling the knee in, resist it "
        "(reactive neuromuscular training)."
    ),
    "foot_ankle": (
        "Foot and ankle work: short-foot holds, single-leg balance, calf raises with the arch held."
    ),
}
KNEE_EXERCISES = (
    "banded_squat",
    "clamshells",
    "x_band_walk",
    "lateral_squat_walk",
    "banded_lunge_warmup",
)


def _flags(
    reps: list[Rep], per_side: list[tuple[float | None, float | None]], flag: float
) -> tuple[list[int], list[Side]]:
    """Reps with a side below ``flag``, and which sides ever were."""
    hit_reps: list[int] = []
    hit_sides: set[Side] = set()
    for rep, (left, right) in zip(reps, per_side, strict=True):
        sides = {
            name for name, v in (("left", left), ("right", right)) if v is not None and v < flag
        }
        if sides:
            hit_reps.append(rep.index)
            hit_sides |= sides  # type: ignore[arg-type]
    return hit_reps, sorted(hit_sides)


def _knee_advice(reps: list[Rep]) -> tuple[list[Advice], list[Advice]]:
    per_side = [
        (
            r.knee_cave.left.score if r.knee_cave.left else None,
            r.knee_cave.right.score if r.knee_cave.right else None,
        )
        for r in reps
    ]
    hit_reps, hit_sides = _flags(reps, per_side, FLAG_SCORE)
    if not hit_reps:
        return [], []
    worst = min(
        (
            (side.score, name, r.index, side.deviation_leg)
            for r in reps
            for name, side in (("left", r.knee_cave.left), ("right", r.knee_cave.right))
            if side is not None and side.score is not None
        ),
        key=lambda x: x[0],
    )
    dev = f", {worst[3]:.2f} leg lengths inside its foot" if worst[3] is not None else ""
    why = (
        f"{' and '.join(hit_sides)} knee{'s' if len(hit_sides) > 1 else ''} inside the line of "
        f"the foot in rep{'s' if len(hit_reps) > 1 else ''} {_list(hit_reps)}; worst: {worst[1]} "
        f"knee, rep {worst[2]}, score {worst[0]:.0f}/100{dev}"
    )
    cue = Advice(
        id="knees_out", text=TEXT["knees_out"], because=why, reps=hit_reps, sides=hit_sides
    )
    ex = [
        Advice(id=e, text=TEXT[e], because=why, reps=hit_reps, sides=hit_sides)
        for e in KNEE_EXERCISES
    ]
    return [cue], ex


def _ankle_advice(reps: list[Rep], knee_flagged: list[int]) -> tuple[list[Advice], list[Advice]]:
    per_side = [
        (
            r.ankle.left.score if r.ankle.left else None,
            r.ankle.right.score if r.ankle.right else None,
        )
        for r in reps
    ]
    hit_reps, hit_sides = _flags(reps, per_side, ANKLE_FLAG_SCORE)
    if not hit_reps:
        return [], []
    why = (
        f"ankle falling inside the foot (a pronation proxy) on the {' and '.join(hit_sides)} "
        f"side in rep{'s' if len(hit_reps) > 1 else ''} {_list(hit_reps)}"
    )
    both = sorted(set(hit_reps) & set(knee_flagged))
    if both:
        why += f", with knee cave in rep{'s' if len(both) > 1 else ''} {_list(both)}"
    return (
        [
            Advice(
                id="screw_feet",
                text=TEXT["screw_feet"],
                because=why,
                reps=hit_reps,
                sides=hit_sides,
            )
        ],
        [
            Advice(
                id="foot_ankle",
                text=TEXT["foot_ankle"],
                because=why,
                reps=hit_reps,
                sides=hit_sides,
            )
        ],
    )


def _list(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _advice(reps: list[Rep], knee: MetricSummary) -> tuple[list[Advice], list[Advice]]:
    cues, ex = _knee_advice(reps)
    ac, ae = _ankle_advice(reps, knee.flagged_reps)
    cues += ac
    ex += ae
    if knee.later_reps_worse:
        why = f"knee-cave score trend {knee.trend_per_rep} points per rep"
        cues.append(Advice(id="fatigue", text=TEXT["fatigue"], because=why))
    return cues, ex


def summarise(reps: list[Rep]) -> Summary:
    kc = [r.knee_cave for r in reps]
    an = [r.ankle for r in reps]
    knee = _metric(
        reps,
        [k.score for k in kc],
        [k.left.score if k.left else None for k in kc],
        [k.right.score if k.right else None for k in kc],
        with_severity=True,
        flag=FLAG_SCORE,
        reason="no rep could be scored for knee cave (needs a front view)",
    )
    ankle = _metric(
        reps,
        [a.score for a in an],
        [a.left.score if a.left else None for a in an],
        [a.right.score if a.right else None for a in an],
        with_severity=False,
        flag=ANKLE_FLAG_SCORE,
        reason="no rep could be scored for the ankle proxies",
    )

    def gap(m: MetricSummary) -> float | None:
        if m.left.mean_score is None or m.right.mean_score is None:
            return None
        return round(m.left.mean_score - m.right.mean_score, 1)

    kgap = gap(knee)
    worse = None
    if kgap is not None and abs(kgap) > ASYM_POINTS:
        worse = "left" if kgap < 0 else "right"
    cues, ex = _advice(reps, knee)
    return Summary(
        knee_cave=knee,
        ankle=ankle,
        asymmetry=Asymmetry(knee_cave_points=kgap, ankle_points=gap(ankle), worse_side=worse),
        cues=cues,
        exercises=ex,
    )
