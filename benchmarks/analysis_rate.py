"""Analysis rate: what analysing fewer frames per second costs in verdicts and landmarks.

For every shared clip with a reference, the pose engine runs at 30 fps analysis (the
default) and at ``--rate`` in the same process run, one after the other; then:

- *verdict*: reps, clip view, and per rep its view and which sides are flagged
  (knee cave mild or worse) must be identical to the 30 fps analysis;
- *landmarks*: leg error against the MediaPipe reference on the frames analysed
  (median / p95, torso lengths; the bars of tests/test_pose_reference.py are
  0.02 / 0.05 at the video's own rate);
- *time*: the summed pose time over all clips at each rate, and their ratio.

    .venv/bin/python benchmarks/analysis_rate.py                     # 15 fps, MediaPipe clock
    .venv/bin/python benchmarks/analysis_rate.py --rate 15 --clock video
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.config import Settings  # noqa: E402
from service.pipeline import video  # noqa: E402
from service.pipeline.keypoints import Keypoints  # noqa: E402
from service.pipeline.pose import PoseEngine  # noqa: E402
from service.pipeline.scoring import score_keypoints  # noqa: E402
from service.pipeline.scoring.schema import ScoreResult  # noqa: E402
from tests.clips import clip_path, clips_with_reference, reference_path  # noqa: E402
from tests.test_pose_reference import leg_errors  # noqa: E402

FLAGGED = {"mild", "moderate", "severe"}


def verdict(res: ScoreResult, *, swap: bool = False) -> tuple[Any, ...]:
    """Reps, view, and per rep its view and which sides are flagged (left, right; the
    other way round with ``swap``, for a mirror image)."""
    order = ("right", "left") if swap else ("left", "right")
    reps = []
    for rep in res.reps:
        kc = rep.knee_cave
        sides = tuple(
            getattr(getattr(kc, side, None), "severity", None) in FLAGGED for side in order
        )
        reps.append((rep.view, sides))
    return res.rep_count, res.view, tuple(reps)


def at_frames(ref: Keypoints, stride: int, frames: int) -> Keypoints:
    idx = np.arange(0, ref.frames, stride)[:frames]
    return Keypoints.build(
        ref.landmarks[idx],
        fps=ref.fps / stride,
        width=ref.width,
        height=ref.height,
        detected=ref.detected[idx],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=15.0, help="analysis fps to try")
    parser.add_argument("--clock", choices=["mediapipe", "video"], default="mediapipe")
    args = parser.parse_args()

    def engine(rate: float) -> PoseEngine:
        return PoseEngine.from_settings(
            Settings(device="cpu", analysis_fps=rate, pose_smoothing_clock=args.clock)
        )

    base, trial = engine(30.0), engine(args.rate)
    spent = {"base": 0.0, "trial": 0.0}
    same = 0
    clips = clips_with_reference()
    print("| clip | stride | frames | verdict | leg median | leg p95 | found alike |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for clip in clips:
        path = clip_path(clip)
        t0 = time.perf_counter()
        full = base.process_video(path)
        t1 = time.perf_counter()
        part = trial.process_video(path)
        t2 = time.perf_counter()
        spent["base"] += t1 - t0
        spent["trial"] += t2 - t1
        stride = video.analysis_stride(video.probe(path).fps, args.rate)
        ref = at_frames(Keypoints.load(reference_path(clip)), stride, part.frames)
        err = leg_errors(part, ref)
        alike = verdict(score_keypoints(part)) == verdict(score_keypoints(full))
        same += alike
        print(
            f"| {clip} | {stride} | {part.frames} | {'same' if alike else '**differs**'} | "
            f"{np.median(err):.4f} | {np.percentile(err, 95):.4f} | "
            f"{(part.detected == ref.detected).mean():.1%} |"
        )
    ratio = spent["base"] / spent["trial"]
    print(
        f"\n{same} of {len(clips)} clips read the same at {args.rate:g} fps ({args.clock} clock); "
        f"pose time {spent['trial']:.1f} s against {spent['base']:.1f} s at 30 fps: {ratio:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
