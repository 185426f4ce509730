"""The one analysis object, used live (the worker feeds chunks), in replay, and offline
(``qcm analyze`` and the reports feed the whole run at once and call :meth:`LiveAnalysis.finish`).

Samples → onset candidates (:mod:`onsets`) → alignment to the recipe's pulse plan, or to a pattern
inferred from the candidates (:mod:`align`) → pulse times for every planned pulse, seen or not →
step and cycle masses with 1σ (:mod:`steps`) → regimes per block (:mod:`regimes`). Each new
candidate can change the best alignment; cycles already handed out that it moves are handed out
again as *revised*. Every decision depends only on the data and on candidates decided from fixed
windows, so the live result at the end of a run equals the offline result.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from qcm_app.analysis.align import Aligner
from qcm_app.analysis.book import CycleBook
from qcm_app.analysis.buffer import GrowBuffer
from qcm_app.analysis.inferred import InferredTimeline
from qcm_app.analysis.measure import CycleMeter
from qcm_app.analysis.onsets import Candidate, OnsetDetector, quantum
from qcm_app.analysis.plan import PulsePlan
from qcm_app.analysis.result import AnalysisResult, AnalysisUpdate, CycleResult, RegimeSnapshot
from qcm_app.analysis.segment import PlacedCycle, Segment
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.analysis.steps import LevelReader
from qcm_app.analysis.valve_timeline import ValveCycle, valve_blocks, valve_cycles
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings, sauerbrey_mass_ng_cm2
from qcm_app.domain.recipes import Block, Recipe

#: the result's recipe name when the tool's valves, not a recipe, timed the cycles
VALVE_TIMELINE = "from the valves"


class LiveAnalysis:
    """``densities`` (g/cm³ by block name) override the recipe's."""

    def __init__(
        self,
        recipe: Recipe | None = None,
        densities: Mapping[str, float] | None = None,
        default_density_g_cm3: float | None = None,
        settings: AnalysisSettings | None = None,
        markers: Sequence[ValvePulse] = (),
    ) -> None:
        #: the tool's valve pulses: when given, they are the timeline (the data only measures it)
        self.markers = tuple(sorted(markers, key=lambda p: p.time_s))
        self._markers_aligned = 0  # with a recipe: how many of them the aligner has
        self._valve_cycles: list[ValveCycle] = []
        self._valve_looked_s = -math.inf
        self.recipe = recipe
        self.densities = dict(densities or {})
        self.default_density_g_cm3 = default_density_g_cm3
        self.s = settings or AnalysisSettings()
        self._t = GrowBuffer()
        self._m = GrowBuffer()
        self._last_t = -math.inf
        self._advanced_to_s = -math.inf  # the newest sample time the last pass saw
        self.detector: OnsetDetector | None = None
        self.levels: LevelReader | None = None
        self.meter: CycleMeter | None = None
        self.sample_period_s = math.nan
        self.candidates: list[Candidate] = []
        self._cand_times: list[float] = []
        self._segments: list[Segment] = []
        #: without a recipe: the patterns found in the candidates, each a segment of its own
        self._inferred = InferredTimeline(self.s, self.candidates, self._segments)
        #: the cycles handed out, by index and by block, and each block's regime
        self.book = CycleBook(self.s)
        self.notes: list[str] = []
        self._marker_emitted = False
        self._final = False
        self.misfit = False
        self.finished = False
        self.snapshot = RegimeSnapshot((), False, "Waiting for the first pulse")

    # -- public ---------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return bool(self.markers) or any(seg.matched_j for seg in self._segments)

    @property
    def cycles(self) -> list[CycleResult]:
        return self.book.cycles

    @property
    def valve_timeline(self) -> bool:
        """The valves alone give the cycles (there are markers and no recipe)."""
        return bool(self.markers) and self.recipe is None

    @property
    def blocks(self) -> list[Block]:
        if self.recipe is not None and not self.misfit:
            return list(self.recipe.blocks)
        if self.valve_timeline:
            return valve_blocks(self._valve_cycles)
        return list(self._inferred.blocks)

    def add_markers(self, pulses: Sequence[ValvePulse]) -> None:
        """Valve pulses from the tool (on the run's clock), live as they come; from the first one on
        they are the cycle timeline. They take effect at the next :meth:`feed` or :meth:`finish`,
        whose update may revise cycles handed out before."""
        if not pulses:
            return
        # cycles placed from the data until now, or a pulse older than one aligned: start over
        restart = not self.markers and bool(self._segments)
        if self._markers_aligned:
            restart |= min(p.time_s for p in pulses) < self.markers[self._markers_aligned - 1].time_s
        self.markers = tuple(sorted((*self.markers, *pulses), key=lambda p: p.time_s))
        self._marker_emitted = False
        if restart:
            self._segments.clear()
            self._inferred.restart(())
            self.misfit = False
            if self.recipe is not None and self.detector is not None:
                self._start_recipe(float(self._t.view[0]))

    def set_density(self, block_name: str, density_g_cm3: float) -> AnalysisUpdate:
        """A user-edited density; GPC figures follow at once."""
        self.densities[block_name] = density_g_cm3
        for bi in list(self.book.by_block):
            self._classify(bi)
        self.snapshot = self._snapshot()
        return AnalysisUpdate((), self.snapshot)

    def full_update(self) -> AnalysisUpdate:
        """Every cycle so far with the current flags (after the analysis was re-run)."""
        return AnalysisUpdate(tuple(self.cycles), self.snapshot)

    def feed(self, time_s: np.ndarray, mass_ng_cm2: np.ndarray) -> AnalysisUpdate | None:
        t = np.asarray(time_s, dtype=float).ravel()
        m = np.asarray(mass_ng_cm2, dtype=float).ravel()
        if t.size != m.size:
            n = min(t.size, m.size)
            t, m = t[:n], m[:n]
        ok = np.isfinite(t) & np.isfinite(m)
        if not ok.all():
            t, m = t[ok], m[ok]
        if t.size:  # rows not later than the previous one (duplicates, clock steps back) are dropped
            running = np.maximum.accumulate(np.concatenate(([self._last_t], t)))[:-1]
            later = t > running
            if not later.all():
                t, m = t[later], m[later]
        if t.size:
            self._last_t = float(t[-1])
            self._t.extend(t)
            self._m.extend(m)
        # small chunks are gathered: each pass has a fixed cost, and the result does not depend on
        # how the samples were cut
        if self._last_t - self._advanced_to_s < self.s.live_batch_s:
            return None
        self._advanced_to_s = self._last_t
        return self._advance(final=False)

    def finish(self) -> AnalysisUpdate | None:
        update = self._advance(final=True)
        self.finished = True
        return update or AnalysisUpdate((), self.snapshot)

    def result(self, source: str = "") -> AnalysisResult:
        name = self.recipe.name if self.recipe else VALVE_TIMELINE if self.valve_timeline else ""
        return AnalysisResult(cycles=self.cycles, regimes=self.snapshot, recipe_name=name, source=source)

    # -- driving --------------------------------------------------------------------------------

    def _advance(self, final: bool) -> AnalysisUpdate | None:
        self._final = final
        self._inferred.final = final
        if self.detector is None and not self._start(final):
            return None
        assert self.detector is not None
        t, m = self._t.view, self._m.view
        if t.size == 0:
            return None
        new = self.detector.feed(t, m, final=final)
        changed_from: float = math.inf if self._marker_emitted or not self.markers else -math.inf
        self._marker_emitted = True
        for c in new:
            self.candidates.append(c)
            self._cand_times.append(c.time_s)
            changed_from = min(changed_from, self._absorb(len(self.candidates) - 1))
        if self.markers and self._segments:
            changed_from = min(changed_from, self._align_markers())
        if self.valve_timeline:
            new_cycles, revised = self._emit_valves(final, changed=changed_from < math.inf)
        else:
            new_cycles, revised = self._emit(final, changed_from)
        if not new_cycles and not revised and not final:
            return None
        for bi in sorted({c.block_index for c in (*new_cycles, *revised)}):
            self._classify(bi)
        self.snapshot = self._snapshot()
        return AnalysisUpdate(tuple(new_cycles), self.snapshot, tuple(revised))

    def _start(self, final: bool) -> bool:
        n = self._t.size
        if n < self.s.startup_samples and not (final and n >= 5):
            return False
        t, m = self._t.view, self._m.view
        head = slice(0, min(n, self.s.startup_samples))
        self.sample_period_s = float(np.median(np.diff(t[head])))
        q = quantum(m[head])
        bin_s = max(self.s.bin_min_s, self.sample_period_s)
        self.detector = OnsetDetector(self.s, float(t[0]), bin_s, q)
        self.levels = LevelReader(self.s, self.sample_period_s, q)
        self.meter = CycleMeter(self.levels, self.s)
        if self.recipe is not None:
            self._start_recipe(float(t[0]))
        return True

    def _start_recipe(self, t0: float) -> None:
        assert self.recipe is not None
        plan = PulsePlan(list(self.recipe.blocks))
        self._segments[:] = [Segment(plan, Aligner(plan, self.s, t0), 1, 0, inferred=False)]
        self._markers_aligned = 0

    def _align_markers(self) -> float:
        """With a recipe, the valve pulses not yet aligned become its named, certain candidates."""
        seg = self._segments[0]
        if self._markers_aligned >= len(self.markers):
            return math.inf
        assert self.recipe is not None
        names = {s.name for b in self.recipe.blocks for s in b.pulses}
        seg.aligner.valves = True
        for p in self.markers[self._markers_aligned :]:
            name = p.precursor if p.precursor in names else ""
            seg.aligner.add(Candidate(p.time_s, 1.0, self.s.candidate_weight_cap), name=name, valve=True)
        self._markers_aligned = len(self.markers)
        return seg.update_path()

    # -- candidates into segments ---------------------------------------------------------------

    def _absorb(self, ci: int) -> float:
        """A new candidate; returns the earliest time whose cycles may have changed."""
        c = self.candidates[ci]
        if self.markers:
            return math.inf  # the valves are the timeline; detected steps only cross-check them
        if self.recipe is not None and not self.misfit:
            seg = self._segments[0]
            seg.aligner.add(c)
            changed = seg.update_path()
            if self._recipe_misfits(seg):
                self._fall_back()
                return -math.inf
            return changed
        return self._inferred.absorb(ci)

    def _recipe_misfits(self, seg: Segment) -> bool:
        """The recipe does not fit when most clear steps in the data match none of its pulses; a misfit
        shows within the first few hundred steps, so it is judged every 16 of them up to 1024."""
        al = seg.aligner
        if len(al.times) % 16 or len(al.times) > 1024:
            return False
        strong = [i for i, w in enumerate(al.weights) if w >= self.s.infer_strong_z]
        if len(strong) < self.s.misfit_min_candidates * 2:
            return False
        matched = {i for i, _, _ in seg.path}
        return sum(i in matched for i in strong) < self.s.misfit_fraction * len(strong)

    def _fall_back(self) -> None:
        """The recipe's timing does not fit: analyse without it from the start."""
        assert self.recipe is not None
        self.misfit = True
        self.notes.append(
            f"the recipe's timing does not match the data (only {len(self._segments[0].path)} of "
            f"{len(self.candidates)} steps fit '{self.recipe.name}'); analysing without it"
        )
        self._segments.clear()
        self._inferred.restart(range(len(self.candidates)))

    # -- cycles ---------------------------------------------------------------------------------

    def _cycle(
        self, seg: Segment, c: int, scales: tuple[float, float], horizon: float = math.inf
    ) -> CycleResult | None:
        """Cycle ``c`` of a segment measured, None before the data, or only its end if not all in."""
        placed = seg.place_cycle(c, scales, self.s.drift_windows)
        t = self._t.view
        if placed.cycle.start_s < t[0]:
            return None  # before the data (a run recorded from mid-way): counted, not measured
        if placed.cycle.end_s > min(t[-1], horizon):
            return replace(_NOT_YET, end_s=placed.cycle.end_s)
        return self._measure(placed)

    def _measure(self, placed: PlacedCycle) -> CycleResult:
        assert self.meter is not None
        return self.meter.measure(
            self._t.view, self._m.view, self._cand_times, placed.cycle, placed.durations_s, placed.before
        )

    def _emit_valves(self, final: bool, changed: bool) -> tuple[list[CycleResult], list[CycleResult]]:
        """Without a recipe the valves are the timeline: measure each cycle they settled (looked at
        again when pulses came, or a second of data later)."""
        assert self.detector is not None
        t = self._t.view
        horizon = float(t[-1]) if final else min(float(t[-1]), self.detector.decided_until_s)
        if not (final or changed or horizon >= self._valve_looked_s + 1.0):
            return [], []
        self._valve_looked_s = horizon
        cycles = valve_cycles(self.markers, horizon, final, self.s.valve_pause_factor)
        self._valve_cycles = cycles
        order = {id(p): k for k, p in enumerate(self.markers)}
        new: list[CycleResult] = []
        revised: list[CycleResult] = []
        for vc in cycles:
            if vc.end_s > horizon:
                break
            known = self.book.emitted.get(vc.index)
            times = tuple(p.time_s for p in vc.pulses)
            if (
                known is not None
                and known.pulse_times_s == times
                and known.end_s == vc.end_s
                and known.block_index == vc.block_index
                and known.cycle_in_block == vc.cycle_in_block
            ):
                continue
            if times[0] < t[0]:
                continue
            placed = vc.placed(self.markers, order[id(vc.pulses[0])], self.s.drift_windows)
            cycle = self._measure(placed)
            self.book.hand_out(cycle, new, revised)
        return new, revised

    def _emit(self, final: bool, changed_from: float) -> tuple[list[CycleResult], list[CycleResult]]:
        """Hand out the cycles whose data are all in, from each segment's cursor; a changed
        alignment moves the cursor back to the first cycle it can have touched."""
        assert self.detector is not None
        horizon = self._t.view[-1] if final else min(self._t.view[-1], self.detector.decided_until_s)
        new: list[CycleResult] = []
        revised: list[CycleResult] = []
        for seg in self._segments:
            if not seg.matched_j:
                continue
            if changed_from < math.inf:
                back = 1 if changed_from == -math.inf else bisect.bisect_left(seg.ends, changed_from) + 1
                seg.cursor = min(seg.cursor, back)
            scales = (seg.scale(True, self.s), seg.scale(False, self.s))
            cycles = seg.cycles()
            c = seg.cursor
            while c < cycles.stop:
                j0 = seg.plan.first_pulse_of_cycle(c)
                t_first, _ = seg.place(j0, scales)
                if t_first > horizon:
                    break
                cycle = self._cycle(seg, c, scales, horizon)
                if cycle is not None and cycle.end_s > horizon:
                    break
                end = cycle.end_s if cycle is not None else t_first
                del seg.ends[c - 1 :]
                seg.ends.append(end)
                c += 1
                if cycle is None:
                    continue
                self.book.hand_out(cycle, new, revised)
            seg.cursor = c
        return new, revised

    def _classify(self, block_index: int) -> None:
        recipe_block = None
        if self.recipe is not None and not self.misfit and block_index < len(self.recipe.blocks):
            recipe_block = self.recipe.blocks[block_index]
        self.book.classify(block_index, recipe_block, self.densities, self.default_density_g_cm3)

    def _snapshot(self) -> RegimeSnapshot:
        return self.book.snapshot(self.locked, self.notes, bool(self.markers))


#: a cycle whose end is not in the data yet (only its end time is meaningful)
_NOT_YET = CycleResult(
    index=0,
    block_index=0,
    block_name="",
    cycle_in_block=0,
    start_s=math.nan,
    end_s=math.inf,
    mass_gain_ng_cm2=math.nan,
    steps_ng_cm2=(),
    step_names=(),
    pulse_times_s=(),
    pulses_observed=(),
)


def analyze_mass(
    time_s: np.ndarray,
    mass_ng_cm2: np.ndarray,
    recipe: Recipe | None = None,
    densities: Mapping[str, float] | None = None,
    default_density_g_cm3: float | None = None,
    source: str = "",
    settings: AnalysisSettings | None = None,
    markers: Sequence[ValvePulse] = (),
) -> AnalysisResult:
    """Offline analysis of a whole mass trace (same code path as live)."""
    live = LiveAnalysis(recipe, densities, default_density_g_cm3, settings, markers)
    live.feed(time_s, mass_ng_cm2)
    live.finish()
    return live.result(source)


def mass_from_frequency(
    time_s: np.ndarray,
    frequency_hz: np.ndarray,
    start_frequency_hz: float | None = None,
    crystal: CrystalSettings | None = None,
) -> np.ndarray:
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
