"""Without a recipe: the repeating pattern of the candidates seen so far, as a one-cycle block."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from qcm_app.analysis.onsets import Candidate
from qcm_app.analysis.settings import AnalysisSettings
from qcm_app.domain.recipes import Block, Step, StepKind


class Verdict(Enum):
    """No pattern yet: wait for more candidates, or drop the first one (it belongs to none)."""

    WAIT = "wait"
    DROP = "drop"


def infer_pattern(
    candidates: Sequence[Candidate], pending: list[int], s: AnalysisSettings, final: bool
) -> tuple[Block | Verdict, int]:
    """The cycle of the pending candidates: its period is the spacing that best explains the
    candidates' pairwise time differences (as 1, 2 or 3 periods, weighted by their strength);
    its pulses are the phases within that period where most cycles have a candidate (weak
    extras — a water pulse seen now and then — are left to count as false alarms). Returns
    the block and the position (in ``pending``) of its first candidate, or a :class:`Verdict`."""
    window = [i for i in pending if candidates[i].z >= s.infer_strong_z][: s.infer_window]
    if not window:
        return Verdict.WAIT, 0
    times = np.array([candidates[i].time_s for i in window])
    if times.size < max(s.infer_repeats + 1, s.infer_min_candidates) and not final:
        return Verdict.WAIT, 0
    if times.size < s.infer_repeats + 1:
        return Verdict.WAIT, 0
    gaps = np.diff(times)
    if gaps.size >= 2:
        long_gap = np.flatnonzero(gaps > s.infer_gap_factor * float(np.median(gaps)))
        if long_gap.size and long_gap[0] + 1 < s.infer_repeats + 1:
            return Verdict.DROP, 0  # a few stray steps before a wait: the pattern starts after it
    weights = np.array([min(candidates[i].z, s.candidate_weight_cap) for i in window])
    sizes = np.array([candidates[i].size_ng_cm2 for i in window])
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
        return (Verdict.WAIT if times[-1] - times[0] < s.infer_max_period_s * 3 else Verdict.DROP), 0
    n = np.round(d[None, :] / periods[:, None])
    sigma = s.timing_sigma_abs_s + s.timing_sigma_rel * d[None, :]
    tol = s.timing_bound_sigmas * sigma
    resid = np.abs(d[None, :] - n * periods[:, None])
    fits = np.where((n >= 1) & (n <= 3), np.exp(-0.5 * (resid / sigma) ** 2), 0.0)
    score = (fits * pw[None, :]).sum(axis=1)
    best = float(score.max())
    if best <= 0:
        return Verdict.DROP, 0
    period = float(periods[np.flatnonzero(score >= s.infer_score_fraction * best)[0]])
    span_cycles = (times[-1] - times[0]) / period
    if span_cycles < s.infer_repeats:
        return Verdict.WAIT, 0
    # phases: clusters of (t - t_first) mod period over every candidate in the span (weak ones
    # too: a step seen in a fifth of the cycles is a pulse of the pattern)
    span = [
        i
        for i in pending
        if times[0] - 1.0 <= candidates[i].time_s <= times[-1] + 1.0 and candidates[i].z >= s.infer_min_z
    ]
    at = np.array([candidates[i].time_s for i in span])
    sz = np.array([candidates[i].size_ng_cm2 for i in span])
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
        return Verdict.DROP, 0
    means = [float(np.mean(phase[c])) for c in pulses]
    strength = [float(np.mean(sz[c])) for c in pulses]
    first = int(np.argmax(strength))  # the cycle starts with its largest gain
    if len(pulses[first]) < s.infer_lead_support * cycles:
        return Verdict.DROP, 0
    rot = [(means[(first + k) % len(means)] - means[first]) % period for k in range(len(means))]
    steps: list[Step] = []
    for k, start in enumerate(rot):
        gap = (rot[k + 1] if k + 1 < len(rot) else period) - start
        pulse_s = min(1.0, 0.05 * gap)
        cluster = pulses[(first + k) % len(pulses)]
        typical = float(np.median(sz[cluster]))
        # how often the pulse shows: a pulse seen in a fifth of the cycles costs little when missed
        support = min(1.0, len(cluster) / cycles)
        steps.append(Step(f"pulse {k + 1}", StepKind.PULSE, pulse_s, mass_ng_cm2=typical, extra={"support": support}))
        steps.append(Step("purge", StepKind.PURGE, max(gap - pulse_s, 1e-3)))
    # the segment starts at the first candidate of the cycle's first pulse
    lead = span[next(k for k in range(at.size) if k in pulses[first])]
    return Block(name="", repeat=1, steps=tuple(steps)), pending.index(lead)
