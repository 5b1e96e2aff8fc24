"""Knee cave, view and ankle proxies against 3D ground truth (tests/harness).

Squats with a known knee deviation per side are projected through random phone
cameras (and the real mocap squats through fixed ones) and scored by the real
scorer. Noise is the level measured on the shared clips (``Noise.nominal``).
The figures are also printed by ``benchmarks/harness.py`` for docs/scoring.md.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from service.pipeline.scoring import score_keypoints
from service.pipeline.scoring.knee import DEVIATION_KNOTS, deviation_score, severity
from tests.harness import mocap, sweep
from tests.harness.body3d import Joints3D, Squat, Subject, parametric
from tests.harness.camera import Camera
from tests.harness.landmarks import Noise, keypoints
from tests.synthetic import mirror

SEED = 2026
FLAG = set(sweep.FLAGGED)


@pytest.fixture(scope="module")
def rows() -> list[sweep.RepOutcome]:
    return sweep.run_all(sweep.cases(300, SEED, Noise.nominal()))


def test_front_views_track_the_true_deviation(rows: list[sweep.RepOutcome]) -> None:
    f = sweep.figures(sweep.within(rows, 0, 30))
    assert f.n >= 250
    assert f.graded >= 0.9, f  # the rest: a foot pointing across the picture (null + reason)
    assert f.rho >= 0.9, f
    assert f.false_flag <= 0.02, f
    assert f.missed_moderate == 0.0, f


def test_oblique_views_are_graded_and_track(rows: list[sweep.RepOutcome]) -> None:
    f = sweep.figures(sweep.within(rows, 30, 50))
    assert f.n >= 150
    # The rest: a foot pointing across the picture, or a body yaw read past 60° (null + reason).
    assert f.graded >= 0.75, f
    assert f.rho >= 0.8, f
    assert f.false_flag <= 0.02, f
    assert f.missed_moderate <= 0.02, f


def test_zero_deviation_never_flagged_without_noise() -> None:
    rows = sweep.run_all(sweep.cases(80, SEED + 1, Noise.none()))
    zero = [r for r in rows if abs(r.truth_dev) < 1e-6 and r.severity is not None]
    assert len(zero) >= 40
    assert not [r for r in zero if r.severity in FLAG]


@pytest.mark.parametrize("yaw", [-25.0, 0.0, 25.0])
@pytest.mark.parametrize(("stance", "toe_out"), [(0.9, 5.0), (1.6, 25.0), (2.1, 40.0)])
def test_bilateral_cave_is_found_on_both_sides(yaw: float, stance: float, toe_out: float) -> None:
    sq = Squat(stance=stance, toe_out_deg=(toe_out, toe_out), knee_dev=(0.16, 0.2), depth=0.9)
    kp = keypoints(sq_joints(sq), Camera(yaw_deg=yaw, pitch_deg=8.0), Noise.nominal(), 3)
    res = score_keypoints(kp)
    assert res.rep_count == sq.reps
    for rep in res.reps:
        assert rep.knee_cave.left is not None
        assert rep.knee_cave.right is not None
        assert rep.knee_cave.left.severity in FLAG
        assert rep.knee_cave.right.severity in FLAG
    assert res.summary.knee_cave.severity in FLAG
    assert {c.id for c in res.summary.cues} >= {"knees_out"}
    assert res.summary.cues[0].sides == ["left", "right"]


@pytest.mark.parametrize(("stance", "toe_out"), [(1.0, 0.0), (1.8, 30.0), (2.2, 40.0)])
def test_good_wide_turned_out_squat_is_not_cued(stance: float, toe_out: float) -> None:
    sq = Squat(reps=4, stance=stance, toe_out_deg=(toe_out, toe_out), depth=1.1)
    for yaw in (-20.0, 0.0, 20.0):
        res = score_keypoints(keypoints(sq_joints(sq), Camera(yaw_deg=yaw), Noise.nominal(), 5))
        assert res.rep_count == 4
        assert all(r.knee_cave.severity == "none" for r in res.reps), res.reps
        assert res.summary.cues == []


def test_mirrored_input_swaps_sides_exactly() -> None:
    sq = Squat(toe_out_deg=(10.0, 35.0), knee_dev=(0.02, 0.17), stance=1.5)
    kp = keypoints(sq_joints(sq), Camera(yaw_deg=15.0), Noise.nominal(), 11)
    a, b = score_keypoints(kp), score_keypoints(mirror(kp))
    assert a.rep_count == b.rep_count == sq.reps
    for ra, rb in zip(a.reps, b.reps, strict=True):
        la, rgt = ra.knee_cave.left, ra.knee_cave.right
        lb, rb_ = rb.knee_cave.left, rb.knee_cave.right
        assert la is not None
        assert rgt is not None
        assert lb is not None
        assert rb_ is not None
        assert la.deviation_leg == pytest.approx(rb_.deviation_leg, abs=1e-3)
        assert rgt.deviation_leg == pytest.approx(lb.deviation_leg, abs=1e-3)
        assert ra.knee_cave.worse_side == "right"
        assert rb.knee_cave.worse_side == "left"


def test_score_falls_monotonically_with_deviation() -> None:
    dev = np.linspace(-0.2, 0.5, 141)
    score = deviation_score(dev)
    assert (np.diff(score) <= 0).all()
    assert score[0] == 100.0
    assert score[-1] == 0.0
    edges = DEVIATION_KNOTS[1:4]
    assert [severity(float(deviation_score(np.array([e - 1e-4]))[0])) for e in edges] == [
        "none",
        "mild",
        "moderate",
    ]
    assert severity(float(deviation_score(np.array([edges[-1] + 1e-4]))[0])) == "severe"


def test_later_reps_worse_are_reported_with_their_reps() -> None:
    per_rep = tuple((d, d) for d in (0.0, 0.04, 0.1, 0.16, 0.22, 0.27))
    sq = Squat(reps=6, knee_dev_per_rep=per_rep, toe_out_deg=(15.0, 15.0))
    res = score_keypoints(keypoints(sq_joints(sq), Camera(), Noise.nominal(), 2))
    knee = res.summary.knee_cave
    assert res.rep_count == 6
    assert knee.later_reps_worse is True
    flagged = [r.index for r in res.reps if r.knee_cave.severity in FLAG]
    assert flagged == [3, 4, 5, 6]
    assert knee.flagged_reps == flagged
    assert knee.severity != "none"  # the headline follows the flagged reps
    cues = {c.id: c for c in res.summary.cues}
    assert {"knees_out", "fatigue"} <= cues.keys()
    assert cues["knees_out"].reps == flagged
    assert all(e.reps == flagged for e in res.summary.exercises)


def test_three_mild_reps_are_not_a_none_set() -> None:
    per_rep = ((0.0, 0.0), (0.11, 0.0), (0.0, 0.0), (0.11, 0.0), (0.0, 0.0), (0.11, 0.0))
    sq = Squat(reps=6, knee_dev_per_rep=per_rep)
    res = score_keypoints(keypoints(sq_joints(sq), Camera(), Noise.nominal(), 4))
    knee = res.summary.knee_cave
    assert [r.knee_cave.severity for r in res.reps] == ["none", "mild"] * 3
    assert knee.severity == "mild"
    assert knee.flagged_reps == [2, 4, 6]
    assert knee.left.reps_flagged == 3
    assert knee.right.reps_flagged == 0
    assert res.summary.asymmetry.worse_side == "left"
    assert res.summary.cues[0].sides == ["left"]


def test_a_hand_held_camera_reads_like_a_tripod() -> None:
    """The same sets, noiseless, from a camera that pans and tilts 4° over seconds.

    A camera turning about its own centre changes no distance in the scene, so each rep
    must read as from the tripod. Before the feet were anchored at the rep's own ankles
    (they were placed where the camera pointed on average over the rep and 5 s around
    it), the readings moved by a median 0.018 and a p95 0.048 leg; now 0.005 and 0.020.
    """
    moved = []
    for i, case in enumerate(sweep.cases(60, SEED + 4, Noise.none(), max_yaw=30.0)):
        tripod = replace(case, camera=replace(case.camera, sway_deg=0.0))
        held = replace(case, camera=replace(case.camera, sway_deg=4.0, sway_phase=(1.0, 2.0)))
        for a, b in zip(sweep.run(tripod, i)[1], sweep.run(held, i)[1], strict=True):
            if a.est_dev is not None and b.est_dev is not None:
                moved.append(abs(a.est_dev - b.est_dev))
    assert len(moved) >= 150
    assert float(np.median(moved)) <= 0.01
    assert float(np.percentile(moved, 95)) <= 0.03


# --- real mocap squats -----------------------------------------------------------------------

CAMERAS = [
    Camera(yaw_deg=y, pitch_deg=p, focal_35mm=f)
    for y in (-45.0, -20.0, 0.0, 20.0, 45.0)
    for p, f in ((-15.0, 26.0), (15.0, 70.0))
]


# Known defect: this trial's right knee sits 0.04-0.064 leg inside its foot plane (true, in the
# none band near its edge); from the far side of a 45° camera the estimate errs by +0.03-0.04
# and crosses 0.08 on some reps, and from 20° one rep reads 0.080 (score 84.9, on the line).
# Such a flag must stay mild and within its own stated uncertainty of the edge. Every other
# trial is clean from every camera.
NEAR_EDGE = {"opencap_DetectMarkerFlip_squats1": 0.1}
# Hip markers missing for 3.4 s of 21 s around its two shallow squats: no complete rep to score.
HOLED = {"sehoon_squat_c3d"}


@pytest.mark.parametrize("trial", mocap.trials())
def test_mocap_squats_are_not_called_cave(trial: str) -> None:
    j = mocap.load(trial, 30.0)
    sides = flagged = 0
    for i, cam in enumerate(CAMERAS):
        res = score_keypoints(keypoints(j, cam, Noise.nominal(), i))
        assert res.rep_count >= 1 or trial in HOLED, (trial, cam, res.reason)
        for rep in res.reps:
            for side in (rep.knee_cave.left, rep.knee_cave.right):
                sides += side is not None
                flagged += side is not None and side.severity in FLAG
                if abs(cam.yaw_deg) > 30 or side is None or side.severity == "none":
                    continue
                assert trial in NEAR_EDGE, (trial, cam, side)
                assert side.severity == "mild", (trial, cam, side)
                dev, sd = side.deviation_leg, side.deviation_sd_leg
                assert dev is not None
                assert sd is not None
                assert dev - sd < sweep.NONE_EDGE, (trial, cam, side)
    assert flagged <= NEAR_EDGE.get(trial, 0.0) * sides, (trial, flagged, sides)


@pytest.mark.parametrize(
    "trial", ["opencap_s4_squats1", "kirsten_DLS01", "opencap_expert1_squats1"]
)
def test_mocap_squat_with_a_caving_knee_is_flagged_on_that_side(trial: str) -> None:
    j = mocap.load(trial, 30.0, knee_dev=(0.0, 0.2))
    for cam in (Camera(yaw_deg=-20.0), Camera(), Camera(yaw_deg=20.0)):
        res = score_keypoints(keypoints(j, cam, Noise.nominal(), 7))
        for rep in res.reps:
            assert rep.knee_cave.right is not None
            assert rep.knee_cave.right.severity in FLAG, (cam, rep.knee_cave)
            assert rep.knee_cave.left is not None
            assert rep.knee_cave.left.severity == "none"


# --- view and ankle --------------------------------------------------------------------------


def test_view_follows_the_camera_yaw() -> None:
    cases = sweep.cases(150, SEED + 2, Noise.nominal(), max_yaw=90.0)
    right = wrong = 0
    for c in cases:
        yaw = abs(c.camera.yaw_deg)
        expected = "front" if yaw < 30 else "side" if yaw > 50 else "oblique"
        res = score_keypoints(keypoints(c.build(), c.camera, c.noise, c.seed))
        assert res.rep_count >= 1, (c.camera, res.reason)
        for rep in res.reps:
            # front is never read as side nor side as front
            assert {rep.view, expected} != {"front", "side"}, (c.camera, rep.yaw_deg)
            if min(abs(yaw - 30.0), abs(yaw - 50.0)) >= 6.0:  # off a class boundary
                right += rep.view == expected
                wrong += rep.view != expected
    # The body yaw comes from shoulder and hip breadth against the leg and from the pose
    # model's depth; near facing the camera breadth is a blunt cue (cos is flat), so the
    # estimate spreads by ~10° (docs/scoring.md).
    assert right / (right + wrong) >= 0.85


def test_ankle_drift_tracks_ankle_collapse_and_the_dropped_proxies_do_not() -> None:
    rng = np.random.default_rng(SEED)
    cases = [
        replace(
            c,
            squat=replace(
                c.squat,
                ankle_collapse=(float(rng.uniform(0, 0.06)), float(rng.uniform(0, 0.06))),
            ),
        )
        for c in sweep.cases(80, SEED + 3, Noise.nominal(), max_yaw=30.0)
    ]
    rows = [r for r in sweep.run_all(cases) if r.ankle_proxies]
    truth = [r.truth_ankle for r in rows]

    def rho(key: str) -> float:
        return sweep.spearman([float(r.ankle_proxies[key] or np.nan) for r in rows], truth)

    assert len(rows) >= 200
    assert rho("medial_ankle_drift_leg") >= 0.6
    assert abs(rho("shank_tilt_change_deg")) < 0.3
    assert abs(rho("toe_out_change_deg")) < 0.3


def sq_joints(sq: Squat) -> Joints3D:
    return parametric(Subject(), sq, 30.0)
