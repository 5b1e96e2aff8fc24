"""`kneecave score --keypoints` end to end, and the result schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
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
    side = schema["$defs"]["KneeSide"]["properties"]
    assert "description" in side["fppa_deg"]
    assert "description" in side["score"]
