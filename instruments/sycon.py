"""Sycon STM-100 / INFICON STM-2 driver (Sycon framing: STX, length, data, additive checksum).

Wire format (protocols.md, STM-100/MF and STM-2 manuals):

- request ``STX (0x02) | LEN | DATA | CKSUM``: LEN counts the data bytes (1..10), CKSUM = sum(DATA) & 0xFF;
- reply ``STX | LEN | status + payload | CKSUM`` with the checksum over status + payload. Status ``A`` ok,
  ``B`` ok but power was lost (cleared by ``L``), ``F``/``G`` illegal command, ``H``/``I`` illegal data,
  ``J``/``K`` illegal modifier. The unit ignores a request with a bad checksum: the host must time out.

The command vocabulary (one ASCII letter, then nothing, ``?`` or ``=value``) is shared with the STM-2's
SMDP framing, so it lives in :class:`StmCommandDriver` and only the framing differs per subclass
(:class:`Stm100` here, :class:`instruments.smdp.Stm2Smdp` for USB). Reply formats differ by model and are
all accepted: the STM-100 pads (``-0001595``, `` 012.4``, ``+12:45``, integer Hz), the STM-2 does not
(``-1595``, ``12.4``, ``12:45``, Hz with two decimals). ``--------`` or an empty payload means the unit
has no value now (crystal failed, measurement not ready): :class:`ValueUnavailable`, not a link fault.
"""

from __future__ import annotations

import re
import time
from abc import abstractmethod
from typing import TYPE_CHECKING

from instruments.base import (
    CommandRejected,
    Driver,
    DriverInfo,
    ProtocolError,
    Reading,
    ReplyTimeout,
    SensorReading,
    ValueUnavailable,
    parse_float,
)
from instruments.protocol_spec import OptionSpec, ProtocolSpec

if TYPE_CHECKING:
    from instruments.transport import Transport

STX = 0x02
MAX_COMMAND = 10
#: longest status + payload accepted in a reply; the longest real one is ``A5319234.34`` (11 bytes)
MAX_REPLY = 24
#: bytes of line noise tolerated while hunting for a reply before giving up on the exchange
_MAX_NOISE = 256

STATUS_TEXT = {
    "F": "illegal command",
    "G": "illegal command",
    "H": "illegal data",
    "I": "illegal data",
    "J": "illegal modifier",
    "K": "illegal modifier",
}

_INTEGER = re.compile(r"[+-]?\d{1,10}")
_TIMER = re.compile(r"[+-]?(\d{1,3}):(\d{2})")


def checksum(data: bytes) -> int:
    """The Sycon checksum: the data bytes summed modulo 256 (STX and LEN are not included)."""
    return sum(data) & 0xFF


def encode_frame(data: bytes, max_len: int) -> bytes:
    """Frame ``data`` as STX, length, data, checksum."""
    if not 1 <= len(data) <= max_len:
        raise ValueError(f"Sycon frame data length {len(data)} out of range 1..{max_len}")
    return bytes([STX, len(data)]) + data + bytes([checksum(data)])


def encode_command(message: bytes) -> bytes:
    """Frame a request (1..10 data bytes)."""
    return encode_frame(message, MAX_COMMAND)


def encode_reply(status: str, payload: bytes) -> bytes:
    """Frame a reply (used by the emulator): the status letter leads the checksummed data."""
    return encode_frame(status.encode("ascii") + payload, MAX_REPLY)


def format_setting(value: float, low: float, high: float, decimals: int, what: str) -> str:
    """Format a film setting for ``X=value``; reject values the unit would refuse (commands are 10 bytes max)."""
    if not low <= value <= high:
        raise ValueError(f"{what} {value!r} outside {low}..{high}")
    return f"{value:.{decimals}f}"


class StmCommandDriver(Driver):
    """The STM command vocabulary over any framing; a subclass supplies :meth:`query`.

    ``with_film`` makes :meth:`read` also fetch thickness and rate; it costs two more exchanges per
    reading, so it is off by default (frequency is what the app needs, the rest it can compute).
    """

    #: set once the unit reported a power loss; the flag on the unit is cleared, this one is kept for the UI
    power_was_lost = False

    def __init__(self, transport: Transport, sensors: tuple[int, ...] = (1,), *, with_film: bool = False) -> None:
        super().__init__(transport, sensors)
        if self.sensors != (1,):
            raise ValueError(f"{self.info.title} has a single sensor; got {sensors!r}")
        self.with_film = with_film

    @abstractmethod
    def query(self, message: str) -> str:
        """Send one command and return the reply payload as text; raise on framing or rejection."""

    # -- payload parsing ------------------------------------------------------------------------

    def _value_text(self, command: str, what: str) -> str:
        """The payload of a value query; an empty or dashed payload means "no value now"."""
        text = self.query(command).strip()
        if not text or set(text) == {"-"}:
            raise ValueUnavailable(f"{self.info.title} has no {what} now ({text or 'empty reply'})")
        return text

    def _float(self, command: str, what: str) -> float:
        return parse_float(self._value_text(command, what), what)

    # -- identification and runtime values ------------------------------------------------------

    def identify(self) -> str:
        """Get the model and firmware string (``@``), e.g. ``STM100C5``."""
        return self._value_text("@", "model string")

    def thickness_ang(self) -> int:
        """Measure the thickness in Å (``S``; a signed integer)."""
        text = self._value_text("S", "thickness")
        if not _INTEGER.fullmatch(text):
            raise ProtocolError(f"{self.info.title} thickness is not an integer: {text[:30]!r}")
        return int(text)

    def rate_a_per_s(self) -> float:
        """Measure the deposition rate in Å/s (``T``)."""
        return self._float("T", "rate")

    def frequency_hz(self) -> float:
        """Measure the crystal frequency in Hz (``U``; 1 Hz on the STM-100, 0.01 Hz on the STM-2)."""
        return self._float("U", "frequency")

    def life_pct(self) -> float:
        """Measure the crystal life left in % (``V``)."""
        return self._float("V", "crystal life")

    def timer_s(self) -> int:
        """Get the process timer in seconds (``W``; ``mm:ss``, the STM-100's sign only gives the direction)."""
        text = self._value_text("W", "timer")
        match = _TIMER.fullmatch(text)
        if match is None:
            raise ProtocolError(f"{self.info.title} timer is not mm:ss: {text[:30]!r}")
        return int(match.group(1)) * 60 + int(match.group(2))

    def crystal_good(self) -> bool:
        """Get whether the crystal oscillates (``M``: ``@`` good, ``!`` failed)."""
        text = self._value_text("M", "crystal status")
        if text not in ("@", "!"):
            raise ProtocolError(f"{self.info.title} crystal status {text[:30]!r} is neither '@' nor '!'")
        return text == "@"

    def check_crystal(self) -> None:
        """Measure the crystal status and raise :class:`ValueUnavailable` if it failed (its readings mean nothing)."""
        if not self.crystal_good():
            raise ValueUnavailable(f"{self.info.title}: crystal failed")

    def mass_ug_cm2(self) -> float:
        """Measure the areal mass in µg/cm² (``s``; STM-2 only)."""
        return self._float("s", "areal mass")

    def mass_rate_ug_cm2_s(self) -> float:
        """Measure the mass rate in µg/(cm²·s) (``t``; STM-2 only)."""
        return self._float("t", "mass rate")

    # -- film settings --------------------------------------------------------------------------

    def density_g_cm3(self) -> float:
        """Get the film density in g/cm³ (``E?``)."""
        return self._float("E?", "density")

    def set_density_g_cm3(self, value: float) -> None:
        """Set the film density in g/cm³ (``E=``, 0.500..99.99)."""
        self.query("E=" + format_setting(value, 0.5, 99.99, 3 if value < 10 else 2, "density"))

    def z_factor(self) -> float:
        """Get the film Z-factor (``F?``)."""
        return self._float("F?", "Z-factor")

    def set_z_factor(self, value: float) -> None:
        """Set the film Z-factor (``F=``, 0.100..9.999)."""
        self.query("F=" + format_setting(value, 0.1, 9.999, 3, "Z-factor"))

    def tooling_pct(self) -> float:
        """Get the tooling factor in % (``J?``)."""
        return self._float("J?", "tooling")

    def set_tooling_pct(self, value: float) -> None:
        """Set the tooling factor in % (``J=``, 10.0..399)."""
        self.query("J=" + format_setting(value, 10.0, 399.0, 1, "tooling"))

    # -- actions --------------------------------------------------------------------------------

    def zero(self) -> None:
        """Set thickness and timer to zero (``B``)."""
        self.query("B")

    def read(self) -> Reading:
        """Measure the frequency in one exchange (plus thickness and rate if ``with_film``)."""
        frequency = self.frequency_hz()
        t = time.monotonic()
        if not self.with_film:
            return Reading(time_s=t, sensors=(SensorReading(frequency_hz=frequency),))
        thickness = self.thickness_ang() / 1000.0
        rate = self.rate_a_per_s()
        return Reading(
            time_s=t, sensors=(SensorReading(frequency_hz=frequency, rate_a_per_s=rate, thickness_kang=thickness),)
        )


class Stm100(StmCommandDriver):
    """Sycon STM-100 and INFICON STM-2 on RS-232 with Sycon framing."""

    # The manuals give no measurement rate over the wire; at 9600 baud one exchange is about 20 bytes
    # (~20 ms), so 0.1 s leaves room for the three exchanges of a ``with_film`` reading and a retry.
    info = DriverInfo(
        protocol="stm100",
        title="Sycon STM-100 / INFICON STM-2",
        default_baud=9600,
        max_sensors=1,
        measurement_period_s=0.1,
    )

    def query(self, message: str) -> str:
        """Send one command; return the payload after the status letter.

        Status ``B`` (power was lost) is acknowledged with ``L`` once, and the value is still returned.
        """
        status, payload = self._transact(message)
        if status == "B":
            self.power_was_lost = True
            try:
                self._transact("L")
            except (ProtocolError, ReplyTimeout):
                pass  # the flag stays set on the unit; the next 'B' tries again
        elif status != "A":
            detail = STATUS_TEXT.get(status, f"unknown status {status!r}")
            raise CommandRejected(f"{self.info.title} refused {message!r}: {detail}")
        try:
            return payload.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.info.title} reply to {message!r} is not ASCII") from None

    def shutter_open(self) -> bool:
        """Get whether the shutter relay is on, i.e. the shutter open (``A?``: ``!`` on, ``@`` off; STM-100)."""
        text = self._value_text("A?", "shutter state")
        if text not in ("@", "!"):
            raise ProtocolError(f"{self.info.title} shutter state {text[:30]!r} is neither '@' nor '!'")
        return text == "!"

    def set_shutter(self, is_open: bool) -> None:
        """Set the shutter relay on (open, ``A!``) or off (closed, ``A@``); the STM-100 has this, the STM-2 not."""
        self.query("A!" if is_open else "A@")

    def acknowledge_power_loss(self) -> None:
        """Set the unit's power-lost flag back to clear (``L``)."""
        status, _ = self._transact("L")
        if status not in ("A", "B"):
            raise CommandRejected(f"{self.info.title} refused 'L': {STATUS_TEXT.get(status, status)}")

    def _transact(self, message: str) -> tuple[str, bytes]:
        """One request/reply exchange; returns the status letter and the payload bytes."""
        self.transport.reset_input_buffer()
        self.transport.write(encode_command(message.encode("ascii")))
        data = self._read_frame()
        return chr(data[0]), data[1:]

    def _read_frame(self) -> bytes:
        """Read one reply frame and return its checksummed data (status + payload).

        Noise before STX is skipped. A checksum mismatch is either a reply hit by noise or a noise STX
        whose length swallowed the real frame start, so the scan resumes at the next STX already read;
        only when there is none does the mismatch stand. Reads are exactly what the length announces.
        """
        buf = bytearray()
        bad: ProtocolError | None = None
        received = 0
        while True:
            start = buf.find(STX)
            if start != 0:
                del buf[: len(buf) if start < 0 else start]
                if received > _MAX_NOISE:
                    raise bad or ProtocolError(f"{self.info.title}: no reply frame within {_MAX_NOISE} bytes")
                if not buf:
                    buf += self._more(1, bad)
                    received += 1
                continue
            if len(buf) < 2:
                buf += self._more(2 - len(buf), bad)
                received += 1
                continue
            size = buf[1]
            if not 1 <= size <= MAX_REPLY:
                del buf[:1]  # not a frame: an STX from line noise
                continue
            end = size + 3
            if len(buf) < end:
                missing = end - len(buf)
                buf += self._more(missing, bad)
                received += missing
                continue
            data = bytes(buf[2 : end - 1])
            if checksum(data) == buf[end - 1]:
                return data
            bad = bad or ProtocolError(f"{self.info.title} reply checksum mismatch in {bytes(buf[:end])!r}")
            if STX not in buf[1:end]:
                raise bad
            del buf[:1]

    def _more(self, size: int, bad: ProtocolError | None) -> bytes:
        """Read exactly ``size`` bytes; after a checksum mismatch a timeout reports the mismatch instead."""
        try:
            return self.transport.read_exact(size)
        except ReplyTimeout:
            if bad is not None:
                raise bad from None
            raise


#: shared by both STM framings
WITH_FILM = OptionSpec(
    "with_film",
    bool,
    False,
    "Also read thickness and rate (two more exchanges a reading)",
    help="thickness and rate with every reading; costs two more exchanges",
)

PROTOCOLS = (ProtocolSpec(Stm100, "instruments.emulators.sycon:Stm100Emulator", options=(WITH_FILM,)),)
