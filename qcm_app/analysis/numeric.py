"""Small numeric helpers for the per-cycle hot paths, where numpy's call overhead on arrays of a
few dozen values costs more than the arithmetic."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np


def median_small(values: np.ndarray | Sequence[float]) -> float:
    """The median of a short array or list (same value as ``np.median``, about 20× quicker below a
    hundred values)."""
    data = values.tolist() if isinstance(values, np.ndarray) else values
    return float(statistics.median(data))
