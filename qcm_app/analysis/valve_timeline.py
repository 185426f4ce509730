"""The cycle timeline read straight from the tool's valves, when there is no recipe.

Every pulse time is known, so nothing is aligned: a cycle is the group of pulses that starts at
the run's first precursor (:func:`qcm_app.domain.markers.group_cycles`), it ends where the next cycle of
its block starts, and the last cycle of a block ends one block period after its start. The same
function runs on the pulses seen so far (live) and on all of them (offline); a live cycle is
handed out only once nothing later can move its end, so the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qcm_app.analysis.result import CycleResult
from qcm_app.analysis.segment import PlacedCycle
from qcm_app.domain.markers import PulseCycle, ValvePulse, group_cycles
from qcm_app.domain.recipes import Block, Step, StepKind


@dataclass(frozen=True)
class ValveCycle:
    """One cycle as the valves placed it; ``block_index`` counts from 0, ``index`` from 1."""

    index: int
    block_index: int
    cycle_in_block: int
    pulses: tuple[ValvePulse, ...]
    end_s: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.precursor or p.channel for p in self.pulses)

    def placed(self, markers: Sequence[ValvePulse], first: int, drift_windows: int) -> PlacedCycle:
        """The cycle at its valve times; ``first`` is its first pulse's place in ``markers``."""
        times = tuple(p.time_s for p in self.pulses)
        cycle = CycleResult(
            index=self.index,
            block_index=self.block_index,
            block_name=f"block {self.block_index + 1}",
            cycle_in_block=self.cycle_in_block,
            start_s=times[0],
            end_s=self.end_s,
            mass_gain_ng_cm2=math.nan,
            steps_ng_cm2=(),
            step_names=self.names,
            pulse_times_s=times,
            pulses_observed=(True,) * len(times),
        )
        before = tuple((p.time_s, p.duration_s) for p in markers[max(0, first - drift_windows - 1) : first])
        return PlacedCycle(cycle, tuple(p.duration_s for p in self.pulses), before)


def _periods(cycles: Sequence[PulseCycle]) -> dict[int, float]:
    """Median cycle period of each block (NaN for a block of one cycle)."""
    starts: dict[int, list[float]] = {}
    for c in cycles:
        starts.setdefault(c.block, []).append(c.start_s)
    return {b: float(np.median(np.diff(s))) if len(s) > 1 else math.nan for b, s in starts.items()}


def valve_cycles(
    pulses: Sequence[ValvePulse], known_until_s: float, final: bool, pause_factor: float
) -> list[ValveCycle]:
    """The cycles whose end is settled by the pulses seen up to ``known_until_s`` (all of them when
    ``final``). A block's last cycle is settled once the next block started or once the valves have
    been quiet for ``pause_factor`` periods (a pause); a cycle's end needs its block's period only
    then, and the block is complete by that time, so its period no longer changes."""
    grouped = group_cycles(pulses, pause_factor)
    periods = _periods(grouped)
    out: list[ValveCycle] = []
    for i, c in enumerate(grouped):
        nxt = grouped[i + 1] if i + 1 < len(grouped) else None
        if nxt is not None and (
            nxt.block == c.block
            or (not final and i + 2 == len(grouped) and _still_pulsing(c, nxt, periods[c.block], pause_factor))
        ):
            end = nxt.start_s
        else:
            period = periods[c.block]
            quiet = known_until_s - c.start_s
            if nxt is None and not final and not (math.isfinite(period) and quiet > pause_factor * period):
                break  # the next pulse may still come and end this cycle
            end = c.start_s + period if math.isfinite(period) else _lone_cycle_end(c)
            if nxt is not None:
                end = min(end, nxt.start_s)
        out.append(ValveCycle(i + 1, c.block - 1, c.cycle_in_block, c.pulses, end))
    return out


def _still_pulsing(c: PulseCycle, nxt: PulseCycle, period: float, pause_factor: float) -> bool:
    """Live, the newest cycle may have only its first pulses yet: a proper prefix of the cycle
    before, without a pause, is that cycle's pattern coming, not a new block."""
    n = len(nxt.pattern)
    prefix = n < len(c.pattern) and nxt.pattern == c.pattern[:n]
    return prefix and not (math.isfinite(period) and nxt.start_s - c.start_s > pause_factor * period)


def _lone_cycle_end(c: PulseCycle) -> float:
    """A block of one cycle has no period: its last purge is taken as long as its pulses' spacing
    (or 20 s after a single pulse)."""
    last = c.pulses[-1]
    spacing = last.time_s - c.start_s
    return last.time_s + max(last.duration_s + 1.0, spacing if spacing > 0 else 20.0)


def valve_blocks(cycles: Sequence[ValveCycle]) -> list[Block]:
    """The blocks the valves show, as recipe blocks (pulse names, lengths and purges of each block's
    first cycle), for display and densities."""
    first: dict[int, ValveCycle] = {}
    count: dict[int, int] = {}
    for c in cycles:
        first.setdefault(c.block_index, c)
        count[c.block_index] = max(count.get(c.block_index, 0), c.cycle_in_block)
    blocks: list[Block] = []
    for b in sorted(first):
        c = first[b]
        times = [p.time_s for p in c.pulses] + [c.end_s]
        steps: list[Step] = []
        for k, p in enumerate(c.pulses):
            steps.append(Step(p.precursor or p.channel, StepKind.PULSE, max(p.duration_s, 1e-3)))
            steps.append(Step("purge", StepKind.PURGE, max(times[k + 1] - p.time_s - p.duration_s, 1e-3)))
        blocks.append(Block(name=f"block {b + 1}", repeat=count[b], steps=tuple(steps)))
    return blocks
