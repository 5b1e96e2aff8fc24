"""Time to result: upload a 10 s 1080×1920 phone clip to `kneecave serve`, wait for the score.

What an app's user waits for: from the 202 to the first poll that sees the job
succeeded (the client polls every 50 ms), per job; p50 and p95 over several
clips, for each worker count asked for. Each worker count gets its own fresh
server (SQLite queue, embedded workers, loopback), warmed up with one job that
is not counted; then ``--rounds`` rounds of as many concurrent uploads as there
are workers.

The clips are built once into benchmarks/out/ (git-ignored) from the shared
1080×1920 clips, concatenated in rotating order and cut to ``--seconds`` at
30 fps, H.264 like a phone's. They are third-party footage: never commit them.

    .venv/bin/python benchmarks/time_to_result.py                 # 1 and 2 workers
    .venv/bin/python benchmarks/time_to_result.py --workers 2 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.service import percentile, running_server  # noqa: E402
from service.pipeline import video  # noqa: E402
from tests.clips import clip_path  # noqa: E402

OUT = REPO / "benchmarks" / "out"
# The shared 1080×1920 (upright) phone clips: four front, two side, one rotated by metadata.
SOURCES = [
    "front_overhead_squat_mild_right_valgus_7037",
    "front_overhead_squat_knee_sway_7027",
    "side_overhead_squat_1rep_7026",
    "front_overhead_squat_good_7052",
    "hard_rotation_meta_front_7054",
    "side_overhead_squat_1rep_7051",
]
POLL_S = 0.05


def build_clip(index: int, seconds: float, fps: int = 30) -> Path:
    """Clip ``index``: the sources from the index-th one on, looped, cut to ``seconds``."""
    path = OUT / f"ttr_{index}_{seconds:g}s.mp4"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.mp4")
    want = round(seconds * fps)
    order = SOURCES[index % len(SOURCES) :] + SOURCES[: index % len(SOURCES)]
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1080, 1920, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        stream.codec_context.time_base = Fraction(1, fps)
        written = 0
        while written < want:
            for source in order:
                info = video.probe(clip_path(source))
                for frame in video.decode(info):
                    if written == want:
                        break
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.image), "bgr24")
                    vf.pts = written
                    out.mux(stream.encode(vf))
                    written += 1
        out.mux(stream.encode(None))
    tmp.replace(path)
    return path


async def one_job(client: httpx.AsyncClient, clip: Path) -> dict[str, Any]:
    with clip.open("rb") as fh:
        resp = await client.post("/v1/jobs", files={"video": (clip.name, fh, "video/mp4")})
    accepted = time.perf_counter()
    resp.raise_for_status()
    location = resp.headers["location"]
    while True:
        job = (await client.get(location)).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            break
        await asyncio.sleep(POLL_S)
    wait = time.perf_counter() - accepted
    if job["status"] != "succeeded":
        raise SystemExit(f"{clip.name}: {job['status']} {job.get('error')}")
    stamp = {k: datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "finished_at")}
    return {
        "clip": clip.name,
        "wait_s": wait,
        "queued_s": (stamp["started_at"] - stamp["created_at"]).total_seconds(),
        "run_s": (stamp["finished_at"] - stamp["started_at"]).total_seconds(),
        "reps": job["result"]["rep_count"],
    }


async def measure(
    url: str, key: str, clips: list[Path], workers: int, rounds: int
) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as client:
        await one_job(client, clips[0])  # model load and first-call warm-up, not counted
        done: list[dict[str, Any]] = []
        for r in range(rounds):
            batch = [clips[(r * workers + i) % len(clips)] for i in range(workers)]
            done += await asyncio.gather(*(one_job(client, c) for c in batch))
        return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=6, help="rounds of `workers` uploads")
    parser.add_argument("--clips", type=int, default=3, help="different clips built")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    clips = [build_clip(i, args.seconds) for i in range(args.clips)]
    report: dict[str, Any] = {"seconds": args.seconds, "cpus": os.cpu_count(), "runs": []}
    for workers in args.workers:
        with running_server("sqlite", workers) as (url, key, _server):
            jobs = asyncio.run(measure(url, key, clips, workers, args.rounds))
        waits = [j["wait_s"] for j in jobs]
        run = {
            "workers": workers,
            "concurrent_uploads": workers,
            "jobs": len(jobs),
            "p50_s": round(percentile(waits, 50), 2),
            "p95_s": round(percentile(waits, 95), 2),
            "max_s": round(max(waits), 2),
            "queued_p50_s": round(percentile([j["queued_s"] for j in jobs], 50), 2),
            "worker_p50_s": round(percentile([j["run_s"] for j in jobs], 50), 2),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        report["runs"].append(run)
        print(
            f"{workers} worker(s), {workers} upload(s) at a time, {len(jobs)} jobs of "
            f"{args.seconds:g} s 1080x1920: 202 -> result p50 {run['p50_s']} s, "
            f"p95 {run['p95_s']} s, max {run['max_s']} s (server: queued p50 "
            f"{run['queued_p50_s']} s, worker p50 {run['worker_p50_s']} s)",
            flush=True,
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
