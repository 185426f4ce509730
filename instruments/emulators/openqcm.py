"""An openQCM v1 board: one ``RAWMONITOR<Hz>_<tenths °C>`` record + 0xFF per gate.

Like firmware 1.3 it answers an integer 1 on the serial line with its serial number; any other input
is ignored (the firmware parses integers and drops the rest).
"""

from __future__ import annotations

import re

from instruments.emulators.base import EmulatedInstrument, SignalSource
from instruments.openqcm import HEADER, SERIAL_HEADER, TERMINATOR, encode_record

_INTEGER = re.compile(rb"-?\d+")


class OpenQcmEmulator(EmulatedInstrument):
    """Streams from power-up; ``measurement_period_s`` is the gate (1 s on a real board)."""

    def __init__(
        self,
        source: SignalSource,
        *,
        seed: int = 0,
        measurement_period_s: float = 1.0,
        temperature_c: float = 25.3,
        serial_number: str = "1042",
    ) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        self.stream_period_s = measurement_period_s
        self.temperature_c = temperature_c
        self.serial_number = serial_number

    def handle(self, data: bytes) -> list[bytes]:
        replies = []
        for match in _INTEGER.finditer(data):
            digits = match.group()
            if not digits.startswith(b"-") and digits.lstrip(b"0") == b"1":
                replies.append(SERIAL_HEADER + self.serial_number.encode("ascii") + TERMINATOR)
        return replies

    def stream_frame(self) -> bytes | None:
        frequency, _, _ = self.measure(0)
        temperature = self.temperature_c + self.rng.gauss(0.0, 0.05)  # the MCP9808's last-digit flicker
        return encode_record(frequency, temperature)

    def corrupt(self, frame: bytes) -> bytes:
        """Header and terminator intact, a letter inside the number: the record no longer parses."""
        if not frame.startswith(HEADER) or len(frame) < len(HEADER) + 3:
            return super().corrupt(frame)
        pos = self.rng.randrange(len(HEADER), len(frame) - 1)
        return frame[:pos] + b"x" + frame[pos + 1 :]

    def empty_reply(self, frame: bytes) -> bytes:
        """No crystal (or a stopped oscillator): the gate counts zero cycles."""
        if not frame.startswith(HEADER):
            return frame
        return encode_record(0.0, self.temperature_c)
