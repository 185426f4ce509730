"""Without a recipe: the candidates fall into inferred blocks, each a repeating pattern aligned as
a segment of its own; a wait, a long hold or a pattern that stops fitting ends a block, and the
next one is inferred afresh from the candidates after it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

from qcm_app.analysis.align import Aligner
from qcm_app.analysis.infer import Verdict, infer_pattern
from qcm_app.analysis.onsets import Candidate
from qcm_app.analysis.plan import PulsePlan
from qcm_app.analysis.segment import Segment
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.domain.recipes import Block


class InferredTimeline:
    """Shares the engine's candidate list and segment list (it appends to both views)."""

    def __init__(self, settings: AnalysisSettings, candidates: list[Candidate], segments: list[Segment]) -> None:
        self.s = settings
        self.candidates = candidates
        self.segments = segments
        self.pending: list[int] = []  # candidates not yet in a pattern
        self.blocks: list[Block] = []
        self.final = False

    def restart(self, pending: Iterable[int]) -> float:
        """Forget the inferred blocks; infer again from ``pending`` (candidate numbers)."""
        self.blocks = []
        self.pending = list(pending)
        return self.infer()

    def absorb(self, ci: int) -> float:
        """Candidate ``ci`` arrived; returns the earliest time whose cycles may have changed."""
        c = self.candidates[ci]
        last = self.segments[-1] if self.segments and not self.segments[-1].closed else None
        if last is not None:
            seg = last
            seg.aligner.add(c)
            changed = seg.update_path()
            if self._long_gap(seg):
                # a wait or a long hold ends an inferred block: the next one is inferred afresh
                i_last = seg.path[-1][0]
                seg.truncate(len(seg.path) - 1)
                seg.closed = True
                self.pending = list(range(seg.aligner.first + i_last, ci + 1))
                return min(changed, self.infer())
            if seg.aligner.trailing_unmatched(seg.path) >= self.s.pattern_break_candidates:
                seg.closed = True
                first_unmatched = seg.aligner.first + (seg.path[-1][0] + 1 if seg.path else 0)
                self.pending = list(range(first_unmatched, ci + 1))
                return min(changed, self.infer())
            return changed
        self.pending.append(ci)
        return self.infer()

    def _long_gap(self, seg: Segment) -> bool:
        """The last match came after a pause of several cycles (a wait or a long hold)."""
        if len(seg.path) < 2 or not seg.path[-1][2]:
            return False
        period = seg.plan.blocks[0].cycle_duration_s
        return seg.matched_t[-1] - seg.matched_t[-2] > self.s.block_gap_cycles * period

    # -- recipe-less: patterns ------------------------------------------------------------------

    def infer(self) -> float:
        """Find the repeating pattern of the pending candidates; start a segment on it."""
        changed = math.inf
        while self.pending:
            found, lead = infer_pattern(self.candidates, self.pending, self.s, self.final)
            if found is Verdict.WAIT:
                return changed
            if found is Verdict.DROP:
                strong = [i for i in self.pending if self.candidates[i].z >= self.s.infer_strong_z]
                drop_until = self.pending.index(strong[0]) + 1 if strong else len(self.pending)
                self.pending = self.pending[drop_until:]
                continue
            assert isinstance(found, Block)
            self.pending = self.pending[lead:]
            first = self.pending[0]
            index = 1 + sum(len(s.cycles()) for s in self.segments)
            name = f"block {len(self.blocks) + 1}"
            block = replace(found, name=name)
            self.blocks.append(block)
            plan = PulsePlan([block], open_ended=True)
            t_first = self.candidates[first].time_s
            aligner = Aligner(plan, self.s, t_first, inferred=True, first_candidate=first)
            seg = Segment(plan, aligner, index, len(self.blocks) - 1, inferred=True)
            self.segments.append(seg)
            pending, self.pending = self.pending, []
            for ci in pending:
                aligner.add(self.candidates[ci])
                seg.update_path()
                if aligner.trailing_unmatched(seg.path) >= self.s.pattern_break_candidates:
                    seg.closed = True
                    last = seg.path[-1][0] if seg.path else -1
                    self.pending = [first + i for i in range(last + 1, len(aligner.times))]
                    self.pending += [p for p in pending if p > first + len(aligner.times) - 1]
                    break
            if seg.closed and not seg.path:
                # the pattern did not hold beyond its own evidence: forget it, move past its lead
                self.segments.pop()
                self.blocks.pop()
                self.pending = [p for p in pending if p > first]
                continue
            changed = min(changed, t_first)
            if not seg.closed:
                break
        return changed
