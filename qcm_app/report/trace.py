"""The numbers behind the drawings, without matplotlib: a long trace reduced to what its pixels
show (min/max per time bucket, gaps kept as breaks), the time unit for a span, and runs of cycles in
one regime merged so a long steady stretch is one shaded band rather than thousands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcm_app.report.content import ReportContent

#: buckets of the min/max reduction of the mass trace (about two per output pixel)
TRACE_BUCKETS = 2400


def minmax_downsample(t: np.ndarray, y: np.ndarray, buckets: int = TRACE_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a trace to the smallest and largest value of each of ``buckets`` equal time spans.

    Drawn as a line, the result covers exactly the pixels the full trace would (every peak and
    every step survives), with at most two points per bucket. NaN samples are dropped; a span
    without data (a link gap) breaks the line instead of bridging it.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if t.size < 2 or t[-1] <= t[0]:
        return t, y
    width = (t[-1] - t[0]) / buckets
    if t.size <= 2 * buckets:
        return _break_gaps(t, y, max(2 * width, 20 * float(np.median(np.diff(t)))))
    edges = t[0] + width * np.arange(buckets)
    starts = np.searchsorted(t, edges, side="left")
    ends = np.append(starts[1:], t.size)
    full = ends > starts
    s, e = starts[full], ends[full]
    lo = np.minimum.reduceat(y, s)
    hi = np.maximum.reduceat(y, s)
    rising = y[s] <= y[e - 1]  # keep the direction of travel inside the bucket
    first = np.where(rising, lo, hi)
    second = np.where(rising, hi, lo)
    tt = np.column_stack((t[s], t[e - 1])).ravel()
    yy = np.column_stack((first, second)).ravel()
    bucket_no = np.flatnonzero(full)
    breaks = np.flatnonzero(np.diff(bucket_no) > 1)  # an empty bucket between two full ones
    if breaks.size:
        at = 2 * (breaks + 1)
        tt = np.insert(tt, at, np.nan)
        yy = np.insert(yy, at, np.nan)
    return tt, yy


def _break_gaps(t: np.ndarray, y: np.ndarray, max_dt: float) -> tuple[np.ndarray, np.ndarray]:
    at = np.flatnonzero(np.diff(t) > max_dt) + 1
    if not at.size:
        return t, y
    return np.insert(t, at, np.nan), np.insert(y, at, np.nan)


@dataclass(frozen=True)
class TimeAxis:
    unit: str
    scale: float  # seconds per unit

    @classmethod
    def for_span(cls, seconds: float) -> TimeAxis:
        if seconds < 900:
            return cls("s", 1.0)
        if seconds < 3 * 3600:
            return cls("min", 60.0)
        return cls("h", 3600.0)


def regime_runs(
    content: ReportContent, positions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start s, end s, regime code) of runs of consecutive cycles in the same regime and block,
    merged so a long steady stretch is one rectangle rather than thousands."""
    pos = np.arange(len(content.cycles)) if positions is None else positions
    if pos.size == 0:
        return np.empty(0), np.empty(0), np.empty(0, dtype=int)
    code = content.regime_code[pos]
    block = content.block_index[pos]
    start, end = content.start_s[pos], content.end_s[pos]
    new = np.ones(pos.size, dtype=bool)
    new[1:] = (code[1:] != code[:-1]) | (block[1:] != block[:-1]) | (start[1:] > end[:-1] + 1e-6)
    first = np.flatnonzero(new)
    last = np.append(first[1:], pos.size) - 1
    return start[first], end[last], code[first]
