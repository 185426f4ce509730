"""Live valve markers from a line of events: ``<t> <valve> <0|1>`` on a serial port or TCP (no Qt)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from instruments.valves import ValveEvent, parse_event_line
from qcm_app.domain.markers import ValvePulse
from qcm_app.io.marker_clock import ClockAlignment, EdgeTracker


class EventLineSource:
    """``<t> <valve> <0|1>`` lines from a serial port or a ``socket://host:port`` URL (pyserial)."""

    def __init__(
        self,
        url: str,
        run_clock: Callable[[], float],
        *,
        run_start_epoch_s: float | None = None,
        names: dict[str, str] | None = None,
        baudrate: int = 9600,
        max_latency_s: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self._port = self._open()
        self.link_up = True
        self._retry_at = 0.0
        self.clock = ClockAlignment(run_clock, run_start_epoch_s, max_latency_s=max_latency_s, time_scale=time_scale)
        self.tracker = EdgeTracker(names=dict(names or {}))
        self._buf = bytearray()
        self.bad_lines = 0
        self.warnings: list[str] = []

        self.pulses: list[ValvePulse] = []

    def open_valves(self) -> dict[str, float]:
        """Valves open now → when they opened (run seconds), for a plot's live ticks."""
        return {v: self.clock.to_run(t) for v, t in self.tracker.open.items()}

    def _open(self):
        import serial  # pyserial; imported here so the module loads without it

        try:
            return serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            from qcm_app.domain.errors import UserInputError

            raise UserInputError(f"cannot open the valve event line: {exc}", self.url) from None

    def poll(self) -> list[ValvePulse]:
        """New complete pulses; a lost link is said once and re-opened every second until it returns."""
        import serial

        if not self.link_up:
            if time.monotonic() < self._retry_at:
                return []
            try:
                self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0)
            except (serial.SerialException, OSError, ValueError):
                self._retry_at = time.monotonic() + 1.0
                return []
            self.link_up = True
            self.warnings.append("valve events: link restored")
        try:
            waiting = self._port.in_waiting
            if waiting:
                self._buf += self._port.read(waiting)
        except (serial.SerialException, OSError) as exc:
            self.link_up = False
            self._retry_at = time.monotonic() + 1.0
            self.close()
            self.warnings.append(f"valve events: link lost ({exc})")
        events: list[ValveEvent] = []
        arrival = self.clock.run_clock()
        while b"\n" in self._buf:
            raw, _, rest = bytes(self._buf).partition(b"\n")
            self._buf = bytearray(rest)
            try:
                event = parse_event_line(raw.decode("latin-1"))
            except ValueError as exc:
                self.bad_lines += 1
                if self.bad_lines == 1:
                    self.warnings.append(f"valve events: {exc} (line ignored; further bad lines are counted)")
                continue
            if event is not None:
                events.append(event)
        if not events:
            return []
        self.clock.observe(max(e.time_s for e in events), arrival)
        out: list[ValvePulse] = []
        for e in events:
            pulse = self.tracker.event(e.time_s, e.valve, e.is_open)
            if pulse is not None:
                out.append(self.clock.pulse_to_run(pulse))
        self.pulses.extend(out)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._port.close()
