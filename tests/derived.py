"""Hard clips derived from the shared clips, and their ground truth.

Each derivation changes the picture the way real footage goes wrong - the
head cropped out of the frame, the camera rolled, a barbell with plates held
across the body, a second person in the frame - and transforms the source
clip's MediaPipe reference with it. The truth is therefore where the person
was in the clean clip, not what a pose model makes of the hard one: a tracker
that sits on the plates is wrong here even if MediaPipe sits there too.

Derived videos and truths are written to tests/.cache/derived (git-ignored;
the footage is third-party and never leaves the machine) on first use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from service.pipeline import video
from service.pipeline.keypoints import Keypoints
from service.pipeline.landmarks import L_HIP, L_SHOULDER, MIRROR, R_HIP, R_SHOULDER
from tests.clips import REPO, clip_path, reference_path

DERIVED_DIR = REPO / "tests" / ".cache" / "derived"
VERSION = "4"  # bump when a derivation changes
F64 = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Derivation:
    name: str
    source: str
    # (frame, index, reference landmarks (33, 5) or NaN) -> new frame
    frame: Callable[[Image, int, F64], Image]
    # reference landmarks (T, 33, 5), source (w, h) -> truth landmarks, new (w, h)
    points: Callable[[F64, tuple[int, int]], tuple[F64, tuple[int, int]]]
    why: str


def _identity(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
    return lm.copy(), size


def _crop_top(
    frac: float,
) -> tuple[Callable[..., Image], Callable[..., tuple[F64, tuple[int, int]]]]:
    def frame(img: Image, _i: int, _lm: F64) -> Image:
        cut = round(img.shape[0] * frac)
        return np.ascontiguousarray(img[cut:])

    def points(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
        cut = round(size[1] * frac)
        out = lm.copy()
        out[..., 1] -= cut
        return out, (size[0], size[1] - cut)

    return frame, points


def _crop_bottom(
    frac: float,
) -> tuple[Callable[..., Image], Callable[..., tuple[F64, tuple[int, int]]]]:
    """The bottom ``frac`` of the picture cut off (an even number of rows: the encoder)."""

    def kept(h: int) -> int:
        return h - 2 * round(h * frac / 2)

    def frame(img: Image, _i: int, _lm: F64) -> Image:
        return np.ascontiguousarray(img[: kept(img.shape[0])])

    def points(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
        return lm.copy(), (size[0], kept(size[1]))

    return frame, points


def feet_cropped(source: str, frac: float = 0.12) -> Derivation:
    """``source`` framed too low: the toes below the picture, the ankles just in it.

    Not among ``derivations()``: a pose model can only guess the feet here (its guess is
    the truth's by a median 0.019 torso, p95 0.071, on the points left in the picture,
    MediaPipe's alike), so it is judged on what the scorer does with it, not on the bars.
    """
    f, p = _crop_bottom(frac)
    return Derivation(
        f"feet_cropped_{source}", source, f, p, "the feet below the bottom of the frame"
    )


def _mirror_frame(img: Image, _i: int, _lm: F64) -> Image:
    return np.ascontiguousarray(img[:, ::-1])


def _mirror_points(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
    out = lm[:, list(MIRROR)].copy()  # the body's left is now drawn where its right was
    out[..., 0] = size[0] - out[..., 0]
    return out, size


def mirrored(source: str) -> Derivation:
    """``source`` flipped left to right, as a front camera's selfie video comes out.

    Not among ``derivations()``: the pose model is not mirror-symmetric (its output on
    the mirror image differs from the mirrored output by a median 0.019 torso front on,
    0.027 side on, MediaPipe's alike), so the bars cannot judge it; benchmarks/mirror.py
    measures what that does to the scores.
    """
    return Derivation(
        f"mirrored_{source}", source, _mirror_frame, _mirror_points, "mirrored left to right"
    )


def _roll(deg: float) -> tuple[Callable[..., Image], Callable[..., tuple[F64, tuple[int, int]]]]:
    def matrix(w: int, h: int) -> tuple[F64, tuple[int, int]]:
        a = math.radians(deg)
        # even sizes: the encoder rounds odd ones
        nw = 2 * round((abs(w * math.cos(a)) + abs(h * math.sin(a))) / 2)
        nh = 2 * round((abs(w * math.sin(a)) + abs(h * math.cos(a))) / 2)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        m[0, 2] += (nw - w) / 2
        m[1, 2] += (nh - h) / 2
        return m, (nw, nh)

    def frame(img: Image, _i: int, _lm: F64) -> Image:
        m, size = matrix(img.shape[1], img.shape[0])
        return cv2.warpAffine(img, m, size, borderValue=(128, 128, 128))

    def points(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
        m, new = matrix(*size)
        out = lm.copy()
        xy = lm[..., :2]
        out[..., 0] = m[0, 0] * xy[..., 0] + m[0, 1] * xy[..., 1] + m[0, 2]
        out[..., 1] = m[1, 0] * xy[..., 0] + m[1, 1] * xy[..., 1] + m[1, 2]
        return out, new

    return frame, points


def _crop_roll(
    box: tuple[float, float, float, float], deg: float
) -> tuple[Callable[..., Image], Callable[..., tuple[F64, tuple[int, int]]]]:
    """Close framing (the ``box`` of the frame, fractions x0, y0, x1, y1), then a roll."""
    roll_f, roll_p = _roll(deg)

    def corner(w: int, h: int) -> tuple[int, int, int, int]:
        even = [2 * round(v / 2) for v in (box[0] * w, box[1] * h, box[2] * w, box[3] * h)]
        return even[0], even[1], even[2], even[3]

    def frame(img: Image, i: int, lm: F64) -> Image:
        x0, y0, x1, y1 = corner(img.shape[1], img.shape[0])
        return roll_f(np.ascontiguousarray(img[y0:y1, x0:x1]), i, lm)

    def points(lm: F64, size: tuple[int, int]) -> tuple[F64, tuple[int, int]]:
        x0, y0, x1, y1 = corner(*size)
        out = lm.copy()
        out[..., 0] -= x0
        out[..., 1] -= y0
        return roll_p(out, (x1 - x0, y1 - y0))

    return frame, points


def _barbell(img: Image, _i: int, lm: F64) -> Image:
    """A loaded bar on the shoulders, moving with them: a black bar and two 45 cm plates.

    The bar lies along the shoulder line, its plates ~0.7 of a shoulder width beyond each
    shoulder (a 2.2 m bar), so it reads full length from the front and shrinks to one
    plate over the shoulder side on, as a real bar does.
    """
    if not np.isfinite(lm[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP], :2]).all():
        return img
    sh = 0.5 * (lm[L_SHOULDER, :2] + lm[R_SHOULDER, :2])
    hip = 0.5 * (lm[L_HIP, :2] + lm[R_HIP, :2])
    torso = float(np.linalg.norm(sh - hip))
    out = img.copy()
    across = lm[L_SHOULDER, :2] - lm[R_SHOULDER, :2]
    a, b = sh + 1.2 * across, sh - 1.2 * across
    bar = max(2, round(0.06 * torso))
    cv2.line(out, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), (20, 20, 20), bar)
    for end in (a, b):
        centre = tuple(np.round(end).astype(int))
        cv2.circle(out, centre, round(0.45 * torso), (15, 15, 15), -1)
        cv2.circle(out, centre, round(0.07 * torso), (90, 90, 90), -1)
    return out


def _second_person(other: str, scale: float, place: float) -> Callable[..., Image]:
    """Paste a smaller person from another clip (cut out around them) at ``place`` of the width."""
    frames = _other_people(other)

    def frame(img: Image, i: int, _lm: F64) -> Image:
        src = frames[i % len(frames)]
        h = round(img.shape[0] * scale)
        w = min(round(src.shape[1] * h / src.shape[0]), img.shape[1])
        small = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
        out = img.copy()
        x0 = min(max(round(place * img.shape[1] - w / 2), 0), img.shape[1] - w)
        out[img.shape[0] - h :, x0 : x0 + w] = small
        return out

    return frame


@cache
def _other_people(clip: str) -> list[Image]:
    """The other clip's frames cut to the person's box (its reference, padded 15%)."""
    ref = Keypoints.load(reference_path(clip))
    xy = ref.landmarks[..., :2]
    lo, hi = np.nanpercentile(xy, 1, axis=(0, 1)), np.nanpercentile(xy, 99, axis=(0, 1))
    pad = 0.15 * (hi - lo)
    x0, y0 = np.maximum(lo - pad, 0).astype(int)
    x1, y1 = np.minimum(hi + pad, [ref.width, ref.height]).astype(int)
    return [np.ascontiguousarray(f.image[y0:y1, x0:x1]) for f in _frames(clip)][:300]


def derivations() -> list[Derivation]:
    crop_f, crop_p = _crop_top(0.22)
    roll_f, roll_p = _roll(25.0)
    gym_f, gym_p = _crop_roll((0.08, 0.3, 0.92, 1.0), -12.0)
    return [
        Derivation(
            "gym_closeup_barbell", "front_backsquat_1rep_liftcheck", gym_f, gym_p,
            "close framing on a loaded back squat: head out of frame, camera rolled 12°",
        ),
        Derivation(
            "head_cropped_front", "front_valgus_then_correct", crop_f, crop_p,
            "head (and, standing, the shoulders) out of the top of the frame",
        ),
        Derivation(
            "rolled_camera_side", "side_backsquat_2reps_long_pauses", roll_f, roll_p,
            "camera rolled 25°",
        ),
        Derivation(
            "barbell_plates_front", "front_valgus_then_correct", _barbell, _identity,
            "a loaded bar with big plates across the shoulders",
        ),
        Derivation(
            "barbell_plates_side", "side_bodyweight_squat_3reps_walkoff", _barbell, _identity,
            "a loaded bar with big plates across the shoulders, side on",
        ),
        Derivation(
            "second_person_front", "front_goblet_counter20",
            _second_person("front_air_squat_home_12reps", 0.6, 0.9), _identity,
            "a second, smaller person squatting at the edge of the frame",
        ),
    ]  # fmt: skip


def _frames(clip: str) -> Iterator[video.Frame]:
    info = video.probe(clip_path(clip), max_duration_s=600, max_pixels=10**8)
    yield from video.decode(info, max_duration_s=600)


def paths(d: Derivation) -> tuple[Path, Path]:
    stem = DERIVED_DIR / f"{d.name}-{VERSION}"
    return stem.with_suffix(".mp4"), stem.with_suffix(".truth.npz")


def build(d: Derivation) -> tuple[Path, Keypoints]:
    """The derived clip and its truth (made on first use, then read from the cache)."""
    clip, truth_path = paths(d)
    if not (clip.exists() and truth_path.exists()):
        ref = Keypoints.load(reference_path(d.source))
        DERIVED_DIR.mkdir(parents=True, exist_ok=True)
        tmp = clip.with_suffix(f".{os.getpid()}.mp4")
        writer: cv2.VideoWriter | None = None
        for f in _frames(d.source):
            img = d.frame(f.image, f.index, ref.landmarks[f.index].astype(np.float64))
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(tmp), fourcc, ref.fps, (img.shape[1], img.shape[0]))
            writer.write(img)
        assert writer is not None
        writer.release()
        lm, (w, h) = d.points(ref.landmarks.astype(np.float64), (ref.width, ref.height))
        truth = Keypoints.build(
            lm.astype(np.float32), fps=ref.fps, width=w, height=h, detected=ref.detected
        )
        ttmp = truth_path.with_suffix(f".{os.getpid()}.npz")
        with ttmp.open("wb") as fh:
            truth.save(fh)
        tmp.replace(clip)
        ttmp.replace(truth_path)
    return clip, Keypoints.load(truth_path)


def doubled_rate(source: str) -> Path:
    """The source clip at twice its frame rate, every frame written twice (a 60 fps phone
    clip of the same squat). Analysed at 30 fps, it must give the source's frames back."""
    clip = DERIVED_DIR / f"doubled_rate_{source}-{VERSION}.mp4"
    if not clip.exists():
        fps = video.probe(clip_path(source)).fps
        DERIVED_DIR.mkdir(parents=True, exist_ok=True)
        tmp = clip.with_suffix(f".{os.getpid()}.mp4")
        writer: cv2.VideoWriter | None = None
        for f in _frames(source):
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                size = (f.image.shape[1], f.image.shape[0])
                writer = cv2.VideoWriter(str(tmp), fourcc, 2 * fps, size)
            writer.write(f.image)
            writer.write(f.image)
        assert writer is not None
        writer.release()
        tmp.replace(clip)
    return clip
