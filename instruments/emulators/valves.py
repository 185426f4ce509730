"""A tool's valve-event line (``<t> <valve> <0|1>``), fed by the simulated reactor's schedule.

``qcm simulate --protocol valves`` serves it on a pty beside the QCM emulator, so the live marker
source has something real to connect to. The reactor arrives as a :class:`ValveSchedule`; times are
the reactor's process seconds (the tool's own clock).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

from instruments.emulators.base import EmulatedInstrument
from instruments.valves import ValveEvent, format_event_line


class ValveSchedule(Protocol):
    sensor_count: int
    speed: float

    def valve_events(self, start_s: float, end_s: float) -> list[ValveEvent]:
        """Events with ``start_s <= t < end_s`` on the process clock, in time order."""
        ...


class ValveEventEmulator(EmulatedInstrument):
    """Streams the events that fell due since the last frame (several lines at once when needed).

    Stamps are the reactor's process seconds, or with ``wall_clock`` the Unix time at which each
    event happened (a tool PC whose clock agrees with ours, as on the same PC)."""

    def __init__(
        self, source: ValveSchedule, *, seed: int = 0, measurement_period_s: float = 0.05, wall_clock: bool = False
    ) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)  # type: ignore[arg-type]
        self.schedule = source
        self.stream_period_s = measurement_period_s
        self.wall_clock = wall_clock
        self._sent_until_s = 0.0

    def handle(self, data: bytes) -> list[bytes]:
        return []

    def client_opened(self) -> None:
        """A tool's event line reports edges as they happen: a client that opens the port late (or
        again) gets none from before, as from a real serial line."""
        self._sent_until_s = self.elapsed_s() * self.schedule.speed

    def stream_frame(self) -> bytes | None:
        now = self.elapsed_s() * self.schedule.speed
        events = self.schedule.valve_events(self._sent_until_s, now)
        self._sent_until_s = now
        if not events:
            return None
        if self.wall_clock:  # process seconds → the moment on the wall clock (the reactor runs `speed` times faster)
            started_epoch_s = time.time() - self.elapsed_s()
            events = [replace(e, time_s=started_epoch_s + e.time_s / self.schedule.speed) for e in events]
        return "".join(format_event_line(e) for e in events).encode("ascii")
