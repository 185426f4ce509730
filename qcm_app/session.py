"""What the window shows, kept in the GUI thread without any widget: the plot history in a ring
buffer, the latest readouts, the cycles and regime flags. Views read it from a timer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcm_app.physics import CrystalSettings, crystal_life_pct
from qcm_app.pipeline import SampleChunk
from qcm_app.ringbuffer import RingBuffer

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


def column(kind: str, sensor: int) -> str:
    return f"{kind}_{sensor}"


class LiveSession:
    def __init__(self, sensors: int = 1, capacity: int = DEFAULT_CAPACITY,
                 crystal: CrystalSettings | None = None) -> None:
        self.sensors = sensors
        self.crystal = crystal or CrystalSettings()
        cols = ["time_s"]
        for s in range(sensors):
            cols += [column("frequency_hz", s), column("mass_ng_cm2", s)]
        self.buffer = RingBuffer(capacity, cols)
        #: bumps on every change so views redraw only when needed
        self.version = 0
        self._last_chunk: SampleChunk | None = None
        self.cycles: list[Any] = []
        self.regimes: Any = None
        self.analysis_version = 0

    def add_chunk(self, chunk: SampleChunk) -> None:
        if not len(chunk):
            return
        data: dict[str, np.ndarray] = {"time_s": chunk.time_s}
        for s in range(min(self.sensors, chunk.sensors)):
            data[column("frequency_hz", s)] = chunk.frequency_hz[:, s]
            data[column("mass_ng_cm2", s)] = chunk.mass_ng_cm2[:, s]
        self.buffer.append(data)
        self._last_chunk = chunk
        self.version += 1

    def add_analysis(self, update: Any) -> None:
        """An analysis update: new cycles and the current regime snapshot."""
        self.cycles.extend(update.new_cycles)
        self.regimes = update.regimes
        self.analysis_version += 1
        self.version += 1

    def reset_analysis(self) -> None:
        self.cycles.clear()
        self.regimes = None
        self.analysis_version += 1

    def readouts(self, sensor: int = 0) -> Readouts:
        c = self._last_chunk
        if c is None or sensor >= c.sensors:
            return Readouts()
        f = float(c.frequency_hz[-1, sensor])
        return Readouts(frequency_hz=f, delta_frequency_hz=float(c.delta_frequency_hz[-1, sensor]),
                        mass_ng_cm2=float(c.mass_ng_cm2[-1, sensor]),
                        mass_rate_ng_cm2_s=self.mass_rate(sensor),
                        thickness_ang=float(c.thickness_ang[-1, sensor]),
                        life_pct=float(crystal_life_pct(f, self.crystal)))

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
        self.version += 1
