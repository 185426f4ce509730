"""openQCM v1 (Arduino Micro) driver: a text record every counter gate, terminated by the byte 0xFF.

Facts from the openQCM firmware: 115200 baud; every gate (``GATE`` = 1000 ms) the board prints
``RAWMONITOR<count>_<temperature>`` and then the single byte 0xFF. ``count`` is the number of crystal
cycles in the gate, i.e. the frequency in Hz as an integer; the temperature is an integer in tenths of
a degree Celsius (firmware 1.3, MCP9808 sensor; the older thermistor firmware printed whole degrees).
Firmware 1.3 also answers an integer ``1`` on the serial line with ``SERIALNUMBER<digits>`` + 0xFF;
earlier firmware has no command at all, so this driver never sends anything and only recognises
that reply should it arrive.

A record whose count is 0 means the crystal is not oscillating: :class:`ValueUnavailable`.
The temperature has no place in :class:`SensorReading`; it is kept in :attr:`OpenQcm.last_temperature_c`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from instruments.base import NAN, Driver, DriverInfo, ProtocolError, Reading, SensorReading, ValueUnavailable
from instruments.line import read_record
from instruments.protocol_spec import OptionSpec, ProtocolSpec
from instruments.transport import Transport

TERMINATOR = b"\xff"
HEADER = b"RAWMONITOR"
SERIAL_HEADER = b"SERIALNUMBER"
MAX_RECORD = 64  # "RAWMONITOR" + 10 digits + "_" + sign and 5 digits is under 30 bytes
_BODY = re.compile(rb"(\d{1,10})_(-?\d{1,6})")
_SERIAL = re.compile(rb"\d{1,12}")
_MAX_RECORDS_PER_READ = 8  # serial-number replies or stray terminators passed over in one read()
_IDENTIFY_TRIES = 4


@dataclass(frozen=True, slots=True)
class Record:
    """One RAWMONITOR record."""

    frequency_hz: float
    temperature_c: float


def parse_record(record: bytes) -> Record:
    """Parse a record without its terminator; garbage before the last header is ignored (resync)."""
    start = record.rfind(HEADER)
    if start < 0:
        raise ProtocolError(f"openQCM: no {HEADER.decode()} header in {record[:40]!r}")
    match = _BODY.fullmatch(record[start + len(HEADER) :])
    if match is None:
        raise ProtocolError(f"openQCM: malformed record {record[start : start + 40]!r}")
    return Record(frequency_hz=float(int(match.group(1))), temperature_c=int(match.group(2)) / 10.0)


def parse_serial_number(record: bytes) -> str | None:
    """The serial number if ``record`` (without terminator) is a SERIALNUMBER reply, else None."""
    start = record.rfind(SERIAL_HEADER)
    if start < 0:
        return None
    digits = record[start + len(SERIAL_HEADER) :]
    if not _SERIAL.fullmatch(digits):
        raise ProtocolError(f"openQCM: malformed serial number reply {record[start : start + 40]!r}")
    return digits.decode("ascii")


def encode_record(frequency_hz: float, temperature_c: float) -> bytes:
    """A record as the firmware prints it (used by the emulator)."""
    return HEADER + f"{max(0, round(frequency_hz))}_{round(temperature_c * 10)}".encode("ascii") + TERMINATOR


class OpenQcm(Driver):
    """openQCM v1: listens to the stream; nothing is ever written to the board."""

    info = DriverInfo(
        protocol="openqcm",
        title="openQCM v1 (Arduino)",
        default_baud=115200,
        max_sensors=1,
        measurement_period_s=1.0,
        streaming=True,
        bauds=(115200,),
    )

    def __init__(self, transport: Transport, sensors: tuple[int, ...] = (1,), *, gate_s: float = 1.0) -> None:
        """``gate_s``: the firmware's counting gate (1 s unless the sketch was rebuilt with another)."""
        super().__init__(transport, sensors)
        if self.sensors != (1,):
            raise ValueError("openQCM v1 has a single sensor")
        if gate_s <= 0:
            raise ValueError("gate_s must be positive")
        self.gate_s = gate_s
        #: temperature of the last record (°C), ``nan`` before the first
        self.last_temperature_c = NAN
        #: set if a SERIALNUMBER reply was seen (firmware 1.3 sends it when asked)
        self.serial_number: str | None = None

    def _next_record(self) -> Record:
        """The next RAWMONITOR record; up to two gates of silence are normal."""
        patience = max(2.0 * self.gate_s, self.transport.timeout_s)
        for _ in range(_MAX_RECORDS_PER_READ):
            raw = read_record(self.transport, TERMINATOR, MAX_RECORD, patience, "openQCM")[:-1]
            if not raw:
                continue  # a lone 0xFF: nothing to parse
            serial = parse_serial_number(raw)
            if serial is not None:
                self.serial_number = serial
                continue
            record = parse_record(raw)
            self.last_temperature_c = record.temperature_c
            return record
        raise ProtocolError(f"openQCM: no RAWMONITOR record among {_MAX_RECORDS_PER_READ}")

    def read(self) -> Reading:
        """Wait for the next gate's record and return its frequency."""
        record = self._next_record()
        t = time.monotonic()
        if record.frequency_hz <= 0:
            raise ValueUnavailable("openQCM counts no cycles: crystal not oscillating")
        return Reading(time_s=t, sensors=(SensorReading(frequency_hz=record.frequency_hz),))

    def identify(self) -> str:
        """openQCM v1 has no identify command: describe the board once a valid record has arrived."""
        error: ProtocolError | None = None
        for _ in range(_IDENTIFY_TRIES):
            try:
                record = self._next_record()
            except ProtocolError as exc:
                error = exc
                continue
            parts = [
                f"openQCM v1 at {record.frequency_hz:.0f} Hz"
                if record.frequency_hz > 0
                else "openQCM v1 (crystal not oscillating)",
                f"{record.temperature_c:.1f} °C",
            ]
            if self.serial_number:
                parts.append(f"serial {self.serial_number}")
            return ", ".join(parts)
        raise ProtocolError(f"openQCM: no valid record among {_IDENTIFY_TRIES}: {error}")


PROTOCOLS = (
    ProtocolSpec(
        OpenQcm,
        "instruments.emulators.openqcm:OpenQcmEmulator",
        options=(
            OptionSpec(
                "gate_s",
                float,
                1.0,
                "Counting gate",
                unit="s",
                minimum=0.01,
                maximum=60.0,
                decimals=2,
                help="the firmware's counting gate (1 s unless the sketch was rebuilt with another)",
            ),
        ),
    ),
)
