"""Aligning candidate onsets to a pulse plan: which candidate is which planned pulse.

A dynamic programme over the candidates in time order (an incremental Viterbi): each candidate is
either a planned pulse ``j`` or a false alarm. Between two matched candidates the time gap must
equal the plan's nominal gap within a timing bound (the tool's clock and jitter), or exceed it (an
unplanned hold, at a fixed cost, re-anchoring everything after it without shifting indices). Pulses
without a candidate are allowed at no cost in a recipe (invisible steps: a zero-growth start, a
water step that adds nothing) and at a cost in an inferred plan (every pulse of an inferred pattern
was visible). The whole recipe timeline — waits included — constrains the answer, so the first
cycles are placed even when they gain nothing: a later wait, or the end of the plan, tells which
pulse a candidate is, and the earlier pulses are then placed back from there.

The forward pass is incremental: a new candidate only looks back at a bounded number of earlier
candidates and keeps a bounded number of hypotheses, so live use costs a constant per candidate, and
the final path is the same whatever the chunking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qcm_app.analysis.onsets import Candidate
from qcm_app.analysis.plan import PulsePlan
from qcm_app.analysis.settings import AnalysisSettings


@dataclass(frozen=True)
class _State:
    j: int
    score: float
    back: tuple[int, int] | None  # (candidate index, state index) of the previous match
    hold: bool  # reached through a hold


class Aligner:
    def __init__(
        self,
        plan: PulsePlan,
        settings: AnalysisSettings,
        t_start_s: float,
        inferred: bool = False,
        first_candidate: int = 0,
    ) -> None:
        self.plan = plan
        self.s = settings
        self.t_start = t_start_s
        self.inferred = inferred
        self.first = first_candidate  # index (in the run's candidate list) of this aligner's first
        self.times: list[float] = []
        self.weights: list[float] = []
        self._prefix = [0.0]  # prefix sums of the weights (the cost of skipping candidates)
        self.states: list[list[_State]] = []
        self._offsets: dict[int, float] = {}
        process = [b for b in plan.blocks if not b.is_wait]
        self._period = process[0].cycle_duration_s if process else 1.0
        #: an inferred pattern's pulses: how often each shows (its miss cost); one block, from j = 0
        self._support = tuple(float(p.extra.get("support", 1.0)) for p in process[0].pulses) if process else (1.0,)
        self._expected: dict[tuple[int, int], float | None] = {}
        self._nodes: list[tuple[int, int, int, bool]] = []  # the last best path: (i, state, j, hold)
        self._node_pos: dict[tuple[int, int], int] = {}
        self._best_key = -math.inf
        self._best_end: tuple[int, int] | None = None
        #: the candidates are the tool's valve pulses: a planned pulse with no valve did not happen,
        #: so passing over one costs (no unseen cycle is placed before the first valve)
        self.valves = False

    def offset(self, j: int) -> float:
        o = self._offsets.get(j)
        if o is None:
            o = self.plan.offset(j)
            if len(self._offsets) > 100_000:
                self._offsets.clear()
            self._offsets[j] = o
        return o

    def _sigma(self, gap_s: float) -> float:
        return self.s.timing_sigma_abs_s + self.s.timing_sigma_rel * abs(gap_s)

    def add(self, c: Candidate, name: str = "", valve: bool = False) -> None:
        """A candidate onset in time order; ``name`` (a valve's precursor) may only be that pulse. A
        ``valve`` pulse is certain: its size says nothing, so no size preference applies."""
        i = len(self.times)
        w = min(c.z, self.s.candidate_weight_cap)
        self.times.append(c.time_s)
        self.weights.append(w)
        self._prefix.append(self._prefix[-1] + w)
        best: dict[int, _State] = {}
        top = -math.inf

        def offer(j: int, score: float, back: tuple[int, int] | None, hold: bool) -> None:
            if name and self.plan.name(j) != name:
                return
            like = 0.0 if valve else self._likeness(j, size)
            if like == -math.inf:
                return
            score += like
            old = best.get(j)
            if old is None or score > old.score:
                best[j] = _State(j, score, back, hold)
            nonlocal top
            top = max(top, score)

        t = c.time_s
        size = c.size_ng_cm2
        bound = self.s.timing_bound_sigmas
        # branch and bound: expand the source states in order of the best score they could give,
        # and stop once none can reach the hypotheses already kept
        sources = []
        for i2 in range(max(0, i - self.s.dp_sources), i):
            skipped = self._prefix[i] - self._prefix[i2 + 1]
            for k, st in enumerate(self.states[i2]):
                sources.append((st.score - skipped + w, i2, k, st))
        sources.sort(key=lambda x: -x[0])
        for base, i2, k, st in sources:
            if base < top - self.s.dp_margin:
                break
            if len(best) >= self.s.dp_states:
                kth = sorted((b.score for b in best.values()), reverse=True)[self.s.dp_states - 1]
                if base <= kth:
                    break
            dt = t - self.times[i2]
            o2 = self.offset(st.j)
            # on time: the pulse whose nominal gap matches
            jn = self._index_near(o2 + dt, st.j)
            for j in (jn - 1, jn, jn + 1):
                if j <= st.j or not self.plan.exists(j):
                    continue
                gap = self.offset(j) - o2
                r = dt - gap
                sig = self._sigma(gap)
                if abs(r) <= bound * sig:
                    cost = 0.5 * (r / sig) ** 2 + self._miss(st.j, j)
                    offer(j, base - cost, (i2, k), False)
            # late: an unplanned hold before one of the next few pulses
            if k == 0:
                for j in range(st.j + 1, st.j + 1 + self._hold_reach(st.j)):
                    if not self.plan.exists(j):
                        break
                    gap = self.offset(j) - o2
                    if dt - gap > bound * self._sigma(gap):
                        offer(j, base - self.s.hold_cost - self._miss(st.j, j), (i2, k), True)
        # a path may start here (every earlier candidate a false alarm), if that could rank
        start_score = -self._prefix[i] + w
        if start_score > top - self.s.dp_margin and (
            len(best) < self.s.dp_states or start_score > min(b.score for b in best.values())
        ):
            for j, lead_cost in self._starts(t):
                offer(j, start_score - lead_cost, None, False)
        states = sorted(best.values(), key=lambda s: -s.score)[: self.s.dp_states]
        self.states.append(states)
        if states:  # a path ending here leaves only later candidates unmatched
            key = states[0].score + self._prefix[i + 1]
            if key > self._best_key:
                self._best_key, self._best_end = key, (i, 0)

    def _likeness(self, j: int, size: float) -> float:
        """A small preference that breaks ties the timing cannot (a symmetric A/B cycle): a step
        whose sign agrees with the recipe's expected mass for that pulse, or else, without one,
        a gain on the cycle's first pulse (the metal precursor, which brings most of the mass)."""
        key = self.plan.slot(j)
        expected = self._expected.get(key, 0.0)
        if expected == 0.0 and key not in self._expected:
            expected = self._expected[key] = self.plan.blocks[key[0]].pulses[key[1]].mass_ng_cm2
        if expected is not None and expected != 0:
            if size / expected < self.s.inferred_size_ratio:
                # an inferred pulse was seen at its typical size: a far smaller step is something
                # else; a recipe's expected mass is only a hint (a start can be inhibited), so there
                # it costs more than leaving the step unmatched
                return -math.inf if self.inferred else -2.0 * self.s.candidate_weight_cap
            return self.s.likeness_bonus if (expected > 0) == (size > 0) else -self.s.likeness_bonus
        return self.s.likeness_bonus if key[1] == 0 and size > 0 else 0.0

    def _index_near(self, offset: float, after: int) -> int:
        """The pulse after ``after`` nearest ``offset``: a short walk forward (the usual case: the
        next pulse or two), a binary search over the plan for long gaps."""
        j = after + 1
        for _ in range(8):
            if not self.plan.exists(j + 1) or self.offset(j + 1) > offset:
                if self.plan.exists(j + 1) and abs(self.offset(j + 1) - offset) < abs(self.offset(j) - offset):
                    return j + 1
                return j
            j += 1
        return max(self.plan.index_near(offset), after + 1)

    def _hold_reach(self, j: int) -> int:
        block, _ = self.plan.slot(j + 1) if self.plan.exists(j + 1) else self.plan.slot(j)
        ppc = self.plan.pulses_per_cycle(block)
        return max(1, math.ceil(self.s.hold_max_cycles * ppc))

    def _miss(self, j_from: int, j_to: int) -> float:
        """Skipping pulses of an inferred pattern costs in proportion to how often each shows;
        skipping planned pulses the valves never fired costs a fixed amount each."""
        if self.valves:
            return self.s.valve_skip_cost * max(0, j_to - j_from - 1)
        if not self.inferred:
            return 0.0
        n = j_to - j_from - 1
        if n <= 0:
            return 0.0
        weights = self._support
        full, rest = divmod(n, len(weights))
        first = (j_from + 1) % len(weights)
        partial = sum(weights[(first + k) % len(weights)] for k in range(rest))
        return self.s.inferred_miss_cost * (full * sum(weights) + partial)

    def _starts(self, t: float) -> list[tuple[int, float]]:
        """Pulses this candidate could be if it is the first one matched: the recipe cannot have
        started before the data (within the timing bound), and a later start costs a little."""
        if self.inferred:
            return [(0, 0.0)]
        elapsed = t - self.t_start
        j_max = self.plan.index_near(elapsed)
        while j_max > 0 and self.offset(j_max) > elapsed + self.s.timing_bound_sigmas * self._sigma(elapsed):
            j_max -= 1
        if self.offset(j_max) > elapsed + self.s.timing_bound_sigmas * self._sigma(elapsed):
            return []
        ppc = self.plan.pulses_per_cycle(self.plan.pulse(j_max).block_index)
        js = set(range(max(0, j_max - 2 * ppc), j_max + 1)) | set(range(0, min(j_max, 2 * ppc) + 1))
        js |= {j_max - ppc * c for c in range(3, 200) if j_max - ppc * c >= 0}
        out = []
        for j in sorted(js):
            lead = max(0.0, elapsed - self.offset(j))
            skipped = self.s.valve_skip_cost * j if self.valves else 0.0
            out.append((j, self.s.lead_cost_per_cycle * lead / max(self._period, 1e-9) + skipped))
        return out

    # -- the answer -----------------------------------------------------------------------------

    def best_end(self) -> tuple[int, int] | None:
        """(candidate, state) ending the best path over all candidates so far: a path ending at i
        scores S_i - (P_n - P_{i+1}), so the best is the largest S_i + P_{i+1}, kept as we go."""
        return self._best_end

    def path(self) -> list[tuple[int, int, bool]]:
        """(candidate index within this aligner, planned pulse, reached through a hold), in order."""
        return [(i, j, h) for i, _, j, h in self._path_nodes()[1]]

    def path_update(self) -> tuple[int, list[tuple[int, int, bool]]]:
        """The best path's new part and the index from which it differs from the one returned before: the walk
        back from the new best end stops where it meets the old path (states never change once
        made, so everything before that node is the same), which keeps live use linear."""
        k, nodes = self._path_nodes()
        return k, [(i, j, h) for i, _, j, h in nodes[k:]]

    def _path_nodes(self) -> tuple[int, list[tuple[int, int, int, bool]]]:
        end = self.best_end()
        tail: list[tuple[int, int, int, bool]] = []
        keep = 0
        while end is not None:
            pos = self._node_pos.get(end)
            if pos is not None:
                keep = pos + 1
                break
            i, k = end
            st = self.states[i][k]
            tail.append((i, k, st.j, st.hold))
            end = st.back
        tail.reverse()
        for node in self._nodes[keep:]:
            del self._node_pos[(node[0], node[1])]
        del self._nodes[keep:]
        for node in tail:
            self._node_pos[(node[0], node[1])] = len(self._nodes)
            self._nodes.append(node)
        return keep, self._nodes

    def trailing_unmatched(self, path: list[tuple[int, int, bool]]) -> int:
        """Candidates after the path's last match (a pattern that stopped fitting)."""
        last = path[-1][0] if path else -1
        return len(self.times) - 1 - last
