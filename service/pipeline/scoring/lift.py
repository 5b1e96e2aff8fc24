"""The knee against its own foot, in 3D, from one camera: known-segment-length depth recovery.

A 2D knee position cannot tell a knee tracking over a turned-out foot (good)
from a knee falling inside a straight one (cave): both move the knee sideways
in the picture. What separates them is depth. Each leg is rebuilt in 3D along
the camera rays (Taylor 2000, "Reconstruction of articulated objects from
point correspondences in a single uncalibrated image"): the ankle stays on the
floor; the knee is the point on its ray one shank length from the ankle, on
the side nearer the camera (knees travel forward); the hip is one thigh length
from the knee, farther away (hips travel back); the toe is one foot length from
the heel, nearer the camera. Segment lengths are the person's own, measured on
the clip (the running maximum of each segment's image length, completed with
the standing thigh/shank ratio), so no population proportion enters but the
foot's length.

Camera: a pinhole with the principal point at the frame centre and a focal
length of FOCAL_DIAG frame diagonals (a ~35 mm-equivalent lens, between a
phone's main and tele cameras; the harness shows both are served better than by
ignoring perspective, see docs/scoring.md).

The knee deviation is the knee's signed distance from the plane through the
hip and the ankle that contains the foot's direction, in leg lengths,
positive towards the body's midline (cave). The foot's direction is fixed per
rep (median over the rep: the feet are planted), which averages out the slow
drift of the foot landmarks. Both legs are rebuilt independently, so one
caving knee never moves the other, and mirrored video swaps the sides exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from service.pipeline.scoring.body import SCALE_REACH_S, running_max
from service.pipeline.scoring.cleanup import Cleaned
from service.pipeline.scoring.frames import ANKLE, HEEL, HIP, KNEE, TOE
from service.pipeline.scoring.phases import I64, gather, row_quantile

F64 = npt.NDArray[np.float64]

# Focal length in frame diagonals. A phone's main camera is ~0.6 (26 mm equivalent), its
# tele ~1.6-1.8 (70-77 mm); 0.8 is the value with the smallest worst case over both on the
# harness (docs/scoring.md).
FOCAL_DIAG = 0.8
# Heel-to-foot-index length over the hip-knee-ankle length. Anthropometry gives 0.31
# (foot 0.152 and thigh + shank 0.491 of stature; Winter, Biomechanics and Motor Control of
# Human Movement); MediaPipe's own side views of the shared clips give 0.26-0.34 at the
# frames where the foot is most nearly side-on (90th percentile), less where it is turned.
FOOT_LEN_LEG = 0.30
# Frames within this fraction of the running leg maximum count as standing (ratio thigh/shank).
STANDING_LEG = 0.97
# One standard deviation of the foot's direction from the heel and toe landmarks' placement,
# degrees (their drift, averaged over the rep and FEET_S around it; docs/scoring.md).
FOOT_ANGLE_SD_DEG = 3.0
# One standard deviation of a person's foot length around FOOT_LEN_LEG (anthropometric
# spread of foot over leg length, ~5%).
FOOT_LEN_SD = 0.05
# One standard deviation of the thigh and shank lengths measured on the clip (landmark
# drift on each end, ~0.6% of a leg, over a half-leg segment).
SEGMENT_LEN_SD = 0.015
# Beyond this angle between a foot and the line of sight its plane is too close to the
# picture's for the knee's deviation from it to be measured (``foot_across``).
FOOT_ACROSS_DEG = 75.0
# A foot seen in fewer than this share of the frames around a rep was not seen: where the
# frame cuts the feet off, the few frames that place a toe just inside the picture are the
# pose model's guesses at its edge, and a foot direction from them is noise.
MIN_FOOT_SEEN = 0.5


@dataclass(frozen=True, slots=True)
class Legs:
    """Both legs rebuilt in camera coordinates (px at the ankle's depth; z away from camera).

    Arrays (T, 2, 3): side 0 = the subject's left. ``medial`` points from each hip
    towards the other in the picture; ``leg`` (T, 2) is thigh + shank of each leg (a
    near leg is drawn bigger: each is measured in its own).
    """

    hip: F64
    knee: F64
    ankle: F64
    heel: F64  # rays through the heel and the toe (foot index), at the ankle's depth
    toe: F64
    medial: F64
    leg: F64
    knee_ray: F64
    hip_ray: F64
    thigh_len: F64  # (T, 2) the lengths the rebuild used
    shank_len: F64

    def rebuilt(self, scale: float) -> Legs:
        """The same legs rebuilt with both segment lengths times ``scale`` (sensitivity)."""
        k3 = point_on_ray(self.knee_ray, self.ankle, self.shank_len * scale, nearer=True)
        h3 = point_on_ray(self.hip_ray, k3, self.thigh_len * scale, nearer=False)
        return replace(self, hip=h3, knee=k3)


def _dot(a: F64, b: F64) -> F64:
    """Dot product over the last axis (3), written out: numpy's reduce over a length-3 axis
    is several times slower on large arrays."""
    out: F64 = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]
    return out


def _unit(v: F64) -> F64:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = v / np.sqrt(_dot(v, v))[..., None]
    return out


def segment_lengths(thigh: F64, shank: F64, fps: float) -> tuple[F64, F64]:
    """True thigh and shank lengths (T, 2) from their image lengths (T, 2), px.

    A segment's image is never longer than the segment (up to perspective); it
    is as long when the segment crosses the picture plane, which the thigh does
    on the way down from a camera above and the shank from one below. The
    running maximum of each, completed by the standing thigh/shank ratio (both
    vertical there, so foreshortened alike), recovers both.
    """
    reach = round(SCALE_REACH_S * fps)
    mt = np.stack([running_max(thigh[:, s], reach) for s in (0, 1)], axis=1)
    ms = np.stack([running_max(shank[:, s], reach) for s in (0, 1)], axis=1)
    total = thigh + shank
    standing = total >= STANDING_LEG * np.stack(
        [running_max(total[:, s], reach) for s in (0, 1)], axis=1
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(standing, thigh / shank, np.nan)
    r = np.nanmedian(ratio, axis=0) if np.isfinite(ratio).any() else np.ones(2)
    r = np.where(np.isfinite(r) & (r > 0), r, 1.0)
    lt = np.fmax(mt, ms * r)
    return lt, lt / r


def _rays(p: F64, c: Cleaned) -> F64:
    """Image points (..., 2) -> ray vectors (..., 3) scaled so that z = focal (depth 1)."""
    f = FOCAL_DIAG * math.hypot(c.width, c.height)
    out = np.empty((*p.shape[:-1], 3))
    out[..., 0] = p[..., 0] - c.width / 2
    out[..., 1] = p[..., 1] - c.height / 2
    out[..., 2] = f
    return out


def point_on_ray(ray: F64, centre: F64, length: F64, *, nearer: bool) -> F64:
    """The point on ``ray`` at ``length`` from ``centre`` (nearer or farther root).

    Where no point is that far (noise, or a length estimated short), the point
    of the ray closest to ``centre`` is taken: the segment lies in the picture.
    """
    qq = _dot(ray, ray)
    qc = _dot(ray, centre)
    cc = _dot(centre, centre)
    root = np.sqrt(np.clip(qc**2 - qq * (cc - length**2), 0.0, None))
    lam = (qc - root) / qq if nearer else (qc + root) / qq
    out: F64 = lam[..., None] * ray
    return out


def lift_legs(c: Cleaned) -> Legs:
    xy = c.xy
    hip, knee, ankle = xy[list(HIP)], xy[list(KNEE)], xy[list(ANKLE)]
    heel, toe = xy[list(HEEL)], xy[list(TOE)]
    thigh = np.linalg.norm(hip - knee, axis=-1)
    shank = np.linalg.norm(knee - ankle, axis=-1)
    a3 = _rays(ankle, c)  # the ankle is the depth reference: lambda = 1
    kr, hr = _rays(knee, c), _rays(hip, c)
    # Twice: a knee coming towards the camera looks longer-legged than it is, which would
    # inflate the running maxima; the first rebuild's depths scale each image length back
    # to the ankle's depth for the second.
    near_k: F64 | float = 1.0
    near_h: F64 | float = 1.0
    for _ in range(2):
        lt, ls = segment_lengths(thigh * near_h, shank * near_k, c.fps)
        k3 = point_on_ray(kr, a3, ls, nearer=True)
        h3 = point_on_ray(hr, k3, lt, nearer=False)
        depth_k, depth_h = k3[..., 2] / a3[..., 2], h3[..., 2] / a3[..., 2]
        near_k = np.where(np.isfinite(depth_k), 0.5 * (depth_k + 1.0), 1.0)
        near_h = np.where(np.isfinite(depth_h), 0.5 * (depth_h + depth_k), 1.0)
    leg = lt + ls
    medial = np.zeros_like(h3)
    medial[..., :2] = hip[:, ::-1] - hip
    return Legs(h3, k3, a3, _rays(heel, c), _rays(toe, c), medial, leg, kr, hr, lt, ls)


@dataclass(frozen=True, slots=True)
class Feet:
    """Per rep and side: heel and toe rays (n, 2, 3) and the leg length (n, 2), medians.

    The feet are planted through a set, so their landmarks are taken at their median
    over the rep and FEET_S around it: the slow drift of the foot landmarks averages out.
    """

    heel: F64
    toe: F64
    leg: F64


def rep_feet(legs: Legs, around: I64, deep: I64) -> Feet:
    """Each rep's feet: their shape from the frames ``around`` it, placed where the ankles
    are in its ``deep`` frames.

    The shape (heel and toe against the ankle, a difference of rays: image pixels) is a
    median over many frames, which averages out the foot landmarks' drift; the place is
    the deep part's, where the knee is graded. A hand-held camera that pans or tilts over
    the seconds around a rep moves the whole picture: a median of the feet's own image
    positions would put them where the camera pointed on average, and the rays through
    them, so the rebuilt foot's direction, would disagree with this rep's legs by degrees.
    """
    ankle = gather(legs.ankle, around)
    heel, toe = gather(legs.heel, around) - ankle, gather(legs.toe, around) - ankle
    seen = (np.isfinite(heel[..., 0]) & np.isfinite(toe[..., 0])).sum(axis=1)  # (n, 2)
    enough = seen >= MIN_FOOT_SEEN * (around >= 0).sum(axis=1, keepdims=True)
    at = row_quantile(gather(legs.ankle, deep), 0.5)
    return Feet(
        np.where(enough[..., None], at + row_quantile(heel, 0.5), np.nan),
        np.where(enough[..., None], at + row_quantile(toe, 0.5), np.nan),
        row_quantile(gather(legs.leg, around), 0.5),
    )


def foot_direction(feet: Feet, length_scale: float = 1.0) -> F64:
    """(n, 2, 3) unit heel -> toe direction, the toe one foot length away, nearer the camera.

    The foot is never shorter than its own image: where it points across the
    picture its image is its length, and a population ratio shorter than the
    person's would flatten it into the picture.
    """
    seen = np.sqrt(_dot(feet.toe - feet.heel, feet.toe - feet.heel))
    length = np.fmax(FOOT_LEN_LEG * length_scale * feet.leg, seen)
    return _unit(point_on_ray(feet.toe, feet.heel, length, nearer=True) - feet.heel)


def owner(whole: I64, frames: int) -> npt.NDArray[np.intp]:
    """(T,) the rep each frame belongs to, -1 outside reps."""
    out = np.full(frames, -1, np.intp)
    rep = np.broadcast_to(np.arange(whole.shape[0])[:, None], whole.shape)
    out[whole[whole >= 0]] = rep[whole >= 0]
    return out


def per_frame(per_rep: F64, own: npt.NDArray[np.intp]) -> F64:
    """A per-rep array (n, ...) spread over the frames (T, ...), NaN outside reps."""
    if per_rep.shape[0] == 0:
        return np.full((own.size, *per_rep.shape[1:]), np.nan)
    out: F64 = per_rep[np.maximum(own, 0)]
    out[own < 0] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class Deviation:
    """Per frame and side (T, 2)."""

    leg: F64  # knee distance from the foot plane, leg lengths, + towards the midline
    deg: F64  # knee abduction angle: the plane (hip, knee, ankle) against the foot plane


def deviation(legs: Legs, foot: F64) -> Deviation:
    """The knee against the plane of its hip, ankle and foot direction ``foot`` (T, 2, 3)."""
    axis = _unit(legs.hip - legs.ankle)
    n = _unit(np.cross(axis, foot))
    n = n * np.where(_dot(n, legs.medial) < 0, -1.0, 1.0)[..., None]
    rel = legs.knee - legs.ankle
    dist = _dot(rel, n)
    # In-plane direction of the knee's swing: the foot direction without its part along the axis.
    fwd = _unit(foot - axis * _dot(foot, axis)[..., None])
    radial = rel - axis * _dot(rel, axis)[..., None]
    deg = np.degrees(np.arctan2(_dot(radial, n), _dot(radial, fwd)))
    return Deviation(dist / legs.leg, deg)


def turn_foot(foot: F64, deg: float) -> F64:
    """Foot directions (..., 3) turned about the picture's vertical by ``deg`` degrees."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    out = foot.copy()
    out[..., 0] = c * foot[..., 0] + s * foot[..., 2]
    out[..., 2] = -s * foot[..., 0] + c * foot[..., 2]
    return out


def foot_across(foot: F64) -> npt.NDArray[np.bool_]:
    """True where a foot direction (..., 3) points across the picture (> FOOT_ACROSS_DEG).

    Then the plane of the foot is nearly the picture plane and a knee falling in moves
    along the line of sight: its depth from the segment lengths has no sign to go by
    (knees travel forward along the foot, and forward is now across the picture), so
    the deviation cannot be measured.
    """
    out: npt.NDArray[np.bool_] = np.abs(foot[..., 2]) < np.cos(np.radians(FOOT_ACROSS_DEG))
    return out


def deviation_sd(legs: Legs, feet: Feet, own: npt.NDArray[np.intp]) -> F64:
    """(T, 2) standard deviation of the deviation, per frame.

    Three sources, propagated through the same geometry: the foot's length, known
    only as a population ratio (FOOT_LEN_SD), which decides how far the foot
    points out of the picture; the landmarks' placement of heel and toe
    (FOOT_ANGLE_SD_DEG); and the thigh and shank lengths (SEGMENT_LEN_SD), whose
    errors the depth recovery magnifies where a segment barely leaves the picture
    plane (a shallow squat). The first dominates where the foot points across the
    picture: its image is then nearly its full length and its small depth is all
    guesswork.
    """
    foot = per_frame(foot_direction(feet), own)
    short = deviation(legs, per_frame(foot_direction(feet, 1.0 - FOOT_LEN_SD), own)).leg
    long = deviation(legs, per_frame(foot_direction(feet, 1.0 + FOOT_LEN_SD), own)).leg
    plus = deviation(legs, turn_foot(foot, FOOT_ANGLE_SD_DEG)).leg
    minus = deviation(legs, turn_foot(foot, -FOOT_ANGLE_SD_DEG)).leg
    shorter = deviation(legs.rebuilt(1.0 - SEGMENT_LEN_SD), foot).leg
    longer = deviation(legs.rebuilt(1.0 + SEGMENT_LEN_SD), foot).leg
    parts = np.stack([short - long, plus - minus, shorter - longer]) / 2
    out: F64 = np.sqrt(np.sum(parts**2, axis=0))
    return out
