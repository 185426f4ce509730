"""The run's pulses in order, expanded lazily from the recipe: memory and time do not depend on
``repeat``. Pulse ``j`` has a nominal offset (s) from the start of the recipe, a duration, and its
place in the run (block, cycle within the block, pulse within the cycle, run-wide cycle index).
Waits (purge-only blocks) have no pulses; they only move the later offsets."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from qcm_app.domain.recipes import Block


@dataclass(frozen=True)
class PlannedPulse:
    j: int
    offset_s: float
    duration_s: float
    block_index: int
    cycle_in_block: int  # from 1
    step: int  # pulse number within the cycle, from 0
    cycle_index: int  # run-wide, from 1, waits not counted
    name: str


class PulsePlan:
    """``blocks`` in run order; ``open_ended`` repeats the last block for ever (inferred patterns)."""

    def __init__(self, blocks: list[Block], open_ended: bool = False) -> None:
        self.blocks = blocks
        self.open_ended = open_ended
        self._first_j: list[int] = []  # first pulse number of each block
        self._start_s: list[float] = []  # offset of each block's start
        self._first_cycle: list[int] = []  # run-wide index of each block's first cycle
        self._pulse_offsets: list[tuple[float, ...]] = []  # per block: pulse offsets within a cycle
        self._pulse_steps: list[tuple[int, ...]] = []  # per block: step index of each pulse
        self._pulse_lengths: list[tuple[float, ...]] = []  # per block: duration of each pulse (s)
        self._period: list[float] = [b.cycle_duration_s for b in blocks]
        self._wait: list[bool] = [b.is_wait for b in blocks]
        j, t, cycle = 0, 0.0, 1
        for b in blocks:
            self._first_j.append(j)
            self._start_s.append(t)
            self._first_cycle.append(cycle)
            offs, steps, o = [], [], 0.0
            for k, s in enumerate(b.steps):
                if s.is_pulse:
                    offs.append(o)
                    steps.append(k)
                o += s.duration_s
            self._pulse_offsets.append(tuple(offs))
            self._pulse_steps.append(tuple(steps))
            self._pulse_lengths.append(tuple(b.steps[k].duration_s for k in steps))
            j += len(offs) * b.repeat
            t += b.duration_s
            cycle += b.cycles
        self.pulse_count = j
        self.cycle_count = cycle - 1
        self.end_offset_s = t

    def __len__(self) -> int:
        return self.pulse_count

    def _block_of_pulse(self, j: int) -> int:
        return bisect.bisect_right(self._first_j, j) - 1

    def pulses_per_cycle(self, block_index: int) -> int:
        return len(self._pulse_offsets[block_index])

    def exists(self, j: int) -> bool:
        return j >= 0 and (self.open_ended or j < self.pulse_count)

    def _block_with_pulse(self, j: int) -> int:
        bi = self._block_of_pulse(j)
        # skip back over waits that share the same first pulse number
        while bi > 0 and self._wait[bi]:
            bi -= 1
        return bi

    def pulse(self, j: int) -> PlannedPulse:
        bi = self._block_with_pulse(j)
        block = self.blocks[bi]
        ppc = len(self._pulse_offsets[bi])
        k = j - self._first_j[bi]
        cycle, p = divmod(k, ppc)
        offset = self._start_s[bi] + cycle * self._period[bi] + self._pulse_offsets[bi][p]
        step = block.steps[self._pulse_steps[bi][p]]
        return PlannedPulse(
            j=j,
            offset_s=offset,
            duration_s=step.duration_s,
            block_index=bi,
            cycle_in_block=cycle + 1,
            step=p,
            cycle_index=self._first_cycle[bi] + cycle,
            name=step.name,
        )

    def offset(self, j: int) -> float:
        if j >= self.pulse_count and not self.open_ended:
            return self.end_offset_s
        bi = self._block_with_pulse(j)
        offs = self._pulse_offsets[bi]
        cycle, p = divmod(j - self._first_j[bi], len(offs))
        return self._start_s[bi] + cycle * self._period[bi] + offs[p]

    def slot(self, j: int) -> tuple[int, int]:
        """(block, pulse within the cycle) of pulse ``j``, without building a :class:`PlannedPulse`."""
        bi = self._block_with_pulse(j)
        return bi, (j - self._first_j[bi]) % len(self._pulse_offsets[bi])

    def name(self, j: int) -> str:
        bi, p = self.slot(j)
        return self.blocks[bi].steps[self._pulse_steps[bi][p]].name

    def duration(self, j: int) -> float:
        """Pulse ``j``'s length (s), without building the whole :class:`PlannedPulse`."""
        bi = self._block_with_pulse(j)
        lengths = self._pulse_lengths[bi]
        return lengths[(j - self._first_j[bi]) % len(lengths)]

    def cycle_end_offset(self, p: PlannedPulse) -> float:
        """Nominal end of the cycle that pulse ``p`` belongs to (where the next cycle would start)."""
        return self._start_s[p.block_index] + p.cycle_in_block * self._period[p.block_index]

    def first_pulse_of_cycle(self, cycle_index: int) -> int:
        """Pulse number of the first pulse of a run-wide cycle (from 1)."""
        bi = bisect.bisect_right(self._first_cycle, cycle_index) - 1
        while bi > 0 and self.blocks[bi].is_wait:
            bi -= 1
        return self._first_j[bi] + (cycle_index - self._first_cycle[bi]) * len(self._pulse_offsets[bi])

    def index_near(self, offset_s: float) -> int:
        """The pulse whose offset is nearest ``offset_s``: the block by bisection, the cycle by
        division, the pulse within it by bisection again."""
        if self.pulse_count == 0 and not self.open_ended:
            return 0
        bi = max(0, bisect.bisect_right(self._start_s, offset_s) - 1)
        while bi > 0 and (self._wait[bi] or not self._pulse_offsets[bi]):
            bi -= 1
        if self._wait[bi]:  # only waits before: the first pulse of the run
            bi = next((k for k in range(len(self.blocks)) if not self._wait[k]), bi)
        offs = self._pulse_offsets[bi]
        ppc = len(offs)
        rel = offset_s - self._start_s[bi]
        cycle = max(0, int(rel // self._period[bi])) if self._period[bi] > 0 else 0
        repeat = self.blocks[bi].repeat
        if not (self.open_ended and bi == len(self.blocks) - 1):
            cycle = min(cycle, repeat - 1)
        p = bisect.bisect_left(offs, rel - cycle * self._period[bi])
        j = self._first_j[bi] + cycle * ppc + min(p, ppc - 1)
        best = j
        for k in (j - 1, j, j + 1):
            if (
                k >= 0
                and (self.open_ended or k < self.pulse_count)
                and abs(self.offset(k) - offset_s) < abs(self.offset(best) - offset_s)
            ):
                best = k
        return best
