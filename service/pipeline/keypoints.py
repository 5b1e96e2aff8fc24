"""The contract between pose and scoring.

``landmarks`` float32 (T, 33, 5) = x_px, y_px (upright frame pixels), z (model
units), visibility, presence; NaN rows where no person was found. ``world``
float32 (T, 33, 3) metres, hip-centred. ``detected`` bool (T,), ``t_s``
float64 (T,) timestamps. The scorer never sees pixels; the pose engine never
sees scores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from service.errors import KeypointsError
from service.pipeline.landmarks import MIRROR, NUM_LANDMARKS

MIN_FPS = 5.0
MAX_FPS = 240.0


@dataclass(frozen=True, slots=True)
class Keypoints:
    landmarks: npt.NDArray[np.float32]
    world: npt.NDArray[np.float32]
    detected: npt.NDArray[np.bool_]
    t_s: npt.NDArray[np.float64]
    fps: float
    width: int
    height: int

    @property
    def frames(self) -> int:
        return int(self.landmarks.shape[0])

    @classmethod
    def build(
        cls,
        landmarks: npt.ArrayLike,
        *,
        fps: float,
        width: int,
        height: int,
        world: npt.ArrayLike | None = None,
        detected: npt.ArrayLike | None = None,
        t_s: npt.ArrayLike | None = None,
    ) -> Keypoints:
        """Validate and normalise arrays into a Keypoints, raising KeypointsError."""
        try:
            lm = np.asarray(landmarks, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise KeypointsError(f"landmarks are not numeric: {exc}") from exc
        if lm.ndim != 3 or lm.shape[1] != NUM_LANDMARKS or lm.shape[2] not in (3, 4, 5):
            raise KeypointsError(
                f"landmarks must have shape (T, {NUM_LANDMARKS}, 5) "
                f"(x, y, z, visibility, presence); got {lm.shape}"
            )
        t = lm.shape[0]
        if t == 0:
            raise KeypointsError("landmarks hold no frames (T = 0)")
        if lm.shape[2] < 5:
            pad = np.ones((t, NUM_LANDMARKS, 5 - lm.shape[2]), np.float32)
            pad[..., : max(0, 3 - lm.shape[2])] = 0.0
            lm = np.concatenate([lm, pad], axis=2)
        if np.isinf(lm).any():
            raise KeypointsError("landmarks contain infinite values")
        if not np.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
            raise KeypointsError(f"fps must be between {MIN_FPS:g} and {MAX_FPS:g}; got {fps}")
        if width <= 0 or height <= 0:
            raise KeypointsError(f"frame size must be positive; got {width}x{height}")

        if detected is None:
            det = np.isfinite(lm[:, :, :2]).all(axis=(1, 2))
        else:
            det = np.asarray(detected, dtype=bool).reshape(-1)
            if det.shape != (t,):
                raise KeypointsError(f"detected must have shape ({t},); got {det.shape}")
        # A frame marked detected must have usable coordinates; partial NaN is a gap.
        det = np.asarray(det & np.isfinite(lm[:, :, :2]).all(axis=(1, 2)), dtype=bool)
        lm = lm.copy()
        lm[~det] = np.nan

        if world is None:
            wd = np.full((t, NUM_LANDMARKS, 3), np.nan, np.float32)
        else:
            try:
                wd = np.asarray(world, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise KeypointsError(f"world landmarks are not numeric: {exc}") from exc
            if wd.shape != (t, NUM_LANDMARKS, 3):
                raise KeypointsError(f"world must have shape ({t}, {NUM_LANDMARKS}, 3)")
            if np.isinf(wd).any():
                raise KeypointsError("world landmarks contain infinite values")

        if t_s is None:
            ts = np.arange(t, dtype=np.float64) / fps
        else:
            ts = np.asarray(t_s, dtype=np.float64).reshape(-1)
            if ts.shape != (t,) or not np.isfinite(ts).all():
                raise KeypointsError(f"t_s must be {t} finite timestamps")
            if t > 1 and (np.diff(ts) <= 0).any():
                raise KeypointsError("t_s must be strictly increasing")
        return cls(lm, wd, det, ts, float(fps), int(width), int(height))

    def sides_swapped(self) -> Keypoints:
        """Every left landmark relabelled right and back, where it is in the picture.

        A mirrored video (a front camera's selfie preview, saved as shown) shows the
        person's left leg where a camera would show their right, and the pose model, which
        takes every body as seen by a camera, calls it the right: relabelled, each point
        carries the person's own side again.
        """
        order = list(MIRROR)
        return replace(self, landmarks=self.landmarks[:, order], world=self.world[:, order])

    def unmirrored(self) -> Keypoints:
        """The keypoints of the same moment seen by an un-mirrored camera: sides relabelled
        and the picture flipped back (x → width − x; world x → −x)."""
        swapped = self.sides_swapped()
        lm, world = swapped.landmarks.copy(), swapped.world.copy()
        lm[..., 0] = self.width - lm[..., 0]
        world[..., 0] = -world[..., 0]
        return replace(self, landmarks=lm, world=world)

    def save(self, file: str | Path | IO[bytes]) -> None:
        np.savez_compressed(
            file,
            landmarks=self.landmarks,
            world=self.world,
            detected=self.detected,
            t_s=self.t_s,
            fps=np.float64(self.fps),
            width=np.int64(self.width),
            height=np.int64(self.height),
        )

    @classmethod
    def load(cls, file: str | Path | IO[bytes]) -> Keypoints:
        """Load a .npz written by ``save`` (or a MediaPipe reference file)."""
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise KeypointsError(f"not a keypoints .npz file: {exc}") from exc
        missing = {"landmarks", "fps", "width", "height"} - arrays.keys()
        if missing:
            raise KeypointsError(f"keypoints file lacks {sorted(missing)}")
        return cls.build(
            arrays["landmarks"],
            fps=float(arrays["fps"]),
            width=int(arrays["width"]),
            height=int(arrays["height"]),
            world=arrays.get("world"),
            detected=arrays.get("detected"),
            t_s=arrays.get("t_s"),
        )
