"""Nucleation, steady growth, saturation and anomalies per block, from the cycles' mass gains.

No shape is assumed for the initiation (ramps, exponentials, sigmoids, overshoots and zero-growth
starts all occur). The steady level is found from the block's later cycles; the steady region
starts at the first cycle from which gains enter the steady band and stay there for a few cycles;
everything before is the initiation region (enhanced if it lies above, inhibited if below; "from
zero" when it starts within noise of nothing). The level only counts as steady growth when the
region is long enough, its spread agrees with the cycles' own uncertainty (or is a small fraction
of the level), and it has no trend that moves it out of the band. Cycles in the region that leave
the band are anomalies (a missing pulse, a parasitic CVD burst), reported as runs. A block whose
level is zero within noise is a saturation test (a precursor-only block): its first pulse's gain is
reported as such. Every flag carries the evidence it rests on, in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.domain.physics import thickness_ang_from_mass
from qcm_app.domain.textenum import TextEnum


class Regime(TextEnum):
    """The one state of a cycle, shown the same in every view."""

    UNDECIDED = "deciding"
    NUCLEATION = "nucleation"
    STEADY = "steady"
    ANOMALY = "anomaly"


class NucleationKind(TextEnum):
    NONE = "none"
    ENHANCED = "enhanced"
    INHIBITED = "inhibited"


@dataclass(frozen=True)
class AnomalyRun:
    first_cycle: int  # within the block, from 1
    last_cycle: int
    deviation: float  # mean relative deviation from steady (-0.18 = 18 % low)
    confidence: float
    evidence: str = ""


@dataclass(frozen=True)
class BlockRegime:
    block_index: int
    block_name: str
    first_index: int  # run-wide index of the block's first cycle
    cycles: int
    labels: tuple[Regime, ...]
    nucleation_kind: NucleationKind = NucleationKind.NONE
    nucleation_cycles: int = 0
    nucleation_confidence: float = 0.0
    nucleation_gain_ratio: float = math.nan  # first cycle's gain over steady
    nucleation_from_zero: bool = False
    nucleation_evidence: str = ""
    steady_first_cycle: int | None = None  # within the block, from 1
    steady_mass_ng_cm2: float = math.nan
    steady_std_ng_cm2: float = math.nan
    steady_cycles: int = 0
    steady_confidence: float = 0.0
    steady_evidence: str = ""
    saturating: bool = False
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
        n, name = self.cycles, self.block_name
        if n == 0:
            return f"{name}: waiting for the first cycle"
        last = self.gains_ng_cm2[-1] if self.gains_ng_cm2 else math.nan
        if self.anomalies and self.anomalies[-1].last_cycle >= n - 2:
            a = self.anomalies[-1]
            where = (
                f"cycle {a.first_cycle}" if a.first_cycle == a.last_cycle else f"cycles {a.first_cycle}–{a.last_cycle}"
            )
            return f"{name}: anomaly at {where}: {a.evidence}"
        if self.saturating:
            return f"{name}: saturation: {self.steady_evidence}"
        if not self.has_steady:
            current = self.labels[-1] if self.labels else Regime.UNDECIDED
            if current == Regime.NUCLEATION and self.expected_mass_ng_cm2:
                return (
                    f"initiation: cycle {n} of the {name} block, gain {last / self.expected_mass_ng_cm2:.2f}× expected"
                )
            text = f"{name}: cycle {n} of the block, {last:.1f} ng/cm²; steady growth not yet confirmed"
            if self.expected_mass_ng_cm2:
                text += f" ({last / self.expected_mass_ng_cm2:.2f}× expected)"
            if self.steady_evidence:
                text += f" — {self.steady_evidence}"
            return text
        current = self.labels[-1] if self.labels else Regime.UNDECIDED
        if current == Regime.NUCLEATION:
            ratio = last / self.steady_mass_ng_cm2 if self.steady_mass_ng_cm2 else math.nan
            return f"initiation: cycle {n} of the {name} block, gain {ratio:.2f}× steady"
        text = (
            f"{name}: steady since cycle {self.steady_first_cycle}: {self.steady_mass_ng_cm2:.1f} ± "
            f"{self.steady_std_ng_cm2:.1f} ng/cm² per cycle"
        )
        if math.isfinite(self.gpc_ang):
            text += f" ({self.gpc_ang:.2f} Å/cycle at {self.density_g_cm3:g} g/cm³)"
        if self.nucleation_kind != NucleationKind.NONE:
            text += f"; {self.nucleation_evidence}"
        return text


def _scatter(g: np.ndarray) -> float:
    """Cycle-to-cycle scatter from successive differences (robust to a trend and to outliers)."""
    d = np.abs(np.diff(g))
    d = d[np.isfinite(d)]
    if d.size < 2:
        return math.nan
    return 1.4826 * float(np.median(d)) / math.sqrt(2.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, k = [], 0
    while k < mask.size:
        if mask[k]:
            j = k
            while j + 1 < mask.size and mask[j + 1]:
                j += 1
            out.append((k, j))
            k = j + 1
        else:
            k += 1
    return out


def classify_block(
    gains: Sequence[float],
    sigmas: Sequence[float] | None = None,
    *,
    block_index: int = 0,
    block_name: str = "",
    first_index: int = 1,
    density_g_cm3: float | None = None,
    expected_mass_ng_cm2: float | None = None,
    settings: AnalysisSettings | None = None,
) -> BlockRegime:
    s = settings or AnalysisSettings()
    g_all = np.asarray(gains, dtype=float)
    n = g_all.size
    sig_all = np.asarray(sigmas if sigmas is not None else [math.nan] * n, dtype=float)
    common: dict[str, Any] = dict(
        block_index=block_index,
        block_name=block_name,
        first_index=first_index,
        cycles=n,
        density_g_cm3=density_g_cm3,
        expected_mass_ng_cm2=expected_mass_ng_cm2,
        gains_ng_cm2=tuple(float(v) for v in g_all),
    )
    finite = np.isfinite(g_all)
    undecided = _provisional(g_all, expected_mass_ng_cm2, s)
    if n < s.min_steady_cycles or finite.sum() < s.min_steady_cycles:
        return BlockRegime(labels=undecided, **common)
    g = np.where(finite, g_all, 0.0)
    own = float(np.nanmedian(sig_all)) if np.isfinite(sig_all).any() else math.nan
    scatter = _scatter(g_all)
    noise = np.nanmax([scatter, own, 1e-9]) if math.isfinite(scatter) or math.isfinite(own) else 1e-9

    # the level: later cycles first, refined on the cycles found in its band
    level = float(np.median(g[finite][-max(s.min_steady_cycles, n // 3) :]))
    start = 0
    for _ in range(3):
        band = max(s.band_fraction * abs(level), s.band_sigmas * noise)
        inside = finite & (np.abs(g - level) <= band)
        start = _entry(inside, s.steady_entry_cycles)
        region = inside.copy()
        region[:start] = False
        if region.sum() < s.min_steady_cycles:
            break
        level = float(np.mean(g[region]))
    band = max(s.band_fraction * abs(level), s.band_sigmas * noise)
    inside = finite & (np.abs(g - level) <= band)
    steady_mask = inside.copy()
    steady_mask[:start] = False
    k = int(steady_mask.sum())
    zero = (
        abs(level) <= s.zero_level_sigmas * noise
        and abs(level) < s.band_fraction * max(float(np.nanmax(np.abs(g))), 1e-9) * 4
    )

    if start >= n or k < s.min_steady_cycles:
        reason = f"{k} of the last cycles within ±{band:.1f} ng/cm² of {level:.1f} (needs {s.min_steady_cycles})"
        return BlockRegime(labels=undecided, steady_evidence=reason, **common)

    vals = g[steady_mask]
    spread = float(np.std(vals, ddof=1)) if vals.size > 1 else 0.0
    own_steady = float(np.nanmedian(sig_all[steady_mask])) if np.isfinite(sig_all[steady_mask]).any() else 0.0
    agrees = spread <= max(s.spread_agreement * own_steady, s.spread_fraction * abs(level), s.band_sigmas * 0.5 * noise)
    idx = np.flatnonzero(steady_mask).astype(float)
    trend = float(np.polyfit(idx, vals, 1)[0]) * (idx[-1] - idx[0]) if vals.size >= 3 else 0.0
    flat = abs(trend) <= s.trend_band_fraction * band
    labels = [Regime.NUCLEATION] * start + [Regime.STEADY if m else Regime.ANOMALY for m in steady_mask[start:]]
    if not (agrees and flat) and not zero:
        why = []
        if not agrees:
            why.append(f"spread {spread:.1f} ng/cm² is wider than the cycles' own ±{own_steady:.1f}")
        if not flat:
            why.append(f"the level still moves by {trend:+.1f} ng/cm² over cycles {start + 1}–{n}")
        return BlockRegime(
            labels=tuple([Regime.NUCLEATION] * start) + undecided[start:],
            nucleation_kind=_kind(g[:start], level),
            nucleation_cycles=start,
            nucleation_evidence=_nuc_evidence(g[:start], level, noise, start),
            steady_evidence="; ".join(why),
            **common,
        )

    anomalies = []
    for a, b in _runs(~steady_mask[start:]):
        seg = g_all[start + a : start + b + 1]
        seg = seg[np.isfinite(seg)]
        dev = float(np.mean(seg) / level - 1.0) if seg.size and level else math.nan
        worst = float(np.max(np.abs(seg - level))) / noise if seg.size else 0.0
        where = f"{float(np.mean(seg)):.1f} ng/cm²" if seg.size else "no value"
        evidence = f"{where} against the steady {level:.1f} ± {band:.1f}" + (
            f" ({dev * 100:+.0f} %)" if math.isfinite(dev) else ""
        )
        anomalies.append(
            AnomalyRun(
                first_cycle=start + a + 1,
                last_cycle=start + b + 1,
                deviation=dev,
                confidence=_clip((worst - s.band_sigmas) / 4.0),
                evidence=evidence,
            )
        )
    kind = _kind(g[:start], level) if start else NucleationKind.NONE
    from_zero = bool(start and abs(g[0]) <= s.from_zero_sigmas * noise)
    ratio = float(g[0] / level) if start and level else math.nan
    conf = _clip((abs(g[0] - level) / noise - s.band_sigmas) / 5.0) * _clip(k / 10.0) if start else 0.0
    if zero:
        first = g[0]
        evidence = (
            f"the first cycle adds {first:.1f} ng/cm², the next {k} add {level:.1f} ± {spread:.1f} (self-limiting)"
        )
        return BlockRegime(
            labels=tuple(labels),
            saturating=True,
            steady_first_cycle=start + 1,
            nucleation_kind=kind,
            nucleation_cycles=start,
            nucleation_gain_ratio=ratio,
            nucleation_evidence=(
                f"the first {start} cycle(s) add {float(np.sum(g[:start])):.1f} ng/cm² before the surface saturates"
            )
            if start
            else "",
            steady_mass_ng_cm2=level,
            steady_std_ng_cm2=spread,
            steady_cycles=k,
            steady_confidence=_clip(k / 10.0),
            steady_evidence=evidence,
            anomalies=tuple(anomalies),
            **common,
        )
    steady_evidence = (
        f"{k} cycles from cycle {start + 1} within ±{band:.1f} ng/cm² of {level:.1f}, "
        f"spread {spread:.1f} (cycles' own ±{own_steady:.1f}), trend {trend:+.1f} over the region"
    )
    return BlockRegime(
        labels=tuple(labels),
        nucleation_kind=kind,
        nucleation_cycles=start,
        nucleation_confidence=conf,
        nucleation_gain_ratio=ratio,
        nucleation_from_zero=from_zero,
        nucleation_evidence=_nuc_evidence(g[:start], level, noise, start) if start else "",
        steady_first_cycle=start + 1,
        steady_mass_ng_cm2=level,
        steady_std_ng_cm2=spread,
        steady_cycles=k,
        steady_confidence=_clip(k / 10.0) * _clip(1.0 - spread / max(abs(level), 1e-9) / 0.1),
        steady_evidence=steady_evidence,
        anomalies=tuple(anomalies),
        **common,
    )


def _provisional(g: np.ndarray, expected: float | None, s: AnalysisSettings) -> tuple[Regime, ...]:
    """Before steady growth is confirmed: a cycle far from the recipe's expected gain is already
    initiation; every other one is still being decided (none is called steady yet)."""
    if not expected:
        return tuple(Regime.UNDECIDED for _ in g)
    return tuple(
        Regime.NUCLEATION if math.isfinite(v) and abs(v / expected - 1.0) > 2 * s.band_fraction else Regime.UNDECIDED
        for v in g
    )


def _entry(inside: np.ndarray, run: int) -> int:
    """First cycle from which ``run`` cycles in a row are inside the band (n when none)."""
    n = inside.size
    run = min(run, n)
    for k in range(n - run + 1):
        if inside[k : k + run].all():
            return k
    return n


def _kind(head: np.ndarray, level: float) -> NucleationKind:
    if head.size == 0:
        return NucleationKind.NONE
    return NucleationKind.ENHANCED if float(np.mean(head)) > level else NucleationKind.INHIBITED


def _nuc_evidence(head: np.ndarray, level: float, noise: float, start: int) -> str:
    if start == 0:
        return ""
    kind = _kind(head, level).value
    zero = " starting from zero" if abs(head[0]) <= 2 * noise else ""
    return (
        f"{kind} initiation over {start} cycles{zero}: {head[0]:.1f} → {head[-1]:.1f} ng/cm² "
        f"against the steady {level:.1f} ({head[0] / level if level else math.nan:.2f}× at first)"
    )


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))
