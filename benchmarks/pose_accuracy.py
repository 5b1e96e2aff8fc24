"""Pose accuracy tables for docs/pose.md: shared clips vs their MediaPipe references, and
derived hard clips vs their truth for our engine and MediaPipe 0.10.14 alike.

Shared clips: our keypoints (tests/pose_cache.py: computed once per engine version) against
../shared/clips/reference, leg-landmark error (median, p95, torso lengths) and
detection agreement, the bars of tests/test_pose_reference.py.

Derived clips (tests/derived.py: head cropped out, camera rolled, barbell
plates, a second person, a gym close-up) carry the source clip's reference,
transformed, as their truth: where the person really was. This script runs our
engine and MediaPipe's own pipeline (the side venv of benchmarks/pose.py) on
each and prints the same figures for both:

    .venv/bin/python benchmarks/pose_accuracy.py                 # both tables
    .venv/bin/python benchmarks/pose_accuracy.py --derived --only barbell_plates_side
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.pose import ensure_side_venv, run_mediapipe  # noqa: E402
from service.config import Settings  # noqa: E402
from service.pipeline.keypoints import Keypoints  # noqa: E402
from service.pipeline.pose import PoseEngine  # noqa: E402
from tests.clips import manifest, reference_path  # noqa: E402
from tests.derived import build, derivations  # noqa: E402
from tests.pose_cache import pose_keypoints  # noqa: E402
from tests.test_pose_reference import (  # noqa: E402
    MAX_MEDIAN_LEG_ERROR,
    MAX_P95_LEG_ERROR,
    MIN_DETECTION_AGREEMENT,
    leg_errors,
)

OUT = REPO / "benchmarks" / "out"


def judge(kp: Keypoints, truth: Keypoints) -> tuple[float, float, float, bool]:
    err = leg_errors(kp, truth)
    median, p95 = float(np.median(err)), float(np.percentile(err, 95))
    agree = float((kp.detected == truth.detected).mean())
    ok = median <= MAX_MEDIAN_LEG_ERROR and p95 <= MAX_P95_LEG_ERROR
    return median, p95, agree, ok and agree >= MIN_DETECTION_AGREEMENT


def mediapipe_keypoints(clip: Path, truth: Keypoints) -> Keypoints:
    out = OUT / f"mediapipe_{clip.stem}.npy"
    if not out.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        run_mediapipe(clip, out)
    xy = np.load(out)
    rest = np.ones((*xy.shape[:2], 3))
    lm = np.concatenate([xy, rest], axis=-1).astype(np.float32)
    return Keypoints.build(lm, fps=truth.fps, width=truth.width, height=truth.height)


def _cell(kp: Keypoints, truth: Keypoints) -> str:
    median, p95, agree, ok = judge(kp, truth)
    return f"{median:.4f} | {p95:.4f} | {agree:.1%} | {'pass' if ok else '**below bar**'}"


def shared_table() -> None:
    print("| clip | frames | median | p95 | found alike | |\n|---|---:|---:|---:|---:|---|")
    for clip_id in manifest():
        ref = Keypoints.load(reference_path(clip_id))
        print(f"| {clip_id} | {ref.frames} | {_cell(pose_keypoints(clip_id), ref)} |", flush=True)


def derived_table(only: list[str] | None) -> None:
    ensure_side_venv()
    engine = PoseEngine.from_settings(Settings(device="cpu"))
    print(
        "| clip | frames | ours median | p95 | found | | MediaPipe median | p95 | found | |\n"
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"
    )
    for d in derivations():
        if only and d.name not in only:
            continue
        clip, truth = build(d)
        ours = _cell(engine.process_video(clip), truth)
        theirs = _cell(mediapipe_keypoints(clip, truth), truth)
        print(f"| {d.name} | {truth.frames} | {ours} | {theirs} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", action="store_true", help="only the shared clips")
    parser.add_argument("--derived", action="store_true", help="only the derived clips")
    parser.add_argument("--only", nargs="*", help="derivation names")
    args = parser.parse_args()
    both = not (args.shared or args.derived)
    if args.shared or both:
        shared_table()
    if args.derived or both:
        derived_table(args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
