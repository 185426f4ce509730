"""What every driver speaks: readings, errors and the driver interface.

The acquisition worker only knows this module, so a new instrument is a new module that
subclasses :class:`Driver`; nothing above ``instruments`` changes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instruments.transport import Transport

NAN = math.nan


class InstrumentError(Exception):
    """Base of everything a driver raises on purpose; the message is one line for the user."""


class ProtocolError(InstrumentError):
    """A frame that does not follow the protocol: bad checksum, bad length, unparsable payload.

    The link is still up; the reading is dropped and counted.
    """


class CommandRejected(ProtocolError):
    """The instrument understood the frame but refused the command (bad command, bad data)."""


class ValueUnavailable(InstrumentError):
    """The instrument answered but has no value now (e.g. ``--------`` on Sycon units, failed crystal)."""


class ReplyTimeout(InstrumentError):
    """No complete reply within the timeout; may be a stall or the start of a lost link."""


class LinkLost(InstrumentError):
    """The port itself is gone (cable out, device power-cycled, pty closed)."""


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One sensor's values at one instant; ``nan`` where the instrument does not report a quantity."""

    frequency_hz: float
    rate_a_per_s: float = NAN
    thickness_kang: float = NAN
    life_pct: float = NAN
    mass_ug_cm2: float = NAN


@dataclass(frozen=True, slots=True)
class Reading:
    """All configured sensors at one instant.

    ``time_s`` is the host's monotonic clock when the reply arrived, unless the protocol carries
    its own timestamp (then ``instrument_time_s`` holds it).
    """

    time_s: float
    sensors: tuple[SensorReading, ...]
    instrument_time_s: float = NAN


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """Static facts about a protocol family used by the connection dialog and the worker."""

    protocol: str
    title: str
    default_baud: int
    max_sensors: int
    #: seconds between two fresh measurements of the instrument; the worker polls at this pace
    measurement_period_s: float
    streaming: bool = False
    bauds: tuple[int, ...] = field(default=(9600, 19200, 38400, 57600, 115200))


class Driver(ABC):
    """A driver takes an open transport, never a port name (the port becomes a transport in one place)."""

    info: DriverInfo

    def __init__(self, transport: Transport, sensors: tuple[int, ...] = (1,)) -> None:
        if not sensors:
            raise ValueError("at least one sensor must be selected")
        self.transport = transport
        self.sensors = tuple(sensors)

    @abstractmethod
    def identify(self) -> str:
        """Get the model/firmware string (also used by "test connection")."""

    @abstractmethod
    def read(self) -> Reading:
        """Measure all selected sensors once; for streaming instruments, wait for the next frame."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare the instrument for acquisition (streaming instruments start their stream here)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Undo :meth:`start`; must not raise if the link is already gone."""

    def zero(self) -> None:
        """Set rate and thickness to zero on the instrument."""
        raise InstrumentError(f"{self.info.title} has no zero command")

    def close(self) -> None:
        try:
            self.stop()
        except InstrumentError:
            pass
        self.transport.close()


def parse_float(text: str | bytes, what: str) -> float:
    """Parse an instrument number, turning any failure into a :class:`ProtocolError`."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    try:
        value = float(text.strip())
    except ValueError:
        raise ProtocolError(f"{what}: not a number: {text.strip()[:30]!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise ProtocolError(f"{what}: not a finite number: {text.strip()[:30]!r}")
    return value
