"""Cutting the mass stream into deposition cycles as it arrives.

The recipe gives nominal timings only: the first pulse time is unknown and real tools jitter and
drift by tens of ms per cycle, so the segmenter locks onto the data. It walks a *pulse plan*
(the run's pulses in order, with nominal offsets) and for each pulse:

1. predicts its time from a robust fit of the pulses seen so far (phase and tool-clock scale),
2. looks for its onset in a window around the prediction: the first samples that leave the
   previous purge's settled level (drift-corrected) by more than a noise-based threshold,
3. closes the settled window of the purge before it (its last part, clear of transients) and
   keeps that window's summary (mean time, mean mass, within-window sums for the drift slope).

A step's mass is the drift-corrected difference of the settled levels on either side of the
pulse; drift is a slope pooled over the latest purge windows. Thermal/pressure spikes at the
pulses never enter a settled window, noise averages out over it, dropouts only thin it, and
duplicate or NaN rows are dropped on entry.

Without a recipe the plan is inferred: onsets are detected with a rolling-baseline detector,
and the smallest period (in pulses) whose intervals and step sizes repeat becomes the cycle.
A pulse seen where none was expected (the pattern changed) ends the inferred block and a new
one is inferred from there.

Decisions depend only on data inside fixed windows, so feeding the data in chunks of any size
gives the same cycles as feeding it all at once (live equals offline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from statistics import median

import numpy as np

from qcm_app.recipes import Block, Recipe, Step


@dataclass(frozen=True)
class SegmenterSettings:
    #: onset threshold in noise standard deviations (with a floor in ng/cm²)
    onset_sigmas: float = 6.0
    onset_floor_ng_cm2: float = 0.3
    #: consecutive samples beyond the threshold that make an onset
    persist_samples: int = 2
    #: half-width of the search window: max(min, fraction of the gap, samples)
    window_min_s: float = 1.0
    window_fraction: float = 0.06
    #: settled part of a purge: its last fraction, at least this long after the pulse ends
    settle_fraction: float = 0.4
    settle_max_s: float = 20.0
    settle_after_pulse_s: float = 3.0
    #: purge windows pooled for the drift slope
    drift_windows: int = 6
    #: recipe-less: shortest time between two pulses (purges are 10-60 s), and rolling baseline span
    refractory_s: float = 6.0
    #: recipe-less: an onset must also exceed this fraction of the recent pulses' size, so the
    #: slow tail of a large MLD pulse is not taken for a pulse of its own
    relative_threshold: float = 0.03
    baseline_span_s: tuple[float, float] = (4.0, 1.0)
    #: recipe-less: longest cycle pattern searched (pulses per cycle) and repeats required
    max_pulses_per_cycle: int = 8
    infer_repeats: int = 3
    #: samples used for the first noise estimate
    noise_samples: int = 50
    #: recipe-less: onsets kept while looking for a pattern (older ones are given up)
    max_pending_events: int = 64


@dataclass(frozen=True)
class CycleResult:
    """One completed cycle. ``index`` counts from 1 over the whole run."""

    index: int
    block_index: int
    block_name: str
    cycle_in_block: int
    start_s: float
    end_s: float
    mass_gain_ng_cm2: float
    steps_ng_cm2: tuple[float, ...]
    step_names: tuple[str, ...]
    pulse_times_s: tuple[float, ...]
    #: which pulses were seen in the data (the others are placed by prediction)
    pulses_observed: tuple[bool, ...]
    #: 1σ uncertainty of the cycle's and of each step's mass, from the noise and window lengths
    mass_gain_sigma_ng_cm2: float = math.nan
    steps_sigma_ng_cm2: tuple[float, ...] = ()
    #: this cycle replaces an earlier, provisional result with the same index (live re-alignment)
    revised: bool = False

    @property
    def ratio_a(self) -> float:
        """Δm of the first pulse over the cycle's Δm (a stoichiometry hint)."""
        if not self.steps_ng_cm2 or self.mass_gain_ng_cm2 == 0 or not math.isfinite(self.mass_gain_ng_cm2):
            return math.nan
        return self.steps_ng_cm2[0] / self.mass_gain_ng_cm2


# --- pulse plans ---------------------------------------------------------------------------------

@dataclass
class PulsePlan:
    """The pulses of one or more blocks in run order, with nominal start offsets (s) from the
    plan's first pulse. ``repeat_last`` makes an open-ended plan (inferred patterns)."""

    blocks: list[Block]
    block_first_index: list[int]  # run-wide index of each block's first cycle
    offsets_s: list[float] = field(default_factory=list)
    durations_s: list[float] = field(default_factory=list)
    block_of: list[int] = field(default_factory=list)
    cycle_of: list[int] = field(default_factory=list)  # cycle within block, from 1
    step_of: list[int] = field(default_factory=list)  # pulse number within the cycle
    end_offset_s: float = 0.0
    open_ended: bool = False

    @classmethod
    def from_blocks(cls, blocks: list[Block], first_index: int = 1, open_ended: bool = False) -> PulsePlan:
        plan = cls(blocks=blocks, block_first_index=[], open_ended=open_ended)
        t = 0.0
        first = None
        index = first_index
        for bi, block in enumerate(blocks):
            plan.block_first_index.append(index)
            index += block.repeat
            cycles = 1 if open_ended else block.repeat
            for k in range(1, cycles + 1):
                p = 0
                for step in block.steps:
                    if step.is_pulse:
                        if first is None:
                            first = t
                        plan.offsets_s.append(t - first)
                        plan.durations_s.append(step.duration_s)
                        plan.block_of.append(bi)
                        plan.cycle_of.append(k)
                        plan.step_of.append(p)
                        p += 1
                    t += step.duration_s
        plan.end_offset_s = t - (first or 0.0)
        return plan

    @property
    def pulses_per_cycle(self) -> list[int]:
        return [len(b.pulses) for b in self.blocks]

    def __len__(self) -> int:
        return math.inf if self.open_ended else len(self.offsets_s)  # type: ignore[return-value]

    def _wrap(self, j: int) -> tuple[int, int]:
        """(index in the stored first cycle, completed repeats) for open-ended plans."""
        n = len(self.offsets_s)
        return j % n, j // n

    def offset(self, j: int) -> float:
        if self.open_ended:
            i, r = self._wrap(j)
            return self.offsets_s[i] + r * self.blocks[0].cycle_duration_s
        if j >= len(self.offsets_s):
            return self.end_offset_s
        return self.offsets_s[j]

    def duration(self, j: int) -> float:
        if self.open_ended:
            return self.durations_s[self._wrap(j)[0]]
        return self.durations_s[j] if j < len(self.durations_s) else 0.0

    def block(self, j: int) -> int:
        if self.open_ended:
            return 0
        return self.block_of[min(j, len(self.block_of) - 1)]

    def cycle(self, j: int) -> int:
        if self.open_ended:
            i, r = self._wrap(j)
            return self.cycle_of[i] + r
        return self.cycle_of[j]

    def step(self, j: int) -> int:
        if self.open_ended:
            return self.step_of[self._wrap(j)[0]]
        return self.step_of[j]

    def is_end(self, j: int) -> bool:
        return not self.open_ended and j >= len(self.offsets_s)


# --- windows -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """Summary of a settled purge window: enough to pool the drift slope and compare levels."""

    t_mean: float
    m_mean: float
    s_tt: float
    s_tm: float
    n: int
    resid_var: float

    @property
    def valid(self) -> bool:
        return self.n >= 3


EMPTY_WINDOW = Window(math.nan, math.nan, 0.0, 0.0, 0, math.nan)


def summarise_window(t: np.ndarray, m: np.ndarray) -> Window:
    """Mean level and within-window sums, after dropping samples far from the median (outliers).

    Called for every pulse, so it avoids np.median's overhead (a partition gives the middle)."""
    n = m.size
    if n < 3:
        return EMPTY_WINDOW
    k = n // 2
    med = np.partition(m, k)[k]
    dev = np.abs(m - med)
    mad = np.partition(dev, k)[k]
    if mad > 0:
        keep = dev <= 6.0 * 1.4826 * mad + 1e-12
        if keep.sum() >= 3 and not keep.all():
            t, m = t[keep], m[keep]
            n = m.size
    tm = float(np.add.reduce(t)) / n
    mm = float(np.add.reduce(m)) / n
    dt = t - tm
    dm = m - mm
    s_tt = float(np.dot(dt, dt))
    s_tm = float(np.dot(dt, dm))
    s_mm = float(np.dot(dm, dm))
    resid = s_mm - (s_tm * s_tm / s_tt if s_tt > 0 else 0.0)
    return Window(tm, mm, s_tt, s_tm, int(n), max(resid, 0.0) / max(n - 2, 1))


def pooled_slope(windows: list[Window]) -> float:
    """Drift slope shared by the windows (each keeps its own level)."""
    s_tt = sum(w.s_tt for w in windows if w.valid)
    s_tm = sum(w.s_tm for w in windows if w.valid)
    return s_tm / s_tt if s_tt > 0 else 0.0


def level_difference(a: Window, b: Window, slope: float) -> float:
    """Mass added between two settled windows, drift removed."""
    if not (a.valid and b.valid):
        return math.nan
    return (b.m_mean - a.m_mean) - slope * (b.t_mean - a.t_mean)


def _line(x: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of a few points (plain Python beats numpy's overhead here)."""
    n = len(x)
    xm, ym = sum(x) / n, sum(y) / n
    sxx = sum((a - xm) ** 2 for a in x)
    sxy = sum((a - xm) * (b - ym) for a, b in zip(x, y, strict=True))
    slope = sxy / sxx if sxx > 0 else 0.0
    return slope, ym - slope * xm


def robust_noise(m: np.ndarray) -> float:
    """Sample noise (ng/cm²) from first differences; a quantisation floor when most are zero."""
    d = np.abs(np.diff(m))
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.1
    mad = float(np.median(d))
    if mad > 0:
        return 1.4826 * mad / math.sqrt(2.0)
    positive = d[d > 0]
    return float(positive.min()) / 2.0 if positive.size else 0.05


# --- the segmenter -------------------------------------------------------------------------------

@dataclass
class _Pulse:
    j: int
    time_s: float
    observed: bool
    window_before: Window  # settled purge window that ends before this pulse
    offset_s: float = 0.0  # the plan's nominal offset of pulse j (kept for the timeline fit)


class CycleSegmenter:
    """Consumes (time, mass) chunks, emits :class:`CycleResult` as cycles complete."""

    def __init__(self, recipe: Recipe | None = None, settings: SegmenterSettings | None = None) -> None:
        self.recipe = recipe
        self.s = settings or SegmenterSettings()
        self._t = np.empty(0)
        self._m = np.empty(0)
        self.noise_ng_cm2: float | None = None
        self.sample_period_s = 0.1
        self.mode = "noise"
        self.plan: PulsePlan | None = None
        if recipe is not None:
            self.plan = PulsePlan.from_blocks(list(recipe.blocks))
        self._pulses: list[_Pulse] = []  # pulses of the current plan so far
        self._windows: list[Window] = []  # settled windows, newest last (for the drift slope)
        self._scan_from_s = -math.inf  # recipe-less/acquire: detector resumes here
        self._events: list[float] = []  # recipe-less: onsets awaiting inference
        self._step_cache: dict[tuple[float | None, float, float], float] = {}
        self._next_index = 1  # run-wide index of the next cycle to emit
        self._inferred_blocks: list[Block] = []  # recipe-less: blocks that produced cycles
        self._plan_named = False
        self.unexpected_pulses = 0
        self._last_surprise_s = -math.inf
        #: the last timeline fit and what it was fitted to (reset with the plan)
        self._timeline: tuple[tuple[int, int, float], tuple[float, float]] | None = None
        self.finished = False
        self._last_t = -math.inf

    # -- public -------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self.mode == "track"

    @property
    def blocks(self) -> list[Block]:
        """Blocks of the run so far: the recipe's, or those inferred from the data."""
        if self.recipe is not None:
            return list(self.recipe.blocks)
        return list(self._inferred_blocks)

    def feed(self, time_s: np.ndarray, mass_ng_cm2: np.ndarray) -> list[CycleResult]:
        t = np.asarray(time_s, dtype=float)
        m = np.asarray(mass_ng_cm2, dtype=float)
        ok = np.isfinite(t) & np.isfinite(m)
        if not ok.all():
            t, m = t[ok], m[ok]
        if t.size:  # rows not later than the previous one (duplicates) are dropped
            running = np.maximum.accumulate(np.concatenate(([self._last_t], t)))[:-1]
            later = t > running
            if not later.all():
                t, m = t[later], m[later]
        if t.size:
            self._last_t = float(t[-1])
            self._t = np.concatenate((self._t, t))
            self._m = np.concatenate((self._m, m))
        return self._advance(final=False)

    def finish(self) -> list[CycleResult]:
        """End of data: close a last cycle whose final purge was fully seen."""
        out = self._advance(final=True)
        self.finished = True
        return out

    # -- driving ------------------------------------------------------------------------------

    def _advance(self, final: bool) -> list[CycleResult]:
        out: list[CycleResult] = []
        while True:
            if self.mode == "noise":
                progressed = self._estimate_noise(final)
            elif self.mode == "acquire":
                progressed = self._acquire()
            elif self.mode == "infer":
                progressed = self._infer(final)
            elif self.mode == "track":
                progressed = self._track(out, final)
            else:
                progressed = False
            if not progressed:
                break
        self._trim()
        return out

    def _estimate_noise(self, final: bool) -> bool:
        n = self.s.noise_samples
        if self._t.size < n and not (final and self._t.size >= 5):
            return False
        self.noise_ng_cm2 = robust_noise(self._m[:n])
        self.sample_period_s = float(np.median(np.diff(self._t[:n])))
        self.mode = "acquire" if self.recipe is not None else "infer"
        return True

    @property
    def _threshold(self) -> float:
        return max(self.s.onset_sigmas * (self.noise_ng_cm2 or 0.1), self.s.onset_floor_ng_cm2)

    # -- rolling-baseline detector (acquisition, recipe-less events, unexpected pulses) ---------

    def _scan(self, t_from: float, t_to: float, min_size: float = 0.0) -> tuple[float | None, float]:
        """First onset in [t_from, t_to) by the rolling-baseline detector; ``min_size`` raises the
        threshold (ng/cm²).

        Returns (onset time or None, time up to which the scan was conclusive)."""
        t, m = self._t, self._m
        b0, b1 = self._baseline_span
        persist = self.s.persist_samples
        i_from = int(np.searchsorted(t, t_from))
        i_to = int(np.searchsorted(t, t_to))
        # a sample can be judged once `persist` samples after it exist
        i_to = min(i_to, t.size - persist + 1)
        if i_to <= i_from:
            return None, t_from
        lo = int(np.searchsorted(t, t[i_from] - b0))
        seg_t = t[lo:i_to + persist - 1]
        seg_m = m[lo:i_to + persist - 1]
        c1 = np.concatenate(([0.0], np.cumsum(seg_m)))
        c2 = np.concatenate(([0.0], np.cumsum(seg_m * seg_m)))
        idx = np.arange(i_from - lo, i_to - lo)
        w_lo = np.searchsorted(seg_t, seg_t[idx] - b0)
        w_hi = np.searchsorted(seg_t, seg_t[idx] - b1, side="right")
        count = w_hi - w_lo
        valid = count >= 3
        cnt = np.maximum(count, 1)
        mean = (c1[w_hi] - c1[w_lo]) / cnt
        var = np.maximum((c2[w_hi] - c2[w_lo]) / cnt - mean * mean, 0.0)
        thr = max(self._threshold, min_size)
        sigma = self.noise_ng_cm2 or 0.1
        flat = np.sqrt(var) <= max(2.5 * sigma, thr / 3.0)
        dev = np.empty((persist, idx.size))
        for k in range(persist):
            dev[k] = seg_m[idx + k] - mean
        same_sign = np.all(np.sign(dev) == np.sign(dev[0]), axis=0)
        hit = valid & flat & same_sign & np.all(np.abs(dev) > thr, axis=0)
        found = np.flatnonzero(hit)
        if found.size:
            return float(seg_t[idx[found[0]]]), float(seg_t[idx[found[0]]])
        return None, float(t[i_to - 1]) if i_to - 1 >= i_from else t_from

    # -- recipe: find the first pulse --------------------------------------------------------

    def _acquire(self) -> bool:
        t = self._t
        if t.size == 0:
            return False
        start = max(self._scan_from_s, float(t[0]) + self._baseline_span[0])
        onset, upto = self._scan(start, math.inf)
        if onset is None:
            self._scan_from_s = max(self._scan_from_s, upto)
            return False
        window = self._window_before(onset, None)
        self._pulses = [_Pulse(0, onset, True, window)]
        if window.valid:
            self._windows.append(window)
        self.mode = "track"
        return True

    # -- recipe-less: infer the pattern ------------------------------------------------------

    def _infer(self, final: bool) -> bool:
        t = self._t
        if t.size == 0:
            return False
        start = max(self._scan_from_s, float(t[0]) + self._baseline_span[0])
        onset, upto = self._scan(start, math.inf, self._event_size_floor())
        if onset is not None:
            self._events.append(onset)
            if len(self._events) > self.s.max_pending_events:
                self._events = self._events[-self.s.max_pending_events:]
            self._scan_from_s = onset + self.s.refractory_s
            plan = self._try_pattern()
            if plan is not None:
                self._start_inferred_block(plan)
            return True
        self._scan_from_s = max(self._scan_from_s, upto)
        if final and len(self._events) >= 2:
            plan = self._try_pattern(final=True)
            if plan is not None:
                self._start_inferred_block(plan)
                return True
        return False

    def _event_steps(self, events: list[float]) -> np.ndarray:
        """Mass step at each event (drift ignored: used only to compare steps with each other)."""
        steps = []
        for k, e in enumerate(events):
            if k + 1 >= len(events):
                steps.append(math.nan)
                continue
            key = (events[k - 1] if k else None, e, events[k + 1])
            if key not in self._step_cache:
                before = self._window_before(e, key[0])
                after = self._window_before(key[2], e)
                self._step_cache[key] = level_difference(before, after, 0.0)
            steps.append(self._step_cache[key])
        return np.array(steps)

    def _event_size_floor(self) -> float:
        """A fraction of the recent pulses' size (recipe-less onset threshold)."""
        if len(self._events) < 3:
            return 0.0
        sizes = np.abs(self._event_steps(self._events[-12:])[:-1])
        sizes = sizes[np.isfinite(sizes)]
        return self.s.relative_threshold * float(np.median(sizes)) if sizes.size else 0.0

    def _try_pattern(self, final: bool = False) -> PulsePlan | None:
        """The smallest number of pulses per cycle whose intervals and steps repeat."""
        ev = self._events
        gaps = np.diff(ev)
        if gaps.size < 2:
            return None
        steps = self._event_steps(ev)[:-1]
        sigma = self.noise_ng_cm2 or 0.1
        reps = self.s.infer_repeats if not final else 2
        for p in range(1, self.s.max_pulses_per_cycle + 1):
            if gaps.size < reps * p:
                return None  # not enough events yet to judge this (or a longer) pattern
            g = gaps[: (gaps.size // p) * p].reshape(-1, p)
            a = steps[: (steps.size // p) * p].reshape(-1, p)
            gap_ok = np.abs(g - np.median(g, axis=0)) <= np.maximum(0.6, 0.04 * np.median(g, axis=0))
            amp_ref = np.median(a, axis=0)
            amp_ok = np.abs(a - amp_ref) <= np.maximum(6 * sigma, 0.25 * np.abs(amp_ref))
            amp_ok |= np.isnan(a)
            if gap_ok.mean() >= 0.9 and amp_ok.mean() >= 0.75:
                return self._plan_from_pattern(np.median(g, axis=0), amp_ref)
        return None

    def _plan_from_pattern(self, gaps_s: np.ndarray, steps_ng_cm2: np.ndarray) -> PulsePlan:
        steps: list[Step] = []
        pulse_s = 0.1
        for k, gap in enumerate(gaps_s):
            steps.append(Step(name=f"pulse {k + 1}", kind="pulse", duration_s=pulse_s,
                              mass_ng_cm2=float(steps_ng_cm2[k])))
            steps.append(Step(name="purge", kind="purge", duration_s=max(float(gap) - pulse_s, 0.1)))
        block = Block(name="inferred", repeat=1, steps=tuple(steps))
        return PulsePlan.from_blocks([block], first_index=self._next_index, open_ended=True)

    def _start_inferred_block(self, plan: PulsePlan) -> None:
        first = self._events[0]
        self.plan = plan
        self._plan_named = False
        self._timeline = None
        window = self._window_before(first, None)
        self._pulses = [_Pulse(0, first, True, window)]
        self._windows = [window] if window.valid else []
        self._events = []
        self._step_cache.clear()
        self.mode = "track"

    # -- tracking -----------------------------------------------------------------------------

    def _fit_timeline(self) -> tuple[float, float]:
        """(phase, scale): pulse j is expected at phase + scale * offset(j).

        It changes only when a pulse is seen, so it is fitted once per observed pulse."""
        assert self.plan is not None
        seen = [p for p in self._pulses[-48:] if p.observed][-24:]
        key = (seen[-1].j if seen else -1, len(seen), seen[-1].time_s if seen else 0.0)
        if self._timeline is not None and self._timeline[0] == key:
            return self._timeline[1]
        offs = [p.offset_s for p in seen]
        times = [p.time_s for p in seen]
        fit = (median([t - o for t, o in zip(times, offs, strict=True)]), 1.0)
        if len(seen) >= 4 and max(offs) > min(offs):
            a, b = _line(offs, times)
            for _ in range(2):  # least squares, then again without outliers (if there are any)
                resid = [abs(t - (a * o + b)) for t, o in zip(times, offs, strict=True)]
                limit = max(0.5, 3 * median(resid) + 1e-9)
                keep = [i for i, r in enumerate(resid) if r <= limit]
                if len(keep) < 3 or len(keep) == len(resid):
                    break
                offs, times = [offs[i] for i in keep], [times[i] for i in keep]
                a, b = _line(offs, times)
            scale = min(max(a, 0.8), 1.25)
            fit = (median([t - scale * o for t, o in zip(times, offs, strict=True)]), scale)
        self._timeline = (key, fit)
        return fit

    def _track(self, out: list[CycleResult], final: bool) -> bool:
        plan = self.plan
        assert plan is not None
        j = self._pulses[-1].j + 1
        phase, scale = self._fit_timeline()
        prev = self._pulses[-1]
        gap = (plan.offset(j) - plan.offset(prev.j)) * scale
        predicted = phase + scale * plan.offset(j)
        half = max(self.s.window_min_s, self.s.window_fraction * gap, 3 * self._sample_period())
        lo, hi = predicted - half, predicted + half
        end_of_plan = plan.is_end(j)
        ready = self._has_data_after(predicted) if end_of_plan else self._has_data_after(hi)
        if ready and self.recipe is None and self._cycle_start(j):
            # a silent cycle ends an inferred block: wait until the whole next cycle could be judged
            last_offset = plan.offset(j + len(plan.offsets_s) - 1)
            ready = self._has_data_after(phase + scale * last_offset + half)
        if not ready:
            if final:
                return self._close_at_end(out, j, predicted, end_of_plan)
            return False
        onset = None
        if not end_of_plan:
            onset = self._find_onset(prev, lo, hi)
        if self.recipe is None and not end_of_plan:
            # the expected pulse itself may trip the rolling detector a sample early: stop short of it
            margin = max(self.s.window_min_s, 3 * self._sample_period())
            surprise = self._unexpected_between(prev, (lo if onset is None else onset) - margin)
            if surprise is not None:
                self._end_inferred_block(out, surprise)
                return True
        time_j = onset if onset is not None else predicted
        window = self._window_before(time_j, prev)
        if window.valid:
            self._windows.append(window)
            self._windows = self._windows[-4 * self.s.drift_windows:]
            self._update_noise()
        pulse = _Pulse(j, time_j, onset is not None, window, plan.offset(j))
        silent = self.recipe is None and self._cycle_start(j) and not pulse.observed
        if silent and not self._any_observed_after(j, prev):
            # open-ended plans stop when a whole cycle brings no pulse: the block is over
            return self._end_silent_block(out, pulse)
        self._pulses.append(pulse)
        if self._cycle_start(j) or end_of_plan:
            cycle = self._close_cycle()
            if cycle is not None:
                out.append(cycle)
        if end_of_plan:
            self.mode = "done"
        return True

    def _has_data_after(self, t: float) -> bool:
        """Are there enough samples after ``t`` to judge an onset at ``t``?"""
        i = int(np.searchsorted(self._t, t, side="right"))
        return i + self.s.persist_samples - 1 < self._t.size

    def _any_observed_after(self, j: int, prev: _Pulse) -> bool:
        """Recipe-less: does any later pulse of the cycle starting at ``j`` show in the data?"""
        plan = self.plan
        assert plan is not None
        phase, scale = self._fit_timeline()
        half = max(self.s.window_min_s, 3 * self._sample_period())
        for k in range(j + 1, j + len(plan.offsets_s)):
            predicted = phase + scale * plan.offset(k)
            if self._find_onset(prev, predicted - half, predicted + half) is not None:
                return True
        return False

    @property
    def _baseline_span(self) -> tuple[float, float]:
        """The rolling baseline looks back over [t - b0, t - b1]: at least a few samples even when
        the data are sparse (a slow instrument, or a demo reactor sped up)."""
        b0, b1 = self.s.baseline_span_s
        dt = self._sample_period()
        return max(b0, 4.5 * dt), max(b1, 1.5 * dt)

    def _sample_period(self) -> float:
        """Fixed once from the first samples, so no decision depends on how data was chunked."""
        return self.sample_period_s

    def _find_onset(self, prev: _Pulse, lo: float, hi: float) -> float | None:
        """First samples in [lo, hi] that leave the previous level by more than the threshold."""
        base = self._window_before(lo - 0.5 * self._sample_period(), prev)
        if not base.valid:
            base = prev.window_before
            if not base.valid:
                return None
        slope = self._slope(extra=base)
        t, m = self._t, self._m
        i0 = int(np.searchsorted(t, lo))
        i1 = int(np.searchsorted(t, hi, side="right"))
        persist = self.s.persist_samples
        seg = slice(i0, min(i1 + persist - 1, t.size))
        dev = m[seg] - (base.m_mean + slope * (t[seg] - base.t_mean))
        n = i1 - i0
        if n <= 0 or dev.size < persist:
            return None
        thr = self._threshold
        over = np.abs(dev) > thr
        sign = np.sign(dev)
        width = dev.size - persist + 1
        ok = over[:width].copy()
        for k in range(1, persist):
            ok &= over[k:width + k] & (sign[k:width + k] == sign[:width])
        hits = np.flatnonzero(ok[:n])
        if hits.size == 0:
            return None
        return float(t[i0 + hits[0]])

    def _window_before(self, t_pulse: float, prev: _Pulse | float | None) -> Window:
        """The settled part of the purge that ends at ``t_pulse``."""
        period = self._sample_period()
        guard = max(0.2, 1.5 * period)
        end = t_pulse - guard
        if isinstance(prev, _Pulse):
            assert self.plan is not None
            pulse_end = prev.time_s + self.plan.duration(prev.j)
        elif isinstance(prev, float):
            pulse_end = prev + 0.1
        else:
            pulse_end = -math.inf
        purge = end - pulse_end
        if math.isfinite(purge):
            length = min(self.s.settle_fraction * purge, self.s.settle_max_s)
            start = max(end - length, pulse_end + min(self.s.settle_after_pulse_s, 0.5 * purge))
        else:
            start = end - min(self.s.settle_max_s, 10.0)
        t = self._t
        i0 = int(np.searchsorted(t, start))
        i1 = int(np.searchsorted(t, end, side="right"))
        if i1 - i0 < 3:
            return EMPTY_WINDOW
        return summarise_window(t[i0:i1], self._m[i0:i1])

    def _slope(self, extra: Window | None = None) -> float:
        ws = self._windows[-self.s.drift_windows:]
        if extra is not None and (not ws or extra is not ws[-1]):
            ws = [*ws[-(self.s.drift_windows - 1):], extra]
        return pooled_slope(ws)

    def _update_noise(self) -> None:
        ws = [w for w in self._windows[-self.s.drift_windows:] if w.valid and math.isfinite(w.resid_var)]
        if len(ws) >= 3:
            var = float(median([w.resid_var for w in ws]))
            if var > 0:
                self.noise_ng_cm2 = math.sqrt(var)

    def _cycle_start(self, j: int) -> bool:
        assert self.plan is not None
        return self.plan.is_end(j) or self.plan.step(j) == 0

    def _close_cycle(self) -> CycleResult | None:
        """The pulses of the cycle that just ended are all in ``_pulses[-(n+1):-1]``."""
        plan = self.plan
        assert plan is not None
        end = self._pulses[-1]
        k = len(self._pulses) - 2
        while k > 0 and plan.step(self._pulses[k].j) != 0:
            k -= 1
        members = self._pulses[k:-1]
        if not members or plan.step(members[0].j) != 0:
            return None
        slope = self._slope()
        windows = [p.window_before for p in members] + [end.window_before]
        steps = tuple(level_difference(windows[i], windows[i + 1], slope) for i in range(len(members)))
        gain = level_difference(windows[0], windows[-1], slope)
        if not math.isfinite(gain):
            gain = float(np.nansum(steps)) if any(math.isfinite(s) for s in steps) else math.nan
        first = members[0].j
        bi = plan.block(first)
        if self.recipe is not None:
            block = self.recipe.blocks[bi]
            block_index = bi
            cycle_in_block = plan.cycle(first)
        else:
            if not self._plan_named:  # an inferred block becomes a block of the run with its first cycle
                plan.blocks[0] = replace(plan.blocks[0], name=f"block {len(self._inferred_blocks) + 1}")
                self._inferred_blocks.append(plan.blocks[0])
                self._plan_named = True
            block = plan.blocks[0]
            block_index = len(self._inferred_blocks) - 1
            cycle_in_block = plan.cycle(first)
        names = tuple(s.name for s in block.pulses)
        result = CycleResult(index=self._next_index, block_index=block_index, block_name=block.name,
                             cycle_in_block=cycle_in_block, start_s=members[0].time_s, end_s=end.time_s,
                             mass_gain_ng_cm2=gain, steps_ng_cm2=steps, step_names=names,
                             pulse_times_s=tuple(p.time_s for p in members),
                             pulses_observed=tuple(p.observed for p in members))
        self._next_index += 1
        # keep the last pulse (it starts the next cycle) and a few before it for the timeline fit
        self._pulses = self._pulses[-32:]
        return result

    def _close_at_end(self, out: list[CycleResult], j: int, predicted: float, end_of_plan: bool) -> bool:
        """Data ended: the current cycle counts if its last purge's settled part was seen."""
        if self.mode != "track" or not self._pulses:
            return False
        plan = self.plan
        assert plan is not None
        if not (end_of_plan or self._cycle_start(j)):
            self.mode = "done"
            return False
        prev = self._pulses[-1]
        window = self._window_before(predicted, prev)
        guard = max(0.2, 1.5 * self._sample_period())
        if not window.valid or float(self._t[-1]) < predicted - guard - self._sample_period():
            self.mode = "done"  # the last purge was cut short: that cycle is incomplete
            return False
        self._pulses.append(_Pulse(j, predicted, False, window, plan.offset(j)))
        cycle = self._close_cycle()
        if cycle is not None:
            out.append(cycle)
        self.mode = "done"
        return True

    # -- recipe-less block ends ---------------------------------------------------------------

    def _unexpected_between(self, prev: _Pulse, until: float) -> float | None:
        """A pulse where none was expected, between the previous pulse's transient and ``until``."""
        assert self.plan is not None
        if prev.observed:
            start = prev.time_s + self.plan.duration(prev.j) + self.s.refractory_s
        else:  # nothing happened at the predicted time: anything just after it is a surprise
            start = prev.time_s + max(self.s.window_min_s, 3 * self._sample_period()) \
                - (self._baseline_span[0] - self._baseline_span[1])
        if until - start < self._baseline_span[0]:
            return None
        typical = float(np.nanmedian([abs(s.mass_ng_cm2 or 0.0) for s in self.plan.blocks[0].pulses]))
        onset, _ = self._scan(start + self._baseline_span[0] - self._baseline_span[1], until,
                              self.s.relative_threshold * typical)
        if onset is None:
            return None
        # only a clear step counts: at least a quarter of the pattern's typical pulse
        after = self._window_before(min(onset + self.s.refractory_s + 2.0, until), onset)
        before = self._window_before(onset, None)
        step = level_difference(before, after, self._slope())
        if math.isfinite(step) and abs(step) < 0.25 * typical:
            return None
        return onset

    def _end_inferred_block(self, out: list[CycleResult], surprise: float) -> None:
        """The pattern changed inside the current cycle: drop that cycle, infer anew from its start."""
        plan = self.plan
        assert plan is not None
        k = len(self._pulses) - 1
        while k > 0 and plan.step(self._pulses[k].j) != 0:
            k -= 1
        self.unexpected_pulses += 1
        seen = [p.time_s for p in self._pulses[k:] if p.observed or p is self._pulses[k]]
        if surprise <= self._last_surprise_s:
            seen = []  # the same surprise again: start afresh from it, so the data always moves on
        self._last_surprise_s = surprise
        self._events = [*seen, surprise]
        self._scan_from_s = surprise + self.s.refractory_s
        self._pulses = []
        self._windows = []
        self._step_cache.clear()
        self._timeline = None
        self.mode = "infer"

    def _end_silent_block(self, out: list[CycleResult], pulse: _Pulse) -> bool:
        """No pulse in a whole cycle: the previous cycle was the block's last."""
        self._pulses.append(pulse)
        cycle = self._close_cycle()
        if cycle is not None:
            out.append(cycle)
        self._pulses = []
        self._windows = []
        self._events = []
        self._step_cache.clear()
        self._timeline = None
        self._scan_from_s = pulse.time_s
        self.mode = "infer"
        return True

    # -- memory -------------------------------------------------------------------------------

    def _trim(self) -> None:
        """Forget samples no future decision can look at."""
        if self._t.size < 20_000:
            return
        keep_from = math.inf
        if self._pulses:
            keep_from = self._pulses[max(0, len(self._pulses) - 3)].time_s - 60.0
        if self._events:
            keep_from = min(keep_from, self._events[0] - 60.0)
        if self.mode in ("acquire", "infer", "noise") and not self._events:
            keep_from = min(keep_from, self._scan_from_s - 60.0)
        if not math.isfinite(keep_from):
            return
        i = int(np.searchsorted(self._t, keep_from))
        if i > 10_000:
            self._t = self._t[i:].copy()
            self._m = self._m[i:].copy()
