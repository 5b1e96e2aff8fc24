"""numpy values → the plain Python values the result models hold."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt


def optional(x: float) -> float | None:
    """NaN (not measurable) becomes None, which the result shows as null."""
    return None if math.isnan(x) else x


def rounded(a: npt.NDArray[np.float64], nd: int = 3) -> list[Any]:
    """Rounded once for all reps, as Python floats (rounding per value is the slow part)."""
    out: list[Any] = np.round(a, nd).tolist()
    return out
