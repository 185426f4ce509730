"""Step and cycle masses of placed cycles, and what they say about the valves."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from qcm_app.analysis.result import CycleResult
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.analysis.steps import LevelReader, Window, bending_slope, difference, pooled_slope


class CycleMeter:
    """Reads the settled windows of one run's samples; ``levels`` caches them."""

    def __init__(self, levels: LevelReader, settings: AnalysisSettings) -> None:
        self.levels = levels
        self.s = settings

    def measure(
        self,
        t: np.ndarray,
        m: np.ndarray,
        cand_times: Sequence[float],
        cycle: CycleResult,
        durations_s: Sequence[float],
        before: Sequence[tuple[float, float]],
    ) -> CycleResult:
        """Step and cycle masses of a placed cycle. ``before`` holds (time, length) of the pulses
        that precede it, oldest first: the windows before them join the drift pool, and the last
        one's end is where the cycle's first purge starts."""
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
            start = self._clear_of_steps(cand_times, start_limit, times[k])
            windows.append(self.levels.window_before(t, m, times[k], start))
        start = self._clear_of_steps(cand_times, times[-1] + durations_s[-1], end)
        windows.append(self.levels.window_before(t, m, end, start))
        # drift slope, pooled over the windows before the previous pulses and this cycle's; where
        # the drift bends (a warm-up), it is the slope the windows' trend gives at this cycle
        pool: list[Window] = []
        for k in range(max(0, len(before) - self.s.drift_windows), len(before)):
            pool.append(self.levels.window_before(t, m, before[k][0], purge_start(k - 1)))
        pool += windows
        slope, slope_se = pooled_slope(pool, self.levels.quantum)
        bent = bending_slope(
            pool, 0.5 * (windows[0].t_mean + windows[-1].t_mean), self.levels.quantum, self.s.drift_change_sigmas
        )
        if bent is not None:
            slope, slope_se = bent
        steps = [difference(windows[k], windows[k + 1], slope, slope_se) for k in range(len(times))]
        gain, gain_sigma = difference(windows[0], windows[-1], slope, slope_se)
        return replace(
            cycle,
            mass_gain_ng_cm2=gain,
            steps_ng_cm2=tuple(v for v, _ in steps),
            mass_gain_sigma_ng_cm2=gain_sigma,
            steps_sigma_ng_cm2=tuple(e for _, e in steps),
        )

    def _clear_of_steps(self, cand_times: Sequence[float], start_limit: float, t_pulse: float) -> float:
        """A settled window starts after the last step seen before the pulse, planned or not (a
        weak pulse an inferred pattern leaves out still moves the level) — unless that would leave
        too little of the purge to read."""
        k = bisect.bisect_left(cand_times, t_pulse - self.s.guard_s - self.s.settle_min_s) - 1
        if k >= 0 and cand_times[k] > start_limit:
            return cand_times[k] + min(1.0, 0.25 * (t_pulse - cand_times[k]))
        return start_limit


def no_uptake_alarms(by_block: Mapping[int, Mapping[int, CycleResult]], s: AnalysisSettings) -> list[str]:
    """With the tool's valves, a pulse that fired but brought nothing where its step usually
    brings mass is an alarm: the bottle may be empty or the line blocked."""
    out: list[str] = []
    for _block, by_cycle in sorted(by_block.items()):
        cycles = [c for _, c in sorted(by_cycle.items())]
        for k in range(max((len(c.steps_ng_cm2) for c in cycles), default=0)):
            healthy: list[float] = []  # the latest steps that did bring mass
            for c in cycles:
                if k >= len(c.steps_ng_cm2) or not math.isfinite(c.steps_ng_cm2[k]):
                    continue
                v, sig = c.steps_ng_cm2[k], c.steps_sigma_ng_cm2[k] if k < len(c.steps_sigma_ng_cm2) else 0.0
                usual = float(np.median(healthy[-10:])) if len(healthy) >= 3 else 0.0
                if usual > s.uptake_sigmas * max(sig, 1e-9) and v < s.uptake_fraction * usual:
                    out.append(
                        f"{c.step_names[k]} pulse of cycle {c.index}: no uptake ({v:.1f} ng/cm² "
                        f"where {usual:.1f} is usual) — precursor depleted or line blocked?"
                    )
                elif v > s.uptake_sigmas * max(sig, 1e-9):
                    healthy.append(v)
    return out
