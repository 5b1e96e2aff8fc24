"""Real 3D squats from marker motion capture (../shared/datasets/mocap_squats) as joint tracks.

Each trial is turned into the harness's world frame (X the subject's left, Y up,
Z forward, floor at 0), its lateral knee and ankle skin markers moved to the
joint centres, a heel, shoulders and a head added, and it is resampled to the
camera's frame rate. ``knee_dev`` rotates each knee about its hip-ankle line
towards the midline (the way a knee really caves) by the angle that puts it
that far, in leg lengths, inside its own plane at the bottom of each rep, on
top of whatever the person did: cave positives from real movement.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import find_peaks

from tests.clips import REPO
from tests.harness.body3d import (
    ANKLE_FROM_HEEL,
    SIDE_SIGN,
    Joints3D,
    rotate,
    unit,
)

F64 = npt.NDArray[np.float64]
MOCAP_DIR = REPO.parent / "shared" / "datasets" / "mocap_squats"
# Lateral skin markers sit 4-6 cm outside the joint centre (README there), knee and ankle
# alike: one offset for both, so the conversion adds no knee-versus-ankle shift of its own.
MARKER_OFFSET = 0.045
# Marker dropouts longer than this stay missing (no pose on those frames): a bridged
# 3 s hole would move a hip in a straight line the body never took.
MAX_GAP_S = 0.1
# Trials whose knee is already a medial/lateral marker midpoint.
JOINT_CENTRE_KNEES = {"sehoon_squat_c3d"}
# A rep: the pelvis drops at least this far (m) between two standing levels.
MIN_DROP_M = 0.08


def trials() -> list[str]:
    return sorted(p.stem for p in MOCAP_DIR.glob("*.npz"))


def _frame(data: dict[str, F64]) -> tuple[F64, F64]:
    """Rotation (3, 3) into the harness frame and the floor height, from the trial's markers."""
    up = unit(np.asarray(data["up"], float))
    left = np.nanmean(data["LHIP"] - data["RHIP"], axis=0)
    left = unit(left - up * float(left @ up))
    fwd = np.cross(left, up)
    toes = np.nanmean(0.5 * (data["LTOE"] + data["RTOE"]) - 0.5 * (data["LANK"] + data["RANK"]), 0)
    if float(toes @ fwd) < 0:  # labels swapped: the toes must point forward
        left, fwd = -left, -fwd
    rot = np.stack([left, up, fwd])
    floor = float(np.nanmin(np.concatenate([data["LTOE"], data["RTOE"]]) @ up)) - 0.01
    return rot, np.array([0.0, floor, 0.0])


def _reps(pelvis_y: F64, fps: float) -> tuple[F64, npt.NDArray[np.intp]]:
    """Depth fraction (T,) and rep index (T,) from the pelvis height."""
    ok = np.isfinite(pelvis_y)
    pelvis_y = np.interp(np.arange(pelvis_y.size), np.flatnonzero(ok), pelvis_y[ok])
    standing = float(np.nanpercentile(pelvis_y, 95))
    bottoms, _ = find_peaks(-pelvis_y, prominence=MIN_DROP_M, distance=max(1, round(0.8 * fps)))
    depth = np.zeros_like(pelvis_y)
    rep = np.full(pelvis_y.size, -1, np.intp)
    for i, b in enumerate(bottoms):
        drop = standing - pelvis_y[b]
        frac = (standing - pelvis_y) / max(drop, 1e-6)
        lo = b
        while lo > 0 and frac[lo - 1] > 0.05 and rep[lo - 1] < 0:
            lo -= 1
        hi = b
        while hi < pelvis_y.size - 1 and frac[hi + 1] > 0.05:
            hi += 1
        depth[lo : hi + 1] = np.clip(frac[lo : hi + 1], 0, 1)
        rep[lo : hi + 1] = i
    return depth, rep


def load(name: str, fps: float, knee_dev: tuple[float, float] = (0.0, 0.0)) -> Joints3D:
    with np.load(MOCAP_DIR / f"{name}.npz", allow_pickle=False) as f:
        data = {k: np.asarray(f[k], float) for k in f.files if k not in ("label", "source")}
    src_fps = float(data["fs"])
    rot, floor = _frame(data)
    t_src = np.arange(data["RHIP"].shape[0]) / src_fps
    ts = np.arange(0.0, t_src[-1], 1.0 / fps)

    def track(key: str) -> F64:
        p = (data[key] @ rot.T) - floor
        ok = np.isfinite(p).all(axis=1)
        out = np.stack([np.interp(ts, t_src[ok], p[ok, k]) for k in range(3)], axis=1)
        # frames too far from any recorded sample stay missing
        near = np.abs(t_src[ok][np.clip(np.searchsorted(t_src[ok], ts), 0, ok.sum() - 1)] - ts)
        prev = np.abs(t_src[ok][np.clip(np.searchsorted(t_src[ok], ts) - 1, 0, ok.sum() - 1)] - ts)
        out[np.minimum(near, prev) > MAX_GAP_S] = np.nan
        return out

    hip = np.stack([track("LHIP"), track("RHIP")], axis=1)
    knee = np.stack([track("LKNE"), track("RKNE")], axis=1)
    ankle = np.stack([track("LANK"), track("RANK")], axis=1)
    toe = np.stack([track("LTOE"), track("RTOE")], axis=1)
    outward = np.array([[SIDE_SIGN[0], 0, 0], [SIDE_SIGN[1], 0, 0]], float)[None]
    if name not in JOINT_CENTRE_KNEES:
        knee = knee - outward * MARKER_OFFSET
    ankle = ankle - outward * MARKER_OFFSET
    f = toe - ankle
    f[..., 1] = 0.0
    f = unit(f)
    ground = ankle.copy()
    ground[..., 1] = 0.0
    reach = np.linalg.norm((toe - ankle)[..., [0, 2]], axis=-1, keepdims=True)
    heel = ground - f * reach * ANKLE_FROM_HEEL / (1 - ANKLE_FROM_HEEL)
    toe = toe.copy()
    toe[..., 1] = 0.0
    pelvis = hip.mean(axis=1)
    depth, rep = _reps(pelvis[:, 1], fps)
    leg = float(
        np.nanmedian(
            np.linalg.norm(knee - hip, axis=-1).sum(1) / 2
            + np.linalg.norm(ankle - knee, axis=-1).sum(1) / 2
        )
    )
    knee = _cave(hip, knee, ankle, depth=depth, rep=rep, leg=leg, knee_dev=knee_dev)
    stature = leg / 0.491
    lean = np.radians(35.0) * depth
    trunk = np.stack([np.zeros_like(lean), np.cos(lean), np.sin(lean)], axis=1)
    sh_c = pelvis + trunk * 0.29 * stature
    shoulder = sh_c[:, None, :] + np.array([[0.115, 0, 0], [-0.115, 0, 0]]) * stature / 1.0
    facing = np.broadcast_to(np.array([0.0, 0.0, 1.0]), pelvis.shape).copy()
    return Joints3D(
        hip=hip,
        knee=knee,
        ankle=ankle,
        heel=heel,
        toe=toe,
        shoulder=shoulder,
        head=sh_c + trunk * 0.14 * stature,
        facing=facing,
        depth=depth,
        rep=rep,
        t_s=ts,
        stature=stature,
    )


def _cave(
    hip: F64,
    knee: F64,
    ankle: F64,
    *,
    depth: F64,
    rep: npt.NDArray[np.intp],
    leg: float,
    knee_dev: tuple[float, float],
) -> F64:
    """Knees turned about their hip-ankle lines to sit ``knee_dev`` more inside at each bottom."""
    out = knee.copy()
    for s in (0, 1):
        if knee_dev[s] == 0.0:
            continue
        axis = unit(ankle[:, s] - hip[:, s])
        rel = knee[:, s] - hip[:, s]
        radial = rel - axis * np.sum(rel * axis, axis=-1, keepdims=True)
        r = np.linalg.norm(radial, axis=-1)
        midline = np.broadcast_to(np.array([-SIDE_SIGN[s], 0.0, 0.0]), (*r.shape, 3))
        # +phi about the axis must move the knee towards the midline.
        probe = rotate(rel, axis, np.full(r.shape, 1e-3)) - rel
        sign = np.where(np.sum(probe * midline, axis=-1) >= 0, 1.0, -1.0)
        phi = np.zeros_like(r)
        for i in range(int(rep.max()) + 1):
            frames = rep == i
            b = np.flatnonzero(frames)[np.argmax(depth[frames])]
            phi[frames] = np.arcsin(np.clip(knee_dev[s] * leg / max(r[b], 1e-6), -0.99, 0.99))
        out[:, s] = hip[:, s] + rotate(rel, axis, sign * phi * np.clip(depth / 0.4, 0, 1))
    return out
