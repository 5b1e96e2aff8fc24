"""Which frames of each rep are standing, descent, ascent, mid-depth and bottom.

Depth within a rep is the fraction of the rep's own hip drop (0 standing, 1 at
the bottom), measured against the standing level on the same side of the
bottom. Comparing reps and sides at the same fraction is the "matched depth"
of the method: it removes the foreshortening that grows with depth.

All reps are handled at once: each phase is an (n_reps, M) matrix of frame
indices padded with -1, and ``agg`` takes a NaN-aware median of any per-frame
array over every rep in one call. No per-frame or per-rep Python work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.pipeline.scoring.reps import Rep

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.intp]
B = npt.NDArray[np.bool_]

# Mid-depth: 40-80% of the drop. Deep enough for the knee to have moved, short
# of the bottom where the thigh points at the camera (DESIGN §1).
MID_LO, MID_HI = 0.4, 0.8
# Bottom: the deepest 5% of the drop.
BOTTOM_FRAC = 0.95
# Standing reference: up to this long before the descent, and the first 10% of the drop.
STANDING_S = 0.5
STANDING_FRAC = 0.1
# Feet: the rep and this long either side. Feet stay planted through a set, so their
# landmarks' slow drift averages out over more than one rep; a window, not the whole clip,
# follows a lifter who re-plants the feet or a camera that moves between sets.
FEET_S = 5.0


@dataclass(frozen=True, slots=True)
class RepFrames:
    """Frame-index matrices (n_reps, M), padded with -1."""

    whole: I64
    around: I64  # the rep and FEET_S either side (where the feet are measured)
    standing: I64
    descent_mid: I64
    ascent_mid: I64
    mid: I64
    deep: I64  # every frame from MID_LO of the drop down and back up (mid-depth and bottom)
    deep_down: I64  # the deep frames up to the bottom, and from it
    deep_up: I64
    bottom: I64


def _group_matrix(frames: I64, group: I64, n: int) -> I64:
    """Frames (sorted by group) -> (n, M) matrix, row g holding group g's frames."""
    if n == 0:
        return np.full((0, 1), -1, np.intp)
    first = np.searchsorted(group, np.arange(n))
    counts = np.bincount(group, minlength=n)
    m = max(1, int(counts.max()) if counts.size else 1)
    out = np.full((n, m), -1, np.intp)
    pos = np.arange(frames.size) - first[group]
    out[group, pos] = frames
    return out


def _ranges(lo: I64, hi: I64) -> tuple[I64, I64]:
    """Concatenated arange(lo[i], hi[i]) and the range id of each element."""
    lens = np.maximum(hi - lo, 0)
    gid = np.repeat(np.arange(lo.size), lens)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return np.arange(int(lens.sum())) + starts, gid


def rep_frames(reps: list[Rep], h: F64, fps: float) -> RepFrames:
    n = len(reps)
    start = np.array([r.start for r in reps], np.intp)
    bottom = np.array([r.bottom for r in reps], np.intp)
    end = np.array([r.end for r in reps], np.intp)
    top_b = np.array([r.top_before for r in reps])
    top_a = np.array([r.top_after for r in reps])
    hb = np.array([r.bottom_height for r in reps])

    frames, gid = _ranges(start, end + 1)
    down = frames <= bottom[gid]
    top = np.where(down, top_b[gid], top_a[gid])
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (top - h[frames]) / np.maximum(top - hb[gid], 1e-9)
    mid = (frac >= MID_LO) & (frac <= MID_HI)

    def mat(mask: B) -> I64:
        return _group_matrix(frames[mask], gid[mask], n)

    pre, pre_g = _ranges(np.maximum(0, start - round(STANDING_S * fps)), start)
    early = down & (frac <= STANDING_FRAC)
    st_frames = np.concatenate([pre, frames[early]])
    st_group = np.concatenate([pre_g, gid[early]])
    order = np.argsort(st_group, kind="stable")
    pad = round(FEET_S * fps)
    ar, ar_g = _ranges(np.maximum(0, start - pad), np.minimum(h.size, end + 1 + pad))
    return RepFrames(
        whole=mat(np.ones_like(down)),
        around=_group_matrix(ar, ar_g, n),
        standing=_group_matrix(st_frames[order], st_group[order], n),
        descent_mid=mat(mid & down),
        ascent_mid=mat(mid & ~down),
        mid=mat(mid),
        deep=mat(frac >= MID_LO),
        deep_down=mat((frac >= MID_LO) & down),
        deep_up=mat((frac >= MID_LO) & ~down),
        bottom=mat(frac >= BOTTOM_FRAC),
    )


def gather(a: F64, idx: I64) -> F64:
    """Per-frame ``a`` (T, ...) at frame matrix ``idx`` (n, M): (n, M, ...), NaN at padding."""
    vals = a[np.maximum(idx, 0)]
    vals[idx < 0] = np.nan
    return vals


def row_quantile(vals: F64, q: float) -> F64:
    """Quantile along axis 1 ignoring NaN (linear interpolation), NaN for empty rows.

    A sort-based version: numpy's nanquantile on 2D input falls back to a
    Python-level loop over rows.
    """
    srt = np.sort(vals, axis=1)  # NaN sort last
    cnt = np.isfinite(srt).sum(axis=1, keepdims=True)
    pos = q * np.maximum(cnt - 1, 0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(cnt - 1, 0))
    v_lo = np.take_along_axis(srt, lo, axis=1)
    v_hi = np.take_along_axis(srt, hi, axis=1)
    out = v_lo + (v_hi - v_lo) * (pos - lo)
    out = np.where(cnt > 0, out, np.nan)
    res: F64 = out[:, 0]
    return res


def agg(a: F64, idx: I64) -> F64:
    """NaN-aware median of per-frame ``a`` (T, ...) over each row of ``idx``: (n, ...)."""
    return row_quantile(gather(a, idx), 0.5)


def spread(a: F64, idx: I64, lo: float, hi: float) -> F64:
    """Per-row quantile range (hi - lo, fractions) of per-frame ``a`` (T, ...), NaN-aware."""
    vals = gather(a, idx)
    out: F64 = row_quantile(vals, hi) - row_quantile(vals, lo)
    return out
