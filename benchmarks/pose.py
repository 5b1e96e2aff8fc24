"""Pose speed: our ONNX Runtime pipeline vs MediaPipe's own Python pipeline, same clip, one run.

Both sides do the whole job per frame, decode included: ours is
``PoseEngine.process_video`` (probe, threaded decode, detect, track,
landmarks, smoothing); MediaPipe's is OpenCV decode + BGR→RGB +
``mediapipe.solutions.pose.Pose(model_complexity=1).process`` (video mode,
smoothing on), the configuration the reference landmarks were made with.
Model loading is excluded on both sides. The runs alternate (ours, MediaPipe,
ours, …) so that a noisy neighbour on the machine hits both alike, and the
ratio of the medians is printed, with the landmark agreement of the two
outputs from the same run.

MediaPipe is not a dependency of the product: ``--setup`` (or the first run)
builds a side venv at benchmarks/.venv-mediapipe with mediapipe==0.10.14.

    .venv/bin/python benchmarks/pose.py                       # CPU
    .venv/bin/python benchmarks/pose.py --device cuda --batch 16
    .venv/bin/python benchmarks/pose.py --concurrent 3 --batching on   # worker-style, no MediaPipe

``--concurrent N`` measures what a worker with ``--concurrency N`` does: N copies
of the clip through ``process_video`` on N threads sharing one engine (landmark
calls batched across them when ``--batching`` is on), against the same N copies
one at a time, alternating, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.config import Settings  # noqa: E402
from service.pipeline.keypoints import Keypoints  # noqa: E402
from service.pipeline.landmarks import L_HIP, L_SHOULDER, LEG, R_HIP, R_SHOULDER  # noqa: E402
from service.pipeline.pose import PoseEngine  # noqa: E402
from tests.clips import clip_path  # noqa: E402

SIDE_VENV = REPO / "benchmarks" / ".venv-mediapipe"
SIDE_PYTHON = SIDE_VENV / "bin" / "python"
# mediapipe pulls opencv-contrib-python; pin it to the 4.11 the reference was decoded with.
MEDIAPIPE_PINS = ["mediapipe==0.10.14", "opencv-contrib-python==4.11.0.86"]

# Runs inside the side venv: decode + pose per frame, then landmarks and timing as JSON.
_MEDIAPIPE_SCRIPT = r"""
import json, sys, time
import cv2, numpy as np
import mediapipe as mp
path, out = sys.argv[1], sys.argv[2]
pose = mp.solutions.pose.Pose(model_complexity=1, static_image_mode=False,
    smooth_landmarks=True, enable_segmentation=False,
    min_detection_confidence=0.5, min_tracking_confidence=0.5)
pose.process(np.zeros((64, 64, 3), np.uint8)); pose.reset()  # graph start-up, not per-video work
start = time.perf_counter()
cap = cv2.VideoCapture(path)
cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # upright frames, as the reference was made
rows = []
while True:
    ok, frame = cap.read()
    if not ok:
        break
    h, w = frame.shape[:2]
    res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    if res.pose_landmarks is None:
        rows.append(np.full((33, 2), np.nan))
    else:
        rows.append([[p.x * w, p.y * h] for p in res.pose_landmarks.landmark])
seconds = time.perf_counter() - start
np.save(out, np.asarray(rows, np.float64))
print(json.dumps({"frames": len(rows), "seconds": seconds}))
"""


def ensure_side_venv() -> None:
    if SIDE_PYTHON.exists():
        return
    print(f"creating {SIDE_VENV} with {' '.join(MEDIAPIPE_PINS)} …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True)
    subprocess.run([str(SIDE_PYTHON), "-m", "pip", "install", "-q", *MEDIAPIPE_PINS], check=True)


def run_mediapipe(video: Path, out: Path) -> tuple[int, float]:
    proc = subprocess.run(
        [str(SIDE_PYTHON), "-c", _MEDIAPIPE_SCRIPT, str(video), str(out)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(result["frames"]), float(result["seconds"])


def run_ours(engine: PoseEngine, video: Path, streams: int) -> tuple[int, float, np.ndarray]:
    """Frames processed, seconds, and the first stream's landmarks.

    With ``streams`` > 1 the engine runs that many copies of the clip in
    lockstep (``process_videos``: one landmark batch per step), the way a GPU
    worker batches its concurrent jobs.
    """
    start = time.perf_counter()
    if streams == 1:
        kps = [engine.process_video(video)]
    else:
        results = engine.process_videos([video] * streams)
        kps = [r for r in results if isinstance(r, Keypoints)]
        assert len(kps) == streams, results
    seconds = time.perf_counter() - start
    frames = sum(k.frames for k in kps)
    return frames, seconds, kps[0].landmarks[:, :, :2].astype(np.float64)


def run_threads(engine: PoseEngine, video: Path, streams: int) -> tuple[int, float]:
    """Frames and seconds for ``streams`` copies run at once, one thread each."""
    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        kps = list(pool.map(engine.process_video, [video] * streams))
    return sum(k.frames for k in kps), time.perf_counter() - start


def run_sequential(engine: PoseEngine, video: Path, streams: int) -> tuple[int, float]:
    start = time.perf_counter()
    frames = sum(engine.process_video(video).frames for _ in range(streams))
    return frames, time.perf_counter() - start


def concurrent_main(engine: PoseEngine, video: Path, streams: int, repeats: int) -> int:
    """One-at-a-time vs ``streams`` threads, alternating; frames/s medians."""
    seq_fps: list[float] = []
    thr_fps: list[float] = []
    batches: Counter[int] = Counter()
    for i in range(repeats):
        n, secs = run_sequential(engine, video, streams)
        seq_fps.append(n / secs)
        before = Counter(engine.batcher.batch_sizes) if engine.batcher else Counter()
        n, secs = run_threads(engine, video, streams)
        thr_fps.append(n / secs)
        if engine.batcher:
            batches += engine.batcher.batch_sizes - before
        print(f"run {i + 1}: one at a time {seq_fps[-1]:6.1f} frames/s   ", end="")
        print(f"{streams} threads {thr_fps[-1]:6.1f} frames/s")
    s = engine.settings
    print(
        f"\nclip: {video.name} ({n // streams} frames) x{streams}; device {s.device}, "
        f"ORT threads {s.threads or 'all'}, batching {'on' if engine.batcher else 'off'} "
        f"(max {s.batch_size}, wait {s.batch_wait_ms} ms); {os.cpu_count()} CPUs"
    )
    seq, thr = statistics.median(seq_fps), statistics.median(thr_fps)
    print(f"one at a time median {seq:6.1f} frames/s")
    print(f"{streams} threads     median {thr:6.1f} frames/s   ({thr / seq:.2f}x)")
    if batches:
        print("landmark calls by batch size:", dict(sorted(batches.items())))
    return 0


def leg_agreement(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """Median and p90 leg-landmark distance ÷ torso length (MediaPipe's torso), both detected."""
    both = np.isfinite(ours).all(axis=(1, 2)) & np.isfinite(theirs).all(axis=(1, 2))
    t = theirs[both]
    torso = np.linalg.norm(
        (t[:, L_SHOULDER] + t[:, R_SHOULDER]) / 2 - (t[:, L_HIP] + t[:, R_HIP]) / 2, axis=1
    )
    legs = list(LEG)
    err = np.linalg.norm(ours[both][:, legs] - t[:, legs], axis=2) / torso[:, None]
    return float(np.median(err)), float(np.percentile(err, 90))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="front_air_squat_home_12reps", help="shared clip id")
    parser.add_argument("--video", type=Path, help="any video file instead of a shared clip")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per side")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="videos batched per landmark call (GPU); copies of the clip",
    )
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads")
    parser.add_argument(
        "--concurrent",
        type=int,
        default=0,
        help="N copies on N threads (worker-style) vs one at a time; skips MediaPipe",
    )
    parser.add_argument("--batching", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--wait-ms", type=float, default=None, help="batcher max wait")
    parser.add_argument("--setup", action="store_true", help="only build the MediaPipe venv")
    parser.add_argument(
        "--analysis-fps", type=float, default=None, help="our analysis rate (0: every frame)"
    )
    args = parser.parse_args()

    if args.setup or not args.concurrent:
        ensure_side_venv()
    if args.setup:
        return 0
    video = args.video or clip_path(args.clip)
    overrides: dict[str, object] = {"device": args.device}
    overrides["batch_size"] = max(args.batch, args.concurrent)
    overrides["landmark_batching"] = args.batching
    if args.wait_ms is not None:
        overrides["batch_wait_ms"] = args.wait_ms
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.analysis_fps is not None:
        overrides["analysis_fps"] = args.analysis_fps
    settings = Settings(**overrides)  # type: ignore[arg-type]
    engine = PoseEngine.from_settings(settings)
    engine.process_video(video)  # warm-up: first-run allocations, page cache
    if args.concurrent:
        return concurrent_main(engine, video, args.concurrent, args.repeats)

    ours_fps: list[float] = []
    mp_fps: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        mp_out = Path(tmp) / "mediapipe.npy"
        for i in range(args.repeats):
            n, secs, ours_xy = run_ours(engine, video, args.batch)
            m, msecs = run_mediapipe(video, mp_out)
            # Both in frames of the video per second: at an analysis rate below the
            # video's, ours looks at every stride-th frame of the same m.
            ours_fps.append(m * args.batch / secs)
            mp_fps.append(m / msecs)
            print(
                f"run {i + 1}: ours {ours_fps[-1]:6.1f} video frames/s ({n} analysed)   "
                f"mediapipe {m / msecs:6.1f} frames/s"
            )
        theirs = np.load(mp_out)
        stride = round(len(theirs) / len(ours_xy))
        med, p90 = leg_agreement(ours_xy, theirs[::stride][: len(ours_xy)])

    cpus = os.cpu_count()
    ratio = statistics.median(ours_fps) / statistics.median(mp_fps)
    print(
        f"\nclip: {video.name} ({m} frames, {n // args.batch} analysed); device {settings.device}, "
        f"ORT threads {settings.threads or 'all'}, batch {settings.batch_size}; {cpus} CPUs"
    )
    print(f"ours      median {statistics.median(ours_fps):6.1f} frames/s")
    print(f"mediapipe median {statistics.median(mp_fps):6.1f} frames/s")
    print(f"speed-up  {ratio:.2f}x")
    print(f"leg landmarks vs MediaPipe (same run): median {med:.4f}, p90 {p90:.4f} torso lengths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
