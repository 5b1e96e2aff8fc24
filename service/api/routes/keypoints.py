"""POST /v1/score/keypoints: landmarks from on-device pose in, the scored result out.

The body is not parsed by FastAPI: the API key is checked first (a dependency),
then the body is read with a bound (413 past `max_keypoints_bytes`) and parsed
into numpy in a worker thread, at most `keypoints_concurrency` at a time, so
neither an anonymous client nor a large body can stall the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from service.api.body import read_body
from service.api.deps import SettingsDep, TenantDep
from service.api.keypoints_body import parse_keypoints
from service.api.problems import problem_responses
from service.errors import UnsupportedMediaError
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import ScoreResult, score_keypoints

router = APIRouter(prefix="/v1/score", tags=["scoring"])

# A 5-minute clip (the video limit) at 60 fps: beyond that, send a video job.
MAX_FRAMES = 18_000

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeypointsIn"}}},
    }
}


def _score(raw: bytes) -> ScoreResult:
    body = parse_keypoints(raw, MAX_FRAMES)
    meta = body.meta
    kp = Keypoints.build(
        body.landmarks,
        fps=meta.fps,
        width=meta.width,
        height=meta.height,
        world=body.world,
        t_s=meta.t_s,
    )
    if meta.mirrored:
        kp = kp.unmirrored()
    return score_keypoints(kp, view=meta.view.value, pose_model="client")


def _slots(request: Request, limit: int) -> asyncio.Semaphore:
    state = request.app.state
    if getattr(state, "keypoints_slots", None) is None:
        state.keypoints_slots = asyncio.Semaphore(limit)
    slots: asyncio.Semaphore = state.keypoints_slots
    return slots


@router.post(
    "/keypoints",
    summary="Score landmarks synchronously",
    description="For apps that run pose on the device: send (T, 33, 5|4|3) landmarks in"
    f" upright-frame pixels (at most {MAX_FRAMES} frames) and get the same result a video"
    " job returns.",
    responses=problem_responses(401, 413, 415, 422, 429),
    openapi_extra=_BODY,
)
async def score_landmarks(
    request: Request, tenant: TenantDep, settings: SettingsDep
) -> ScoreResult:
    del tenant  # authenticated and rate-limited before a byte of the body is read
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.startswith("application/json"):
        raise UnsupportedMediaError("send the keypoints as application/json")
    raw = await read_body(request, settings.max_keypoints_bytes, settings.upload_idle_timeout_s)
    async with _slots(request, settings.keypoints_concurrency):
        return await asyncio.to_thread(_score, raw)
