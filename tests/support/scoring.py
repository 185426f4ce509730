"""Scoring of a cycle analysis against a truth, shared by ``tests/qcm_app/test_accuracy.py`` and
``benchmarks/accuracy.py``, so the tests and the matrix measure the same thing.

Found cycles are matched one-to-one to true cycles by start time, nearest first, within a tolerance
(half the shortest purge for generated runs). Errors are then taken over matched pairs:

- per-cycle error: |found - true| / |true| of the cycle gain, over the truth's steady cycles;
- step error: |found - true| per step over matched steady cycles with the same number of steps, as
  the median in ng/cm² and as the median relative to the true step (steps of at least 10 % of the
  cycle's gain, so a near-zero half-reaction does not blow the ratio up);
- steady error: the found steady gain of the last process block against the true one;
- nucleation: found length and kind per process block; the found block is the one most of the
  block's matched cycles were assigned to (so it works with and without a recipe), or with a recipe
  and no matched cycle, the block with the recipe's index;
- start error: |found start - true start| over all matched cycles.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tests.support import boise
from tests.support.tracegen import BlockTruth, CycleTruth, Trace

# the targets for the generated stress matrix
WITH_RECIPE_MEDIAN_PCT = 1.0
WITH_RECIPE_P95_PCT = 3.0
WITH_RECIPE_STEADY_PCT = 0.5
NUCLEATION_TOLERANCE_CYCLES = 2
WITHOUT_RECIPE_STEADY_PCT = 1.0
WITHOUT_RECIPE_STEADY_FOUND = 0.9
STEP_RELATIVE_MIN_SHARE = 0.1


@dataclass(frozen=True)
class FoundCycle:
    start_s: float
    mass_gain_ng_cm2: float
    steps_ng_cm2: tuple[float, ...]
    block_index: int


@dataclass(frozen=True)
class FoundBlock:
    block_index: int
    nucleation_kind: str
    nucleation_cycles: int
    steady_mass_ng_cm2: float


@dataclass
class Found:
    """What a method reported, reduced to what is scored (ours or a baseline)."""

    cycles: list[FoundCycle] = field(default_factory=list)
    blocks: list[FoundBlock] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: the method raised: its one-line description (the row then scores as nothing found)
    error: str | None = None


def _kind(value: Any) -> str:
    return str(getattr(value, "value", value)).lower()


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def found_from_result(result: Any) -> Found:
    """An ``AnalysisResult`` of ``qcm_app.analysis`` as a ``Found``."""
    cycles = [
        FoundCycle(_f(c.start_s), _f(c.mass_gain_ng_cm2), tuple(_f(v) for v in c.steps_ng_cm2), int(c.block_index))
        for c in result.cycles
    ]
    blocks = [
        FoundBlock(int(b.block_index), _kind(b.nucleation_kind), int(b.nucleation_cycles), _f(b.steady_mass_ng_cm2))
        for b in result.regimes.blocks
    ]
    return Found(cycles, blocks)


def run_ours(time_s: np.ndarray, frequency_hz: np.ndarray, recipe_toml: str | None, crystal_mhz: float) -> Found:
    """The project's analysis from frequency, as ``qcm analyze`` would run it; timed, never raising."""
    from qcm_app.analysis import analyze_mass, mass_from_frequency
    from qcm_app.domain.physics import CrystalSettings
    from qcm_app.domain.recipes import parse_recipe

    t0 = time.perf_counter()
    try:
        recipe = parse_recipe(recipe_toml) if recipe_toml is not None else None
        mass = mass_from_frequency(time_s, frequency_hz, crystal=CrystalSettings.for_nominal_mhz(crystal_mhz))
        found = found_from_result(analyze_mass(time_s, mass, recipe))
    except Exception as exc:  # a crash is a score of nothing, with the reason kept
        found = Found(error=f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
    found.elapsed_s = time.perf_counter() - t0
    return found


def match(true_starts: Sequence[float], found_starts: Sequence[float], tolerance_s: float) -> list[tuple[int, int]]:
    """One-to-one (true index, found index) pairs, nearest first, within ``tolerance_s``."""
    ts = np.asarray(true_starts, dtype=float)
    fs = np.asarray(found_starts, dtype=float)
    if not ts.size or not fs.size:
        return []
    order = np.argsort(ts)
    sorted_ts = ts[order]
    cand: list[tuple[float, int, int]] = []
    for j, f in enumerate(fs):
        if not math.isfinite(f):
            continue
        lo = int(np.searchsorted(sorted_ts, f - tolerance_s, side="left"))
        hi = int(np.searchsorted(sorted_ts, f + tolerance_s, side="right"))
        cand += [(abs(float(sorted_ts[k]) - f), int(order[k]), j) for k in range(lo, hi)]
    cand.sort()
    used_t: set[int] = set()
    used_f: set[int] = set()
    pairs = []
    for _, i, j in cand:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            pairs.append((i, j))
    return sorted(pairs)


@dataclass
class NucleationScore:
    block: str
    true_cycles: int
    true_kind: str
    found_cycles: int | None
    found_kind: str | None

    @property
    def ok(self) -> bool:
        return (
            self.found_cycles is not None
            and self.found_kind == self.true_kind
            and abs(self.found_cycles - self.true_cycles) <= NUCLEATION_TOLERANCE_CYCLES
        )


@dataclass
class Score:
    scenario: str
    seed: int
    with_recipe: bool
    method: str
    cycles_true: int
    cycles_found: int
    matched: int
    false_cycles: int
    steady_true: int
    steady_matched: int
    median_error_pct: float
    p95_error_pct: float
    step_error_median_ng_cm2: float
    step_error_median_pct: float
    steady_true_ng_cm2: float
    steady_found_ng_cm2: float
    steady_error_pct: float
    nucleation: list[NucleationScore]
    start_error_median_s: float
    start_error_p95_s: float
    elapsed_s: float
    error: str | None = None
    all_visible: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def count_exact(self) -> bool:
        return self.cycles_found == self.cycles_true

    @property
    def nucleation_ok(self) -> bool:
        return all(n.ok for n in self.nucleation)

    @property
    def steady_found_fraction(self) -> float:
        return self.steady_matched / self.steady_true if self.steady_true else math.nan

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nucleation"] = [{**asdict(n), "ok": n.ok} for n in self.nucleation]
        d["count_exact"] = self.count_exact
        d["nucleation_ok"] = self.nucleation_ok
        return json_safe(d)


def json_safe(v: Any) -> Any:
    """JSON has no NaN or infinity: those become null; numpy scalars become Python ones."""
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 6)
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return json_safe(v.item())
    return v


def _median(x: Sequence[float]) -> float:
    return float(np.median(x)) if len(x) else math.nan


def _p95(x: Sequence[float]) -> float:
    return float(np.percentile(x, 95)) if len(x) else math.nan


def score(
    cycles: Sequence[CycleTruth],
    blocks: Sequence[BlockTruth],
    found: Found,
    *,
    tolerance_s: float,
    scenario: str = "",
    seed: int = 0,
    with_recipe: bool = True,
    method: str = "ours",
) -> Score:
    """Score ``found`` against the truth (see the module docstring for each figure)."""
    pairs = match([c.start_s for c in cycles], [c.start_s for c in found.cycles], tolerance_s)
    rel: list[float] = []
    step_abs: list[float] = []
    step_rel: list[float] = []
    start_err: list[float] = []
    steady_matched = 0
    assigned: dict[int, Counter[int]] = {}
    for i, j in pairs:
        t, f = cycles[i], found.cycles[j]
        start_err.append(abs(f.start_s - t.start_s))
        assigned.setdefault(t.block_index, Counter())[f.block_index] += 1
        if not t.steady:
            continue
        steady_matched += 1
        if t.mass_gain_ng_cm2 != 0:
            rel.append(abs(f.mass_gain_ng_cm2 - t.mass_gain_ng_cm2) / abs(t.mass_gain_ng_cm2) * 100.0)
        if len(f.steps_ng_cm2) == len(t.steps_ng_cm2):
            for fs, ts in zip(f.steps_ng_cm2, t.steps_ng_cm2, strict=True):
                step_abs.append(abs(fs - ts))
                if abs(ts) >= STEP_RELATIVE_MIN_SHARE * abs(t.mass_gain_ng_cm2) and ts != 0:
                    step_rel.append(abs(fs - ts) / abs(ts) * 100.0)
    by_index = {b.block_index: b for b in found.blocks}

    def found_block(block_index: int) -> FoundBlock | None:
        votes = assigned.get(block_index)
        if not votes:  # with a recipe, block indices are the recipe's
            return by_index.get(block_index) if with_recipe else None
        return by_index.get(votes.most_common(1)[0][0])

    nucleation = []
    for b in blocks:
        fb = found_block(b.block_index)
        nucleation.append(
            NucleationScore(
                b.name,
                b.nucleation_cycles,
                b.nucleation_kind,
                fb.nucleation_cycles if fb else None,
                fb.nucleation_kind if fb else None,
            )
        )
    last = blocks[-1] if blocks else None
    steady_true = last.steady_mass_ng_cm2 if last else math.nan
    fb = found_block(last.block_index) if last else None
    steady_found = fb.steady_mass_ng_cm2 if fb else math.nan
    steady_err = abs(steady_found - steady_true) / abs(steady_true) * 100.0 if steady_true else math.nan
    return Score(
        scenario=scenario,
        seed=seed,
        with_recipe=with_recipe,
        method=method,
        cycles_true=len(cycles),
        cycles_found=len(found.cycles),
        matched=len(pairs),
        false_cycles=len(found.cycles) - len(pairs),
        steady_true=sum(c.steady for c in cycles),
        steady_matched=steady_matched,
        median_error_pct=_median(rel),
        p95_error_pct=_p95(rel),
        step_error_median_ng_cm2=_median(step_abs),
        step_error_median_pct=_median(step_rel),
        steady_true_ng_cm2=steady_true,
        steady_found_ng_cm2=steady_found,
        steady_error_pct=steady_err if math.isfinite(steady_err) else math.nan,
        nucleation=nucleation,
        start_error_median_s=_median(start_err),
        start_error_p95_s=_p95(start_err),
        elapsed_s=found.elapsed_s,
        error=found.error,
        all_visible=all(c.visible for c in cycles),
    )


def score_trace(trace: Trace, found: Found, *, with_recipe: bool, method: str = "ours") -> Score:
    return score(
        trace.cycles,
        trace.blocks,
        found,
        tolerance_s=trace.min_purge_s / 2.0,
        scenario=trace.scenario,
        seed=trace.seed,
        with_recipe=with_recipe,
        method=method,
    )


def misses(s: Score) -> list[str]:
    """The issue's targets for a generated run that this score misses (empty: all met)."""
    out = []
    if s.error:
        out.append("error")
    if s.with_recipe:
        if not s.count_exact:
            out.append("count")
        if not s.median_error_pct <= WITH_RECIPE_MEDIAN_PCT:
            out.append("median")
        if not s.p95_error_pct <= WITH_RECIPE_P95_PCT:
            out.append("p95")
        if not s.steady_error_pct <= WITH_RECIPE_STEADY_PCT:
            out.append("steady")
        if not s.nucleation_ok:
            out.append("nucleation")
        return out
    if s.all_visible:
        if not s.count_exact:
            out.append("count")
    elif not s.steady_found_fraction >= WITHOUT_RECIPE_STEADY_FOUND:
        out.append("steady found")
    if not s.steady_error_pct <= WITHOUT_RECIPE_STEADY_PCT:
        out.append("steady")
    return out


# --- the real Boise run --------------------------------------------------------------------------


def score_boise(run: boise.BoiseRun, found: Found, *, with_recipe: bool, method: str = "ours") -> Score:
    """The generic figures (cycles matched within 10 s, half a purge) plus the issue's Boise checks in
    ``extra``: fractions within tolerance, the TMA-only block, block A's nucleation, block C's level."""
    s = score(
        run.cycles,
        run.blocks,
        found,
        tolerance_s=10.0,
        scenario="boise_real",
        seed=0,
        with_recipe=with_recipe,
        method=method,
    )
    pairs = match([c.start_s for c in run.cycles], [c.start_s for c in found.cycles], 10.0)
    n = len(run.cycles)
    starts_ok = 0
    mass_err: list[float] = []
    step_err: list[float] = []
    by_true = dict(pairs)
    for i, j in pairs:
        t, f = run.cycles[i], found.cycles[j]
        starts_ok += abs(f.start_s - t.start_s) <= boise.START_TOLERANCE_S
        mass_err.append(abs(f.mass_gain_ng_cm2 - t.mass_gain_ng_cm2))
        if len(f.steps_ng_cm2) == len(t.steps_ng_cm2):
            step_err += [abs(a - b) for a, b in zip(f.steps_ng_cm2, t.steps_ng_cm2, strict=True)]
    n_steps = sum(len(c.steps_ng_cm2) for c in run.cycles)
    tma_only = [i for i, c in enumerate(run.cycles) if c.block_index == boise.BLOCK_INDEX["B"]]
    tma_gains = [found.cycles[by_true[i]].mass_gain_ng_cm2 if i in by_true else math.nan for i in tma_only]
    first_ok = abs(tma_gains[0] - boise.TMA_ONLY_FIRST_NG_CM2) <= boise.TMA_ONLY_TOLERANCE_NG_CM2
    rest_ok = all(abs(g) <= boise.TMA_ONLY_TOLERANCE_NG_CM2 for g in tma_gains[1:])
    nuc_a = s.nucleation[0]
    inhibited_ok = (
        nuc_a.found_kind == "inhibited"
        and nuc_a.found_cycles is not None
        and nuc_a.found_cycles >= boise.INHIBITED_CYCLES
    )
    steady_ok = abs(s.steady_found_ng_cm2 - boise.LAST_BLOCK_STEADY_NG_CM2) <= boise.LAST_BLOCK_STEADY_TOLERANCE_NG_CM2
    extra: dict[str, Any] = {
        "starts_within_2.5s_fraction": starts_ok / n,
        "cycle_mass_within_3_fraction": sum(e <= boise.MASS_TOLERANCE_NG_CM2 for e in mass_err) / n,
        "cycle_mass_error_median_ng_cm2": _median(mass_err),
        "step_mass_within_3_fraction": sum(e <= boise.MASS_TOLERANCE_NG_CM2 for e in step_err) / n_steps,
        "step_mass_error_median_ng_cm2": _median(step_err),
        "tma_only_gains_ng_cm2": tma_gains,
        "tma_only_ok": bool(first_ok and rest_ok),
        "cycles_1_10_inhibited": bool(inhibited_ok),
        "last_block_steady_ok": bool(steady_ok),
    }
    if not with_recipe:
        # every cycle gaining >= 6 ng/cm² found within 3 s; false = found cycles near no true cycle
        tight = match(
            [c.start_s for c in run.cycles], [c.start_s for c in found.cycles], boise.NO_RECIPE_START_TOLERANCE_S
        )
        hit = {i for i, _ in tight}
        visible = [i for i, c in enumerate(run.cycles) if c.mass_gain_ng_cm2 >= boise.NO_RECIPE_MIN_GAIN_NG_CM2]
        extra["visible_cycles"] = len(visible)
        extra["visible_found_within_3s"] = sum(i in hit for i in visible)
        extra["false_cycles_3s"] = len(found.cycles) - len(tight)
    s.extra = extra
    return s


def boise_misses(s: Score) -> list[str]:
    """The issue's targets on the real run that this score misses."""
    e = s.extra
    out = ["error"] if s.error else []
    if s.with_recipe:
        if s.cycles_found != s.cycles_true:
            out.append("count")
        if not e["starts_within_2.5s_fraction"] >= 0.95:
            out.append("starts")
        if not (e["cycle_mass_within_3_fraction"] >= 0.9 and e["cycle_mass_error_median_ng_cm2"] <= 1.5):
            out.append("cycle mass")
        if not (e["step_mass_within_3_fraction"] >= 0.9 and e["step_mass_error_median_ng_cm2"] <= 1.5):
            out.append("step mass")
        for key in ("tma_only_ok", "cycles_1_10_inhibited", "last_block_steady_ok"):
            if not e[key]:
                out.append(key)
        return out
    if e["visible_found_within_3s"] < e["visible_cycles"]:
        out.append("visible cycles")
    if e["false_cycles_3s"] > boise.NO_RECIPE_MAX_FALSE:
        out.append("false cycles")
    return out
