"""Step and cycle masses from settled purge levels, with a 1σ uncertainty.

A pulse's mass is the drift-corrected difference between the settled level at the end of the purge
after it and the one before it. A settled window is the last part of a purge, clear of the pulse
and its transient; spikes are dropped by a median/MAD screen, noise averages out over the window.
The drift slope is pooled over the latest windows (each keeps its own level). The uncertainty of a
level is the larger of the scatter's standard error and that of the window's quarter means (which
sees slow wander and correlated noise), never below the printed resolution's; a step adds two
levels and the slope's share over the time between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qcm_app.analysis.numeric import median_small
from qcm_app.analysis.settings import AnalysisSettings


@dataclass(frozen=True)
class Window:
    t_mean: float
    m_mean: float
    s_tt: float
    s_tm: float
    n: int
    resid_var: float
    sem: float  # standard error of m_mean

    @property
    def valid(self) -> bool:
        return self.n >= 3


EMPTY = Window(math.nan, math.nan, 0.0, 0.0, 0, math.nan, math.nan)


def summarise(t: np.ndarray, m: np.ndarray, outlier_mads: float, quantum: float) -> Window:
    n = m.size
    if n < 3:
        return EMPTY
    k = n // 2
    med = np.partition(m, k)[k]
    dev = np.abs(m - med)
    mad = np.partition(dev, k)[k]
    if mad > 0:
        keep = dev <= outlier_mads * 1.4826 * mad + 1e-12
        if keep.sum() >= 3 and not keep.all():
            t, m = t[keep], m[keep]
            n = m.size
    tm = float(np.add.reduce(t)) / n
    mm = float(np.add.reduce(m)) / n
    dt = t - tm
    dm = m - mm
    s_tt = float(np.dot(dt, dt))
    s_tm = float(np.dot(dt, dm))
    s_mm = float(np.dot(dm, dm))
    resid = max(s_mm - (s_tm * s_tm / s_tt if s_tt > 0 else 0.0), 0.0) / max(n - 2, 1)
    sem = math.sqrt(max(resid, quantum * quantum / 12.0) / n)
    if n >= 8:  # the scatter of the window's quarters catches noise slower than the samples'
        size, extra = divmod(n, 4)
        counts = np.array([size + (k < extra) for k in range(4)])
        bounds = np.concatenate(([0], np.cumsum(counts)[:-1]))
        slope = s_tm / s_tt if s_tt > 0 else 0.0
        quarters = np.add.reduceat(dm - slope * dt, bounds) / counts
        sem = max(sem, float(np.std(quarters, ddof=1)) / 2.0)
    return Window(tm, mm, s_tt, s_tm, int(n), resid, sem)


class LevelReader:
    """Settled windows over the run's samples, cached by where they are."""

    def __init__(self, settings: AnalysisSettings, sample_period_s: float, quantum: float) -> None:
        self.s = settings
        self.period = sample_period_s
        self.quantum = quantum
        self._cache: dict[tuple[float, float], Window] = {}

    def window_before(self, t: np.ndarray, m: np.ndarray, t_pulse: float, prev_end: float) -> Window:
        """The settled part of the purge that runs from ``prev_end`` (the end of the previous
        pulse, -inf if none) to ``t_pulse``."""
        key = (t_pulse, prev_end)  # exact: a rounded key could hand back a window one sample off
        w = self._cache.get(key)
        if w is not None:
            return w
        guard = max(self.s.settle_guard_s, 1.5 * self.period)
        end = t_pulse - guard
        purge = end - prev_end
        if math.isfinite(purge):
            length = min(self.s.settle_fraction * purge, self.s.settle_max_s)
            start = max(end - length, prev_end + min(self.s.settle_after_pulse_s, 0.5 * purge))
        else:
            start = end - min(self.s.settle_max_s, 10.0)
        i0 = int(np.searchsorted(t, start))
        i1 = int(np.searchsorted(t, end, side="right"))
        w = summarise(t[i0:i1], m[i0:i1], self.s.outlier_mads, self.quantum) if i1 - i0 >= 3 else EMPTY
        if t.size and t[-1] >= end:  # complete: it can no longer change
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = w
        return w


def pooled_slope(windows: list[Window], quantum: float = 0.0) -> tuple[float, float]:
    """Drift slope shared by the windows, and its standard error.

    The error is the larger of the within-window one (never below what the printed resolution
    allows) and the scatter of the windows' own slopes: a real drift tilts every window alike,
    while noise, a toggling last digit or a desorbing tail tilts them each its own way. A slope that
    this error could have made is shrunk towards zero."""
    valid = [w for w in windows if w.valid and w.s_tt > 0]
    s_tt = sum(w.s_tt for w in valid)
    if s_tt <= 0:
        return 0.0, 0.0
    slope = sum(w.s_tm for w in valid) / s_tt
    var = max(median_small([w.resid_var for w in valid]), quantum * quantum / 12.0)
    se = math.sqrt(var / s_tt)
    if len(valid) >= 3:
        between = sum(w.s_tt * (w.s_tm / w.s_tt - slope) ** 2 for w in valid) / ((len(valid) - 1) * s_tt)
        se = max(se, math.sqrt(between))
    if slope != 0.0:
        slope *= max(0.0, 1.0 - (se / slope) ** 2)
    return slope, se


def bending_slope(windows: list[Window], t_s: float, quantum: float, sigmas: float) -> tuple[float, float] | None:
    """The drift slope at ``t_s`` when the windows' own slopes follow a clear trend in time (the
    drift bends, as in a warm-up), from a weighted line through them; None when no trend stands
    ``sigmas`` above its error (then the pooled slope is the better estimate)."""
    valid = [w for w in windows if w.valid and w.s_tt > 0]
    if len(valid) < 4:
        return None
    x = np.array([w.t_mean - t_s for w in valid])
    y = np.array([w.s_tm / w.s_tt for w in valid])
    wt = np.array([w.s_tt for w in valid])
    sw, sx, sy = wt.sum(), (wt * x).sum(), (wt * y).sum()
    sxx, sxy = (wt * x * x).sum(), (wt * x * y).sum()
    det = sw * sxx - sx * sx
    if det <= 0:
        return None
    b = (sw * sxy - sx * sy) / det
    a = (sy - b * sx) / sw
    var = max(median_small([w.resid_var for w in valid]), quantum * quantum / 12.0)
    scatter = float((wt * (y - a - b * x) ** 2).sum()) / (len(valid) - 2)  # per unit weight
    var = max(var, scatter)
    se_b = math.sqrt(var * sw / det)
    if abs(b) <= sigmas * se_b:
        return None
    return float(a), math.sqrt(var * sxx / det)


def difference(a: Window, b: Window, slope: float, slope_se: float) -> tuple[float, float]:
    """Mass added between two settled windows (drift removed) and its 1σ."""
    if not (a.valid and b.valid):
        return math.nan, math.nan
    dt = b.t_mean - a.t_mean
    value = (b.m_mean - a.m_mean) - slope * dt
    sigma = math.sqrt(a.sem**2 + b.sem**2 + (slope_se * dt) ** 2)
    return value, sigma
