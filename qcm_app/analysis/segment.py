"""A stretch of the run aligned to one plan (the whole run with a recipe, or one inferred block):
its best path through the candidates, and the pulse times that path gives, seen or not."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from qcm_app.analysis.align import Aligner
from qcm_app.analysis.plan import PulsePlan
from qcm_app.analysis.result import CycleResult
from qcm_app.analysis.settings import AnalysisSettings


@dataclass(frozen=True)
class PlacedCycle:
    """A cycle's pulses placed in time (masses not measured yet), their lengths, and the (time,
    length) of the pulses before it, oldest first: their windows join the drift pool."""

    cycle: CycleResult
    durations_s: tuple[float, ...]
    before: tuple[tuple[float, float], ...]


@dataclass
class Segment:
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

    def update_path(self) -> float:
        """Take the aligner's new best path; returns the earliest time whose cycles may have moved."""
        k, tail = self.aligner.path_update()
        old_len = len(self.path)
        # the aligner reports where its states part, but two states can hold the same match: the
        # path itself may part later (often not at all), and only from there can cycles move
        while k < old_len and tail and tail[0] == self.path[k]:
            tail = tail[1:]
            k += 1
        if k == old_len and not tail:
            return math.inf
        old_k_time = self.matched_t[k - 1] if k >= 1 else math.nan
        al = self.aligner
        del self.path[k:], self.matched_j[k:], self.matched_t[k:], self.holds[k:]
        self.path.extend(tail)
        self.matched_j.extend(j for _, j, _ in tail)
        self.matched_t.extend(al.times[i] for i, _, _ in tail)
        self.holds.extend(h for _, _, h in tail)
        if k < 20:  # the first matches also set the clock the leading cycles are placed with
            return -math.inf
        return old_k_time

    def truncate(self, n: int) -> None:
        self.path = self.path[:n]
        self.matched_j = self.matched_j[:n]
        self.matched_t = self.matched_t[:n]
        self.holds = self.holds[:n]

    def scale(self, head: bool, settings: AnalysisSettings) -> float:
        """The tool's clock against the plan, from the first (or last) matched pulses of a stretch
        without holds: the median of pairwise slopes (robust to a misplaced onset)."""
        js, ts = self.matched_j, self.matched_t
        n = len(js)
        if n < 3:
            return 1.0
        # the scale depends only on the matches it reads: computed again only when they change
        key = (head, n if not head else min(n, 20), tuple(ts[:20]) if head else (ts[-1], js[-1], n))
        cached = self.scale_cache.get(head)
        if cached is not None and cached[0] == key:
            return cached[1]
        value = self._scale_from(head, settings)
        self.scale_cache[head] = (key, value)
        return value

    def _scale_from(self, head: bool, settings: AnalysisSettings) -> float:
        js, ts, holds = self.matched_j, self.matched_t, self.holds
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
        pts = [(self.aligner.offset(js[k]), ts[k]) for k in idx]
        slopes = [
            (tb - ta) / (ob - oa)
            for a, (oa, ta) in enumerate(pts)
            for (ob, tb) in pts[a + 1 :]
            if abs(ob - oa) >= 2 * settings.settle_max_s
        ]
        if len(slopes) < 3:
            return 1.0
        return min(max(float(np.median(slopes)), 0.97), 1.03)

    def place(self, j: int, scales: tuple[float, float]) -> tuple[float, bool]:
        """Pulse ``j``'s time and whether it was seen: a match as found; between matches by the
        plan, stretched to them; before the first or after the last by the clock ``scales``."""
        js, ts = self.matched_j, self.matched_t
        k = bisect.bisect_left(js, j)
        if k < len(js) and js[k] == j:
            return ts[k], True
        o = self.aligner.offset(j)
        if k == 0:
            return ts[0] - scales[0] * (self.aligner.offset(js[0]) - o), False
        if k >= len(js):
            return ts[-1] + scales[1] * (o - self.aligner.offset(js[-1])), False
        oa, ob = self.aligner.offset(js[k - 1]), self.aligner.offset(js[k])
        ta, tb = ts[k - 1], ts[k]
        if self.holds[k]:  # the hold happened somewhere in between: run on time from the last match
            return min(ta + (o - oa), tb - (ob - o)), False
        return ta + (o - oa) * (tb - ta) / (ob - oa), False

    def cycles(self) -> range:
        """Cycle numbers (within the segment's plan, from 1) the segment may emit."""
        if not self.matched_j:
            return range(1, 1)
        if self.inferred:
            last = self.plan.pulse(self.matched_j[-1]).cycle_index
            return range(1, last + 1)
        return range(1, self.plan.cycle_count + 1)

    def place_cycle(self, c: int, scales: tuple[float, float], drift_windows: int) -> PlacedCycle:
        """Cycle ``c`` (within the plan, from 1): its pulses where the alignment puts them; it ends
        where the next cycle of its block starts, or a nominal last purge after its last pulse."""
        plan = self.plan
        j0 = plan.first_pulse_of_cycle(c)
        first = plan.pulse(j0)
        pulses = [plan.pulse(j) for j in range(j0, j0 + plan.pulses_per_cycle(first.block_index))]
        placed = [self.place(p.j, scales) for p in pulses]
        times = tuple(p[0] for p in placed)
        last = pulses[-1]
        if plan.exists(last.j + 1) and plan.pulse(last.j + 1).block_index == first.block_index:
            end, _ = self.place(last.j + 1, scales)
        else:
            end = times[-1] + (plan.cycle_end_offset(last) - last.offset_s)  # the last purge, nominal
        before = tuple(
            (self.place(jj, scales)[0], plan.duration(jj)) for jj in range(max(0, j0 - drift_windows - 1), j0)
        )
        block = plan.blocks[first.block_index]
        cycle = CycleResult(
            index=self.first_cycle_index + first.cycle_index - 1,
            block_index=self.block_base + first.block_index,
            block_name=block.name,
            cycle_in_block=first.cycle_in_block,
            start_s=times[0],
            end_s=end,
            mass_gain_ng_cm2=math.nan,
            steps_ng_cm2=(),
            step_names=tuple(p.name for p in pulses),
            pulse_times_s=times,
            pulses_observed=tuple(o for _, o in placed),
        )
        return PlacedCycle(cycle, tuple(p.duration_s for p in pulses), before)
