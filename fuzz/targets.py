"""Fuzz targets: what each parser of untrusted bytes may do with any input.

Each target takes raw bytes and either returns normally or raises the one error
type its caller turns into a 4xx; anything else (an IndexError, a numpy error, a
hang) is a bug. `fuzz/run.py` drives them with atheris; tests/test_fuzz_regressions.py
replays every input kept under fuzz/regressions/ (what fuzzing found, once fixed).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from service.api.keypoints_body import parse_keypoints
from service.api.upload import SNIFF_BYTES, sniff_video
from service.errors import InvalidRequestError, KeypointsError, UnsupportedMediaError
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import score_keypoints

CONTAINERS = {"mp4", "mov", "matroska", "avi", "mpeg", "mpegts", "flv", "asf"}
MAX_FRAMES = 300


def sniffer(data: bytes) -> None:
    try:
        kind = sniff_video(data[:SNIFF_BYTES])
    except UnsupportedMediaError:
        return
    assert kind in CONTAINERS, kind


def keypoints(data: bytes) -> None:
    """The keypoints body parser, and the scorer on whatever it lets through."""
    try:
        body = parse_keypoints(data, MAX_FRAMES)
        kp = Keypoints.build(
            body.landmarks,
            fps=body.meta.fps,
            width=body.meta.width,
            height=body.meta.height,
            world=body.world,
            t_s=body.meta.t_s,
        )
    except (KeypointsError, InvalidRequestError):
        return
    result = score_keypoints(kp, view=body.meta.view.value, pose_model="client")
    json.dumps(result.model_dump(mode="json"))  # the answer must serialise


def keypoints_values(data: bytes) -> None:
    """Well-formed bodies with fuzzed shapes and numbers (NaN, huge, negative, repeated
    frames, odd frame sizes and rates): the scorer's arithmetic, past the JSON layer."""
    rng = np.random.default_rng(int.from_bytes(data[:8].ljust(8, b"\0"), "little"))
    pool = np.frombuffer(data[8:].ljust(8, b"\0")[: len(data[8:]) // 8 * 8 or 8], np.float64)
    frames = 1 + int(rng.integers(0, 150))
    width = 3 + int(rng.integers(0, 5))
    values = rng.normal(500, 300, (frames, 33, width))
    picks = rng.integers(0, values.size, min(values.size, 4 * pool.size + 8))
    values.flat[picks[: pool.size]] = pool[: picks[: pool.size].size]
    values.flat[picks[pool.size :]] = np.nan
    body = {
        "fps": float(rng.choice([5.0, 10.0, 29.97, 30.0, 60.0, 240.0])),
        "width": int(rng.integers(1, 4000)),
        "height": int(rng.integers(1, 4000)),
        "landmarks": [
            [[None if not np.isfinite(v) else float(v) for v in p] for p in f] for f in values
        ],
        "view": str(rng.choice(["auto", "front", "side"])),
    }
    keypoints(json.dumps(body).encode())


TARGETS: dict[str, Callable[[bytes], None]] = {
    "sniffer": sniffer,
    "keypoints": keypoints,
    "keypoints_values": keypoints_values,
}
