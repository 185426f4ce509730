"""Cycle analysis as one object used everywhere: live (the worker feeds chunks), replay (the same,
from a file) and offline (``qcm analyze`` and reports feed the whole run at once).

:class:`LiveAnalysis` chains the segmenter and the regime classifier and keeps the cycles; the
offline helpers are thin wrappers that feed everything and call :meth:`LiveAnalysis.finish`, so
a live session and ``qcm analyze`` on its run file give the same cycles and flags.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcm_app.physics import CrystalSettings, sauerbrey_mass_ng_cm2, thickness_ang_from_mass
from qcm_app.recipes import Recipe
from qcm_app.regimes import BlockRegime, RegimeSettings, classify_block
from qcm_app.segmenter import CycleResult, CycleSegmenter, SegmenterSettings


@dataclass(frozen=True)
class RegimeSnapshot:
    blocks: tuple[BlockRegime, ...]
    locked: bool
    message: str

    def label_of(self, cycle: CycleResult) -> str:
        for b in self.blocks:
            if b.block_index == cycle.block_index:
                k = cycle.cycle_in_block - 1
                if 0 <= k < len(b.labels):
                    return b.labels[k]
        return "nucleation"

    @property
    def current(self) -> BlockRegime | None:
        return self.blocks[-1] if self.blocks else None


@dataclass(frozen=True)
class AnalysisUpdate:
    new_cycles: tuple[CycleResult, ...]
    regimes: RegimeSnapshot
    #: earlier cycles re-placed by new evidence: each replaces the shown cycle of the same index
    revised: tuple[CycleResult, ...] = ()


@dataclass
class AnalysisResult:
    cycles: list[CycleResult]
    regimes: RegimeSnapshot
    recipe_name: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def regime_of(self, cycle: CycleResult) -> str:
        return self.regimes.label_of(cycle)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``qcm analyze --json`` document (exact keys first, extra detail after)."""
        blocks = self.regimes.blocks
        first_nuc = next((b for b in blocks if b.nucleation_kind != "none"), None)
        last = blocks[-1] if blocks else None
        cycles = []
        for c in self.cycles:
            cycles.append({
                "index": c.index,
                "start_s": _num(c.start_s),
                "end_s": _num(c.end_s),
                "mass_gain_ng_cm2": _num(c.mass_gain_ng_cm2),
                "steps_ng_cm2": [_num(v) for v in c.steps_ng_cm2],
                "regime": self.regime_of(c),
                "block": c.block_name,
                "cycle_in_block": c.cycle_in_block,
                "step_names": list(c.step_names),
                "ratio_a": _num(c.ratio_a),
            })
        steady: dict[str, Any] = {"mass_per_cycle_ng_cm2": None, "std_ng_cm2": None, "first_cycle": None}
        if last is not None and last.has_steady:
            steady = {
                "mass_per_cycle_ng_cm2": _num(last.steady_mass_ng_cm2),
                "std_ng_cm2": _num(last.steady_std_ng_cm2),
                "first_cycle": last.first_index + (last.steady_first_cycle or 1) - 1,
                "first_cycle_in_block": last.steady_first_cycle,
                "block": last.block_name,
                "gpc_ang_per_cycle": _num(last.gpc_ang),
                "density_g_cm3": last.density_g_cm3,
            }
        nucleation: dict[str, Any] = {"cycles": 0, "kind": "none"}
        if first_nuc is not None:
            nucleation = {"cycles": first_nuc.nucleation_cycles, "kind": first_nuc.nucleation_kind,
                          "block": first_nuc.block_name, "confidence": round(first_nuc.nucleation_confidence, 3),
                          "first_cycle_gain_ratio": _num(first_nuc.nucleation_gain_ratio)}
        return {
            "cycles": cycles,
            "nucleation": nucleation,
            "steady": steady,
            "blocks": [block_json(b) for b in blocks],
            "recipe": self.recipe_name,
            "source": self.source,
            "cycle_count": len(self.cycles),
            **self.extra,
        }

    def write_json(self, path: str | Path) -> Path:
        from qcm_app.fileio import atomic_write_text

        return atomic_write_text(Path(path), json_text(self.to_json_dict()))


def json_text(doc: dict[str, Any]) -> str:
    """Readable JSON (one cycle per line) without the slow pure-Python indenting encoder:
    thousands of cycles are written in milliseconds."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n    ".join(json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def block_json(b: BlockRegime) -> dict[str, Any]:
    return {
        "index": b.block_index,
        "name": b.block_name,
        "first_cycle": b.first_index,
        "cycles": b.cycles,
        "nucleation": {"kind": b.nucleation_kind, "cycles": b.nucleation_cycles,
                       "confidence": round(b.nucleation_confidence, 3),
                       "first_cycle_gain_ratio": _num(b.nucleation_gain_ratio)},
        "steady": {"first_cycle_in_block": b.steady_first_cycle, "mass_per_cycle_ng_cm2": _num(b.steady_mass_ng_cm2),
                   "std_ng_cm2": _num(b.steady_std_ng_cm2), "cycles": b.steady_cycles,
                   "confidence": round(b.steady_confidence, 3), "gpc_ang_per_cycle": _num(b.gpc_ang),
                   "density_g_cm3": b.density_g_cm3},
        "anomalies": [{"first_cycle_in_block": a.first_cycle, "last_cycle_in_block": a.last_cycle,
                       "deviation": _num(a.deviation), "confidence": round(a.confidence, 3)} for a in b.anomalies],
        "total_mass_ng_cm2": _num(float(np.nansum(b.gains_ng_cm2))),
        "total_thickness_ang": _num(float(thickness_ang_from_mass(np.nansum(b.gains_ng_cm2), b.density_g_cm3))
                                    if b.density_g_cm3 else math.nan),
    }


def _num(v: float | None) -> float | None:
    """JSON has no NaN: unknown numbers become null."""
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), 6)


class LiveAnalysis:
    """Segmenter plus regime classifier; ``densities`` (g/cm³ by block name) override the recipe's."""

    def __init__(self, recipe: Recipe | None = None, densities: Mapping[str, float] | None = None,
                 default_density_g_cm3: float | None = None,
                 segmenter: SegmenterSettings | None = None, regimes: RegimeSettings | None = None) -> None:
        self.recipe = recipe
        self.densities = dict(densities or {})
        self.default_density_g_cm3 = default_density_g_cm3
        self.segmenter = CycleSegmenter(recipe, segmenter)
        self.regime_settings = regimes or RegimeSettings()
        self.cycles: list[CycleResult] = []
        self._by_block: dict[int, list[CycleResult]] = {}
        self._blocks: dict[int, BlockRegime] = {}
        self.snapshot = RegimeSnapshot((), False, "Waiting for the first pulse")
        self._was_locked = False

    def set_density(self, block_name: str, density_g_cm3: float) -> AnalysisUpdate:
        """A user-edited density; GPC figures follow at once."""
        self.densities[block_name] = density_g_cm3
        for bi in list(self._blocks):
            self._classify(bi)
        self.snapshot = self._snapshot()
        return AnalysisUpdate((), self.snapshot)

    def full_update(self) -> AnalysisUpdate:
        """Every cycle so far with the current flags (after the analysis was re-run)."""
        return AnalysisUpdate(tuple(self.cycles), self.snapshot)

    def feed(self, time_s: np.ndarray, mass_ng_cm2: np.ndarray) -> AnalysisUpdate | None:
        new = self.segmenter.feed(time_s, mass_ng_cm2)
        return self._absorb(new)

    def finish(self) -> AnalysisUpdate | None:
        return self._absorb(self.segmenter.finish(), force=True)

    def result(self, source: str = "") -> AnalysisResult:
        return AnalysisResult(cycles=list(self.cycles), regimes=self.snapshot,
                              recipe_name=self.recipe.name if self.recipe else "", source=source)

    # -- internals -------------------------------------------------------------------------------

    def _absorb(self, new: list[CycleResult], force: bool = False) -> AnalysisUpdate | None:
        locked = self.segmenter.locked
        if not new and locked == self._was_locked and not force:
            return None
        self._was_locked = locked
        self.cycles.extend(new)
        for c in new:
            self._by_block.setdefault(c.block_index, []).append(c)
        for bi in sorted({c.block_index for c in new}):
            self._classify(bi)
        self.snapshot = self._snapshot()
        return AnalysisUpdate(tuple(new), self.snapshot)

    def _density(self, name: str, recipe_density: float | None) -> float | None:
        return self.densities.get(name) or recipe_density or self.default_density_g_cm3

    def _classify(self, block_index: int) -> None:
        cycles = self._by_block.get(block_index, [])
        if not cycles:
            return
        name = cycles[0].block_name
        recipe_density = expected = None
        if self.recipe is not None and block_index < len(self.recipe.blocks):
            block = self.recipe.blocks[block_index]
            recipe_density = block.density_g_cm3
            expected = block.expected_mass_per_cycle_ng_cm2
        self._blocks[block_index] = classify_block(
            [c.mass_gain_ng_cm2 for c in cycles], block_index=block_index, block_name=name,
            first_index=cycles[0].index, density_g_cm3=self._density(name, recipe_density),
            expected_mass_ng_cm2=expected, settings=self.regime_settings)

    def _snapshot(self) -> RegimeSnapshot:
        blocks = tuple(self._blocks[k] for k in sorted(self._blocks))
        locked = self.segmenter.locked
        if blocks:
            message = blocks[-1].message()
        elif locked:
            message = "Locked on the pulses; first cycle in progress"
        else:
            message = "Waiting for the first pulse"
        return RegimeSnapshot(blocks, locked, message)


def analyze_mass(time_s: np.ndarray, mass_ng_cm2: np.ndarray, recipe: Recipe | None = None,
                 densities: Mapping[str, float] | None = None, default_density_g_cm3: float | None = None,
                 source: str = "") -> AnalysisResult:
    """Offline analysis of a whole mass trace (same code path as live)."""
    live = LiveAnalysis(recipe, densities, default_density_g_cm3)
    live.feed(time_s, mass_ng_cm2)
    live.finish()
    return live.result(source)


def mass_from_frequency(time_s: np.ndarray, frequency_hz: np.ndarray, start_frequency_hz: float | None = None,
                        crystal: CrystalSettings | None = None) -> np.ndarray:
    """Sauerbrey mass of the primary sensor from the run's measured starting frequency."""
    f = np.asarray(frequency_hz, dtype=float)
    if f.ndim == 2:
        f = f[:, 0]
    if start_frequency_hz is None or not math.isfinite(start_frequency_hz):
        valid = f[np.isfinite(f)]
        if not valid.size:
            return np.full_like(f, np.nan)
        start_frequency_hz = float(valid[0])
    return sauerbrey_mass_ng_cm2(f, start_frequency_hz, crystal or CrystalSettings())
