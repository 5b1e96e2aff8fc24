"""The BlazePose landmark model: (frame, ROI) → 33 landmarks, 2 ROI points, world points.

preprocess (rotated ROI warped to 256x256, RGB in [0, 1], replicated borders,
as pose_landmark_by_roi_cpu's ImageToTensor) → inference (batched over crops)
→ postprocess (``landmark_decode``: sigmoid, heatmap refinement, projection
back to frame pixels, world rotation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from service.pipeline.pose import landmark_decode as dec
from service.pipeline.pose.models import ModelSession
from service.pipeline.pose.roi import Roi, crop

FloatArray = npt.NDArray[np.float64]
BGRImage = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class RoiLandmarks:
    """One crop's result in frame coordinates (x, y px; z ÷ frame width; vis; presence)."""

    pose_score: float
    landmarks: FloatArray  # (33, 5)
    aux: FloatArray  # (2, 5)
    world: FloatArray  # (33, 3) metres


def preprocess(image: BGRImage, roi: Roi) -> npt.NDArray[np.float32]:
    patch = crop(image, roi, dec.INPUT_SIZE, border=cv2.BORDER_REPLICATE)
    # cvtColor + one float multiply: ~9x cheaper than a reversed-stride astype, same bits.
    rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
    return np.multiply(rgb, np.float32(1.0 / 255.0), dtype=np.float32)


def postprocess(
    raw_landmarks: npt.ArrayLike,
    pose_flag: float,
    heatmap: npt.ArrayLike,
    raw_world: npt.ArrayLike,
    *,
    roi: Roi,
    frame_width: int,
) -> RoiLandmarks:
    lm = dec.refine_from_heatmap(dec.decode_landmarks(raw_landmarks), heatmap)
    frame = dec.to_frame(lm, roi, frame_width)
    world = dec.world_to_frame(raw_world, roi)
    return RoiLandmarks(
        float(pose_flag), frame[: dec.NUM_BODY], frame[dec.AUX], world[: dec.NUM_BODY]
    )


def from_outputs(
    row: Mapping[str, npt.NDArray[np.float32]], image: BGRImage, roi: Roi
) -> RoiLandmarks:
    """One crop's result from its row of each model output (batched or not, same code)."""
    return postprocess(
        row["landmarks"],
        float(row["pose_flag"].reshape(-1)[0]),
        row["heatmap"],
        row["world"],
        roi=roi,
        frame_width=image.shape[1],
    )


class LandmarkModel:
    def __init__(self, session: ModelSession) -> None:
        self.session = session

    def __call__(self, items: Sequence[tuple[BGRImage, Roi]]) -> list[RoiLandmarks]:
        """Run a batch of (frame, ROI) crops; results in the same order."""
        if not items:
            return []
        batch = np.stack([preprocess(image, roi) for image, roi in items])
        out = self.session.run(batch)
        return [
            from_outputs({name: value[i] for name, value in out.items()}, image, roi)
            for i, (image, roi) in enumerate(items)
        ]
