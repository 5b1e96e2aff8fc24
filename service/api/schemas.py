"""The API's public shapes (pydantic v2). `JobPublic` (what clients see of a `Job`) lives in
`service.jobs.public`, where the worker (webhooks) may import it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.public import JobPublic, View


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")


class WebhookSecret(BaseModel):
    secret: str = Field(description="verifies the `webhook-signature` header (Standard Webhooks)")


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class KeypointsIn(BaseModel):
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
    fps: float = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    t_s: list[float] | None = Field(None, description="frame timestamps (s), increasing")
    view: View = View.AUTO
