"""What the analysis hands out: cycles, regime snapshots, updates, the result and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcm_app.analysis.regimes import BlockRegime, NucleationKind, Regime
from qcm_app.domain.physics import thickness_ang_from_mass


@dataclass(frozen=True)
class CycleResult:
    """One cycle. ``index`` counts from 1 over the whole run (waits make no cycles)."""

    index: int
    block_index: int
    block_name: str
    cycle_in_block: int
    start_s: float
    end_s: float
    mass_gain_ng_cm2: float
    steps_ng_cm2: tuple[float, ...]
    step_names: tuple[str, ...]
    pulse_times_s: tuple[float, ...]
    #: which pulses were seen in the data (the others are placed from the timeline)
    pulses_observed: tuple[bool, ...]
    #: 1σ uncertainty of the cycle's and of each step's mass, from the noise and window lengths
    mass_gain_sigma_ng_cm2: float = math.nan
    steps_sigma_ng_cm2: tuple[float, ...] = ()
    #: this cycle replaces an earlier, provisional result with the same index (live re-alignment)
    revised: bool = False

    @property
    def ratio_a(self) -> float:
        """Δm of the first pulse over the cycle's Δm (a stoichiometry hint)."""
        if not self.steps_ng_cm2 or self.mass_gain_ng_cm2 == 0 or not math.isfinite(self.mass_gain_ng_cm2):
            return math.nan
        return self.steps_ng_cm2[0] / self.mass_gain_ng_cm2

    def same_as(self, other: CycleResult) -> bool:
        """Equal in everything but the revised flag."""
        return (
            (self.index, self.block_index, self.start_s, self.end_s, self.pulse_times_s, self.pulses_observed)
            == (other.index, other.block_index, other.start_s, other.end_s, other.pulse_times_s, other.pulses_observed)
            and _same(self.mass_gain_ng_cm2, other.mass_gain_ng_cm2)
            and all(_same(a, b) for a, b in zip(self.steps_ng_cm2, other.steps_ng_cm2, strict=True))
        )


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True)
class RegimeSnapshot:
    blocks: tuple[BlockRegime, ...]
    locked: bool
    message: str
    #: analysis notes for the user (e.g. "the recipe's timing does not match the data ...")
    notes: tuple[str, ...] = ()

    def label_of(self, cycle: CycleResult) -> str:
        for b in self.blocks:
            if b.block_index == cycle.block_index:
                k = cycle.cycle_in_block - 1
                if 0 <= k < len(b.labels):
                    return b.labels[k].value
        return Regime.UNDECIDED.value

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
        first_nuc = next((b for b in blocks if b.nucleation_kind != NucleationKind.NONE), None)
        last = next((b for b in reversed(blocks) if b.has_steady and not b.saturating), None)
        cycles = []
        for c in self.cycles:
            cycles.append(
                {
                    "index": c.index,
                    "start_s": _num(c.start_s),
                    "end_s": _num(c.end_s),
                    "mass_gain_ng_cm2": _num(c.mass_gain_ng_cm2),
                    "mass_gain_sigma_ng_cm2": _num(c.mass_gain_sigma_ng_cm2),
                    "steps_ng_cm2": [_num(v) for v in c.steps_ng_cm2],
                    "steps_sigma_ng_cm2": [_num(v) for v in c.steps_sigma_ng_cm2],
                    "regime": self.regime_of(c),
                    "block": c.block_name,
                    "cycle_in_block": c.cycle_in_block,
                    "step_names": list(c.step_names),
                    "pulses_observed": list(c.pulses_observed),
                    "ratio_a": _num(c.ratio_a),
                }
            )
        steady: dict[str, Any] = {"mass_per_cycle_ng_cm2": None, "std_ng_cm2": None, "first_cycle": None}
        if last is not None:
            steady = {
                "mass_per_cycle_ng_cm2": _num(last.steady_mass_ng_cm2),
                "std_ng_cm2": _num(last.steady_std_ng_cm2),
                "first_cycle": last.first_index + (last.steady_first_cycle or 1) - 1,
                "first_cycle_in_block": last.steady_first_cycle,
                "block": last.block_name,
                "gpc_ang_per_cycle": _num(last.gpc_ang),
                "density_g_cm3": last.density_g_cm3,
                "evidence": last.steady_evidence,
            }
        nucleation: dict[str, Any] = {"cycles": 0, "kind": "none"}
        if first_nuc is not None:
            nucleation = {
                "cycles": first_nuc.nucleation_cycles,
                "kind": first_nuc.nucleation_kind.value,
                "block": first_nuc.block_name,
                "confidence": round(first_nuc.nucleation_confidence, 3),
                "first_cycle_gain_ratio": _num(first_nuc.nucleation_gain_ratio),
                "from_zero": first_nuc.nucleation_from_zero,
                "evidence": first_nuc.nucleation_evidence,
            }
        return {
            "cycles": cycles,
            "nucleation": nucleation,
            "steady": steady,
            "blocks": [block_json(b) for b in blocks],
            "recipe": self.recipe_name,
            "source": self.source,
            "cycle_count": len(self.cycles),
            "notes": list(self.regimes.notes),
            **self.extra,
        }


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
        "nucleation": {
            "kind": b.nucleation_kind.value,
            "cycles": b.nucleation_cycles,
            "confidence": round(b.nucleation_confidence, 3),
            "first_cycle_gain_ratio": _num(b.nucleation_gain_ratio),
            "from_zero": b.nucleation_from_zero,
            "evidence": b.nucleation_evidence,
        },
        "steady": {
            "first_cycle_in_block": b.steady_first_cycle,
            "mass_per_cycle_ng_cm2": _num(b.steady_mass_ng_cm2),
            "std_ng_cm2": _num(b.steady_std_ng_cm2),
            "cycles": b.steady_cycles,
            "confidence": round(b.steady_confidence, 3),
            "gpc_ang_per_cycle": _num(b.gpc_ang),
            "density_g_cm3": b.density_g_cm3,
            "evidence": b.steady_evidence,
        },
        "saturating": b.saturating,
        "anomalies": [
            {
                "first_cycle_in_block": a.first_cycle,
                "last_cycle_in_block": a.last_cycle,
                "deviation": _num(a.deviation),
                "confidence": round(a.confidence, 3),
                "evidence": a.evidence,
            }
            for a in b.anomalies
        ],
        "total_mass_ng_cm2": _num(float(np.nansum(b.gains_ng_cm2))),
        "total_thickness_ang": _num(
            float(thickness_ang_from_mass(np.nansum(b.gains_ng_cm2), b.density_g_cm3)) if b.density_g_cm3 else math.nan
        ),
    }


def _num(v: float | None) -> float | None:
    """JSON has no NaN: unknown numbers become null."""
    if v is None or not math.isfinite(v):
        return None
    return round(float(v), 6)
