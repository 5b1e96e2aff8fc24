"""Mirrored video: how far a clip's scores move when the same squat is filmed mirror-image.

A front camera's selfie video is often mirrored. The geometry is the same body with
left and right swapped, so a mirror-symmetric pipeline would read each side's knee
deviation on the mirror image exactly as the other side's on the original. The pose
model is not mirror-symmetric; this measures by how much, per rep and side, against
the deviation's own stated uncertainty (``deviation_sd_leg``):

    .venv/bin/python benchmarks/mirror.py                  # the front clips with a reference
    .venv/bin/python benchmarks/mirror.py front_valgus_then_correct

The mirrored clips are made by tests/derived.py into tests/.cache/derived.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.config import Settings  # noqa: E402
from service.pipeline.pose import PoseEngine  # noqa: E402
from service.pipeline.scoring import score_keypoints  # noqa: E402
from tests.clips import clips_with_reference, manifest  # noqa: E402
from tests.derived import build, mirrored  # noqa: E402
from tests.pose_cache import pose_keypoints  # noqa: E402
from tests.test_mirrored_video import SideMove, side_moves  # noqa: E402


def main() -> int:
    clips = sys.argv[1:] or [c for c in clips_with_reference() if manifest()[c]["view"] == "front"]
    engine = PoseEngine.from_settings(Settings(device="cpu"))
    moves: list[SideMove] = []
    print("| clip | rep | side | original | mirror image (other side) | moved | combined sds |")
    print("|---|---:|---|---|---|---:|---:|")
    for clip in clips:
        original = score_keypoints(pose_keypoints(clip))
        clip_path, _truth = build(mirrored(clip))
        mirror = score_keypoints(engine.process_video(clip_path))
        if (original.rep_count, original.view) != (mirror.rep_count, mirror.view):
            print(
                f"| {clip} | reps/view differ: {original.rep_count} {original.view} "
                f"against {mirror.rep_count} {mirror.view} |"
            )
            continue
        for m in side_moves(original, mirror):
            moves.append(m)
            print(
                f"| {clip} | {m.rep} | {m.side} | {m.original.deviation_leg:.3f} "
                f"{m.original.severity} | {m.mirror.deviation_leg:.3f} {m.mirror.severity} | "
                f"{m.moved:+.3f} | {m.sds:.2f} |"
            )
    if moves:
        moved = sorted(abs(m.moved) for m in moves)
        flips = sum(m.original.severity != m.mirror.severity for m in moves)
        print(
            f"\n{len(moves)} sides: moved median {moved[len(moved) // 2]:.3f}, "
            f"max {moved[-1]:.3f} leg; at most {max(m.sds for m in moves):.2f} combined sd; "
            f"severity differs on {flips}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
