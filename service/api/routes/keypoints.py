"""POST /v1/score/keypoints: landmarks from on-device pose in, the scored result out."""

from __future__ import annotations

import asyncio
import math

from fastapi import APIRouter

from service.api.deps import TenantDep
from service.api.problems import problem_responses
from service.api.schemas import KeypointsIn
from service.errors import KeypointsError
from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import ScoreResult, score_keypoints

router = APIRouter(prefix="/v1/score", tags=["scoring"])

# A 10-minute clip at 60 fps: beyond that, send a video job.
MAX_FRAMES = 36_000


def _floats(values: list[list[list[float | None]]]) -> list[list[list[float]]]:
    """JSON has no NaN: a missing value arrives as null."""
    return [[[math.nan if v is None else v for v in lm] for lm in frame] for frame in values]


def _score(body: KeypointsIn) -> ScoreResult:
    kp = Keypoints.build(
        _floats(body.landmarks),
        fps=body.fps,
        width=body.width,
        height=body.height,
        world=None if body.world is None else _floats(body.world),
        t_s=body.t_s,
    )
    return score_keypoints(kp, view=body.view.value, pose_model="client")


@router.post(
    "/keypoints",
    summary="Score landmarks synchronously",
    description="For apps that run pose on the device: send (T, 33, 5|4|3) landmarks in"
    " upright-frame pixels and get the same result a video job returns.",
    responses=problem_responses(401, 422, 429),
)
async def score_landmarks(body: KeypointsIn, tenant: TenantDep) -> ScoreResult:
    del tenant  # authenticated and rate-limited; the scoring itself is stateless
    if len(body.landmarks) > MAX_FRAMES:
        raise KeypointsError(f"at most {MAX_FRAMES} frames per request")
    # numpy work: off the event loop so polling clients are not stalled.
    return await asyncio.to_thread(_score, body)
