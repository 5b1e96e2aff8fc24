"""Keypoints → the compact per-frame landmarks a client draws over the video.

Only the points a squat overlay needs (shoulders, hips, knees, ankles, heels,
toes) as whole upright-frame pixels, with the frame timestamps, so a clip of
a few minutes stays well under a megabyte of JSON (a few hundred KB gzipped).
A point the scorer does not count as seen (no person, visibility under its
threshold, outside the picture: cleanup.observed) is null: the overlay draws
what the scorer used, no more.
Pure: the worker stores the gzipped bytes and the API serves them as they are.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import INDEX, L_SHOULDER, LEG, NAMES, R_SHOULDER
from service.pipeline.scoring.cleanup import observed

# The shoulders and the legs (hips to toes), in BlazePose order.
OVERLAY_NAMES: tuple[str, ...] = tuple(NAMES[i] for i in (L_SHOULDER, R_SHOULDER, *LEG))
_COLUMNS = [INDEX[name] for name in OVERLAY_NAMES]


class JobLandmarks(BaseModel):
    """Per-frame landmarks for drawing the skeleton over the video (`GET …/landmarks`)."""

    fps: float = Field(description="Frames per second of the landmark stream.")
    width: int = Field(description="Upright frame width, px (the coordinates' frame).")
    height: int = Field(description="Upright frame height, px.")
    frames: int = Field(description="Number of frames (length of `t_s` and `points`).")
    names: list[str] = Field(
        description="The landmarks of each frame, in order (BlazePose names; subject's left)."
    )
    t_s: list[float] = Field(
        description="Frame timestamps, s (the video's media time; rep times use the same clock)."
    )
    points: list[list[int | None] | None] = Field(
        description="Per frame: x0, y0, x1, y1, … for `names`, in upright-frame pixels "
        "(rounded); a point not seen is null, a frame without a person is null."
    )


def overlay_landmarks(kp: Keypoints) -> dict[str, Any]:
    """The `JobLandmarks` document for ``kp`` (plain JSON types)."""
    lm = kp.landmarks[:, _COLUMNS]  # (T, P, 5)
    seen = observed(lm, kp.width, kp.height)
    xy = np.full((*lm.shape[:2], 2), None, dtype=object)
    xy[seen] = np.rint(lm[seen, :2]).astype(np.int64)
    flat = xy.reshape(len(lm), -1).tolist()
    frame_seen = kp.detected & seen.any(axis=1)
    return {
        "fps": round(float(kp.fps), 3),
        "width": int(kp.width),
        "height": int(kp.height),
        "frames": len(lm),
        "names": list(OVERLAY_NAMES),
        "t_s": np.round(kp.t_s, 3).tolist(),
        "points": [row if ok else None for row, ok in zip(flat, frame_seen.tolist(), strict=True)],
    }


def encode_landmarks(document: dict[str, Any]) -> bytes:
    """Compact JSON, gzipped (what the job store keeps and the API sends as is)."""
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)
