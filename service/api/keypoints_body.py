"""The POST /v1/score/keypoints body parsed straight into numpy.

A 10-minute clip's landmarks are ~25 MB of JSON. Parsed the usual way
(pydantic, json.loads) they become three million Python floats: ~800 MB of
RSS, half of it kept by the allocator after the request. ijson's C parser
streams the body instead, one frame (33 × k values) at a time into float32, so
the memory a request costs is the body plus the arrays (~5 bytes per value).

`parse_keypoints` is CPU work for a worker thread (the body is read, bounded, by
`service.api.body.read_body`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ijson
import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from service.api.schemas import KeypointsMeta
from service.errors import InvalidRequestError, KeypointsError
from service.pipeline.landmarks import NUM_LANDMARKS

F32 = npt.NDArray[np.float32]
_META = frozenset(KeypointsMeta.model_fields)


@dataclass(frozen=True, slots=True)
class KeypointsBody:
    meta: KeypointsMeta
    landmarks: F32  # (T, 33, k), k in 3..5, NaN where the client sent null
    world: F32 | None  # (T, 33, 3)


def _frames(raw: bytes, name: str, max_frames: int) -> Iterator[F32]:
    for i, frame in enumerate(ijson.items(io.BytesIO(raw), f"{name}.item", use_float=True)):
        if i >= max_frames:
            raise KeypointsError(f"at most {max_frames} frames per request; send a video job")
        if not isinstance(frame, list) or len(frame) != NUM_LANDMARKS:
            raise KeypointsError(f"{name}[{i}] must hold {NUM_LANDMARKS} landmarks")
        try:
            with np.errstate(over="ignore"):  # beyond float32: inf, refused by Keypoints.build
                yield np.array(frame, dtype=np.float32)  # null -> nan
        except (TypeError, ValueError) as exc:
            shape = f"{NUM_LANDMARKS} × k array of numbers"
            raise KeypointsError(f"{name}[{i}] is not a {shape}") from exc


def _array(raw: bytes, name: str, max_frames: int, widths: tuple[int, ...]) -> F32 | None:
    frames = list(_frames(raw, name, max_frames))
    if not frames:
        return None
    shape = frames[0].shape
    if len(shape) != 2 or shape[1] not in widths or any(f.shape != shape for f in frames):
        raise KeypointsError(f"{name} must be T × {NUM_LANDMARKS} × {'|'.join(map(str, widths))}")
    return np.stack(frames)


def _meta(raw: bytes) -> dict[str, Any]:
    """The small top-level fields (one pass over the events; the arrays are skipped)."""
    fields: dict[str, Any] = {}
    present: set[str] = set()
    t_s: list[Any] = []
    events = ijson.parse(io.BytesIO(raw), use_float=True)
    first = next(events, None)
    if first is None or first[1] != "start_map":
        raise InvalidRequestError("the body must be a JSON object")
    for prefix, event, value in events:
        if event == "map_key" and prefix == "":
            present.add(value)
        elif prefix in _META and event not in ("start_array", "end_array"):
            fields[prefix] = value
        elif prefix == "t_s.item":
            t_s.append(value)
    if "t_s" in present and "t_s" not in fields:
        fields["t_s"] = t_s
    if "landmarks" not in present:
        raise KeypointsError("the body has no `landmarks`")
    return fields


def parse_keypoints(raw: bytes, max_frames: int) -> KeypointsBody:
    """Validate and convert; KeypointsError / InvalidRequestError (422) on any defect."""
    try:
        fields = _meta(raw)
        try:
            meta = KeypointsMeta.model_validate(
                {k: v for k, v in fields.items() if k in _META and v is not None}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise KeypointsError(f"{where}: {first.get('msg', 'invalid')}") from exc
        landmarks = _array(raw, "landmarks", max_frames, (3, 4, 5))
        if landmarks is None:
            raise KeypointsError("landmarks hold no frames (T = 0)")
        world = _array(raw, "world", max_frames, (3,))
    except ijson.JSONError as exc:
        raise InvalidRequestError(f"malformed JSON: {exc}") from exc
    return KeypointsBody(meta, landmarks, world)
