"""INFICON SQM-160 / SQC-310 / SQC-122 driver ("!" protocol with CRC-14).

Framing lives only in :meth:`Sqm160.query`; every quantity is one small method. Reply layouts are
those real units send, as public clients written against them parse them (protocols.md): ``W`` starts
with a dummy field, numbers may be space-padded, ``A<n>?`` holds the film name in a fixed 8-character
field, ``B?`` has 11 fields and ``C?`` 7.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from instruments.base import (
    NAN,
    CommandRejected,
    Driver,
    DriverInfo,
    ProtocolError,
    Reading,
    SensorReading,
    parse_float,
)
from instruments.protocol_spec import ProtocolSpec

SYNC = b"!"
_MAX_REPLY = 200  # longest reply: 'W' on a 6-sensor unit is about 130 characters
#: width of the film name field of ``A<n>?``
FILM_NAME_WIDTH = 8

STATUS_TEXT = {
    "C": "invalid command",
    "D": "bad data",
    "E": "not allowed in this mode",
}


def crc14(data: bytes) -> tuple[int, int]:
    """Compute the two CRC characters of a frame body (length character plus message)."""
    crc = 0x3FFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0x2001
    crc &= 0x3FFF
    return (crc & 0x7F) + 34, ((crc >> 7) & 0x7F) + 34


def encode_command(message: bytes) -> bytes:
    """Frame a command: ``!`` + length + message + CRC1 + CRC2."""
    if not 1 <= len(message) <= 220:
        raise ValueError(f"command length {len(message)} out of range")
    body = bytes([len(message) + 34]) + message
    return SYNC + body + bytes(crc14(body))


def encode_reply(status: str, data: bytes) -> bytes:
    """Frame a reply (used by the emulator): the length counts status and data, offset 35."""
    payload = status.encode("ascii") + data
    body = bytes([len(payload) + 35]) + payload
    return SYNC + body + bytes(crc14(body))


def decode_reply_body(length_char: int, rest: bytes) -> tuple[str, bytes]:
    """Check a reply's CRC and split it into status and data.

    ``rest`` is the payload followed by the two CRC characters.
    """
    payload, crc = rest[:-2], rest[-2:]
    if crc != b"\x00\x00" and tuple(crc) != crc14(bytes([length_char]) + payload):
        raise ProtocolError(f"SQM-160 reply CRC mismatch ({bytes([length_char]) + rest!r})")
    if not payload:
        raise ProtocolError("SQM-160 reply without status")
    status = chr(payload[0])
    return status, payload[1:]


@dataclass(frozen=True, slots=True)
class FilmParameters:
    """One film as ``A<n>?`` reports it."""

    name: str
    density_g_cm3: float
    tooling_pct: float
    z_ratio: float
    final_thickness_kang: float
    thickness_setpoint_kang: float
    time_setpoint_s: int
    sensor_mask: int


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """System 1 (``B?``)."""

    time_base_s: float
    simulate: bool
    display_mode: int
    high_rate_resolution: bool
    rate_filter: int
    crystal_tooling_pct: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SystemLimits:
    """System 2 (``C?``); the unit reports frequencies in MHz."""

    min_frequency_hz: float
    max_frequency_hz: float
    min_rate_a_per_s: float
    max_rate_a_per_s: float
    min_thickness_kang: float
    max_thickness_kang: float
    etch_mode: bool


def _integer(text: str, what: str) -> int:
    value = parse_float(text, what)
    if value != int(value):
        raise ProtocolError(f"{what}: not an integer: {text!r}")
    return int(value)


def _flag(text: str, what: str) -> bool:
    if text not in ("0", "1"):
        raise ProtocolError(f"{what}: expected 0 or 1, got {text!r}")
    return text == "1"


def _fields(text: str, count: int, command: str) -> list[str]:
    fields = text.split()
    if len(fields) != count:
        raise ProtocolError(f"SQM-160 {command!r} reply has {len(fields)} fields, expected {count}: {text[:60]!r}")
    return fields


class Sqm160(Driver):
    """INFICON SQM-160 rate/thickness monitor (also SQC-310 and SQC-122, same framing)."""

    info = DriverInfo(
        protocol="sqm160",
        title="INFICON SQM-160",
        default_baud=19200,
        max_sensors=6,
        measurement_period_s=0.1,
        bauds=(9600, 19200, 115200),
    )

    #: set when the instrument reported a power-up: status ``B`` (SQC-310/SQC-122) or ``Y`` = 1 (SQM-160)
    was_reset = False

    def query(self, message: str) -> str:
        """Send one command and return the reply data without its padding."""
        return self.query_raw(message).strip()

    def query_raw(self, message: str) -> str:
        """Send one command and return the reply data as sent (fixed-width fields keep their spaces);
        raise on CRC, framing or status errors."""
        self.transport.reset_input_buffer()
        self.transport.write(encode_command(message.encode("ascii")))
        # skip anything before the sync character (line noise, stale bytes)
        for _ in range(_MAX_REPLY):
            if self.transport.read_exact(1) == SYNC:
                break
        else:
            raise ProtocolError(f"no reply sync for {message!r}")
        length_char = self.transport.read_exact(1)[0]
        size = length_char - 35
        if not 1 <= size <= _MAX_REPLY:
            raise ProtocolError(f"SQM-160 reply length {size} out of range for {message!r}")
        status, data = decode_reply_body(length_char, self.transport.read_exact(size + 2))
        if status == "B":
            self.was_reset = True
        elif status != "A":
            detail = STATUS_TEXT.get(status, f"unknown status {status!r}")
            raise CommandRejected(f"SQM-160 refused {message!r}: {detail}")
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"SQM-160 reply to {message!r} is not ASCII") from None

    def identify(self) -> str:
        """Get the firmware version string, e.g. ``MON Ver 4.13``."""
        return self.query("@")

    def channel_count(self) -> int:
        """Get the number of sensor channels fitted (2 or 6)."""
        text = self.query("J")
        try:
            return int(text)
        except ValueError:
            raise ProtocolError(f"SQM-160 channel count is not an integer: {text!r}") from None

    def frequency_hz(self, sensor: int) -> float:
        """Measure a sensor's frequency in Hz."""
        return parse_float(self.query(f"P{sensor}"), "frequency")

    def rate_a_per_s(self, sensor: int) -> float:
        """Measure a sensor's rate in Å/s."""
        return parse_float(self.query(f"L{sensor}"), "rate")

    def thickness_kang(self, sensor: int) -> float:
        """Measure a sensor's thickness in kÅ."""
        return parse_float(self.query(f"N{sensor}"), "thickness")

    def life_pct(self, sensor: int) -> float:
        """Measure a sensor's crystal life in %."""
        return parse_float(self.query(f"R{sensor}"), "crystal life")

    def average_rate_a_per_s(self) -> float:
        """Measure the rate averaged over the active sensors."""
        return parse_float(self.query("M"), "average rate")

    def average_thickness_kang(self) -> float:
        """Measure the thickness averaged over the active sensors."""
        return parse_float(self.query("O"), "average thickness")

    def all_sensors(self) -> list[SensorReading]:
        """Measure rate, thickness and frequency of every sensor position in one exchange (``W``).

        The reply starts with a dummy field (``00.00`` on real units), then one triple per position;
        an empty position answers -1 for its three values and is returned with ``nan``.
        """
        fields = self.query("W").split()
        if len(fields) < 4 or (len(fields) - 1) % 3:
            raise ProtocolError(
                f"SQM-160 'W' reply has {len(fields)} fields, expected a leading field "
                "and whole rate/thickness/frequency triples"
            )
        out = []
        for i in range(1, len(fields), 3):
            rate, thick, freq = (parse_float(v, "all-sensors reading") for v in fields[i : i + 3])
            if freq <= 0:
                out.append(SensorReading(NAN))
            else:
                out.append(SensorReading(frequency_hz=freq, rate_a_per_s=rate, thickness_kang=thick))
        return out

    def film_parameters(self, film: int) -> FilmParameters:
        """Get a film's parameters (``A<n>?``): the name in a fixed 8-character field, then 7 fields."""
        text = self.query_raw(f"A{film}?")
        if len(text) <= FILM_NAME_WIDTH:
            raise ProtocolError(f"SQM-160 film parameters too short: {text!r}")
        name = text[:FILM_NAME_WIDTH].strip()
        f = _fields(text[FILM_NAME_WIDTH:], 7, f"A{film}?")
        return FilmParameters(
            name=name,
            density_g_cm3=parse_float(f[0], "density"),
            tooling_pct=parse_float(f[1], "tooling"),
            z_ratio=parse_float(f[2], "Z-ratio"),
            final_thickness_kang=parse_float(f[3], "final thickness"),
            thickness_setpoint_kang=parse_float(f[4], "thickness set-point"),
            time_setpoint_s=_integer(f[5], "time set-point"),
            sensor_mask=_integer(f[6], "sensor mask"),
        )

    def system_parameters(self) -> SystemParameters:
        """Get system 1 (``B?``): time base, simulate mode, display mode, rate resolution, rate filter,
        and the crystal tooling of sensors 1..6."""
        f = _fields(self.query("B?"), 11, "B?")
        return SystemParameters(
            time_base_s=parse_float(f[0], "time base"),
            simulate=_flag(f[1], "simulate mode"),
            display_mode=_integer(f[2], "display mode"),
            high_rate_resolution=_flag(f[3], "rate resolution"),
            rate_filter=_integer(f[4], "rate filter"),
            crystal_tooling_pct=tuple(parse_float(v, "crystal tooling") for v in f[5:]),
        )

    def system_limits(self) -> SystemLimits:
        """Get system 2 (``C?``): frequency, rate and thickness limits and the etch mode."""
        f = _fields(self.query("C?"), 7, "C?")
        return SystemLimits(
            min_frequency_hz=parse_float(f[0], "minimum frequency") * 1e6,
            max_frequency_hz=parse_float(f[1], "maximum frequency") * 1e6,
            min_rate_a_per_s=parse_float(f[2], "minimum rate"),
            max_rate_a_per_s=parse_float(f[3], "maximum rate"),
            min_thickness_kang=parse_float(f[4], "minimum thickness"),
            max_thickness_kang=parse_float(f[5], "maximum thickness"),
            etch_mode=_flag(f[6], "etch mode"),
        )

    def frequency_limits_hz(self) -> tuple[float, float]:
        """Get the system's minimum and maximum crystal frequency (used for crystal life)."""
        limits = self.system_limits()
        return limits.min_frequency_hz, limits.max_frequency_hz

    def power_up_flag(self) -> bool:
        """Get the power-up flag (``Y``): True on the first read after the unit was switched on.

        This is how an SQM-160 reports a power-up (it has no status ``B``); reading it clears it.
        """
        flag = _flag(self.query("Y"), "power-up flag")
        if flag:
            self.was_reset = True
        return flag

    def zero(self) -> None:
        """Set rate and thickness of all sensors to zero."""
        self.query("S")

    def zero_time(self) -> None:
        """Set the instrument's process timer to zero."""
        self.query("T")

    def shutter_open(self) -> bool:
        """Get whether the shutter relay is open."""
        return _flag(self.query("U?"), "shutter state")

    def set_shutter(self, is_open: bool) -> None:
        """Set the shutter relay open or closed."""
        self.query("U1" if is_open else "U0")

    def select_film(self, film: int) -> None:
        """Set the active film (1..99)."""
        self.query(f"D{film}")

    def read(self) -> Reading:
        """Measure the selected sensors with one all-sensors exchange."""
        sensors = self.all_sensors()
        return Reading(time_s=time.monotonic(), sensors=self._selected(sensors))

    def _selected(self, sensors: list[SensorReading]) -> tuple[SensorReading, ...]:
        """The configured sensors out of an all-sensor reply, in the configured order."""
        picked = []
        for n in self.sensors:
            if n > len(sensors):
                raise ProtocolError(f"sensor {n} not present: the unit reports {len(sensors)} channels")
            picked.append(sensors[n - 1])
        return tuple(picked)


class Sqc310(Sqm160):
    """INFICON SQC-310 deposition controller: SQM-160 framing, up to four sensors, polled fast with
    the ``K2`` sensor-readings command (process time, then rate/thickness/frequency per sensor)."""

    info = DriverInfo(
        protocol="sqc310",
        title="INFICON SQC-310",
        default_baud=19200,
        max_sensors=4,
        measurement_period_s=0.1,
        bauds=(9600, 19200, 38400, 57600, 115200),
    )

    def sensor_readings(self) -> tuple[float, list[SensorReading]]:
        """Measure the process time and rate, thickness and frequency of every sensor (``K2``)."""
        fields = self.query("K2").split()
        if len(fields) < 4 or (len(fields) - 1) % 3:
            raise ProtocolError(f"SQC-310 'K2' reply has {len(fields)} fields, expected 1 + 3 per sensor")
        process_time = parse_float(fields[0], "process time")
        out = []
        for i in range(1, len(fields), 3):
            rate, thick, freq = (parse_float(v, "sensor reading") for v in fields[i : i + 3])
            out.append(
                SensorReading(NAN)
                if freq <= 0
                else SensorReading(frequency_hz=freq, rate_a_per_s=rate, thickness_kang=thick)
            )
        return process_time, out

    def sensor_status(self, sensor: int) -> tuple[bool, float, float]:
        """Get (active, frequency Hz, crystal life %) of a sensor (``PA``)."""
        fields = self.query(f"PA{sensor}").split()
        if len(fields) != 3:
            raise ProtocolError(f"SQC-310 'PA' reply has {len(fields)} fields, expected 3")
        return (fields[0] == "1", parse_float(fields[1], "frequency"), parse_float(fields[2], "crystal life"))

    def read(self) -> Reading:
        """Measure the selected sensors with one ``K2`` exchange."""
        process_time, sensors = self.sensor_readings()
        return Reading(time_s=time.monotonic(), sensors=self._selected(sensors), instrument_time_s=process_time)


PROTOCOLS = (
    ProtocolSpec(Sqm160, "instruments.emulators.sqm160:Sqm160Emulator"),
    ProtocolSpec(Sqc310, "instruments.emulators.sqm160:Sqc310Emulator"),
)
