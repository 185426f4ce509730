"""What a report says, worked out once from an analysed run.

The HTML page, the PDF and ``cycles.csv`` all read the same :class:`ReportContent`, so the three can
never disagree about a number; this module draws nothing and knows no file format (the words are in
:mod:`.wording`, the cycle table and ``cycles.csv`` in :mod:`.cycle_table`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from qcm_app.analysis import CycleResult
from qcm_app.analysis.regimes import BlockRegime
from qcm_app.domain.markers import valves_vs_recipe_text
from qcm_app.domain.physics import thickness_ang_from_mass
from qcm_app.io.offline import AnalyzedRun
from qcm_app.report.reference import ReferenceComparison
from qcm_app.report.wording import _headline, _metadata, _stopped_early, run_events

#: the regimes a cycle can be in; arrays of cycles carry an index into this tuple
REGIMES = ("nucleation", "steady", "anomaly")


@dataclass(frozen=True)
class BlockSummary:
    """One recipe block (or inferred block) as the summary table shows it."""

    regime: BlockRegime
    step_names: tuple[str, ...]
    first_index: int
    last_index: int
    start_s: float
    end_s: float
    #: mean Δm of each pulse over the block's steady cycles (NaN without steady growth)
    steady_steps_ng_cm2: tuple[float, ...]
    steady_ratio_a: float
    total_mass_ng_cm2: float
    total_thickness_ang: float

    @property
    def name(self) -> str:
        return self.regime.block_name

    @property
    def cycles(self) -> int:
        return self.last_index - self.first_index + 1


@dataclass
class ReportContent:
    """Everything the report states about one run; arrays are per sample or per cycle."""

    title: str
    run_name: str
    source: str
    generated: str
    note: str
    metadata: list[tuple[str, str]]
    headline: str
    blocks: list[BlockSummary]
    cycles: list[CycleResult]
    labels: list[str]
    time_s: np.ndarray
    mass_ng_cm2: np.ndarray
    gaps: list[tuple[float, float]]
    json: dict[str, Any]
    # per-cycle arrays (same order as ``cycles``)
    index: np.ndarray = field(repr=False)
    block_index: np.ndarray = field(repr=False)
    start_s: np.ndarray = field(repr=False)
    end_s: np.ndarray = field(repr=False)
    gain_ng_cm2: np.ndarray = field(repr=False)
    regime_code: np.ndarray = field(repr=False)
    density_g_cm3: np.ndarray = field(repr=False)
    #: our per-step masses beside the tool's own table, when there is one
    reference: ReferenceComparison | None = None
    #: the valve pulses the log carries, and where they and the recipe disagree (lines for a person)
    valves: list[str] = field(default_factory=list)
    #: (time s, kind, text) of the operator's and the monitor's events: markers, notes, alarms, tares
    events: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def thickness_gain_ang(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.gain_ng_cm2 / (10.0 * self.density_g_cm3)

    def steps_matrix(self, positions: np.ndarray) -> np.ndarray:
        """Δm of each pulse (columns, recipe order) of the cycles at ``positions``, NaN-padded."""
        width = max((len(self.cycles[k].steps_ng_cm2) for k in positions), default=0)
        return np.array([_padded(self.cycles[k].steps_ng_cm2, width) for k in positions], dtype=float).reshape(
            len(positions), width
        )

    def cycles_of(self, block: BlockSummary) -> np.ndarray:
        """Positions (into the per-cycle arrays) of a block's cycles."""
        return np.flatnonzero(self.block_index == block.regime.block_index)


def build_content(analyzed: AnalyzedRun, note: str = "", generated: str | None = None) -> ReportContent:
    res = analyzed.result
    cycles = list(res.cycles)
    labels = [res.regime_of(c) for c in cycles]
    regime_blocks = {b.block_index: b for b in res.regimes.blocks}
    density_of = {k: (b.density_g_cm3 or math.nan) for k, b in regime_blocks.items()}
    n = len(cycles)
    summaries = [
        _block_summary(
            b,
            [c for c in cycles if c.block_index == b.block_index],
            [lab for c, lab in zip(cycles, labels, strict=True) if c.block_index == b.block_index],
        )
        for b in res.regimes.blocks
    ]
    blocks = [b for b in summaries if b is not None]
    generated = generated or datetime.now().astimezone().isoformat(timespec="seconds")
    source = analyzed.run.source or res.source
    run_name = Path(source).name if source else "run"
    recipe = analyzed.recipe
    title = f"QCM mass-gain report: {recipe.name}" if recipe else "QCM mass-gain report"
    content = ReportContent(
        title=title,
        run_name=run_name,
        source=source,
        generated=generated,
        note=note,
        metadata=_metadata(analyzed, blocks, note, generated),
        headline=_headline(blocks, n) + _stopped_early(recipe.total_cycles if recipe else 0, n),
        blocks=blocks,
        cycles=cycles,
        labels=labels,
        time_s=np.asarray(analyzed.time_s, dtype=float),
        mass_ng_cm2=np.asarray(analyzed.mass_ng_cm2, dtype=float),
        gaps=analyzed.run.gaps(),
        json=res.to_json_dict(),
        valves=valves_vs_recipe_text(analyzed.run.valve_pulses, recipe, limit=50),
        events=run_events(analyzed),
        index=np.fromiter((c.index for c in cycles), dtype=int, count=n),
        block_index=np.fromiter((c.block_index for c in cycles), dtype=int, count=n),
        start_s=np.fromiter((c.start_s for c in cycles), dtype=float, count=n),
        end_s=np.fromiter((c.end_s for c in cycles), dtype=float, count=n),
        gain_ng_cm2=np.fromiter((c.mass_gain_ng_cm2 for c in cycles), dtype=float, count=n),
        regime_code=np.fromiter((REGIMES.index(lab) if lab in REGIMES else 0 for lab in labels), dtype=int, count=n),
        density_g_cm3=np.fromiter((density_of.get(c.block_index, math.nan) for c in cycles), dtype=float, count=n),
    )
    return content


def _block_summary(b: BlockRegime, cycles: list[CycleResult], labels: list[str]) -> BlockSummary | None:
    if not cycles:
        return None
    steady = [c for c, lab in zip(cycles, labels, strict=True) if lab == "steady"]
    width = max(len(c.steps_ng_cm2) for c in cycles)
    if steady:
        steps = np.array([_padded(c.steps_ng_cm2, width) for c in steady], dtype=float)
        with np.errstate(invalid="ignore"):
            step_means = tuple(float(v) for v in _nanmean(steps))
        ratio = _nanmean(np.array([c.ratio_a for c in steady], dtype=float).reshape(-1, 1))[0]
    else:
        step_means, ratio = tuple(math.nan for _ in range(width)), math.nan
    total = float(np.nansum([c.mass_gain_ng_cm2 for c in cycles]))
    thickness = float(thickness_ang_from_mass(total, b.density_g_cm3)) if b.density_g_cm3 else math.nan
    return BlockSummary(
        regime=b,
        step_names=cycles[0].step_names,
        first_index=cycles[0].index,
        last_index=cycles[-1].index,
        start_s=cycles[0].start_s,
        end_s=cycles[-1].end_s,
        steady_steps_ng_cm2=step_means,
        steady_ratio_a=float(ratio),
        total_mass_ng_cm2=total,
        total_thickness_ang=thickness,
    )


def _padded(values: Sequence[float], width: int) -> list[float]:
    return list(values) + [math.nan] * (width - len(values))


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN, NaN (without a warning) where a column has no number."""
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    total = np.where(ok, a, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), math.nan)
