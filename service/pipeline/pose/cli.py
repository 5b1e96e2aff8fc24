"""`kneecave pose VIDEO -o keypoints.npz`: run the engine and save the Keypoints contract."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from service.errors import KneecaveError
from service.pipeline.pose.engine import PoseEngine


class ProgressBar:
    """A one-line bar redrawn in place on a terminal (no dependency needed)."""

    def __init__(self, stream: TextIO, label: str, width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.started = time.perf_counter()

    def __call__(self, fraction: float) -> None:
        filled = round(fraction * self.width)
        elapsed = time.perf_counter() - self.started
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction * 100:5.1f}% {elapsed:6.1f}s")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def pose_command(args: argparse.Namespace) -> int:
    show = not args.no_progress and sys.stderr.isatty()
    bar = ProgressBar(sys.stderr, args.video.name) if show else None
    try:
        engine = PoseEngine.from_settings()
        keypoints = engine.process_video(args.video, progress=bar)
    except KneecaveError as exc:
        if bar is not None:
            bar.close()
        print(f"error [{exc.code}]: {exc.detail}", file=sys.stderr)
        return 2
    if bar is not None:
        bar.close()
    keypoints.save(args.output)
    stats = engine.last_stats
    print(
        f"{args.output}: {keypoints.frames} frames, {int(keypoints.detected.sum())} with a person, "
        f"{keypoints.width}x{keypoints.height} @ {keypoints.fps:.2f} fps; "
        f"{stats.fps:.1f} frames/s",
        file=sys.stderr,
    )
    return 0
