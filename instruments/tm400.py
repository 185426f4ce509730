"""Maxtek / INFICON TM-350 / TM-400 driver (binary frames, streamed binary logging).

Wire format, from the TM-350/400 operating manual (its worked examples re-computed and agreeing):

* Frame: ``FF FE | ADDR (1-32) | CODE | LEN | DATA | CKSUM``. LEN counts the DATA bytes (0-249);
  CKSUM = 0xFF - ((CODE + LEN + sum(DATA)) & 0xFF): the address is not summed, LEN is. The manual's
  ``FF FE 01 05 02 F8 01 FF`` only checks out with LEN included (without it the checksum would be 01).
* Code 4 asks for the 10-byte status block: active film, active sensor, health of sensors 1 and 2
  (0-99, 255 = failed), shutter bits (6 = source, 7 = sensor), display, I/O address, crystal type
  (0-5 = 2.5, 3, 5, 6, 9, 10 MHz), simulate mode (bit 4) and a failure register.
* Code 5 / code 6 start string / binary logging every 100 ms; DATA is a two-byte mask choosing the
  values sent (byte 1 bits 0-7, byte 2 bits 0-3, table below); a zero mask stops logging.
  Binary values are integers, most significant byte first: rate (3 bytes, Å/s), thickness
  (3 bytes, Å), period (4 bytes, frequency = 3.221e15 / period), areal mass (4 bytes × 0.137 ng/cm²).

Designed here, because the manual pages at hand do not say (driver and emulator agree on all of it):

* The instrument answers and streams in the same frame format, from its own address, with CODE equal
  to the command's code (status reply: code 4, 10 bytes; logging records: code 5 / 6).
* Logging commands are not acknowledged; the records starting to arrive are the acknowledgement.
* A refused command is answered by CODE = 0x80 | code with one data byte: 1 checksum error,
  2 unknown command, 3 bad data (:data:`ERROR_TEXT`).
* Record fields follow the mask's bit order (byte 1 bit 0 first, byte 2 bit 3 last).
* Rate, thickness and areal mass are signed two's complement (for positive values this is exactly the
  manual's unsigned sum; negative drift after zeroing stays representable); the period is unsigned.
  Rate and thickness are taken at face value, one count per Å/s and per Å, as the manual states
  ("normal units"); :data:`RATE_A_PER_S_PER_COUNT` and :data:`THICKNESS_A_PER_COUNT` are the knobs if
  a unit proves to send finer steps.
* A failed crystal streams a period of 0 (no oscillation to time): :class:`ValueUnavailable`.
* Default baud 9600 (the pages found give no default). At 9600 baud one 20-byte record every 100 ms
  fills about a fifth of the line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from instruments.base import (
    CommandRejected,
    Driver,
    DriverInfo,
    InstrumentError,
    ProtocolError,
    Reading,
    SensorReading,
    ValueUnavailable,
)
from instruments.protocol_spec import OptionSpec, ProtocolSpec
from instruments.transport import Transport

SYNC = b"\xff\xfe"
MAX_DATA = 249
MIN_ADDRESS, MAX_ADDRESS = 1, 32

CODE_STATUS = 4
CODE_STRING_LOG = 5
CODE_BINARY_LOG = 6
#: set in CODE of a reply refusing a command (designed, see module docstring)
ERROR_FLAG = 0x80
ERROR_CHECKSUM, ERROR_UNKNOWN_COMMAND, ERROR_BAD_DATA = 1, 2, 3
ERROR_TEXT = {ERROR_CHECKSUM: "checksum error", ERROR_UNKNOWN_COMMAND: "unknown command", ERROR_BAD_DATA: "bad data"}

#: frequency (Hz) = PERIOD_CONSTANT / period count
PERIOD_CONSTANT = 3.221e15
MASS_NG_CM2_PER_COUNT = 0.137
RATE_A_PER_S_PER_COUNT = 1.0
THICKNESS_A_PER_COUNT = 1.0
CRYSTAL_MHZ = (2.5, 3.0, 5.0, 6.0, 9.0, 10.0)
HEALTH_FAILED = 255
STATUS_SIZE = 10
FAILURE_BITS = {0: "RAM", 1: "EPROM", 2: "film data", 3: "sensor input", 5: "power", 6: "sensor card"}

#: binary logging (code 6): mask bit -> (field name, byte count, signed), in transmission order
BINARY_FIELDS: dict[int, tuple[str, int, bool]] = {
    0: ("active_rate", 3, True),
    1: ("active_thickness", 3, True),
    2: ("active_period", 4, False),
    3: ("s1_rate", 3, True),
    4: ("s1_thickness", 3, True),
    5: ("s1_period", 4, False),
    6: ("s2_rate", 3, True),
    7: ("s2_thickness", 3, True),
    8: ("s2_period", 4, False),
    9: ("active_sensor", 1, False),
    10: ("s1_mass", 4, True),
    11: ("s2_mass", 4, True),
}
#: string logging (code 5): mask bit -> (field name, character count); thickness in kÅ, frequency in Hz
STRING_FIELDS: dict[int, tuple[str, int]] = {
    0: ("active_rate", 5),
    1: ("active_thickness", 5),
    2: ("active_frequency", 11),
    3: ("s1_rate", 5),
    4: ("s1_thickness", 5),
    5: ("s1_frequency", 11),
    6: ("s2_rate", 5),
    7: ("s2_thickness", 5),
    8: ("s2_frequency", 11),
    9: ("active_sensor", 1),
}
BINARY_MASK_LIMIT = 1 << 12
STRING_MASK_LIMIT = 1 << 10

_MAX_SCAN = 2 * (MAX_DATA + 6)  # bytes searched for a sync before giving up on one read
_MAX_SKIPPED_FRAMES = 8  # frames of another kind tolerated while waiting for the wanted one


def checksum(code: int, data: bytes) -> int:
    """The frame checksum: 0xFF minus the low byte of CODE + LEN + DATA (the address is not summed)."""
    return 0xFF - ((code + len(data) + sum(data)) & 0xFF)


def encode_frame(address: int, code: int, data: bytes = b"") -> bytes:
    """Frame a command (or, in the emulator, a reply)."""
    if not 0 <= address <= 0xFF or not 0 <= code <= 0xFF or len(data) > MAX_DATA:
        raise ValueError(f"cannot frame address {address}, code {code}, {len(data)} data bytes")
    return SYNC + bytes([address, code, len(data)]) + data + bytes([checksum(code, data)])


def mask_bytes(mask: int) -> bytes:
    """A logging mask as the two DATA bytes of a code 5/6 command (byte 1 holds bits 0-7)."""
    return bytes([mask & 0xFF, (mask >> 8) & 0xFF])


def sensor_mask(sensor: int) -> int:
    """The binary-logging mask for rate, thickness, period and mass of sensor 1 or 2."""
    if sensor == 1:
        return 1 << 3 | 1 << 4 | 1 << 5 | 1 << 10
    if sensor == 2:
        return 1 << 6 | 1 << 7 | 1 << 8 | 1 << 11
    raise ValueError(f"the TM-400 has sensors 1 and 2, not {sensor}")


def record_size(mask: int) -> int:
    """Bytes in one binary record for this mask."""
    return sum(size for bit, (_, size, _) in BINARY_FIELDS.items() if mask >> bit & 1)


def pack_record(mask: int, values: dict[str, int]) -> bytes:
    """Binary record for ``mask`` (used by the emulator); values are clamped to their field width."""
    out = bytearray()
    for bit, (name, size, signed) in BINARY_FIELDS.items():
        if not mask >> bit & 1:
            continue
        bits = 8 * size
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        value = min(hi, max(lo, int(values.get(name, 0))))
        out += value.to_bytes(size, "big", signed=signed)
    return bytes(out)


def unpack_record(mask: int, data: bytes) -> dict[str, int]:
    """Split a binary record into its fields; raise ProtocolError if the length does not fit the mask."""
    expected = record_size(mask)
    if len(data) != expected:
        raise ProtocolError(f"TM-400 binary record has {len(data)} bytes, expected {expected}")
    out: dict[str, int] = {}
    pos = 0
    for bit, (name, size, signed) in BINARY_FIELDS.items():
        if mask >> bit & 1:
            out[name] = int.from_bytes(data[pos : pos + size], "big", signed=signed)
            pos += size
    return out


def frequency_from_period(period: int) -> float:
    """Convert the period count to Hz; a zero period means the crystal is not oscillating."""
    if period <= 0:
        raise ValueUnavailable("TM-400 sensor reports no period: crystal failed or missing")
    return PERIOD_CONSTANT / period


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame as received."""

    address: int
    code: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Tm400Status:
    """The code-4 status block."""

    active_film: int
    active_sensor: int
    health: tuple[int, int]
    source_shutter_open: bool
    sensor_shutter_open: bool
    display: int
    address: int
    crystal_type: int
    simulate: bool
    failures: int

    @property
    def crystal_mhz(self) -> float:
        """Nominal crystal frequency in MHz (``nan`` for an unknown type code)."""
        return CRYSTAL_MHZ[self.crystal_type] if self.crystal_type < len(CRYSTAL_MHZ) else math.nan

    def failure_names(self) -> list[str]:
        return [name for bit, name in FAILURE_BITS.items() if self.failures >> bit & 1]


def decode_status(data: bytes) -> Tm400Status:
    """Parse the 10-byte status block (layout from the manual's status table)."""
    if len(data) != STATUS_SIZE:
        raise ProtocolError(f"TM-400 status has {len(data)} bytes, expected {STATUS_SIZE}")
    film, active, h1, h2, shutters, display, address, crystal, simulate, failures = data
    return Tm400Status(
        active_film=film,
        active_sensor=active,
        health=(h1, h2),
        source_shutter_open=bool(shutters >> 6 & 1),
        sensor_shutter_open=bool(shutters >> 7 & 1),
        display=display,
        address=address,
        crystal_type=crystal,
        simulate=bool(simulate >> 4 & 1),
        failures=failures,
    )


def encode_status(status: Tm400Status) -> bytes:
    """The status block's bytes (used by the emulator)."""
    shutters = (0x40 if status.source_shutter_open else 0) | (0x80 if status.sensor_shutter_open else 0)
    return bytes(
        [
            status.active_film,
            status.active_sensor,
            *status.health,
            shutters,
            status.display,
            status.address,
            status.crystal_type,
            0x10 if status.simulate else 0,
            status.failures,
        ]
    )


class Tm400(Driver):
    """Maxtek / INFICON TM-350 / TM-400 thickness monitor, read through its 100 ms binary log."""

    info = DriverInfo(
        protocol="tm400",
        title="Maxtek/INFICON TM-400",
        default_baud=9600,
        max_sensors=1,
        measurement_period_s=0.1,
        streaming=True,
    )

    def __init__(self, transport: Transport, sensors: tuple[int, ...] = (1,), *, address: int = 1) -> None:
        super().__init__(transport, sensors)
        if len(self.sensors) != 1:
            raise ValueError("the TM-400 driver streams one sensor at a time")
        if not MIN_ADDRESS <= address <= MAX_ADDRESS:
            raise ValueError(f"TM-400 address must be {MIN_ADDRESS}..{MAX_ADDRESS}, not {address}")
        self.address = address
        self.sensor = self.sensors[0]
        self.mask = sensor_mask(self.sensor)
        # bytes read past a false sync, scanned again before reading the port
        self._pending = bytearray()

    # -- framing ------------------------------------------------------------------------------

    def _take(self, size: int) -> bytes:
        head = bytes(self._pending[:size])
        del self._pending[:size]
        if len(head) < size:
            head += self.transport.read_exact(size - len(head))
        return head

    def _read_frame(self) -> Frame:
        """Sync on FF FE, read the header and exactly the declared length, and check the frame.

        A header with an impossible address or length is a false sync (line noise); its bytes are
        scanned again so that a real frame starting inside them is not lost.
        """
        previous = -1
        for _ in range(_MAX_SCAN):
            byte = self._take(1)[0]
            if previous == SYNC[0] and byte == SYNC[1]:
                header = self._take(3)
                address, code, length = header
                if MIN_ADDRESS <= address <= MAX_ADDRESS and length <= MAX_DATA:
                    break
                self._pending[:0] = header
                previous = -1
            else:
                previous = byte
        else:
            raise ProtocolError(f"TM-400: no frame sync within {_MAX_SCAN} bytes")
        body = self._take(length + 1)
        data, received = body[:-1], body[-1]
        expected = checksum(code, data)
        if received != expected:
            raise ProtocolError(
                f"TM-400 frame checksum {received:02X}, expected {expected:02X} (code {code}, {length} data bytes)"
            )
        if address != self.address:
            raise ProtocolError(f"TM-400 frame from address {address}, expected {self.address}")
        if code & ERROR_FLAG:
            reason = ERROR_TEXT.get(data[0], f"error {data[0]}") if data else "no reason given"
            raise CommandRejected(f"TM-400 refused code {code & 0x7F}: {reason}")
        return Frame(address, code, data)

    def _send(self, code: int, data: bytes = b"") -> None:
        self.transport.write(encode_frame(self.address, code, data))

    def query(self, code: int, data: bytes = b"") -> Frame:
        """Send a command and return its reply, passing over logging records still in flight."""
        self._pending.clear()
        self.transport.reset_input_buffer()
        self._send(code, data)
        for _ in range(_MAX_SKIPPED_FRAMES):
            frame = self._read_frame()
            if frame.code == code:
                return frame
        raise ProtocolError(f"TM-400: no reply to code {code} among {_MAX_SKIPPED_FRAMES} frames")

    # -- quantities ---------------------------------------------------------------------------

    def status(self) -> Tm400Status:
        """Get the status block (film, active sensor, crystal health, crystal type, failures)."""
        return decode_status(self.query(CODE_STATUS).data)

    def crystal_health_pct(self) -> float:
        """Measure the selected sensor's crystal health (0-99 %); ValueUnavailable if it failed."""
        health = self.status().health[self.sensor - 1]
        if health == HEALTH_FAILED:
            raise ValueUnavailable(f"TM-400 sensor {self.sensor}: crystal failed")
        return float(health)

    def identify(self) -> str:
        """Get a description from the status block (the protocol has no version string)."""
        s = self.status()
        health = s.health[self.sensor - 1]
        crystal = f"{s.crystal_mhz:g} MHz crystal" if not math.isnan(s.crystal_mhz) else "unknown crystal"
        parts = [
            f"TM-400 at address {s.address}",
            crystal,
            f"film {s.active_film}",
            f"sensor {self.sensor} " + ("failed" if health == HEALTH_FAILED else f"health {health} %"),
        ]
        if s.simulate:
            parts.append("simulate mode")
        if s.failures:
            parts.append("failures: " + (", ".join(s.failure_names()) or f"0x{s.failures:02X}"))
        return ", ".join(parts)

    def start(self) -> None:
        """Start binary logging of the selected sensor's rate, thickness, period and mass."""
        self._pending.clear()
        self.transport.reset_input_buffer()
        self._send(CODE_BINARY_LOG, mask_bytes(self.mask))

    def stop(self) -> None:
        """Stop binary logging; quiet if the link is already gone."""
        try:
            self._send(CODE_BINARY_LOG, mask_bytes(0))
        except InstrumentError:
            pass

    def read(self) -> Reading:
        """Wait for the next binary-log record and convert it."""
        for _ in range(_MAX_SKIPPED_FRAMES):
            frame = self._read_frame()
            if frame.code == CODE_BINARY_LOG:
                break
        else:
            raise ProtocolError(f"TM-400: no binary-log record among {_MAX_SKIPPED_FRAMES} frames")
        t = time.monotonic()
        values = unpack_record(self.mask, frame.data)
        prefix = f"s{self.sensor}_"
        frequency = frequency_from_period(values[prefix + "period"])
        sensor = SensorReading(
            frequency_hz=frequency,
            rate_a_per_s=values[prefix + "rate"] * RATE_A_PER_S_PER_COUNT,
            thickness_kang=values[prefix + "thickness"] * THICKNESS_A_PER_COUNT / 1000.0,
            mass_ug_cm2=values[prefix + "mass"] * MASS_NG_CM2_PER_COUNT / 1000.0,
        )
        return Reading(time_s=t, sensors=(sensor,))


PROTOCOLS = (
    ProtocolSpec(
        Tm400,
        "instruments.emulators.tm400:Tm400Emulator",
        options=(
            OptionSpec(
                "address",
                int,
                1,
                "Unit address",
                minimum=MIN_ADDRESS,
                maximum=MAX_ADDRESS,
                help="the unit's address on the serial bus (1 unless changed on the unit)",
            ),
        ),
    ),
)
