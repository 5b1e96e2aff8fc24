"""`kneecave score --keypoints` end to end, and the result schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring.schema import ScoreResult
from tests.clips import reference_path


def test_score_keypoints_file_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["score", "--keypoints", str(reference_path("front_valgus_then_correct"))])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    res = ScoreResult.model_validate(out)
    assert res.rep_count == 6
    assert res.summary.cues
    assert res.summary.exercises


def test_score_writes_output_file(tmp_path: Path) -> None:
    dest = tmp_path / "r.json"
    ref = reference_path("side_plate_squat_3reps")
    assert main(["score", "--keypoints", str(ref), "--view", "side", "-o", str(dest)]) == 0
    assert json.loads(dest.read_text())["rep_count"] == 3


def test_mirrored_flag_scores_the_picture_flipped_back(tmp_path: Path) -> None:
    """7037's right knee caves (labelled). Its keypoints as a mirror-image video would give
    them read on the left; with --mirrored, on the right again, to the same numbers."""
    kp = Keypoints.load(reference_path("front_overhead_squat_mild_right_valgus_7037"))
    plain, mirror = tmp_path / "plain.npz", tmp_path / "mirror.npz"
    kp.save(plain)
    kp.unmirrored().save(mirror)  # un-mirroring is its own inverse: this is the mirror image

    def knees(path: Path, *flags: str) -> tuple[float, float]:
        out = tmp_path / "r.json"
        assert main(["score", "--keypoints", str(path), *flags, "-o", str(out)]) == 0
        (rep,) = ScoreResult.model_validate_json(out.read_text()).reps
        left, right = rep.knee_cave.left, rep.knee_cave.right
        assert left is not None
        assert right is not None
        assert left.deviation_leg is not None
        assert right.deviation_leg is not None
        return left.deviation_leg, right.deviation_leg

    original = knees(plain)
    assert original[1] > 0.08 > original[0]
    assert knees(mirror) == original[::-1]
    assert knees(mirror, "--mirrored") == original


def test_bad_keypoints_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    assert main(["score", "--keypoints", str(bad)]) == 1
    assert "keypoints_invalid" in capsys.readouterr().err


def test_needs_exactly_one_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score"]) == 2
    assert "VIDEO or --keypoints" in capsys.readouterr().err


def test_schema_is_documented() -> None:
    schema = ScoreResult.model_json_schema()
    for name in ("rep_count", "view", "confidence", "video", "reps", "summary", "model", "timings"):
        assert name in schema["properties"]
    rep = schema["$defs"]["Rep"]["properties"]
    for name in (
        "index",
        "start_s",
        "bottom_s",
        "end_s",
        "depth",
        "knee_cave",
        "ankle",
        "confidence",
    ):
        assert name in rep
    # every field is described: the API's OpenAPI page is generated from these models
    undocumented = [
        f"{model}.{field}"
        for model, d in [("ScoreResult", schema), *schema["$defs"].items()]
        for field, spec in d.get("properties", {}).items()
        if "description" not in spec
    ]
    assert undocumented == []


def test_human_summary_names_reps_and_cues() -> None:
    from service.pipeline.keypoints import Keypoints  # noqa: PLC0415
    from service.pipeline.scoring import score_keypoints  # noqa: PLC0415
    from service.pipeline.scoring.cli import human_summary  # noqa: PLC0415

    kp = Keypoints.load(reference_path("front_overhead_squat_mild_right_valgus_7037"))
    text = human_summary(score_keypoints(kp))
    assert text.startswith("1 rep(s), view front")
    assert "worse right" in text
    assert "cue: Knees out" in text
    side = Keypoints.load(reference_path("side_plate_squat_3reps"))
    assert "knee cave n/a (side view" in human_summary(score_keypoints(side))


@pytest.mark.slow
def test_score_video_runs_pose_then_scoring(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clips import clip_path  # noqa: PLC0415

    rc = main(["score", str(clip_path("front_overhead_squat_good_7052")), "--no-progress"])
    assert rc == 0
    res = ScoreResult.model_validate(json.loads(capsys.readouterr().out))
    assert res.rep_count == 1
    assert res.model.pose.startswith("blazepose")
