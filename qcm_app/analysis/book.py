"""The cycles handed out so far (by index and by block) and each block's regime: a new cycle is
handed out once, a changed one again as revised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from qcm_app.analysis.measure import no_uptake_alarms
from qcm_app.analysis.regimes import BlockRegime, classify_block
from qcm_app.analysis.result import CycleResult, RegimeSnapshot
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.domain.recipes import Block


class CycleBook:
    def __init__(self, settings: AnalysisSettings) -> None:
        self.s = settings
        self.emitted: dict[int, CycleResult] = {}  # by run-wide index
        self.by_block: dict[int, dict[int, CycleResult]] = {}
        self.regimes: dict[int, BlockRegime] = {}

    @property
    def cycles(self) -> list[CycleResult]:
        return [self.emitted[k] for k in sorted(self.emitted)]

    def hand_out(self, cycle: CycleResult, new: list[CycleResult], revised: list[CycleResult]) -> None:
        """A measured cycle: new, or a revision of the one shown under its index (if it differs)."""
        known = self.emitted.get(cycle.index)
        if known is None:
            new.append(cycle)
        elif not known.same_as(cycle):
            cycle = replace(cycle, revised=True)
            revised.append(cycle)
        else:
            return
        self.emitted[cycle.index] = cycle
        self.by_block.setdefault(cycle.block_index, {})[cycle.cycle_in_block] = cycle

    def classify(
        self,
        block_index: int,
        recipe_block: Block | None,
        densities: Mapping[str, float],
        default_density_g_cm3: float | None,
    ) -> None:
        """The block's regime from its cycles so far (the recipe's block, when it has one, gives the
        density and expected mass; a user's density by block name wins)."""
        cycles = [c for _, c in sorted(self.by_block.get(block_index, {}).items())]
        if not cycles:
            return
        name = cycles[0].block_name
        recipe_density = recipe_block.density_g_cm3 if recipe_block is not None else None
        expected = recipe_block.expected_mass_per_cycle_ng_cm2 if recipe_block is not None else None
        first_index = cycles[0].index - cycles[0].cycle_in_block + 1
        self.regimes[block_index] = classify_block(
            [c.mass_gain_ng_cm2 for c in cycles],
            [c.mass_gain_sigma_ng_cm2 for c in cycles],
            block_index=block_index,
            block_name=name,
            first_index=first_index,
            density_g_cm3=densities.get(name) or recipe_density or default_density_g_cm3,
            expected_mass_ng_cm2=expected,
            settings=self.s,
        )

    def snapshot(self, locked: bool, notes: Sequence[str], valves: bool) -> RegimeSnapshot:
        """What the views show: every block's regime, the headline, notes and (with the tool's
        valves) the no-uptake alarms."""
        blocks = tuple(self.regimes[k] for k in sorted(self.regimes))
        if blocks:
            message = blocks[-1].message()
        elif locked:
            message = "Locked on the pulses; first cycle in progress"
        else:
            message = "Waiting for the first pulse"
        if notes:
            message = f"{message} ({notes[-1]})"
        alarms = no_uptake_alarms(self.by_block, self.s) if valves else []
        if alarms:
            message = f"{message}; {alarms[-1]}"
        return RegimeSnapshot(blocks, locked, message, (*notes, *alarms))
