"""Run one fuzz target with atheris (libFuzzer) for a while, outside CI.

    make fuzz                                     # both targets, 5 minutes each
    .venv/bin/python fuzz/run.py keypoints -max_total_time=600 fuzz/corpus/keypoints

Seeds come from fuzz/seeds.py (real containers' first bytes, real keypoints bodies);
a crash is written as crash-<hash> in the working directory: fix it, then keep the
input under fuzz/regressions/<target>/ so the tests replay it forever.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["service", "fuzz"]):
    from fuzz.targets import TARGETS


def main() -> None:
    name = sys.argv[1]
    target = TARGETS[name]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
