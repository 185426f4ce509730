"""The simulated reactor: a recipe becomes a physically plausible QCM frequency signal.

It drives the instrument emulators (demo, ``qcm simulate``, tests) and, sampled directly,
the ground-truth test set of the cycle analysis. What it models, per pulse: self-limiting
uptake with a first-order time constant, a physisorbed excess that desorbs during the purge,
half-reactions that may lose mass, block initiation regions (enhanced or inhibited), a little
cycle-to-cycle scatter; per instrument: noise quantised to the instrument's resolution, warm-up
and slow drift, a short thermal/pressure transient at each pulse; per tool: timing jitter and a
clock that runs slightly off so real pulse times wander away from the nominal ones.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from instruments.valves import ValveEvent
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings, sauerbrey_factor_ng_cm2_per_hz, zmatch_thickness_ang
from qcm_app.domain.recipes import Block, Recipe

#: mass of a pulse when the recipe does not give one (ng/cm²)
DEFAULT_PULSE_MASS_NG_CM2 = 20.0
#: pulses older than this many are treated as fully settled (purges are >> kinetic times)
_RECENT_PULSES = 3


@dataclass(frozen=True)
class Anomaly:
    """A run of cycles whose growth departs from steady (precursor running out, CVD, upset)."""

    first_cycle: int  # run-wide index, from 1
    cycles: int
    factor: float


@dataclass(frozen=True)
class Depletion:
    """An empty bottle: the valve of ``precursor`` fires but nothing arrives, for ``pulses`` of its
    pulses from its ``first_pulse``-th (counted from 1 per precursor)."""

    precursor: str
    first_pulse: int
    pulses: int = 1_000_000_000


@dataclass(frozen=True)
class ReactorSettings:
    seed: int = 1
    start_frequency_hz: float = 5_975_830.0
    #: quiet baseline before the first pulse, and after the last cycle
    start_delay_s: float = 45.0
    tail_s: float = 30.0
    #: tool timing: each step lasts nominal * (1 + tool_drift) + N(0, jitter)
    jitter_s: float = 0.02
    tool_drift: float = 5e-4
    #: relative cycle-to-cycle scatter of the growth
    cycle_scatter: float = 0.008
    #: instrument
    noise_hz: float = 0.012
    resolution_hz: float = 0.01
    warmup_hz: float = 3.0
    warmup_tau_s: float = 400.0
    drift_hz_per_h: float = 1.5
    spike_hz: float = 0.8
    spike_tau_s: float = 1.2
    #: physisorbed excess as a fraction of the pulse's mass, desorbing with this time constant
    overshoot: float = 0.04
    desorb_tau_s: float = 2.0
    anomalies: tuple[Anomaly, ...] = ()
    #: empty bottles (the valve fires, no uptake)
    depleted: tuple[Depletion, ...] = ()
    #: run-wide pulse numbers (from 1) the tool skips: no valve, no uptake, the time still passes
    skipped_pulses: tuple[int, ...] = ()
    #: (run-wide cycle from 1, seconds): the tool pauses that long before the cycle starts
    pauses: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class TruthCycle:
    """What the reactor really did in one cycle (for accuracy tests)."""

    index: int
    block_index: int
    cycle_in_block: int
    start_s: float
    end_s: float
    steps_ng_cm2: tuple[float, ...]
    regime: str  # "nucleation" | "steady" | "anomaly"

    @property
    def mass_gain_ng_cm2(self) -> float:
        return float(sum(self.steps_ng_cm2))


@dataclass
class Schedule:
    pulse_start_s: np.ndarray
    pulse_mass_ng_cm2: np.ndarray
    pulse_tau_s: np.ndarray
    pulse_spike_hz: np.ndarray
    cycles: list[TruthCycle] = field(default_factory=list)
    end_s: float = 0.0
    #: per pulse that fired: its step name and how long the valve stayed open
    pulse_name: tuple[str, ...] = ()
    pulse_duration_s: np.ndarray = field(default_factory=lambda: np.empty(0))


def nucleation_factor(block: Block, cycle_in_block: int) -> float:
    """Growth of a block's k-th cycle relative to steady: a linear ramp over the initiation region."""
    nuc = block.nucleation
    if nuc.kind == "none" or nuc.cycles <= 0 or cycle_in_block > nuc.cycles:
        return 1.0
    return 1.0 + (nuc.factor - 1.0) * (1.0 - (cycle_in_block - 1) / nuc.cycles)


class ProcessModel:
    """Deterministic schedule plus vectorised evaluation of the signal at any times."""

    def __init__(
        self,
        recipe: Recipe,
        settings: ReactorSettings = ReactorSettings(),
        crystal: CrystalSettings = CrystalSettings(),
    ) -> None:
        self.recipe = recipe
        self.settings = settings
        self.crystal = crystal
        self.factor_ng_cm2_per_hz = sauerbrey_factor_ng_cm2_per_hz(settings.start_frequency_hz, crystal)
        self._noise_rng = np.random.default_rng(settings.seed + 7919)
        self.schedule = self._build_schedule()
        p = self.schedule
        self._cum_mass = np.concatenate(([0.0], np.cumsum(p.pulse_mass_ng_cm2)))

    # -- schedule ---------------------------------------------------------------------------

    def _build_schedule(self) -> Schedule:
        s = self.settings
        rng = np.random.default_rng(s.seed)
        starts: list[float] = []
        masses: list[float] = []
        taus: list[float] = []
        spikes: list[float] = []
        cycles: list[TruthCycle] = []
        anomaly_of = {}
        for a in s.anomalies:
            for k in range(a.first_cycle, a.first_cycle + a.cycles):
                anomaly_of[k] = a.factor
        t = s.start_delay_s
        index = 0
        names: list[str] = []
        open_s: list[float] = []
        pulse_no = 0
        per_precursor: dict[str, int] = {}
        skipped = set(s.skipped_pulses)
        pauses = dict(s.pauses)
        for bi, block in enumerate(self.recipe.blocks):
            # the transient of each pulse step has its own sign and size (gas temperature/pressure)
            step_spike = [self._step_spike(bi, si) for si in range(len(block.steps))]
            for k in range(1, block.repeat + 1):
                index += 1
                factor = nucleation_factor(block, k) * (1.0 + s.cycle_scatter * rng.standard_normal())
                regime = "nucleation" if nucleation_factor(block, k) != 1.0 else "steady"
                if index in anomaly_of:
                    factor *= anomaly_of[index]
                    regime = "anomaly"
                t += pauses.get(index, 0.0)
                cycle_start = None
                step_masses = []
                for si, step in enumerate(block.steps):
                    duration = step.duration_s * (1.0 + s.tool_drift) + s.jitter_s * rng.standard_normal()
                    duration = max(duration, 0.2 * step.duration_s)
                    if step.is_pulse:
                        if cycle_start is None:
                            cycle_start = t
                        nominal = step.mass_ng_cm2 if step.mass_ng_cm2 is not None else DEFAULT_PULSE_MASS_NG_CM2
                        m = nominal * factor
                        pulse_no += 1
                        if pulse_no in skipped:
                            step_masses.append(0.0)
                            t += duration
                            continue
                        per_precursor[step.name] = per_precursor.get(step.name, 0) + 1
                        if any(
                            d.precursor == step.name
                            and d.first_pulse <= per_precursor[step.name] < d.first_pulse + d.pulses
                            for d in s.depleted
                        ):
                            m = 0.0
                        names.append(step.name)
                        open_s.append(duration)
                        starts.append(t)
                        masses.append(m)
                        taus.append(float(step.extra.get("tau_s", max(0.25, 0.4 * step.duration_s))))
                        spikes.append(step_spike[si] * (1.0 + 0.15 * rng.standard_normal()))
                        step_masses.append(m)
                    t += duration
                assert cycle_start is not None
                cycles.append(
                    TruthCycle(
                        index=index,
                        block_index=bi,
                        cycle_in_block=k,
                        start_s=cycle_start,
                        end_s=t,
                        steps_ng_cm2=tuple(step_masses),
                        regime=regime,
                    )
                )
        # a cycle ends where the next one starts (its first pulse), the last one at its last purge
        fixed = [replace(c, end_s=cycles[i + 1].start_s) if i + 1 < len(cycles) else c for i, c in enumerate(cycles)]
        return Schedule(
            pulse_start_s=np.array(starts),
            pulse_mass_ng_cm2=np.array(masses),
            pulse_tau_s=np.array(taus),
            pulse_spike_hz=np.array(spikes),
            cycles=fixed,
            end_s=t + s.tail_s,
            pulse_name=tuple(names),
            pulse_duration_s=np.array(open_s),
        )

    def _step_spike(self, block_index: int, step_index: int) -> float:
        h = zlib.crc32(f"{self.settings.seed}/{block_index}/{step_index}".encode())
        sign = 1.0 if h & 1 else -1.0
        size = 0.5 + ((h >> 1) % 1000) / 1000.0
        return sign * size * self.settings.spike_hz

    @property
    def duration_s(self) -> float:
        return self.schedule.end_s

    @property
    def truth(self) -> list[TruthCycle]:
        return self.schedule.cycles

    def valve_pulses(self) -> tuple[ValvePulse, ...]:
        """The valves as the tool fired them (skipped pulses left out; empty bottles included)."""
        p = self.schedule
        return tuple(
            ValvePulse(float(t), float(d), name, name)
            for t, d, name in zip(p.pulse_start_s, p.pulse_duration_s, p.pulse_name, strict=True)
        )

    # -- evaluation -------------------------------------------------------------------------

    def deposited_mass_ng_cm2(self, t_s: np.ndarray | float) -> np.ndarray:
        """Mass really on the crystal (uptake kinetics and desorbing excess included)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        p = self.schedule
        last = np.searchsorted(p.pulse_start_s, t, side="right") - 1
        settled = np.maximum(last - _RECENT_PULSES + 1, 0)
        mass = self._cum_mass[settled].copy()
        over = self.settings.overshoot
        tau_d = self.settings.desorb_tau_s
        for back in range(_RECENT_PULSES):
            j = last - back
            ok = j >= settled
            ok &= j >= 0
            if not ok.any():
                continue
            jj = j[ok]
            x = t[ok] - p.pulse_start_s[jj]
            m = p.pulse_mass_ng_cm2[jj]
            tau = p.pulse_tau_s[jj]
            uptake = m * (1.0 - np.exp(-x / tau))
            excess = over * np.abs(m) * (np.exp(-x / tau_d) - np.exp(-x / tau))
            mass[ok] += uptake + excess
        return mass

    def transient_hz(self, t_s: np.ndarray | float) -> np.ndarray:
        """Apparent frequency excursion from the gas pulses (not mass): fast rise, decay in seconds."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        p = self.schedule
        last = np.searchsorted(p.pulse_start_s, t, side="right") - 1
        out = np.zeros_like(t)
        tau_s = self.settings.spike_tau_s
        for back in range(_RECENT_PULSES):
            j = last - back
            ok = j >= 0
            if not ok.any():
                continue
            jj = j[ok]
            x = t[ok] - p.pulse_start_s[jj]
            out[ok] += p.pulse_spike_hz[jj] * (np.exp(-x / tau_s) - np.exp(-x / 0.15))
        return out

    def drift_hz(self, t_s: np.ndarray | float) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        s = self.settings
        return s.warmup_hz * np.exp(-t / s.warmup_tau_s) + s.drift_hz_per_h * t / 3600.0

    def frequency_hz(
        self, t_s: np.ndarray | float, sensor: int = 0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """What the instrument reports: sensor 0 is the deposition crystal, others are references
        that see the drift and the transients but no film."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        s = self.settings
        rng = rng or self._noise_rng
        base = s.start_frequency_hz + 1234.5 * sensor
        f = base + self.drift_hz(t) * (1.0 + 0.3 * sensor) + self.transient_hz(t) * (0.7 if sensor else 1.0)
        if sensor == 0:
            f = f - self.deposited_mass_ng_cm2(t) / self.factor_ng_cm2_per_hz
        if s.noise_hz > 0:
            f = f + s.noise_hz * rng.standard_normal(t.shape)
        if s.resolution_hz > 0:
            f = np.round(f / s.resolution_hz) * s.resolution_hz
        return f


@dataclass
class SampledRun:
    time_s: np.ndarray
    frequency_hz: np.ndarray
    model: ProcessModel


def sample_run(
    model: ProcessModel,
    rate_hz: float,
    *,
    dropout_prob: float = 0.0,
    duplicate_prob: float = 0.0,
    nan_prob: float = 0.0,
    seed: int | None = None,
    timing_jitter_s: float = 0.002,
) -> SampledRun:
    """Sample the model as an instrument log would: jittered times, optional dropouts (gaps of
    up to ~2 s), identical duplicate rows and 'value unavailable' (NaN) readings."""
    rng = np.random.default_rng(model.settings.seed + 104729 if seed is None else seed)
    n = int(model.duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    t = t + timing_jitter_s * rng.standard_normal(n)
    t = np.maximum.accumulate(t)
    keep = np.ones(n, dtype=bool)
    if dropout_prob > 0:
        starts = np.flatnonzero(rng.random(n) < dropout_prob)
        lengths = rng.integers(1, max(2, int(2 * rate_hz)), size=starts.size)
        for s0, ln in zip(starts, lengths, strict=True):
            keep[s0 : s0 + ln] = False
    t = t[keep]
    f = model.frequency_hz(t)
    if nan_prob > 0:
        f[rng.random(f.size) < nan_prob] = math.nan
    if duplicate_prob > 0:
        dup = np.flatnonzero(rng.random(t.size) < duplicate_prob)
        t = np.insert(t, dup, t[dup])
        f = np.insert(f, dup, f[dup])
    return SampledRun(time_s=t, frequency_hz=f, model=model)


class ReactorSource:
    """The reactor as seen by an emulated instrument: values at emulator time, thickness included.

    The emulator calls :meth:`sensor_state` with its own clock; ``speed`` runs the reactor faster
    than real time so a 100-cycle run plays in minutes.
    """

    def __init__(self, model: ProcessModel, speed: float = 1.0, sensors: int = 1) -> None:
        self.model = model
        self._valve_edges = _edges(model.valve_pulses())
        self.speed = speed
        self.sensor_count = sensors
        self._rng = np.random.default_rng(model.settings.seed + 31337)
        self._last: dict[int, tuple[float, float]] = {}

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ since start, rate Å/s) of a sensor (0-based)."""
        t = elapsed_s * self.speed
        f = float(self.model.frequency_hz(t, sensor, self._rng)[0])
        f0 = self.model.settings.start_frequency_hz + 1234.5 * sensor
        thick_ang = float(zmatch_thickness_ang(f, f0, density_g_cm3, z_ratio, tooling_pct, self.model.crystal))
        prev = self._last.get(sensor)
        rate = 0.0
        if prev is not None and t > prev[0]:
            rate = (thick_ang - prev[1]) / (t - prev[0])
        self._last[sensor] = (t, thick_ang)
        return f, thick_ang / 1000.0, rate

    def valve_events(self, start_s: float, end_s: float) -> list[ValveEvent]:
        """The valves' openings and closings with ``start_s <= t < end_s`` (process seconds)."""
        times = self._valve_edges[0]
        lo, hi = np.searchsorted(times, [start_s, end_s], side="left").tolist()
        return [ValveEvent(float(times[i]), self._valve_edges[1][i], self._valve_edges[2][i]) for i in range(lo, hi)]


def _edges(pulses: tuple[ValvePulse, ...]) -> tuple[np.ndarray, list[str], list[bool]]:
    edges = sorted(
        [(p.time_s, p.channel, True) for p in pulses] + [(p.time_s + p.duration_s, p.channel, False) for p in pulses]
    )
    return np.array([e[0] for e in edges]), [e[1] for e in edges], [e[2] for e in edges]
