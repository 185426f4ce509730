"""A recipe read from the valves when there is none: the tool's own pulse times give the cycles,
their blocks (a change of precursors or a pause), each pulse's length and the purges between."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcm_app.markers import ValvePulse, group_cycles
from qcm_app.recipes import Block, Recipe, Step, StepKind


def recipe_from_valves(pulses: Sequence[ValvePulse], pause_factor: float = 3.0) -> Recipe | None:
    cycles = group_cycles(pulses, pause_factor)
    if not cycles:
        return None
    blocks: list[Block] = []
    by_block: dict[int, list] = {}
    for c in cycles:
        by_block.setdefault(c.block, []).append(c)
    ordered = [by_block[k] for k in sorted(by_block)]
    for bi, group in enumerate(ordered):
        starts = [c.start_s for c in group]
        period = float(np.median(np.diff(starts))) if len(starts) > 1 else None
        first = group[0]
        steps: list[Step] = []
        for k, p in enumerate(first.pulses):
            offsets = [c.pulses[k].time_s - c.start_s for c in group if len(c.pulses) > k]
            nxt = [c.pulses[k + 1].time_s - c.start_s for c in group if len(c.pulses) > k + 1]
            length = float(np.median([c.pulses[k].duration_s for c in group if len(c.pulses) > k]))
            start = float(np.median(offsets))
            if nxt:
                end = float(np.median(nxt))
            elif period is not None:
                end = period
            else:  # a one-cycle block: its last purge runs to the next block, at most one pulse gap
                end = start + max(length + 1.0, (start if start > 0 else 20.0))
            steps.append(Step(p.precursor or p.channel, StepKind.PULSE, max(length, 1e-3)))
            steps.append(Step("purge", StepKind.PURGE, max(end - start - length, 1e-3)))
        blocks.append(Block(name=f"block {bi + 1}", repeat=len(group), steps=tuple(steps)))
        if bi + 1 < len(ordered):  # the pause before the next block is a wait
            cycle_s = sum(s.duration_s for s in steps)
            gap = ordered[bi + 1][0].start_s - (group[-1].start_s + cycle_s)
            if gap > 1.0:
                blocks.append(Block(name="wait", repeat=1, steps=(Step("purge", StepKind.PURGE, gap),)))
    return Recipe(name="from the valves", blocks=tuple(blocks))
