"""3D squat kinematics with a known knee deviation and ankle collapse per side.

World frame: metres, X towards the subject's left, Y up, Z forward (the way the
subject faces), floor at Y = 0. Joint tracks are (T, 2, 3) arrays, side 0 = the
subject's left, 1 = right.

The knee is placed the way the leg really moves: for given hip H and ankle A
(and the thigh and shank lengths) it lies on a circle around the hip-ankle
axis. The *neutral* knee is the point of that circle in the plane through H
and A that contains the foot's direction (heel -> toe): the knee tracking over
its own foot, whatever the stance width or toe-out. Knee cave rotates the knee
about the hip-ankle axis towards the midline by an angle phi (hip adduction and
internal rotation do exactly this), so segment lengths never change.

Definitions (the truth the scorer is judged against):
- knee deviation: the knee's signed distance from the plane (H, A, foot
  direction), in leg lengths (thigh + shank), positive towards the midline;
- knee abduction angle: phi, the angle between that plane and the plane
  (H, K, A), degrees, positive = knee towards the midline;
- ankle collapse: the ankle joint centre's distance inside the heel-toe line
  (the foot's long axis on the floor), in leg lengths, positive = medial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tests.synthetic import RepSpec, profile

F64 = npt.NDArray[np.float64]
UP = np.array([0.0, 1.0, 0.0])
SIDE_SIGN = np.array([1.0, -1.0])  # +X is the subject's left

# Where the foot landmarks sit. The ankle centre's height and its place along the foot
# follow anthropometry (Winter, Biomechanics and Motor Control of Human Movement, 4th ed.,
# fig. 4.1: foot 0.152 H, ankle height 0.039 H). The heel landmark sits at the back of the
# heel on the floor, the "foot index" a little short of the toe tip: 0.148 H, 0.30 of the
# hip-knee-ankle length (0.491 H); the sweep varies it by +-7%.
ANKLE_FROM_HEEL = 0.27
ANKLE_HEIGHT_H = 0.039
FOOT_LEN_H = 0.148


def unit(v: F64) -> F64:
    out: F64 = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def rotate(v: F64, axis: F64, angle: F64) -> F64:
    """Rodrigues rotation of vectors ``v`` (..., 3) about unit ``axis`` (..., 3) by ``angle``."""
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    kv = np.cross(axis, v)
    kd = np.sum(axis * v, axis=-1, keepdims=True)
    out: F64 = v * c + kv * s + axis * kd * (1 - c)
    return out


def foot_dir(toe_out_deg: F64) -> F64:
    """(2, 3) horizontal unit foot directions for (left, right) toe-out angles."""
    th = np.radians(np.asarray(toe_out_deg, float))
    return np.stack([SIDE_SIGN * np.sin(th), np.zeros(2), np.cos(th)], axis=-1)


def knee_on_circle(h: F64, a: F64, f: F64, thigh: F64, shank: F64, *, phi: F64, side: int) -> F64:
    """Knee position (T, 3) for hip ``h``, ankle ``a`` (T, 3), foot direction ``f`` (T, 3).

    ``phi`` (T,) rotates the knee about the hip-ankle axis towards the midline.
    """
    axis = a - h
    dist = np.linalg.norm(axis, axis=-1)
    u = axis / dist[:, None]
    # distance from the hip to the circle's centre along the axis (law of cosines)
    x = (dist**2 + thigh**2 - shank**2) / (2 * dist)
    r = np.sqrt(np.clip(thigh**2 - x**2, 0.0, None))
    centre = h + u * x[:, None]
    # in-plane direction: the foot direction with its along-axis part removed
    fwd = f - u * np.sum(f * u, axis=-1, keepdims=True)
    fwd = unit(fwd)
    # medial direction: rotating fwd about u by +phi must move the knee towards -side*X
    normal = np.cross(u, fwd)
    medial_sign = np.where(normal[:, 0] * SIDE_SIGN[side] < 0, 1.0, -1.0)
    out: F64 = centre + r[:, None] * rotate(fwd, u, medial_sign * phi)
    return out


def plane_deviation(h: F64, k: F64, a: F64, f: F64, midline_dir: F64) -> F64:
    """Signed distance (T,) of knee ``k`` from the plane (h, a, f); + towards ``midline_dir``."""
    n = unit(np.cross(a - h, f))
    n = n * np.sign(np.sum(n * midline_dir, axis=-1, keepdims=True))
    out: F64 = np.sum((k - a) * n, axis=-1)
    return out


def abduction_angle(h: F64, k: F64, a: F64, f: F64, midline_dir: F64) -> F64:
    """Angle (T,) between the planes (h, a, f) and (h, k, a), degrees, + knee towards midline."""
    u = unit(a - h)
    fwd = unit(f - u * np.sum(f * u, axis=-1, keepdims=True))
    kk = k - h
    kr = kk - u * np.sum(kk * u, axis=-1, keepdims=True)
    n = unit(np.cross(u, fwd))
    n = n * np.sign(np.sum(n * midline_dir, axis=-1, keepdims=True))
    out: F64 = np.degrees(np.arctan2(np.sum(kr * n, axis=-1), np.sum(kr * fwd, axis=-1)))
    return out


@dataclass(frozen=True)
class Joints3D:
    """Joint tracks in metres; (T, 2, 3) per pair (left, right), (T, 3) for single points."""

    hip: F64
    knee: F64
    ankle: F64
    heel: F64
    toe: F64
    shoulder: F64
    head: F64  # (T, 3) centre of the head
    facing: F64  # (T, 3) horizontal unit vector the subject faces
    depth: F64  # (T,) depth fraction of the current rep, 0 standing .. 1 bottom
    rep: npt.NDArray[np.intp]  # (T,) rep index, -1 between reps
    t_s: F64
    stature: float

    @property
    def leg(self) -> float:
        """Thigh + shank, metres (the unit of every deviation)."""
        th = np.linalg.norm(self.knee - self.hip, axis=-1)
        sh = np.linalg.norm(self.ankle - self.knee, axis=-1)
        return float(np.nanmedian(th + sh))

    def foot_direction(self) -> F64:
        """(T, 2, 3) horizontal unit vectors heel -> toe."""
        v = self.toe - self.heel
        v[..., 1] = 0.0
        return unit(v)

    def midline_dir(self) -> F64:
        """(T, 2, 3) unit vectors from each hip towards the other one."""
        d = unit(self.hip[:, 1] - self.hip[:, 0])
        return np.stack([d, -d], axis=1)

    def knee_deviation(self) -> F64:
        """(T, 2) knee distance from the plane (hip, ankle, foot direction), leg lengths."""
        f, m = self.foot_direction(), self.midline_dir()
        out = np.stack(
            [
                plane_deviation(self.hip[:, s], self.knee[:, s], self.ankle[:, s], f[:, s], m[:, s])
                for s in (0, 1)
            ],
            axis=1,
        )
        dev: F64 = out / self.leg
        return dev

    def knee_abduction_deg(self) -> F64:
        f, m = self.foot_direction(), self.midline_dir()
        return np.stack(
            [
                abduction_angle(self.hip[:, s], self.knee[:, s], self.ankle[:, s], f[:, s], m[:, s])
                for s in (0, 1)
            ],
            axis=1,
        )

    def ankle_collapse(self) -> F64:
        """(T, 2) ankle centre's distance inside the heel-toe line, leg lengths (+ = medial)."""
        f, m = self.foot_direction(), self.midline_dir()
        n = np.cross(UP, f)  # horizontal, perpendicular to the foot
        n = n * np.sign(np.sum(n * m, axis=-1, keepdims=True))
        rel = self.ankle - self.heel
        out: F64 = np.sum(rel * n, axis=-1) / self.leg
        return out

    def shank_tilt_deg(self) -> F64:
        """(T, 2) frontal shank tilt towards the midline, degrees, in the foot's frame."""
        f, m = self.foot_direction(), self.midline_dir()
        n = np.cross(UP, f)
        n = n * np.sign(np.sum(n * m, axis=-1, keepdims=True))
        sh = self.knee - self.ankle
        return np.degrees(np.arctan2(np.sum(sh * n, axis=-1), sh[..., 1]))


@dataclass(frozen=True)
class Subject:
    """Body proportions, metres (defaults: a 1.75 m adult, anthropometric ratios)."""

    stature: float = 1.75
    thigh_h: float = 0.245  # hip to knee / stature
    shank_h: float = 0.246  # knee to ankle / stature
    hip_width_h: float = 0.11  # between hip landmarks / stature
    shoulder_width_h: float = 0.23
    torso_h: float = 0.29  # hip centre to shoulder centre / stature
    foot_h: float = FOOT_LEN_H


@dataclass(frozen=True)
class Squat:
    """One set of squats: stance, feet, depth, trunk, knees and ankles per side."""

    reps: int = 3
    stance: float = 1.4  # ankle separation / hip width
    toe_out_deg: tuple[float, float] = (15.0, 15.0)
    depth: float = 0.8  # 0 = standing, 1 = hip joint down to knee height (parallel), up to 1.25
    hip_back: float = 0.55  # hip travel backwards at the bottom, per metre of hip drop
    lean_deg: float = 35.0  # trunk lean at the bottom
    hip_shift: float = 0.0  # pelvis shift towards the subject's left at the bottom, m
    knee_dev: tuple[float, float] = (0.0, 0.0)  # knee deviation at the bottom, leg lengths
    # Per rep (overrides knee_dev): a set whose reps cave differently.
    knee_dev_per_rep: tuple[tuple[float, float], ...] | None = None
    ramp: bool = False  # cave grows with depth (phi ~ depth) instead of a constant phi
    ankle_collapse: tuple[float, float] = (0.0, 0.0)  # extra medial ankle shift at bottom, leg
    down_s: float = 1.2
    up_s: float = 1.1
    pause_bottom_s: float = 0.2
    pause_top_s: float = 0.8
    lead_s: float = 1.0


def depth_profile(sq: Squat, fps: float) -> tuple[F64, F64, npt.NDArray[np.intp]]:
    """Timestamps, depth fraction (raised cosine descents/ascents) and rep index per frame."""
    spec = RepSpec(
        down_s=sq.down_s, up_s=sq.up_s, pause_bottom_s=sq.pause_bottom_s, pause_top_s=sq.pause_top_s
    )
    ts, depth, rep, _ = profile([spec] * sq.reps, sq.lead_s, 0.0, fps)
    return ts, depth, np.asarray(rep, np.intp)


def _phi_for(dev_leg: float, r_bottom: float, leg: float) -> float:
    """Rotation about the hip-ankle axis that puts the knee ``dev_leg`` off the plane."""
    return float(np.arcsin(np.clip(dev_leg * leg / max(r_bottom, 1e-6), -0.99, 0.99)))


def parametric(subject: Subject, sq: Squat, fps: float) -> Joints3D:
    """Joint tracks of a parametric squat set."""
    H = subject.stature
    thigh, shank = subject.thigh_h * H, subject.shank_h * H
    hip_w = subject.hip_width_h * H
    ts, depth, rep = depth_profile(sq, fps)
    T = ts.size
    ankle_h = ANKLE_HEIGHT_H * H
    f = np.broadcast_to(foot_dir(np.asarray(sq.toe_out_deg)), (T, 2, 3)).copy()
    foot = subject.foot_h * H
    # Feet: the ankle centre over the foot's long axis, ANKLE_FROM_HEEL along it.
    ankle0 = np.stack(
        [np.array([SIDE_SIGN[s] * sq.stance * hip_w / 2, ankle_h, 0.0]) for s in (0, 1)]
    )
    heel = ankle0[None] - f * foot * ANKLE_FROM_HEEL
    heel[..., 1] = 0.0
    toe = heel + f * foot
    # Pelvis: standing with the knees almost straight (~5° of flexion), drops to the set depth.
    spread = (sq.stance - 1) * hip_w / 2
    standing_y = ankle_h + np.sqrt((0.9985 * (thigh + shank)) ** 2 - spread**2)
    knee_y = ankle_h + shank * 0.9  # the knee comes down a little as the shank tilts
    bottom_y = standing_y - sq.depth * (standing_y - knee_y)
    drop = (standing_y - bottom_y) * depth
    pelvis = np.stack(
        [sq.hip_shift * depth, standing_y - drop, -sq.hip_back * drop + 0.02],
        axis=1,
    )
    hip = (
        pelvis[:, None, :]
        + np.stack([np.array([SIDE_SIGN[s] * hip_w / 2, 0.0, 0.0]) for s in (0, 1)])[None]
    )
    # Ankle collapse: the ankle centre drops medially inside the planted foot.
    leg = thigh + shank
    ankle = np.broadcast_to(ankle0, (T, 2, 3)).copy()
    for s in (0, 1):
        c = sq.ankle_collapse[s] * leg * depth
        ankle[:, s, 0] -= SIDE_SIGN[s] * c
        ankle[:, s, 1] -= 0.3 * c
    # Knees: on the circle, rotated medially by phi.
    knee = np.empty_like(hip)
    devs = sq.knee_dev_per_rep or (sq.knee_dev,) * sq.reps
    for s in (0, 1):
        zero = np.zeros(T)
        k0 = knee_on_circle(hip[:, s], ankle[:, s], f[:, s], thigh, shank, phi=zero, side=s)
        r = np.linalg.norm(np.cross(k0 - hip[:, s], unit(ankle[:, s] - hip[:, s])), axis=-1)
        phi = np.zeros(T)
        for i in range(sq.reps):
            frames = np.flatnonzero(rep == i)
            bottom = frames[np.argmax(depth[frames])]
            phi[frames] = _phi_for(devs[i][s], float(r[bottom]), leg)
        phis = phi * depth if sq.ramp else phi
        knee[:, s] = knee_on_circle(hip[:, s], ankle[:, s], f[:, s], thigh, shank, phi=phis, side=s)
    lean = np.radians(sq.lean_deg) * depth
    trunk = np.stack([np.zeros(T), np.cos(lean), np.sin(lean)], axis=1)
    torso = subject.torso_h * H
    sh_c = pelvis + trunk * torso
    shoulder = (
        sh_c[:, None, :]
        + np.stack(
            [np.array([SIDE_SIGN[s] * subject.shoulder_width_h * H / 2, 0, 0]) for s in (0, 1)]
        )[None]
    )
    head = sh_c + trunk * 0.14 * H + np.array([0.0, 0.0, 0.03])
    facing = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (T, 3)).copy()
    return Joints3D(
        hip=hip,
        knee=knee,
        ankle=ankle,
        heel=np.broadcast_to(heel, (T, 2, 3)).copy(),
        toe=np.broadcast_to(toe, (T, 2, 3)).copy(),
        shoulder=shoulder,
        head=head,
        facing=facing,
        depth=depth,
        rep=rep,
        t_s=ts,
        stature=H,
    )
