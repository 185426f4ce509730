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
from dataclasses import dataclass, field, replace

import numpy as np

from qcm_app.analysis.align import Aligner
from qcm_app.analysis.buffer import GrowBuffer
from qcm_app.analysis.onsets import Candidate, OnsetDetector, quantum
from qcm_app.analysis.plan import PulsePlan
from qcm_app.analysis.regimes import BlockRegime, classify_block
from qcm_app.analysis.result import AnalysisResult, AnalysisUpdate, CycleResult, RegimeSnapshot
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.analysis.steps import LevelReader, Window, difference, pooled_slope
from qcm_app.analysis.valve_timeline import ValveCycle, valve_blocks, valve_cycles
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings, sauerbrey_mass_ng_cm2
from qcm_app.domain.recipes import Block, Recipe, Step, StepKind


@dataclass
class _Segment:
    """A stretch of the run aligned to one plan: the whole run with a recipe, or one inferred block."""

    plan: PulsePlan
    aligner: Aligner
    first_cycle_index: int  # run-wide index of the plan's cycle 1
    block_base: int  # run-wide block index of the plan's block 0
    inferred: bool
    closed: bool = False
    path: list[tuple[int, int, bool]] = field(default_factory=list)
    matched_j: list[int] = field(default_factory=list)
    matched_t: list[float] = field(default_factory=list)
    holds: list[bool] = field(default_factory=list)
    cursor: int = 1  # the first cycle (within the plan) not yet final
    scale_cache: dict[bool, tuple[object, float]] = field(default_factory=dict)
    ends: list[float] = field(default_factory=list)  # end of each handed-out cycle, by cycle - 1


class LiveAnalysis:
    """``densities`` (g/cm³ by block name) override the recipe's."""

    def __init__(self, recipe: Recipe | None = None, densities: Mapping[str, float] | None = None,
                 default_density_g_cm3: float | None = None, settings: AnalysisSettings | None = None,
                 markers: Sequence[ValvePulse] = ()) -> None:
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
        self.detector: OnsetDetector | None = None
        self.levels: LevelReader | None = None
        self.sample_period_s = math.nan
        self.candidates: list[Candidate] = []
        self._cand_times: list[float] = []
        self._segments: list[_Segment] = []
        self._pending: list[int] = []  # recipe-less: candidates not yet in a pattern
        self._inferred_blocks: list[Block] = []
        self._emitted: dict[int, CycleResult] = {}  # by run-wide index
        self._by_block: dict[int, dict[int, CycleResult]] = {}
        self._blocks: dict[int, BlockRegime] = {}
        self._block_names: dict[int, str] = {}
        self.notes: list[str] = []
        self._pattern_lead = 0
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
        return [self._emitted[k] for k in sorted(self._emitted)]

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
        return list(self._inferred_blocks)

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
            self._segments, self._pending, self._inferred_blocks, self.misfit = [], [], [], False
            if self.recipe is not None and self.detector is not None:
                self._start_recipe(float(self._t.view[0]))

    def set_density(self, block_name: str, density_g_cm3: float) -> AnalysisUpdate:
        """A user-edited density; GPC figures follow at once."""
        self.densities[block_name] = density_g_cm3
        for bi in list(self._by_block):
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
        return self._advance(final=False)

    def finish(self) -> AnalysisUpdate | None:
        update = self._advance(final=True)
        self.finished = True
        return update or AnalysisUpdate((), self.snapshot)

    def result(self, source: str = "") -> AnalysisResult:
        name = self.recipe.name if self.recipe else "from the valves" if self.valve_timeline else ""
        return AnalysisResult(cycles=self.cycles, regimes=self.snapshot, recipe_name=name, source=source)

    # -- driving --------------------------------------------------------------------------------

    def _advance(self, final: bool) -> AnalysisUpdate | None:
        self._final = final
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
        if self.recipe is not None:
            self._start_recipe(float(t[0]))
        return True

    def _start_recipe(self, t0: float) -> None:
        assert self.recipe is not None
        plan = PulsePlan(list(self.recipe.blocks))
        self._segments = [_Segment(plan, Aligner(plan, self.s, t0), 1, 0, inferred=False)]
        self._markers_aligned = 0

    def _align_markers(self) -> float:
        """With a recipe, the valve pulses not yet aligned become its named, certain candidates."""
        seg = self._segments[0]
        if self._markers_aligned >= len(self.markers):
            return math.inf
        assert self.recipe is not None
        names = {s.name for b in self.recipe.blocks for s in b.pulses}
        for p in self.markers[self._markers_aligned:]:
            name = p.precursor if p.precursor in names else ""
            seg.aligner.add(Candidate(p.time_s, 1.0, self.s.candidate_weight_cap), name=name)
        self._markers_aligned = len(self.markers)
        return self._update_path(seg)

    # -- candidates into segments ---------------------------------------------------------------

    def _absorb(self, ci: int) -> float:
        """A new candidate; returns the earliest time whose cycles may have changed."""
        c = self.candidates[ci]
        if self.markers:
            return math.inf  # the valves are the timeline; detected steps only cross-check them
        if self.recipe is not None and not self.misfit:
            seg = self._segments[0]
            seg.aligner.add(c)
            changed = self._update_path(seg)
            if self._recipe_misfits(seg):
                self._fall_back()
                return -math.inf
            return changed
        seg = self._segments[-1] if self._segments and not self._segments[-1].closed else None
        if seg is not None:
            seg.aligner.add(c)
            changed = self._update_path(seg)
            if self._long_gap(seg):
                # a wait or a long hold ends an inferred block: the next one is inferred afresh
                i_last = seg.path[-1][0]
                self._truncate(seg, len(seg.path) - 1)
                seg.closed = True
                self._pending = list(range(seg.aligner.first + i_last, ci + 1))
                return min(changed, self._infer())
            if seg.aligner.trailing_unmatched(seg.path) >= self.s.pattern_break_candidates:
                seg.closed = True
                first_unmatched = seg.aligner.first + (seg.path[-1][0] + 1 if seg.path else 0)
                self._pending = list(range(first_unmatched, ci + 1))
                return min(changed, self._infer())
            return changed
        self._pending.append(ci)
        return self._infer()

    def _update_path(self, seg: _Segment) -> float:
        k, tail = seg.aligner.path_update()
        old_len = len(seg.path)
        if k == old_len and not tail:
            return math.inf
        old_k_time = seg.matched_t[k - 1] if k >= 1 else math.nan
        al = seg.aligner
        del seg.path[k:], seg.matched_j[k:], seg.matched_t[k:], seg.holds[k:]
        seg.path.extend(tail)
        seg.matched_j.extend(j for _, j, _ in tail)
        seg.matched_t.extend(al.times[i] for i, _, _ in tail)
        seg.holds.extend(h for _, _, h in tail)
        if k < 20:  # the first matches also set the clock the leading cycles are placed with
            return -math.inf
        return old_k_time

    def _recipe_misfits(self, seg: _Segment) -> bool:
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
        self.notes.append(f"the recipe's timing does not match the data (only {len(self._segments[0].path)} of "
                          f"{len(self.candidates)} steps fit '{self.recipe.name}'); analysing without it")
        self._segments = []
        self._pending = list(range(len(self.candidates)))
        self._infer()

    def _long_gap(self, seg: _Segment) -> bool:
        if len(seg.path) < 2 or not seg.path[-1][2]:
            return False
        period = seg.plan.blocks[0].cycle_duration_s
        return seg.matched_t[-1] - seg.matched_t[-2] > self.s.block_gap_cycles * period

    def _truncate(self, seg: _Segment, n: int) -> None:
        seg.path = seg.path[:n]
        seg.matched_j = seg.matched_j[:n]
        seg.matched_t = seg.matched_t[:n]
        seg.holds = seg.holds[:n]

    # -- recipe-less: patterns ------------------------------------------------------------------

    def _infer(self) -> float:
        """Find the repeating pattern of the pending candidates; start a segment on it."""
        changed = math.inf
        while self._pending:
            found = self._pattern(self._pending)
            if found is None:
                return changed
            if found == "drop":
                strong = [i for i in self._pending if self.candidates[i].z >= self.s.infer_strong_z]
                drop_until = self._pending.index(strong[0]) + 1 if strong else len(self._pending)
                self._pending = self._pending[drop_until:]
                continue
            block = found
            self._pending = self._pending[self._pattern_lead:]
            first = self._pending[0]
            index = 1 + sum(len(self._segment_cycles(s)) for s in self._segments)
            name = f"block {len(self._inferred_blocks) + 1}"
            block = replace(block, name=name)
            self._inferred_blocks.append(block)
            plan = PulsePlan([block], open_ended=True)
            t_first = self.candidates[first].time_s
            aligner = Aligner(plan, self.s, t_first, inferred=True, first_candidate=first)
            seg = _Segment(plan, aligner, index, len(self._inferred_blocks) - 1, inferred=True)
            self._segments.append(seg)
            pending, self._pending = self._pending, []
            for ci in pending:
                aligner.add(self.candidates[ci])
                self._update_path(seg)
                if aligner.trailing_unmatched(seg.path) >= self.s.pattern_break_candidates:
                    seg.closed = True
                    last = seg.path[-1][0] if seg.path else -1
                    self._pending = [first + i for i in range(last + 1, len(aligner.times))]
                    self._pending += [p for p in pending if p > first + len(aligner.times) - 1]
                    break
            if seg.closed and not seg.path:
                # the pattern did not hold beyond its own evidence: forget it, move past its lead
                self._segments.pop()
                self._inferred_blocks.pop()
                self._pending = [p for p in pending if p > first]
                continue
            changed = min(changed, t_first)
            if not seg.closed:
                break
        return changed

    def _pattern(self, pending: list[int]) -> Block | str | None:
        """The cycle of the pending candidates: its period is the spacing that best explains the
        candidates' pairwise time differences (as 1, 2 or 3 periods, weighted by their strength);
        its pulses are the phases within that period where most cycles have a candidate (weak
        extras — a water pulse seen now and then — are left to count as false alarms). Returns
        "drop" when the first candidate belongs to no pattern, None to wait for more data."""
        s = self.s
        window = [i for i in pending if self.candidates[i].z >= s.infer_strong_z][: s.infer_window]
        if not window:
            return None
        times = np.array([self.candidates[i].time_s for i in window])
        if times.size < max(s.infer_repeats + 1, s.infer_min_candidates) and not self._final:
            return None
        if times.size < s.infer_repeats + 1:
            return None
        gaps = np.diff(times)
        if gaps.size >= 2:
            long_gap = np.flatnonzero(gaps > s.infer_gap_factor * float(np.median(gaps)))
            if long_gap.size and long_gap[0] + 1 < s.infer_repeats + 1:
                return "drop"  # a few stray steps before a wait: the pattern starts after it
        weights = np.array([min(self.candidates[i].z, s.candidate_weight_cap) for i in window])
        sizes = np.array([self.candidates[i].size_ng_cm2 for i in window])
        ii, kk = np.triu_indices(times.size, 1)
        d = times[kk] - times[ii]
        # pairs of the same pulse are alike in sign and size: a water step does not repeat a TMA one
        a, b = np.abs(sizes[ii]), np.abs(sizes[kk])
        alike = np.where(np.sign(sizes[ii]) == np.sign(sizes[kk]), np.minimum(a, b) / np.maximum(a, b), 0.0)
        pw = weights[ii] * weights[kk] * alike
        keep = d <= s.infer_max_period_s * 3
        d, pw = d[keep], pw[keep]
        periods = np.unique(np.round(d[(d >= s.refractory_s) & (d <= s.infer_max_period_s)], 1))
        if periods.size == 0:
            return None if times[-1] - times[0] < s.infer_max_period_s * 3 else "drop"
        n = np.round(d[None, :] / periods[:, None])
        sigma = s.timing_sigma_abs_s + s.timing_sigma_rel * d[None, :]
        tol = s.timing_bound_sigmas * sigma
        resid = np.abs(d[None, :] - n * periods[:, None])
        fits = np.where((n >= 1) & (n <= 3), np.exp(-0.5 * (resid / sigma) ** 2), 0.0)
        score = (fits * pw[None, :]).sum(axis=1)
        best = float(score.max())
        if best <= 0:
            return "drop"
        period = float(periods[np.flatnonzero(score >= s.infer_score_fraction * best)[0]])
        span_cycles = (times[-1] - times[0]) / period
        if span_cycles < s.infer_repeats:
            return None
        # phases: clusters of (t - t_first) mod period over every candidate in the span (weak ones
        # too: a step seen in a fifth of the cycles is a pulse of the pattern)
        span = [i for i in pending if times[0] - 1.0 <= self.candidates[i].time_s <= times[-1] + 1.0
                and self.candidates[i].z >= s.infer_min_z]
        at = np.array([self.candidates[i].time_s for i in span])
        sz = np.array([self.candidates[i].size_ng_cm2 for i in span])
        phase = np.mod(at - times[0], period)
        phase = np.where(phase > period - 2.0, phase - period, phase)
        order = np.argsort(phase)
        clusters: list[list[int]] = []
        for k in order:
            if clusters and phase[k] - phase[clusters[-1][-1]] <= max(tol.min(), 1.0):
                clusters[-1].append(int(k))
            else:
                clusters.append([int(k)])
        cycles = max(1.0, span_cycles)
        pulses = [c for c in clusters if len(c) >= s.infer_support * cycles]
        if not pulses:
            return "drop"
        means = [float(np.mean(phase[c])) for c in pulses]
        strength = [float(np.mean(sz[c])) for c in pulses]
        first = int(np.argmax(strength))  # the cycle starts with its largest gain
        if len(pulses[first]) < s.infer_lead_support * cycles:
            return "drop"
        rot = [(means[(first + k) % len(means)] - means[first]) % period for k in range(len(means))]
        steps: list[Step] = []
        for k, start in enumerate(rot):
            gap = (rot[k + 1] if k + 1 < len(rot) else period) - start
            pulse_s = min(1.0, 0.05 * gap)
            typical = float(np.median(sz[pulses[(first + k) % len(pulses)]]))
            steps.append(Step(f"pulse {k + 1}", StepKind.PULSE, pulse_s, mass_ng_cm2=typical))
            steps.append(Step("purge", StepKind.PURGE, max(gap - pulse_s, 1e-3)))
        # the segment starts at the first candidate of the cycle's first pulse
        lead = span[next(k for k in range(at.size) if k in pulses[first])]
        self._pattern_lead = pending.index(lead)
        return Block(name="", repeat=1, steps=tuple(steps))

    # -- pulse placement ------------------------------------------------------------------------

    def _scale(self, seg: _Segment, head: bool) -> float:
        """The tool's clock against the plan, from the first (or last) matched pulses of a stretch
        without holds: the median of pairwise slopes (robust to a misplaced onset)."""
        js, ts = seg.matched_j, seg.matched_t
        n = len(js)
        if n < 3:
            return 1.0
        # the scale depends only on the matches it reads: computed again only when they change
        key = (head, n if not head else min(n, 20), tuple(ts[:20]) if head else (ts[-1], js[-1], n))
        cached = seg.scale_cache.get(head)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = self._scale_from(seg, head)
        seg.scale_cache[head] = (key, value)
        return value

    def _scale_from(self, seg: _Segment, head: bool) -> float:
        js, ts, holds = seg.matched_j, seg.matched_t, seg.holds
        n = len(js)
        if head:
            idx = [0]
            for k in range(1, min(n, 20)):
                if holds[k]:
                    break
                idx.append(k)
        else:
            idx = [n - 1]
            for k in range(n - 1, max(0, n - 20), -1):
                if holds[k]:
                    break
                idx.append(k - 1)
        pts = [(seg.aligner.offset(js[k]), ts[k]) for k in idx]
        slopes = [(tb - ta) / (ob - oa) for a, (oa, ta) in enumerate(pts) for (ob, tb) in pts[a + 1:]
                  if abs(ob - oa) >= 2 * self.s.settle_max_s]
        if len(slopes) < 3:
            return 1.0
        return min(max(float(np.median(slopes)), 0.97), 1.03)

    def _place(self, seg: _Segment, j: int, scales: tuple[float, float]) -> tuple[float, bool]:
        js, ts = seg.matched_j, seg.matched_t
        k = bisect.bisect_left(js, j)
        if k < len(js) and js[k] == j:
            return ts[k], True
        o = seg.aligner.offset(j)
        if k == 0:
            return ts[0] - scales[0] * (seg.aligner.offset(js[0]) - o), False
        if k >= len(js):
            return ts[-1] + scales[1] * (o - seg.aligner.offset(js[-1])), False
        oa, ob = seg.aligner.offset(js[k - 1]), seg.aligner.offset(js[k])
        ta, tb = ts[k - 1], ts[k]
        if seg.holds[k]:  # the hold happened somewhere in between: run on time from the last match
            return min(ta + (o - oa), tb - (ob - o)), False
        return ta + (o - oa) * (tb - ta) / (ob - oa), False

    # -- cycles ---------------------------------------------------------------------------------

    def _segment_cycles(self, seg: _Segment) -> range:
        """Cycle numbers (within the segment's plan, from 1) the segment may emit."""
        if not seg.matched_j:
            return range(1, 1)
        if seg.inferred:
            last = seg.plan.pulse(seg.matched_j[-1]).cycle_index
            if seg.closed:
                return range(1, last + 1)
            return range(1, last + 1)
        return range(1, seg.plan.cycle_count + 1)

    def _cycle(self, seg: _Segment, c: int, scales: tuple[float, float],
               horizon: float = math.inf) -> CycleResult | None:
        """Cycle ``c`` of a segment, its pulses placed by the alignment."""
        plan = seg.plan
        j0 = plan.first_pulse_of_cycle(c)
        first = plan.pulse(j0)
        ppc = plan.pulses_per_cycle(first.block_index)
        pulses = [plan.pulse(j) for j in range(j0, j0 + ppc)]
        placed = [self._place(seg, p.j, scales) for p in pulses]
        times = [p[0] for p in placed]
        last = pulses[-1]
        nxt = last.j + 1
        if plan.exists(nxt) and plan.pulse(nxt).block_index == first.block_index:
            end, _ = self._place(seg, nxt, scales)
        else:
            end = times[-1] + (plan.cycle_end_offset(last) - last.offset_s)  # the last purge, nominal
        t = self._t.view
        if times[0] < t[0]:
            return None  # before the data (a run recorded from mid-way): counted, not measured
        if end > min(t[-1], horizon):
            return replace(_NOT_YET, end_s=end)
        # the pulses before this cycle's (the drift pool's windows, and where the first purge starts)
        before: list[tuple[float, float]] = []
        for jj in range(max(0, j0 - self.s.drift_windows - 1), j0):
            before.append((self._place(seg, jj, scales)[0], plan.duration(jj)))
        block_index = seg.block_base + first.block_index
        block = plan.blocks[first.block_index]
        return self._measure(
            CycleResult(index=seg.first_cycle_index + first.cycle_index - 1, block_index=block_index,
                        block_name=block.name, cycle_in_block=first.cycle_in_block, start_s=times[0], end_s=end,
                        mass_gain_ng_cm2=math.nan, steps_ng_cm2=(), step_names=tuple(p.name for p in pulses),
                        pulse_times_s=tuple(times), pulses_observed=tuple(o for _, o in placed)),
            [p.duration_s for p in pulses], before)

    def _measure(self, cycle: CycleResult, durations_s: Sequence[float],
                 before: Sequence[tuple[float, float]]) -> CycleResult:
        """Step and cycle masses of a placed cycle. ``before`` holds (time, length) of the pulses
        that precede it, oldest first: the windows before them join the drift pool, and the last
        one's end is where the cycle's first purge starts."""
        assert self.levels is not None
        t, m = self._t.view, self._m.view
        times, end = cycle.pulse_times_s, cycle.end_s

        def purge_start(k: int) -> float:
            if k < 0:
                return -math.inf
            tb, db = before[k]
            return tb + db

        prev_end = purge_start(len(before) - 1)
        windows = []
        for k in range(len(times)):
            start_limit = prev_end if k == 0 else times[k - 1] + durations_s[k - 1]
            windows.append(self.levels.window_before(t, m, times[k], self._clear_of_steps(start_limit, times[k])))
        windows.append(self.levels.window_before(t, m, end, self._clear_of_steps(times[-1] + durations_s[-1], end)))
        # drift slope, pooled over the windows before the previous few pulses and this cycle's
        pool: list[Window] = []
        for k in range(max(0, len(before) - self.s.drift_windows), len(before)):
            pool.append(self.levels.window_before(t, m, before[k][0], purge_start(k - 1)))
        pool += windows
        slope, slope_se = pooled_slope(pool, self.levels.quantum)
        steps = [difference(windows[k], windows[k + 1], slope, slope_se) for k in range(len(times))]
        gain, gain_sigma = difference(windows[0], windows[-1], slope, slope_se)
        self._block_names[cycle.block_index] = cycle.block_name
        return replace(cycle, mass_gain_ng_cm2=gain, steps_ng_cm2=tuple(v for v, _ in steps),
                       mass_gain_sigma_ng_cm2=gain_sigma, steps_sigma_ng_cm2=tuple(e for _, e in steps))

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
            known = self._emitted.get(vc.index)
            times = tuple(p.time_s for p in vc.pulses)
            if known is not None and known.pulse_times_s == times and known.end_s == vc.end_s \
                    and known.block_index == vc.block_index and known.cycle_in_block == vc.cycle_in_block:
                continue
            if times[0] < t[0]:
                continue
            k0 = order[id(vc.pulses[0])]
            before = [(p.time_s, p.duration_s) for p in self.markers[max(0, k0 - self.s.drift_windows - 1):k0]]
            cycle = self._measure(
                CycleResult(index=vc.index, block_index=vc.block_index, block_name=f"block {vc.block_index + 1}",
                            cycle_in_block=vc.cycle_in_block, start_s=times[0], end_s=vc.end_s,
                            mass_gain_ng_cm2=math.nan, steps_ng_cm2=(), step_names=vc.names, pulse_times_s=times,
                            pulses_observed=(True,) * len(times)),
                [p.duration_s for p in vc.pulses], before)
            if known is None:
                new.append(cycle)
            elif not known.same_as(cycle):
                cycle = replace(cycle, revised=True)
                revised.append(cycle)
            else:
                continue
            self._emitted[cycle.index] = cycle
            self._by_block.setdefault(cycle.block_index, {})[cycle.cycle_in_block] = cycle
        return new, revised

    def _clear_of_steps(self, start_limit: float, t_pulse: float) -> float:
        """A settled window starts after the last step seen before the pulse, planned or not (a
        weak pulse an inferred pattern leaves out still moves the level) — unless that would leave
        too little of the purge to read."""
        k = bisect.bisect_left(self._cand_times, t_pulse - self.s.guard_s - self.s.settle_min_s) - 1
        if k >= 0 and self._cand_times[k] > start_limit:
            return self._cand_times[k] + min(1.0, 0.25 * (t_pulse - self._cand_times[k]))
        return start_limit

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
            scales = (self._scale(seg, True), self._scale(seg, False))
            cycles = self._segment_cycles(seg)
            c = seg.cursor
            while c < cycles.stop:
                j0 = seg.plan.first_pulse_of_cycle(c)
                t_first, _ = self._place(seg, j0, scales)
                if t_first > horizon:
                    break
                cycle = self._cycle(seg, c, scales, horizon)
                if cycle is not None and cycle.end_s > horizon:
                    break
                end = cycle.end_s if cycle is not None else t_first
                del seg.ends[c - 1:]
                seg.ends.append(end)
                c += 1
                if cycle is None:
                    continue
                known = self._emitted.get(cycle.index)
                if known is None:
                    new.append(cycle)
                elif not known.same_as(cycle):
                    cycle = replace(cycle, revised=True)
                    revised.append(cycle)
                else:
                    continue
                self._emitted[cycle.index] = cycle
                self._by_block.setdefault(cycle.block_index, {})[cycle.cycle_in_block] = cycle
            seg.cursor = c
        return new, revised

    # -- regimes --------------------------------------------------------------------------------

    def _density(self, name: str, recipe_density: float | None) -> float | None:
        return self.densities.get(name) or recipe_density or self.default_density_g_cm3

    def _classify(self, block_index: int) -> None:
        cycles = [c for _, c in sorted(self._by_block.get(block_index, {}).items())]
        if not cycles:
            return
        name = cycles[0].block_name
        recipe_density = expected = None
        if self.recipe is not None and not self.misfit and block_index < len(self.recipe.blocks):
            block = self.recipe.blocks[block_index]
            recipe_density = block.density_g_cm3
            expected = block.expected_mass_per_cycle_ng_cm2
        first_index = cycles[0].index - cycles[0].cycle_in_block + 1
        self._blocks[block_index] = classify_block(
            [c.mass_gain_ng_cm2 for c in cycles], [c.mass_gain_sigma_ng_cm2 for c in cycles],
            block_index=block_index, block_name=name, first_index=first_index,
            density_g_cm3=self._density(name, recipe_density), expected_mass_ng_cm2=expected, settings=self.s)

    def _no_uptake(self) -> list[str]:
        """With the tool's valves, a pulse that fired but brought nothing where its step usually
        brings mass is an alarm: the bottle may be empty or the line blocked."""
        if not self.markers:
            return []
        out: list[str] = []
        for _block, by_cycle in sorted(self._by_block.items()):
            cycles = [c for _, c in sorted(by_cycle.items())]
            for k in range(max((len(c.steps_ng_cm2) for c in cycles), default=0)):
                healthy: list[float] = []  # the latest steps that did bring mass
                for c in cycles:
                    if k >= len(c.steps_ng_cm2) or not math.isfinite(c.steps_ng_cm2[k]):
                        continue
                    v, sig = c.steps_ng_cm2[k], c.steps_sigma_ng_cm2[k] if k < len(c.steps_sigma_ng_cm2) else 0.0
                    usual = float(np.median(healthy[-10:])) if len(healthy) >= 3 else 0.0
                    if usual > self.s.uptake_sigmas * max(sig, 1e-9) and v < self.s.uptake_fraction * usual:
                        out.append(f"{c.step_names[k]} pulse of cycle {c.index}: no uptake ({v:.1f} ng/cm² "
                                   f"where {usual:.1f} is usual) — precursor depleted or line blocked?")
                    elif v > self.s.uptake_sigmas * max(sig, 1e-9):
                        healthy.append(v)
        return out

    def _snapshot(self) -> RegimeSnapshot:
        blocks = tuple(self._blocks[k] for k in sorted(self._blocks))
        if blocks:
            message = blocks[-1].message()
        elif self.locked:
            message = "Locked on the pulses; first cycle in progress"
        else:
            message = "Waiting for the first pulse"
        if self.notes:
            message = f"{message} ({self.notes[-1]})"
        alarms = self._no_uptake()
        if alarms:
            message = f"{message}; {alarms[-1]}"
        return RegimeSnapshot(blocks, self.locked, message, (*self.notes, *alarms))


#: a cycle whose end is not in the data yet (only its end time is meaningful)
_NOT_YET = CycleResult(index=0, block_index=0, block_name="", cycle_in_block=0, start_s=math.nan, end_s=math.inf,
                       mass_gain_ng_cm2=math.nan, steps_ng_cm2=(), step_names=(), pulse_times_s=(),
                       pulses_observed=())


def analyze_mass(time_s: np.ndarray, mass_ng_cm2: np.ndarray, recipe: Recipe | None = None,
                 densities: Mapping[str, float] | None = None, default_density_g_cm3: float | None = None,
                 source: str = "", settings: AnalysisSettings | None = None,
                 markers: Sequence[ValvePulse] = ()) -> AnalysisResult:
    """Offline analysis of a whole mass trace (same code path as live)."""
    live = LiveAnalysis(recipe, densities, default_density_g_cm3, settings, markers)
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
