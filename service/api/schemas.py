"""The API's public shapes (pydantic v2). `JobPublic` (what clients see of a `Job`) lives in
`service.jobs.public`, where the worker (webhooks) may import it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.public import JobPublic, View
from service.pipeline.keypoints import MAX_FPS


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None = Field(
        None, description="pass as `starting_after` for the next page; null on the last page"
    )


class WebhookSecret(BaseModel):
    secret: str = Field(description="verifies the `webhook-signature` header (Standard Webhooks)")


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


# Larger than any camera's frame (16K video is 15360 px wide); bounds what is echoed back.
MAX_FRAME_SIDE = 16384


class KeypointsMeta(BaseModel):
    """The small fields of a keypoints body (the arrays are parsed apart, into numpy)."""

    fps: float = Field(gt=0, le=MAX_FPS)
    width: int = Field(gt=0, le=MAX_FRAME_SIDE, description="upright frame width, px")
    height: int = Field(gt=0, le=MAX_FRAME_SIDE, description="upright frame height, px")
    t_s: list[float] | None = Field(None, description="frame timestamps (s), increasing")
    view: View = View.AUTO
    mirrored: bool = Field(
        False,
        description="the landmarks come from a mirror-image picture (a front camera's preview):"
        " knees are reported on the person's own sides",
    )


class KeypointsIn(KeypointsMeta):
    """Landmarks from on-device pose: (T, 33, 5|4|3) = x_px, y_px, z, visibility, presence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "landmarks": [[[320.0, 180.0, -0.1, 0.99, 0.99]] * 33] * 2,
                    "fps": 30.0,
                    "width": 720,
                    "height": 1280,
                    "view": "front",
                }
            ]
        }
    )

    landmarks: list[list[list[float | None]]] = Field(
        description="T frames × 33 landmarks × (x_px, y_px, z[, visibility[, presence]]);"
        " null for a missing value"
    )
    world: list[list[list[float | None]]] | None = Field(
        None, description="optional T × 33 × 3 world landmarks (m, hip-centred)"
    )
