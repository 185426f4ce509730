"""Live valve markers beside the QCM stream: a tool log followed as it grows, or a line of events.

Both sources are polled (from the acquisition worker's thread, or any thread; no Qt here) and
return the pulses that closed since the last poll, on the run's clock. ``open_valves`` tells a plot
which valves are open right now; ``pulses`` keeps every pulse so far.

Clocks: the tool's stamps are put on the run's clock by :class:`ClockAlignment` (the rules are
in :mod:`qcm_app.io.marker_clock`).

The parts live in modules of one job each (:mod:`qcm_app.io.marker_clock` the clocks and the
pulses, :mod:`qcm_app.io.event_line` the event line, :mod:`qcm_app.io.log_follower` the tool log);
this module names the source as the user gives it (:class:`MarkerSpec`) and re-exports the rest,
so ``from qcm_app.io.marker_sources import X`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse, parse_valve_options
from qcm_app.io.event_line import EventLineSource
from qcm_app.io.log_follower import STUCK_AFTER_PULSES, STUCK_AFTER_ROWS, LogFollower
from qcm_app.io.marker_clock import EPOCH_THRESHOLD_S, ClockAlignment, EdgeTracker

__all__ = [
    "EPOCH_THRESHOLD_S",
    "MARKER_SPEC_HELP",
    "STUCK_AFTER_PULSES",
    "STUCK_AFTER_ROWS",
    "ClockAlignment",
    "EdgeTracker",
    "EventLineSource",
    "LogFollower",
    "MarkerKind",
    "MarkerSource",
    "MarkerSpec",
    "parse_marker_spec",
]

# --- which source, as the user names it ---------------------------------------------------------------


class MarkerKind(Enum):
    """Where the tool's valve markers come from."""

    LOG = "log"  # the tool's log file, followed as it grows
    SERIAL = "serial"  # '<t> <valve> <0|1>' lines on a serial port
    TCP = "tcp"  # the same lines on a TCP port


class MarkerSource(Protocol):
    """What the acquisition worker polls: :class:`LogFollower` or :class:`EventLineSource`."""

    warnings: list[str]
    clock: ClockAlignment

    def poll(self) -> list[ValvePulse]: ...

    def open_valves(self) -> dict[str, float]: ...

    def close(self) -> None: ...


#: the form the command line (--markers) and the settings take
MARKER_SPEC_HELP = "PATH (a tool log followed as it grows), serial:PORT, or tcp:HOST:PORT"


@dataclass(frozen=True)
class MarkerSpec:
    """A marker source as the user chose it; :meth:`open` makes the source (in the worker thread)."""

    kind: MarkerKind
    #: a file path, a serial port name (or pyserial URL), or ``host:port``
    target: str
    #: channel → precursor, as ``--valve TMA=Mod8/do1`` gives it
    names: tuple[tuple[str, str], ...] = ()
    baud: int = 9600

    def text(self) -> str:
        """The ``--markers`` form, which :func:`parse_marker_spec` reads back."""
        return self.target if self.kind is MarkerKind.LOG else f"{self.kind.value}:{self.target}"

    def names_text(self) -> str:
        """The ``--valve`` form: ``TMA=Mod8/do1, H2O=Mod8/do2``."""
        return ", ".join(f"{precursor}={channel}" for channel, precursor in self.names)

    def describe(self) -> str:
        where = {MarkerKind.LOG: "tool log", MarkerKind.SERIAL: "valve events on", MarkerKind.TCP: "valve events on"}
        return f"{where[self.kind]} {self.target}"

    @property
    def poll_interval_s(self) -> float:
        """How often to read it: an event line often (its latency biases the clock), a log as often as
        a tool writes rows (a share should not be stat'ed fifty times a second)."""
        return 0.2 if self.kind is MarkerKind.LOG else 0.02

    @property
    def url(self) -> str:
        """What pyserial opens for an event line."""
        if self.kind is MarkerKind.TCP:
            return self.target if self.target.startswith("socket://") else f"socket://{self.target}"
        return self.target

    def open(
        self,
        run_clock: Callable[[], float],
        *,
        run_start_epoch_s: float | None = None,
        max_latency_s: float = 1.0,
        time_scale: float = 1.0,
    ) -> MarkerSource:
        """The live source (raises :class:`UserInputError` when a port cannot be opened)."""
        names = dict(self.names)
        if self.kind is MarkerKind.LOG:
            return LogFollower(
                self.target,
                run_clock,
                run_start_epoch_s=run_start_epoch_s,
                names=names,
                max_latency_s=max_latency_s,
                time_scale=time_scale,
            )
        return EventLineSource(
            self.url,
            run_clock,
            run_start_epoch_s=run_start_epoch_s,
            names=names,
            baudrate=self.baud,
            max_latency_s=max_latency_s,
            time_scale=time_scale,
        )


def parse_marker_spec(text: str, valves: Sequence[str] | Mapping[str, str] = ()) -> MarkerSpec:
    """``PATH``, ``serial:PORT``, ``tcp:HOST:PORT`` (or ``socket://HOST:PORT``) → a spec; ``valves``
    are ``TMA=Mod8/do1`` texts (or a channel → precursor mapping). Bad input is one line."""
    spec = text.strip()
    names = dict(valves) if isinstance(valves, Mapping) else parse_valve_options(valves)
    pairs = tuple(names.items())
    if not spec:
        raise UserInputError(f"--markers: expected {MARKER_SPEC_HELP}, got nothing")
    head, sep, rest = spec.partition(":")
    if spec.startswith("socket://"):
        head, sep, rest = "tcp", ":", spec[len("socket://") :]
    if sep and head.lower() == MarkerKind.SERIAL.value:
        if not rest.strip():
            raise UserInputError("--markers serial: needs a port, e.g. serial:/dev/ttyUSB1 or serial:COM4")
        return MarkerSpec(MarkerKind.SERIAL, rest.strip(), pairs)
    if sep and head.lower() == MarkerKind.TCP.value:
        host, colon, port = rest.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UserInputError(f"--markers tcp: expected tcp:HOST:PORT such as tcp:192.168.1.20:5020, not {spec!r}")
        return MarkerSpec(MarkerKind.TCP, f"{host}:{int(port)}", pairs)
    path = Path(spec).expanduser()
    if path.is_dir():
        raise UserInputError(f"--markers: {spec} is a folder; give the tool's log file in it")
    if not path.parent.is_dir():
        raise UserInputError(f"--markers: no folder {path.parent} for the tool log {path.name}")
    return MarkerSpec(MarkerKind.LOG, str(path), pairs)
