"""Footage nobody here has filmed: derived clips through the pose engine and the scorer.

Each probe changes the picture the way phone footage goes wrong and compares the
engine's landmarks with the source clip's reference transformed the same way
(tests/derived.py) and the scores with the clean clip's: reps, view and which
sides each rep flags (knee cave mild or worse). For ``feet_cropped`` the leg error
counts the feet below the frame, which the model can only guess; for ``mirrored``
the sides are swapped before comparing.

    .venv/bin/python benchmarks/robustness.py
    .venv/bin/python benchmarks/robustness.py --probe jpeg --clip front_goblet_counter20

The derived clips are written to tests/.cache/derived (third-party footage: never
commit them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.analysis_rate import verdict  # noqa: E402
from benchmarks.pose_accuracy import judge  # noqa: E402
from service.config import Settings  # noqa: E402
from service.pipeline.pose import PoseEngine  # noqa: E402
from service.pipeline.scoring import score_keypoints  # noqa: E402
from tests.derived import F64, Derivation, Image, build, feet_cropped, mirrored  # noqa: E402
from tests.pose_cache import pose_keypoints  # noqa: E402

CLIPS = ["front_valgus_then_correct", "front_goblet_counter20"]


def _dark(img: Image, i: int, _lm: F64) -> Image:
    """An underexposed gym: 35% of the light, sensor noise, back to 8 bits."""
    noise = np.random.default_rng(i).normal(0.0, 6.0, img.shape)
    return np.clip(img.astype(np.float32) * 0.35 + noise, 0, 255).astype(np.uint8)


def _blur(img: Image, _i: int, _lm: F64) -> Image:
    return cv2.GaussianBlur(img, (0, 0), 3.0)


def _jpeg(img: Image, _i: int, _lm: F64) -> Image:
    """Every frame through JPEG quality 8: blocks and ringing of a starved encoder."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 8])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _same(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
    return lm.copy(), size


PROBES: dict[str, Callable[[str], Derivation]] = {
    "dark": lambda src: Derivation(f"dark_{src}", src, _dark, _same, "underexposed, noisy"),
    "blur": lambda src: Derivation(f"blur_{src}", src, _blur, _same, "out of focus"),
    "jpeg": lambda src: Derivation(f"jpeg_{src}", src, _jpeg, _same, "heavily compressed"),
    "feet_cropped": feet_cropped,
    "mirrored": mirrored,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", choices=sorted(PROBES), action="append")
    parser.add_argument("--clip", action="append")
    args = parser.parse_args()
    engine = PoseEngine.from_settings(Settings(device="cpu"))
    print("| probe | clip | leg median | leg p95 | found alike | reps | view | flagged sides |")
    print("|---|---|---:|---:|---:|---|---|---|")
    for name in args.probe or list(PROBES):
        for clip in args.clip or CLIPS:
            path, truth = build(PROBES[name](clip))
            kp = engine.process_video(path)
            median, p95, alike, _ok = judge(kp, truth)
            got, clean = score_keypoints(kp), score_keypoints(pose_keypoints(clip))
            if all(r.knee_cave.severity is None for r in got.reps):
                outcome = "none graded"
            elif verdict(got, swap=name == "mirrored") == verdict(clean):
                outcome = "same"
            else:
                outcome = "**differ**"
            print(
                f"| {name} | {clip} | {median:.4f} | {p95:.4f} | {alike:.1%} | "
                f"{got.rep_count}/{clean.rep_count} | {got.view}/{clean.view} | "
                f"{outcome} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
