"""A pinhole phone camera placed around the subject, and projection to the keypoints contract.

The camera aims at a point on the body, at a yaw (azimuth around the subject:
0 = straight in front, + = towards the subject's left), a pitch (+ = looking
down), a distance that makes the body fill a given share of the frame height
for the lens, and an optional roll. Lenses are given as 35 mm-equivalent focal
lengths (phone main camera ~24-28 mm, tele ~70-77 mm), which fixes perspective:
a wide lens framing the whole body stands much closer than a tele one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
FULL_FRAME_DIAG_MM = 43.27


@dataclass(frozen=True)
class Camera:
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    focal_35mm: float = 26.0
    fill: float = 0.7  # body height / frame height
    width: int = 1080
    height: int = 1920
    aim_height: float = 0.5  # aim point height, fraction of stature
    offset: tuple[float, float] = (0.0, 0.0)  # aim point off the body, fraction of stature (x, y)
    mirrored: bool = False
    # Hand-held: the camera pans and tilts about its own centre by up to this many degrees,
    # slowly (periods of 4.7 s and 6.1 s, phases from sway_phase), as a phone held by a
    # training partner drifts. 0: on a tripod.
    sway_deg: float = 0.0
    sway_phase: tuple[float, float] = (0.0, 0.0)

    @property
    def focal_px(self) -> float:
        return self.focal_35mm / FULL_FRAME_DIAG_MM * math.hypot(self.width, self.height)

    def distance(self, stature: float) -> float:
        return self.focal_px * stature / (self.fill * self.height)

    def pose(self, stature: float, centre: F64) -> tuple[F64, F64]:
        """Camera position (3,) and rotation rows (3, 3): right, down, forward."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        dist = self.distance(stature)
        aim = centre + np.array(
            [self.offset[0] * stature, self.aim_height * stature + self.offset[1] * stature, 0.0]
        )
        horiz = np.array([math.sin(yaw), 0.0, math.cos(yaw)])  # from the subject to the camera
        pos = aim + horiz * dist * math.cos(pitch) + np.array([0, dist * math.sin(pitch), 0])
        fwd = (aim - pos) / np.linalg.norm(aim - pos)
        right = np.cross(fwd, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        roll = math.radians(self.roll_deg)
        r2 = right * math.cos(roll) + down * math.sin(roll)
        d2 = -right * math.sin(roll) + down * math.cos(roll)
        return pos, np.stack([r2, d2, fwd])

    def sway(self, t_s: F64) -> F64:
        """(T, 3, 3) the hand-held camera's rotation at each time (identity on a tripod)."""
        a = math.radians(self.sway_deg)
        pan = a * np.sin(2 * math.pi * t_s / 4.7 + self.sway_phase[0])
        tilt = a * np.sin(2 * math.pi * t_s / 6.1 + self.sway_phase[1])
        cp, sp, ct, st = np.cos(pan), np.sin(pan), np.cos(tilt), np.sin(tilt)
        one, zero = np.ones_like(pan), np.zeros_like(pan)
        r_pan = np.stack([[cp, zero, sp], [zero, one, zero], [-sp, zero, cp]]).transpose(2, 0, 1)
        r_tilt = np.stack([[one, zero, zero], [zero, ct, -st], [zero, st, ct]]).transpose(2, 0, 1)
        out: F64 = r_tilt @ r_pan
        return out

    def project(
        self, pts: F64, stature: float, centre: F64, t_s: F64 | None = None
    ) -> tuple[F64, F64]:
        """World points (T, K, 3) -> pixels (T, K, 2) and depth along the optical axis (T, K).

        ``t_s`` (T,): frame times, for a hand-held camera's sway.
        """
        pos, rot = self.pose(stature, centre)
        cam = (pts - pos) @ rot.T
        if self.sway_deg and t_s is not None:
            cam = np.einsum("tij,tkj->tki", self.sway(t_s), cam)
        z = cam[..., 2]
        f = self.focal_px
        x = self.width / 2 + f * cam[..., 0] / z
        y = self.height / 2 + f * cam[..., 1] / z
        if self.mirrored:
            x = self.width - x
        return np.stack([x, y], axis=-1), z
