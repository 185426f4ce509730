"""The ground-truth test set of the cycle analysis, and how it is scored.

Each case is a recipe run through the simulated reactor with known truth (every cycle's real
mass gain, every block's initiation region), sampled like an instrument log. Scoring compares the
analysis with the truth: cycle count, per-cycle mass error over steady cycles, steady mass per
cycle of the last block, nucleation length and kind of the first block that has one, and whether
feeding the data in small chunks (live) gives the same result as all at once (offline).
Used by the tests (targets asserted) and by ``benchmarks/accuracy.py`` (the table printed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcm_app.analysis import AnalysisResult, LiveAnalysis, analyze_mass, mass_from_frequency
from qcm_app.domain.recipes import Recipe
from qcm_app.io.recipe_files import load_preset
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, SampledRun, sample_run

HEAVY = dict(
    noise_hz=0.05,
    resolution_hz=0.03,
    warmup_hz=15.0,
    warmup_tau_s=600.0,
    drift_hz_per_h=12.0,
    spike_hz=2.0,
    jitter_s=0.05,
    tool_drift=1e-3,
)


@dataclass(frozen=True)
class Case:
    name: str
    preset: str
    seed: int
    rate_hz: float = 10.0
    reactor: dict[str, float] = field(default_factory=dict)
    dropout_prob: float = 0.0
    duplicate_prob: float = 0.0
    nan_prob: float = 0.0

    @property
    def recipe(self) -> Recipe:
        return load_preset(self.preset)

    def simulate(self) -> tuple[ProcessModel, SampledRun]:
        model = ProcessModel(self.recipe, ReactorSettings(seed=self.seed, **self.reactor))
        run = sample_run(
            model,
            self.rate_hz,
            dropout_prob=self.dropout_prob,
            duplicate_prob=self.duplicate_prob,
            nan_prob=self.nan_prob,
        )
        return model, run


def cases(seeds: tuple[int, ...] = (1, 2, 3)) -> list[Case]:
    out = []
    for seed in seeds:
        out += [
            Case("steady Al2O3", "al2o3", seed),
            Case("LiGL on Al2O3 (enhanced)", "ligl_on_al2o3", seed),
            Case("inhibited ZrO2", "zro2_inhibited", seed),
            Case(
                "heavy noise+drift, dropouts",
                "al2o3",
                seed,
                reactor=HEAVY,
                dropout_prob=0.002,
                duplicate_prob=0.01,
                nan_prob=0.002,
            ),
            Case("LZO 1:2 supercycle", "lzo_1to2", seed),
            Case("LiGL at 2 Hz", "ligl_on_al2o3", seed, rate_hz=2.0),
            Case("LiGL at 20 Hz", "ligl_on_al2o3", seed, rate_hz=20.0),
        ]
    return out


@dataclass
class Score:
    case: str
    seed: int
    with_recipe: bool
    cycles_found: int
    cycles_true: int
    median_error: float  # relative, over steady cycles
    p95_error: float
    steady_error: float  # relative, last block
    nucleation_found: tuple[int, str]
    nucleation_true: tuple[int, str]
    live_equals_offline: bool | None = None

    @property
    def count_exact(self) -> bool:
        return self.cycles_found == self.cycles_true

    @property
    def nucleation_ok(self) -> bool:
        (n_found, k_found), (n_true, k_true) = self.nucleation_found, self.nucleation_true
        return k_found == k_true and abs(n_found - n_true) <= 2

    def as_dict(self) -> dict[str, object]:
        return {
            "case": self.case,
            "seed": self.seed,
            "recipe": self.with_recipe,
            "cycles": f"{self.cycles_found}/{self.cycles_true}",
            "median_error_pct": round(self.median_error * 100, 3),
            "p95_error_pct": round(self.p95_error * 100, 3),
            "steady_error_pct": round(self.steady_error * 100, 3),
            "nucleation": f"{self.nucleation_found[0]} {self.nucleation_found[1]}",
            "nucleation_truth": f"{self.nucleation_true[0]} {self.nucleation_true[1]}",
            "live_equals_offline": self.live_equals_offline,
        }


def score(case: Case, with_recipe: bool = True, check_live: bool = False, chunk: int = 37) -> Score:
    model, run = case.simulate()
    mass = mass_from_frequency(run.time_s, run.frequency_hz)
    recipe = case.recipe if with_recipe else None
    result = analyze_mass(run.time_s, mass, recipe)
    truth = model.truth
    found = result.cycles
    # match cycles one to one by start time
    starts = np.array([c.start_s for c in truth])
    errors = []
    for c in found:
        k = int(np.argmin(np.abs(starts - c.start_s)))
        if truth[k].regime == "steady" and abs(truth[k].start_s - c.start_s) < 5.0:
            errors.append(abs(c.mass_gain_ng_cm2 / truth[k].mass_gain_ng_cm2 - 1.0))
    err = np.array(errors) if errors else np.array([math.inf])
    last_block = len(case.recipe.blocks) - 1
    true_steady = float(
        np.mean([c.mass_gain_ng_cm2 for c in truth if c.block_index == last_block and c.regime == "steady"])
    )
    blocks = result.regimes.blocks
    found_steady = blocks[-1].steady_mass_ng_cm2 if blocks else math.nan
    first_nuc = next((b for b in case.recipe.blocks if b.nucleation.kind != "none"), None)
    nuc_true = (first_nuc.nucleation.cycles, first_nuc.nucleation.kind) if first_nuc else (0, "none")
    nuc_block = next((b for b in blocks if b.nucleation_kind != "none"), None)
    nuc_found = (nuc_block.nucleation_cycles, nuc_block.nucleation_kind) if nuc_block else (0, "none")
    live_ok = None
    if check_live:
        live_ok = same_result(result, _chunked(run.time_s, mass, recipe, chunk))
    return Score(
        case=case.name,
        seed=case.seed,
        with_recipe=with_recipe,
        cycles_found=len(found),
        cycles_true=len(truth),
        median_error=float(np.median(err)),
        p95_error=float(np.percentile(err, 95)),
        steady_error=abs(found_steady / true_steady - 1.0) if math.isfinite(found_steady) else math.inf,
        nucleation_found=nuc_found,
        nucleation_true=nuc_true,
        live_equals_offline=live_ok,
    )


def _chunked(t: np.ndarray, m: np.ndarray, recipe: Recipe | None, chunk: int) -> AnalysisResult:
    live = LiveAnalysis(recipe)
    for i in range(0, t.size, chunk):
        live.feed(t[i : i + chunk], m[i : i + chunk])
    live.finish()
    return live.result()


def same_result(a: AnalysisResult, b: AnalysisResult, rel: float = 1e-9) -> bool:
    """Same cycles (times, gains, steps) and the same regime decisions."""
    if len(a.cycles) != len(b.cycles):
        return False
    for x, y in zip(a.cycles, b.cycles, strict=True):
        if (x.index, x.block_index, x.cycle_in_block, x.pulses_observed) != (
            y.index,
            y.block_index,
            y.cycle_in_block,
            y.pulses_observed,
        ):
            return False
        pairs = [
            (x.start_s, y.start_s),
            (x.end_s, y.end_s),
            (x.mass_gain_ng_cm2, y.mass_gain_ng_cm2),
            *zip(x.steps_ng_cm2, y.steps_ng_cm2, strict=True),
        ]
        for u, v in pairs:
            if not (u == v or (math.isfinite(u) and math.isfinite(v) and abs(u - v) <= rel * max(abs(u), 1.0))):
                return False
    return [b.labels for b in a.regimes.blocks] == [b.labels for b in b.regimes.blocks]
