"""Nucleation, steady growth and anomalies, per recipe block, from the cycles' mass gains.

For each block the gains g_1..g_n are explained as an initiation region (a ramp over the first
L cycles) followed by a flat steady level; L is the split with the lowest cost, where the flat
part's cost is capped per cycle so that later anomalies do not pull the split. A region is only
called nucleation when its first cycle differs clearly from steady (by ``min_deviation`` and by
several noise widths). Cycles after the split that leave the steady band are anomalies. It is
recomputed as every cycle arrives, so early decisions are revised as evidence accumulates; the
final state equals the offline one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qcm_app.physics import thickness_ang_from_mass


@dataclass(frozen=True)
class RegimeSettings:
    #: a nucleation region's first cycle must differ from steady by this fraction ...
    min_deviation: float = 0.04
    #: ... and by this many cycle-to-cycle noise widths
    min_deviation_sigmas: float = 3.0
    #: a steady cycle leaving the band max(anomaly_fraction * steady, anomaly_sigmas * noise) is an anomaly
    anomaly_fraction: float = 0.08
    anomaly_sigmas: float = 4.0
    #: steady growth is declared once this many cycles sit in the band
    min_steady_cycles: int = 5
    max_nucleation_cycles: int = 150


@dataclass(frozen=True)
class AnomalyRun:
    first_cycle: int  # within the block, from 1
    last_cycle: int
    deviation: float  # mean relative deviation from steady (-0.18 = 18 % low)
    confidence: float


@dataclass(frozen=True)
class BlockRegime:
    block_index: int
    block_name: str
    first_index: int  # run-wide index of the block's first cycle
    cycles: int
    labels: tuple[str, ...]
    nucleation_kind: str = "none"  # "enhanced" | "inhibited" | "none"
    nucleation_cycles: int = 0
    nucleation_confidence: float = 0.0
    #: first cycle's gain over steady (1.6 = 60 % enhanced)
    nucleation_gain_ratio: float = math.nan
    steady_first_cycle: int | None = None  # within the block, from 1
    steady_mass_ng_cm2: float = math.nan
    steady_std_ng_cm2: float = math.nan
    steady_cycles: int = 0
    steady_confidence: float = 0.0
    anomalies: tuple[AnomalyRun, ...] = ()
    density_g_cm3: float | None = None
    expected_mass_ng_cm2: float | None = None
    gains_ng_cm2: tuple[float, ...] = field(default=(), repr=False)

    @property
    def has_steady(self) -> bool:
        return self.steady_first_cycle is not None

    @property
    def gpc_ang(self) -> float:
        """Growth per cycle in Å at the block's density (NaN without a density)."""
        if not self.density_g_cm3 or not math.isfinite(self.steady_mass_ng_cm2):
            return math.nan
        return float(thickness_ang_from_mass(self.steady_mass_ng_cm2, self.density_g_cm3))

    def message(self) -> str:
        """What the window says about this block, in words."""
        n = self.cycles
        name = self.block_name
        if n == 0:
            return f"{name}: waiting for the first cycle"
        last = self.gains_ng_cm2[-1] if self.gains_ng_cm2 else math.nan
        if self.anomalies and self.anomalies[-1].last_cycle >= n - 2:
            a = self.anomalies[-1]
            where = f"cycle {a.first_cycle}" if a.first_cycle == a.last_cycle else \
                f"cycles {a.first_cycle}–{a.last_cycle}"
            return f"{name}: anomaly at {where}: {a.deviation * 100:+.0f} % vs steady"
        current = self.labels[-1] if self.labels else "nucleation"
        if not self.has_steady:
            if current == "steady" and self.expected_mass_ng_cm2:
                return (f"{name}: cycle {n} of the block, {last:.1f} ng/cm² "
                        f"({last / self.expected_mass_ng_cm2:.2f}× expected); steady growth not yet confirmed")
            if self.expected_mass_ng_cm2:
                ratio = last / self.expected_mass_ng_cm2
                return f"initiation: cycle {n} of the {name} block, gain {ratio:.2f}× expected"
            return f"{name}: cycle {n} of the block, {last:.1f} ng/cm²; waiting for steady growth"
        if current == "nucleation":
            ratio = last / self.steady_mass_ng_cm2
            return f"initiation: cycle {n} of the {name} block, gain {ratio:.2f}× steady"
        text = (f"{name}: steady since cycle {self.steady_first_cycle}: {self.steady_mass_ng_cm2:.1f} ± "
                f"{self.steady_std_ng_cm2:.1f} ng/cm² per cycle")
        if math.isfinite(self.gpc_ang):
            text += f" ({self.gpc_ang:.2f} Å/cycle at {self.density_g_cm3:g} g/cm³)"
        if self.nucleation_kind != "none":
            text += (f"; {self.nucleation_kind} initiation over {self.nucleation_cycles} cycles "
                     f"({self.nucleation_gain_ratio:.2f}× steady at first)")
        return text


def _noise(g: np.ndarray) -> float:
    """Cycle-to-cycle scatter from successive differences (robust to a trend and to outliers)."""
    d = np.abs(np.diff(g))
    d = d[np.isfinite(d)]
    if d.size < 2:
        return math.nan
    return 1.4826 * float(np.median(d)) / math.sqrt(2.0)


def _ramp_sse(g: np.ndarray) -> np.ndarray:
    """Residual sum of squares of a straight-line fit to g[:L], for every L (0..n)."""
    n = g.size
    x = np.arange(n, dtype=float)
    c = lambda a: np.concatenate(([0.0], np.cumsum(a)))  # noqa: E731
    sx, sy, sxx, sxy, syy = c(x), c(g), c(x * x), c(x * g), c(g * g)
    k = np.arange(n + 1, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        vx = sxx - sx * sx / np.maximum(k, 1)
        vxy = sxy - sx * sy / np.maximum(k, 1)
        vy = syy - sy * sy / np.maximum(k, 1)
        sse = np.where(vx > 0, vy - vxy * vxy / np.where(vx > 0, vx, 1), 0.0)
    return np.maximum(sse, 0.0)


def classify_block(gains: Sequence[float], *, block_index: int = 0, block_name: str = "", first_index: int = 1,
                   density_g_cm3: float | None = None, expected_mass_ng_cm2: float | None = None,
                   settings: RegimeSettings | None = None) -> BlockRegime:
    s = settings or RegimeSettings()
    g_all = np.asarray(gains, dtype=float)
    n = g_all.size
    common = dict(block_index=block_index, block_name=block_name, first_index=first_index, cycles=n,
                  density_g_cm3=density_g_cm3, expected_mass_ng_cm2=expected_mass_ng_cm2,
                  gains_ng_cm2=tuple(float(v) for v in g_all))
    finite = np.isfinite(g_all)
    g = np.where(finite, g_all, np.nanmedian(g_all) if finite.any() else 0.0)
    if n < s.min_steady_cycles + 1 or finite.sum() < s.min_steady_cycles:
        return BlockRegime(labels=_provisional_labels(g_all, expected_mass_ng_cm2, s), **common)

    level0 = float(np.median(g[n // 2:]))
    sigma = _noise(g)
    if not math.isfinite(sigma) or sigma <= 0:
        sigma = max(abs(level0) * 1e-3, 1e-9)
    cap = max(4.0 * sigma, 0.05 * abs(level0))
    flat = np.minimum((g - level0) ** 2, cap * cap)
    flat_tail = np.concatenate((np.cumsum(flat[::-1])[::-1], [0.0]))  # cost of g[L:] for each L
    l_max = min(n - s.min_steady_cycles, s.max_nucleation_cycles)
    ramp = _ramp_sse(g)[: l_max + 1]
    penalty = 2.0 * sigma * sigma * math.log(max(n, 3))
    cost = ramp + flat_tail[: l_max + 1] + penalty * (np.arange(l_max + 1) > 0)
    # a linear ramp also fits the first steady cycle: take the shortest region that is as good
    nuc = int(np.flatnonzero(cost <= cost.min() + sigma * sigma)[0])

    first_dev = (g[0] - level0) / level0 if level0 else 0.0
    significant = abs(first_dev) >= s.min_deviation and abs(g[0] - level0) >= s.min_deviation_sigmas * sigma
    if nuc > 0 and level0:
        # the region as a whole must stand apart too, not just its first cycle (the first cycles of a
        # run carry the least drift information and can be a few % off on their own)
        region_dev = abs(float(np.mean(g[:nuc])) / level0 - 1.0)
        significant = significant and region_dev >= s.min_deviation / 2
    if nuc > 0 and not significant:
        nuc = 0

    band = max(s.anomaly_fraction * abs(level0), s.anomaly_sigmas * sigma)
    tail = g[nuc:]
    anomalous = (np.abs(tail - level0) > band) | ~finite[nuc:]
    steady_vals = tail[~anomalous]
    if steady_vals.size < s.min_steady_cycles:
        return BlockRegime(labels=_provisional_labels(g_all, expected_mass_ng_cm2, s), **common)
    steady = float(np.mean(steady_vals))
    spread = float(np.std(steady_vals, ddof=1)) if steady_vals.size > 1 else 0.0
    # second pass: the band around the refined level
    band = max(s.anomaly_fraction * abs(steady), s.anomaly_sigmas * sigma)
    anomalous = (np.abs(tail - steady) > band) | ~finite[nuc:]
    steady_vals = tail[~anomalous]
    steady = float(np.mean(steady_vals))
    spread = float(np.std(steady_vals, ddof=1)) if steady_vals.size > 1 else 0.0

    labels = ["nucleation"] * nuc + ["anomaly" if a else "steady" for a in anomalous]
    kind = "none"
    ratio = math.nan
    conf_nuc = 0.0
    if nuc > 0:
        kind = "enhanced" if float(np.mean(g[:nuc])) > steady else "inhibited"
        ratio = float(g[0] / steady) if steady else math.nan
        conf_nuc = _clip((abs(g[0] - steady) / sigma - s.min_deviation_sigmas) / 5.0) * \
            _clip(steady_vals.size / 10.0)
    anomalies = []
    k = 0
    while k < anomalous.size:
        if anomalous[k]:
            j = k
            while j + 1 < anomalous.size and anomalous[j + 1]:
                j += 1
            seg = tail[k:j + 1]
            seg = seg[np.isfinite(seg)]
            dev = float(np.mean(seg) / steady - 1.0) if seg.size and steady else math.nan
            worst = float(np.max(np.abs(seg - steady))) / sigma if seg.size else 0.0
            anomalies.append(AnomalyRun(first_cycle=nuc + k + 1, last_cycle=nuc + j + 1, deviation=dev,
                                        confidence=_clip((worst - s.anomaly_sigmas) / 4.0)))
            k = j + 1
        else:
            k += 1
    rel_spread = spread / abs(steady) if steady else 1.0
    return BlockRegime(labels=tuple(labels), nucleation_kind=kind, nucleation_cycles=nuc,
                       nucleation_confidence=conf_nuc, nucleation_gain_ratio=ratio,
                       steady_first_cycle=nuc + 1, steady_mass_ng_cm2=steady, steady_std_ng_cm2=spread,
                       steady_cycles=int(steady_vals.size),
                       steady_confidence=_clip(steady_vals.size / 10.0) * _clip(1.0 - rel_spread / 0.1),
                       anomalies=tuple(anomalies), **common)


def _provisional_labels(g: np.ndarray, expected: float | None, s: RegimeSettings) -> tuple[str, ...]:
    """Too few cycles to decide: judge against the recipe's expectation when there is one."""
    if not expected:
        return tuple("nucleation" for _ in g)
    return tuple("nucleation" if not math.isfinite(v) or abs(v / expected - 1.0) > 2 * s.min_deviation
                 else "steady" for v in g)


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))
