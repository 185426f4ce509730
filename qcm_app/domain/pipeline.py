"""From instrument readings to samples with mass: the part of the data flow shared by live
acquisition, replay and offline analysis.

Readings (or recorded arrays) → :class:`SampleChunk` with run time, frequency, areal mass and
thickness per sensor → cycle segmenter and regime classifier on the primary sensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from instruments.base import Reading
from qcm_app.domain.physics import CrystalSettings, sauerbrey_factor_ng_cm2_per_hz, zmatch_thickness_ang


@dataclass(frozen=True)
class SampleChunk:
    """A batch of consecutive samples; 2-D arrays are (samples, sensors)."""

    time_s: np.ndarray
    frequency_hz: np.ndarray
    #: mass since the run started (never tared): what the cycle analysis uses
    run_mass_ng_cm2: np.ndarray
    #: mass since the last tare: what the user sees and what is recorded
    mass_ng_cm2: np.ndarray
    #: frequency minus the tare reference (negative as mass lands)
    delta_frequency_hz: np.ndarray
    thickness_ang: np.ndarray
    rate_a_per_s: np.ndarray
    instrument_thickness_kang: np.ndarray

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def sensors(self) -> int:
        return int(self.frequency_hz.shape[1])


@dataclass
class FilmSettings:
    """Film properties used for thickness (the instrument-style Z-match column)."""

    density_g_cm3: float = 1.0
    z_ratio: float = 1.0
    tooling_pct: float = 100.0


@dataclass
class MassConverter:
    """Sauerbrey from each sensor's measured starting frequency, with a tare reference.

    The start frequency is the first valid reading of the run; a tare moves only the zero of
    the displayed mass, so the cycle analysis never sees a jump.
    """

    sensors: int
    crystal: CrystalSettings = field(default_factory=CrystalSettings)
    film: FilmSettings = field(default_factory=FilmSettings)
    start_frequency_hz: np.ndarray = field(init=False)
    zero_frequency_hz: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.start_frequency_hz = np.full(self.sensors, np.nan)
        self.zero_frequency_hz = np.full(self.sensors, np.nan)
        #: thickness grown at earlier densities (earlier blocks), and where the current density began
        self.thickness_offset_ang = np.zeros(self.sensors)
        self.density_from_hz = np.full(self.sensors, np.nan)
        self._last_frequency_hz = np.full(self.sensors, np.nan)

    def set_density(self, density_g_cm3: float) -> None:
        """A new block begins: its film grows at its own density from the frequency now on, and the
        thickness already grown keeps the density it grew at."""
        if not density_g_cm3 > 0 or density_g_cm3 == self.film.density_g_cm3:
            return
        for s in range(self.sensors):
            f_now = self._last_frequency_hz[s]
            if math.isfinite(f_now):
                self.thickness_offset_ang[s] = float(self._thickness(np.array([f_now]), s)[0])
                self.density_from_hz[s] = f_now
        self.film = replace(self.film, density_g_cm3=density_g_cm3)

    def _thickness(self, frequency_hz: np.ndarray, s: int) -> np.ndarray:
        origin = self.density_from_hz[s] if math.isfinite(self.density_from_hz[s]) else self.zero_frequency_hz[s]
        return self.thickness_offset_ang[s] + zmatch_thickness_ang(
            frequency_hz, origin, self.film.density_g_cm3, self.film.z_ratio, self.film.tooling_pct, self.crystal
        )

    def set_start(self, start_frequency_hz: Sequence[float]) -> None:
        """Use known start frequencies (e.g. from a run file's header) instead of the first reading."""
        self.start_frequency_hz = np.array(start_frequency_hz, dtype=float)
        self.zero_frequency_hz = self.start_frequency_hz.copy()

    def factor_ng_cm2_per_hz(self, sensor: int) -> float:
        f0 = self.start_frequency_hz[sensor]
        return sauerbrey_factor_ng_cm2_per_hz(f0, self.crystal) if math.isfinite(f0) else math.nan

    def tare(self, frequency_hz: Sequence[float]) -> None:
        """Mass and thickness start again from zero here (as an instrument's zero does)."""
        f = np.asarray(frequency_hz, dtype=float)
        self.zero_frequency_hz = np.where(np.isfinite(f), f, self.zero_frequency_hz)
        self.thickness_offset_ang = np.where(np.isfinite(f), 0.0, self.thickness_offset_ang)
        self.density_from_hz = np.where(np.isfinite(f), np.nan, self.density_from_hz)

    def convert(self, frequency_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(run mass, displayed mass, Δf, thickness Å) for a (samples, sensors) frequency array."""
        for s in range(self.sensors):
            if not math.isfinite(self.start_frequency_hz[s]):
                valid = frequency_hz[:, s][np.isfinite(frequency_hz[:, s])]
                if valid.size:
                    self.start_frequency_hz[s] = valid[0]
                    self.zero_frequency_hz[s] = valid[0]
        run_mass = np.empty_like(frequency_hz)
        mass = np.empty_like(frequency_hz)
        delta = np.empty_like(frequency_hz)
        thick = np.empty_like(frequency_hz)
        for s in range(self.sensors):
            f0 = self.start_frequency_hz[s]
            if not math.isfinite(f0):
                run_mass[:, s] = mass[:, s] = delta[:, s] = thick[:, s] = np.nan
                continue
            k = sauerbrey_factor_ng_cm2_per_hz(f0, self.crystal)
            run_mass[:, s] = (f0 - frequency_hz[:, s]) * k
            delta[:, s] = frequency_hz[:, s] - self.zero_frequency_hz[s]
            mass[:, s] = -delta[:, s] * k
            thick[:, s] = self._thickness(frequency_hz[:, s], s)
            valid = frequency_hz[:, s][np.isfinite(frequency_hz[:, s])]
            if valid.size:
                self._last_frequency_hz[s] = valid[-1]
        return run_mass, mass, delta, thick


def block_density_after(
    recipe: object, overrides: dict[str, float], block_index: int, cycle_in_block: int
) -> float | None:
    """The density of the film that grows after this cycle: the next block's once a block's last
    cycle is done (waits skipped), else this block's; user overrides by block name win."""
    blocks = getattr(recipe, "blocks", None)
    if not blocks or not 0 <= block_index < len(blocks):
        return None
    k = block_index
    if cycle_in_block >= blocks[k].repeat:
        k = next((j for j in range(k + 1, len(blocks)) if not blocks[j].is_wait), k)
    return overrides.get(blocks[k].name) or blocks[k].density_g_cm3


class RunClock:
    """Run time in seconds from the first sample; ``time_scale`` maps host seconds to process
    seconds when the reactor is simulated faster than real time."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self.origin_s: float | None = None

    def run_time(self, host_time_s: np.ndarray) -> np.ndarray:
        if self.origin_s is None and host_time_s.size:
            self.origin_s = float(host_time_s[0])
        return (host_time_s - (self.origin_s or 0.0)) * self.time_scale


def readings_to_arrays(readings: Sequence[Reading], sensors: int) -> dict[str, np.ndarray]:
    """Stack readings into (samples, sensors) arrays; missing sensors become NaN."""
    n = len(readings)
    out: dict[str, np.ndarray] = {
        name: np.full((n, sensors), np.nan) for name in ("frequency_hz", "rate_a_per_s", "instrument_thickness_kang")
    }
    times = np.empty(n)
    for i, r in enumerate(readings):
        times[i] = r.time_s
        for s, sr in enumerate(r.sensors[:sensors]):
            out["frequency_hz"][i, s] = sr.frequency_hz
            out["rate_a_per_s"][i, s] = sr.rate_a_per_s
            out["instrument_thickness_kang"][i, s] = sr.thickness_kang
    out["time_s"] = times
    return out


class Pipeline:
    """Readings or arrays in, :class:`SampleChunk` out (and, through the analysis, cycles)."""

    def __init__(
        self,
        sensors: int = 1,
        crystal: CrystalSettings | None = None,
        film: FilmSettings | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.sensors = sensors
        self.converter = MassConverter(sensors, crystal or CrystalSettings(), film or FilmSettings())
        self.clock = RunClock(time_scale)
        self._last_time_s = -math.inf

    def process_readings(self, readings: Sequence[Reading]) -> SampleChunk:
        arrays = readings_to_arrays(readings, self.sensors)
        t = self.clock.run_time(arrays.pop("time_s"))
        return self.process_arrays(t, **arrays)

    def process_arrays(
        self,
        time_s: np.ndarray,
        frequency_hz: np.ndarray,
        rate_a_per_s: np.ndarray | None = None,
        instrument_thickness_kang: np.ndarray | None = None,
    ) -> SampleChunk:
        """Convert run-time arrays; rows not later than the previous one (duplicates) are dropped."""
        time_s = np.asarray(time_s, dtype=float)
        freq = np.asarray(frequency_hz, dtype=float).reshape(time_s.shape[0], -1)
        nan = np.full_like(freq, np.nan)
        rate = nan if rate_a_per_s is None else np.asarray(rate_a_per_s, float).reshape(freq.shape)
        thk = (
            nan
            if instrument_thickness_kang is None
            else np.asarray(instrument_thickness_kang, float).reshape(freq.shape)
        )
        keep = _strictly_increasing(time_s, self._last_time_s)
        if not keep.all():
            time_s, freq, rate, thk = time_s[keep], freq[keep], rate[keep], thk[keep]
        if time_s.size:
            self._last_time_s = float(time_s[-1])
        run_mass, mass, delta, thick = self.converter.convert(freq)
        return SampleChunk(
            time_s=time_s,
            frequency_hz=freq,
            run_mass_ng_cm2=run_mass,
            mass_ng_cm2=mass,
            delta_frequency_hz=delta,
            thickness_ang=thick,
            rate_a_per_s=rate,
            instrument_thickness_kang=thk,
        )

    def tare(self, frequency_hz: Sequence[float]) -> None:
        self.converter.tare(frequency_hz)


def _strictly_increasing(t: np.ndarray, previous: float) -> np.ndarray:
    """Mask keeping each row whose time is later than every row before it."""
    if t.size == 0:
        return np.ones(0, dtype=bool)
    running = np.maximum.accumulate(np.concatenate(([previous], t)))[:-1]
    return t > running
