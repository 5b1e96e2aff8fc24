"""Every input kept under fuzz/regressions/ (what fuzzing found, and the hostile shapes
the issue named) through its fuzz target: each must end in a 4xx error or a result,
never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import TARGETS
from tests.clips import REPO

REGRESSIONS = REPO / "fuzz" / "regressions"


def _inputs() -> list[object]:
    return [
        pytest.param(target, path, id=f"{target}/{path.name}")
        for target in sorted(TARGETS)
        for path in sorted((REGRESSIONS / target).iterdir())
    ]


@pytest.mark.parametrize(("target", "path"), _inputs())
def test_kept_input_is_handled(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


def test_every_target_has_kept_inputs() -> None:
    for target in TARGETS:
        assert any((REGRESSIONS / target).iterdir()), target
