"""`kneecave score VIDEO | --keypoints FILE.npz`: print the result JSON.

The JSON goes to stdout (or ``-o``); a short human summary goes to stderr when
stderr is a terminal, so piping the JSON stays clean.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from service.errors import KneecaveError
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring.schema import ScoreResult
from service.pipeline.scoring.score import score_keypoints


def _progress(enabled: bool) -> Callable[[float], None] | None:
    if not enabled or not sys.stderr.isatty():
        return None

    def cb(frac: float) -> None:
        sys.stderr.write(f"\rpose {frac * 100:5.1f}%")
        sys.stderr.flush()
        if frac >= 1.0:
            sys.stderr.write("\n")

    return cb


def _keypoints_from_video(path: Path, progress: bool) -> tuple[Keypoints, str]:
    # Lazy: `score --keypoints` must not load ONNX Runtime and the models.
    from service.config import get_settings  # noqa: PLC0415
    from service.pipeline.pose import PoseEngine  # noqa: PLC0415

    engine = PoseEngine.from_settings(get_settings())
    kp = engine.process_video(path, progress=_progress(progress))
    return kp, engine.version


def human_summary(res: ScoreResult) -> str:
    lines = [f"{res.rep_count} rep(s), view {res.view}, confidence {res.confidence:.2f}"]
    if res.reason:
        lines.append(f"  {res.reason}")
    for r in res.reps:
        kc = r.knee_cave
        knee = (
            f"knee cave {kc.severity} ({kc.score:.0f}/100"
            + (f", worse {kc.worse_side})" if kc.worse_side else ")")
            if kc.score is not None
            else f"knee cave n/a ({kc.reason})"
        )
        ank = f"ankle {r.ankle.score:.0f}/100" if r.ankle.score is not None else "ankle n/a"
        lines.append(
            f"  rep {r.index}: {r.start_s:.1f}-{r.end_s:.1f}s {r.view}, "
            f"drop {r.depth.hip_drop_leg:.2f} leg, {knee}, {ank}"
        )
    for c in res.summary.cues:
        lines.append(f"  cue: {c.text}  [{c.because}]")
    return "\n".join(lines)


def score_command(args: argparse.Namespace) -> int:
    video: Path | None = args.video
    kp_path: Path | None = args.keypoints
    if (video is None) == (kp_path is None):
        print("kneecave score: give a VIDEO or --keypoints FILE.npz (one of them)", file=sys.stderr)
        return 2
    try:
        if kp_path is not None:
            kp, pose = Keypoints.load(kp_path), "keypoints file"
        else:
            assert video is not None
            kp, pose = _keypoints_from_video(video, not args.no_progress)
        if args.mirrored:
            kp = kp.unmirrored()
        res = score_keypoints(kp, view=args.view, pose_model=pose)
    except KneecaveError as exc:
        print(f"kneecave score: {exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    text = res.model_dump_json(indent=2)
    if args.output is not None:
        Path(args.output).write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if sys.stderr.isatty():
        print(human_summary(res), file=sys.stderr)
    return 0
