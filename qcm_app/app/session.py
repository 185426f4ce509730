"""What the window shows, kept in the GUI thread without any widget: the plot history in a ring
buffer, the latest readouts, the cycles and regime flags. Views read it from a timer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcm_app.acquisition.ringbuffer import RingBuffer
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings, crystal_life_pct, thickness_ang_from_mass
from qcm_app.domain.pipeline import SampleChunk
from qcm_app.domain.recipes import Recipe

#: ~29 h at 10 Hz; storage is allocated (and touched) once
DEFAULT_CAPACITY = 1_048_576
RATE_WINDOW_S = 5.0


@dataclass(frozen=True)
class Readouts:
    frequency_hz: float = math.nan
    delta_frequency_hz: float = math.nan
    mass_ng_cm2: float = math.nan
    mass_rate_ng_cm2_s: float = math.nan
    thickness_ang: float = math.nan
    life_pct: float = math.nan


@dataclass(frozen=True)
class Progress:
    """Where the run stands against its target; times in process seconds and in wall seconds."""

    cycles_done: int
    target_cycles: int | None
    thickness_ang: float
    target_thickness_ang: float | None
    remaining_process_s: float
    remaining_wall_s: float

    def text(self) -> str:
        done = f"Cycle {self.cycles_done}"
        if self.target_cycles:
            done += f" of {self.target_cycles}"
        if math.isfinite(self.thickness_ang):
            done += f" · {self.thickness_ang / 10:.1f} nm"
            if self.target_thickness_ang:
                done += f" of {self.target_thickness_ang / 10:.1f} nm"
        if math.isfinite(self.remaining_wall_s) and self.remaining_wall_s > 0:
            done += f" · ETA {format_duration(self.remaining_wall_s)}"
        elif (self.target_cycles or self.target_thickness_ang) and self.remaining_wall_s == 0:
            done += " · target reached"
        return done


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def column(kind: str, sensor: int) -> str:
    return f"{kind}_{sensor}"


class LiveSession:
    def __init__(
        self, sensors: int = 1, capacity: int = DEFAULT_CAPACITY, crystal: CrystalSettings | None = None
    ) -> None:
        self.sensors = sensors
        self.crystal = crystal or CrystalSettings()
        cols = ["time_s"]
        for s in range(sensors):
            cols += [column("frequency_hz", s), column("frequency_shift_hz", s), column("mass_ng_cm2", s)]
        cols.append("run_mass_ng_cm2")  # the primary sensor's untared mass: growth across a tare
        #: each sensor's first frequency: several crystals are compared by their shifts
        self.reference_frequency_hz = np.full(sensors, np.nan)
        self.buffer = RingBuffer(capacity, cols)
        #: bumps on every change so views redraw only when needed
        self.version = 0
        self._last_chunk: SampleChunk | None = None
        self.cycles: list[Any] = []
        self.regimes: Any = None
        self.analysis_version = 0
        #: the tool's valve pulses in time order, for the plot's ticks
        self.valve_pulses: list[ValvePulse] = []
        self.valves_version = 0

    def add_chunk(self, chunk: SampleChunk) -> None:
        if not len(chunk):
            return
        data: dict[str, np.ndarray] = {"time_s": chunk.time_s}
        for s in range(min(self.sensors, chunk.sensors)):
            f = chunk.frequency_hz[:, s]
            if not math.isfinite(self.reference_frequency_hz[s]):
                valid = f[np.isfinite(f)]
                if valid.size:
                    self.reference_frequency_hz[s] = valid[0]
            data[column("frequency_hz", s)] = f
            data[column("frequency_shift_hz", s)] = f - self.reference_frequency_hz[s]
            data[column("mass_ng_cm2", s)] = chunk.mass_ng_cm2[:, s]
        data["run_mass_ng_cm2"] = chunk.run_mass_ng_cm2[:, 0]
        self.buffer.append(data)
        self._last_chunk = chunk
        self.version += 1

    def add_valve_pulses(self, pulses: tuple[ValvePulse, ...]) -> None:
        """New pulses from the worker (already in time order; a late one is put in its place)."""
        if not pulses:
            return
        late = self.valve_pulses and pulses[0].time_s < self.valve_pulses[-1].time_s
        self.valve_pulses.extend(pulses)
        if late:
            self.valve_pulses.sort(key=lambda p: p.time_s)
        self.valves_version += 1
        self.version += 1

    def add_analysis(self, update: Any) -> None:
        """An analysis update: revised cycles replace the shown ones of the same index, new ones
        are added, and the regime snapshot is the current one."""
        revised = {c.index: c for c in getattr(update, "revised", ())}
        if revised:
            self.cycles = [revised.pop(c.index, c) for c in self.cycles]
        new = list(update.new_cycles) + list(revised.values())  # a revision of a cycle not yet shown
        self.cycles.extend(new)
        if revised:
            self.cycles.sort(key=lambda c: c.index)
        self.regimes = update.regimes
        self.analysis_version += 1
        self.version += 1

    def reset_analysis(self) -> None:
        self.cycles.clear()
        self.regimes = None
        self.analysis_version += 1

    def labels(self) -> list[str]:
        if self.regimes is None:
            return ["nucleation"] * len(self.cycles)
        return [self.regimes.label_of(c) for c in self.cycles]

    def regime_spans(self) -> list[tuple[float, float, str]]:
        """Consecutive cycles of one regime merged into (start, end, regime) spans for shading."""
        spans: list[tuple[float, float, str]] = []
        for c, label in zip(self.cycles, self.labels(), strict=True):
            if spans and spans[-1][2] == label and abs(spans[-1][1] - c.start_s) < 1e-6:
                spans[-1] = (spans[-1][0], c.end_s, label)
            else:
                spans.append((c.start_s, c.end_s, label))
        return spans

    def thickness_ang(self) -> float:
        """Film grown so far, block by block at each block's density: the completed cycles of each
        block, plus the growth since the last completed cycle at the current block's density."""
        if self.regimes is None or not self.regimes.blocks:
            return math.nan
        total = 0.0
        for b in self.regimes.blocks:
            if not b.density_g_cm3:
                return math.nan
            total += float(thickness_ang_from_mass(np.nansum(b.gains_ng_cm2), b.density_g_cm3))
        t = self.buffer.view("time_s")
        if t.size:
            mass = self.buffer.view("run_mass_ng_cm2")
            since = self.cycles[-1].end_s if self.cycles else t[0]
            k = min(int(np.searchsorted(t, since)), t.size - 1)
            partial = float(mass[-1] - mass[k])
            if math.isfinite(partial):
                total += float(thickness_ang_from_mass(partial, self.regimes.blocks[-1].density_g_cm3))
        return total

    def progress(
        self,
        recipe: Recipe | None,
        target_cycles: int | None = None,
        target_thickness_ang: float | None = None,
        time_scale: float = 1.0,
    ) -> Progress:
        """Cycle counter and ETA: measured cycle time for the current block, nominal ones after it."""
        n = len(self.cycles)
        thickness = self.thickness_ang()
        if target_cycles is None and recipe is not None and not target_thickness_ang:
            target_cycles = recipe.total_cycles
        recent = self.cycles[-5:]
        measured = float(np.mean([c.end_s - c.start_s for c in recent])) if recent else math.nan
        remaining_cycles = math.nan
        if target_cycles:
            remaining_cycles = max(target_cycles - n, 0)
        elif target_thickness_ang and self.regimes is not None and self.regimes.blocks:
            b = self.regimes.blocks[-1]
            per_cycle = b.gpc_ang if math.isfinite(b.gpc_ang) else math.nan
            if math.isfinite(per_cycle) and per_cycle > 0 and math.isfinite(thickness):
                remaining_cycles = max(math.ceil((target_thickness_ang - thickness) / per_cycle), 0)
        remaining_s = math.nan
        if math.isfinite(remaining_cycles):
            remaining_s = self._remaining_time(recipe, int(remaining_cycles), measured)
        return Progress(
            cycles_done=n,
            target_cycles=target_cycles,
            thickness_ang=thickness,
            target_thickness_ang=target_thickness_ang,
            remaining_process_s=remaining_s,
            remaining_wall_s=remaining_s / time_scale if 0 < time_scale < math.inf else math.nan,
        )

    def _remaining_time(self, recipe: Recipe | None, remaining: int, measured_s: float) -> float:
        if remaining == 0:
            return 0.0
        if recipe is None or not self.cycles:
            return remaining * measured_s if math.isfinite(measured_s) else math.nan
        last = self.cycles[-1]
        block = min(last.block_index, len(recipe.blocks) - 1)
        nominal = recipe.blocks[block].cycle_duration_s
        scale = measured_s / nominal if math.isfinite(measured_s) and nominal > 0 else 1.0
        total = 0.0
        left_in_block = max(recipe.blocks[block].repeat - last.cycle_in_block, 0)
        take = min(left_in_block, remaining)
        total += take * (measured_s if math.isfinite(measured_s) else nominal)
        remaining -= take
        for b in recipe.blocks[block + 1 :]:
            if remaining <= 0:
                break
            take = min(b.repeat, remaining)
            total += take * b.cycle_duration_s * scale
            remaining -= take
        if remaining > 0:  # beyond the recipe: at the last block's pace
            total += remaining * recipe.blocks[-1].cycle_duration_s * scale
        return total

    def readouts(self, sensor: int = 0) -> Readouts:
        c = self._last_chunk
        if c is None or sensor >= c.sensors:
            return Readouts()
        f = float(c.frequency_hz[-1, sensor])
        thickness = float(c.thickness_ang[-1, sensor])
        if sensor == 0:  # the analysed crystal: block by block at each block's density
            per_block = self.thickness_ang()
            if math.isfinite(per_block):
                thickness = per_block
        return Readouts(
            frequency_hz=f,
            delta_frequency_hz=float(c.delta_frequency_hz[-1, sensor]),
            mass_ng_cm2=float(c.mass_ng_cm2[-1, sensor]),
            mass_rate_ng_cm2_s=self.mass_rate(sensor),
            thickness_ang=thickness,
            life_pct=float(crystal_life_pct(f, self.crystal)),
        )

    def mass_rate(self, sensor: int = 0, window_s: float = RATE_WINDOW_S) -> float:
        """Least-squares slope of the displayed mass over the last few seconds."""
        t = self.buffer.view("time_s")
        if t.size < 3:
            return math.nan
        start = int(np.searchsorted(t, t[-1] - window_s))
        tt = t[start:]
        mm = self.buffer.view(column("mass_ng_cm2", sensor))[start:]
        ok = np.isfinite(mm)
        if ok.sum() < 3:
            return math.nan
        tt, mm = tt[ok], mm[ok]
        tc = tt - tt.mean()
        denom = float(np.dot(tc, tc))
        return float(np.dot(tc, mm - mm.mean()) / denom) if denom > 0 else math.nan

    def clear(self) -> None:
        self.buffer.clear()
        self._last_chunk = None
        self.reset_analysis()
        self.valve_pulses.clear()
        self.valves_version += 1
        self.version += 1
