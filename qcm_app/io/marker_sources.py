"""Live valve markers beside the QCM stream: a tool log followed as it grows, or a line of events.

Both sources are polled (from the acquisition worker's thread, or any thread; no Qt here) and
return the pulses that closed since the last poll, on the run's clock. ``open_valves`` tells a plot
which valves are open right now; ``pulses`` keeps every pulse so far.

Clocks. The tool stamps its markers on its own clock; the run has its own (seconds since the run
started). :class:`ClockAlignment` maps one onto the other:

- stamps that are wall-clock time (Unix seconds, or a log's date-and-time column) are placed by
  the wall clock: ``t_run = (t_stamp - run_start_epoch) * time_scale`` (the tool PC and this one
  must agree, e.g. by NTP — the same PC, or a share from a synchronised one; ``time_scale`` is 1
  but for a sped-up simulator, whose run clock counts process seconds);
- stamps that are elapsed seconds of the tool's own are placed by the first marker: the newest
  marker of the first batch is "now" (``offset = arrival_run_s - t_stamp``; a log that already ran
  before we started maps its newest line to the present). The offset then stays fixed, so the
  pulses keep the tool's exact spacing (the latency of that first batch is a constant bias,
  typically below one poll). Only a marker that would lie in the future by more than
  ``max_latency_s`` (the first batch came late) lowers it, with a warning.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Protocol

from instruments.valves import ValveEvent, parse_event_line
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse, parse_valve_options, precursor_in_name

#: stamps beyond this are Unix seconds, below it elapsed seconds (1973-03-03 vs ~3 years of run)
EPOCH_THRESHOLD_S = 1e8
#: a valve column is said to be stuck when it has not changed in this many rows while another valve
#: fired this many pulses (a long wait alone is no reason)
STUCK_AFTER_ROWS = 50
STUCK_AFTER_PULSES = 3


@dataclass
class ClockAlignment:
    """Tool stamps → run seconds; see the module docstring for the rule."""

    run_clock: Callable[[], float]
    run_start_epoch_s: float | None = None
    offset_s: float | None = None
    max_latency_s: float = 1.0
    warnings: list[str] = field(default_factory=list)
    #: run seconds per wall second (a sped-up simulator's speed; 1 for a real instrument)
    time_scale: float = 1.0

    def observe(self, newest_stamp_s: float, arrival_run_s: float | None = None) -> None:
        """A batch of markers arrived; its newest stamp bounds the offset (call before ``to_run``)."""
        if newest_stamp_s > EPOCH_THRESHOLD_S and self.run_start_epoch_s is not None:
            return
        arrival = self.run_clock() if arrival_run_s is None else arrival_run_s
        offset = arrival - newest_stamp_s
        if self.offset_s is None:
            self.offset_s = offset
        elif offset < self.offset_s - self.max_latency_s:
            self.warnings.append(
                f"valve clock: markers arrived {self.offset_s - offset:.2f} s sooner than the "
                f"first ones; the clock offset is corrected from there"
            )
            self.offset_s = offset

    def to_run(self, stamp_s: float, arrival_run_s: float | None = None) -> float:
        if stamp_s > EPOCH_THRESHOLD_S and self.run_start_epoch_s is not None:
            return (stamp_s - self.run_start_epoch_s) * self.time_scale
        if self.offset_s is None:
            self.observe(stamp_s, arrival_run_s)
        assert self.offset_s is not None
        return stamp_s + self.offset_s

    def pulse_to_run(self, pulse: ValvePulse) -> ValvePulse:
        """A pulse in the tool's stamps → on the run's clock (its duration too: a sped-up run's
        wall-clock second is ``time_scale`` run seconds)."""
        start = self.to_run(pulse.time_s)
        return replace(pulse, time_s=start, duration_s=self.to_run(pulse.time_s + pulse.duration_s) - start)


@dataclass
class EdgeTracker:
    """Valve openings and closings → complete pulses, each once; names matched to precursors.

    Works on the tool's own stamps, so a pulse read again (a replaced log) is recognised whatever
    the clock alignment did meanwhile."""

    names: dict[str, str] = field(default_factory=dict)
    open: dict[str, float] = field(default_factory=dict)
    pulses: list[ValvePulse] = field(default_factory=list)
    _seen: set[tuple[str, float]] = field(default_factory=set)

    def event(self, time_s: float, valve: str, is_open: bool) -> ValvePulse | None:
        if is_open:
            self.open.setdefault(valve, time_s)
            return None
        start = self.open.pop(valve, None)
        if start is None:
            return None  # closing a valve we never saw open (we joined mid-pulse): no start, no pulse
        key = (valve, round(start, 3))
        if key in self._seen:
            return None
        self._seen.add(key)
        precursor = self.names.get(valve) or precursor_in_name(valve)
        pulse = ValvePulse(start, max(time_s - start, 0.0), valve, precursor)
        self.pulses.append(pulse)
        return pulse


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


# --- a growing tool log ------------------------------------------------------------------------------

_ELAPSED = re.compile(r"elapsed|process time|run time|^t$|^time ?\(?s\)?$|seconds|\[s\]", re.I)
_TIMEISH = re.compile(r"time|timestamp|date", re.I)
_STATUS = re.compile(r"\bok\b|ok\?|status|alarm|error|fault|xtal|iteration", re.I)
_VALVEISH = re.compile(r"valve|shutter|shtsrc|/do\d|^do\d", re.I)
_DATETIMES = (
    "%H:%M:%S.%f %m/%d/%Y",
    "%H:%M:%S %m/%d/%Y",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y %H:%M:%S.%f",
    "%d.%m.%Y %H:%M:%S",
)


def _epoch(text: str) -> float | None:
    for pattern in _DATETIMES:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        # a tool log's wall clock is local time
        return moment.astimezone(timezone.utc).timestamp()
    return None


class LogFollower:
    """Follows a tool's tab/comma-separated log as it is written: reads whole lines only (a partial
    last line waits for the rest), and starts over when the file is replaced (another inode) or
    truncated — already reported pulses are not reported again.

    Columns: time is the elapsed-seconds column (else a date-and-time one, placed by the wall
    clock); valves are the columns given in ``names`` (column → precursor), else every column named
    like a valve (``TMA valve``, ``Mod8/do1``, ``shutter``) whose values are 0/1.
    """

    def __init__(
        self,
        path: str | Path,
        run_clock: Callable[[], float],
        *,
        run_start_epoch_s: float | None = None,
        names: dict[str, str] | None = None,
        max_latency_s: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.clock = ClockAlignment(run_clock, run_start_epoch_s, max_latency_s=max_latency_s, time_scale=time_scale)
        self.tracker = EdgeTracker(names=dict(names or {}))
        self._given = dict(names or {})
        self.warnings: list[str] = []
        self.pulses: list[ValvePulse] = []
        #: rows skipped because they could not be read (cut short, no time, a valve cell not 0/1)
        self.bad_rows = 0
        self._said: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._header: list[str] | None = None
        self._delimiter = "\t"
        self._time_col = -1
        self._time_is_clock = False
        self._valve_cols: dict[int, str] = {}
        self._needed = 0
        self._state: dict[str, tuple[bool, float]] = {}
        #: per valve: rows seen and edges seen, to say once that a column never changes
        self._rows_seen: dict[str, int] = {}
        self._edges_seen: dict[str, int] = {}
        self._line = 0
        self.tracker.open.clear()

    def close(self) -> None:
        """Nothing is held open between polls (the file is opened for each read)."""

    def _say_once(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self.warnings.append(text)

    def open_valves(self) -> dict[str, float]:
        """Valves open now → when they opened (run seconds), for a plot's live ticks."""
        return {v: self.clock.to_run(t) for v, t in self.tracker.open.items()}

    def poll(self) -> list[ValvePulse]:
        """New complete pulses since the last call ([] while the file does not exist yet)."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._say_once(
                "missing", f"{self.path.name}: no such file yet in {self.path.parent}; waiting for the tool to write it"
            )
            return []
        ident = (st.st_dev, st.st_ino)
        if self._inode is not None and (ident != self._inode or st.st_size < self._offset):
            self.warnings.append(f"{self.path.name}: the log was replaced or truncated; reading it from the start")
            self._reset()
        self._inode = ident
        if st.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(st.st_size - self._offset)
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut < 0:
            self._partial = data
            return []
        self._partial = data[cut + 1 :]
        arrival = self.clock.run_clock()
        rows: list[tuple[float, list[str]]] = []
        for raw in data[: cut + 1].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]:
            self._line += 1
            line = raw.decode("latin-1")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if self._header is None:
                self._try_header(line)
                continue
            fields = [f.strip() for f in line.split(self._delimiter)]
            if len(fields) < self._needed:  # only whole lines are read, so a damaged one
                self._bad_row(f"{len(fields)} fields where the header has {len(self._header)}")
                continue
            stamp = self._stamp(fields[self._time_col])
            if stamp is None:
                self._bad_row(f"no time in {self._header[self._time_col]!r} ({fields[self._time_col][:20]!r})")
                continue
            rows.append((stamp, fields))
        if not rows:
            return []
        self.clock.observe(max(stamp for stamp, _ in rows), arrival)
        out: list[ValvePulse] = []
        for stamp, fields in rows:
            out.extend(self.clock.pulse_to_run(p) for p in self._row(stamp, fields))
        self._check_stuck()
        self.pulses.extend(out)
        return out

    def _bad_row(self, why: str) -> None:
        self.bad_rows += 1
        self._say_once(
            "bad row",
            f"{self.path.name}: line {self._line}: {why}; row skipped (further bad rows are counted, not shown)",
        )

    def _check_stuck(self) -> None:
        """Valve columns that should fire (given a precursor, or named as one or as a valve) but stay
        put while another valve keeps firing are said once, in one line: they bring no pulses. Unused
        digital outputs (``Mod7/do0``) are not worth a word, as in the importers."""
        if "stuck" in self._said or max(self._edges_seen.values(), default=0) < 2 * STUCK_AFTER_PULSES:
            return
        stuck = [
            (valve, rows)
            for valve, rows in self._rows_seen.items()
            if not self._edges_seen.get(valve) and rows >= STUCK_AFTER_ROWS and self._should_fire(valve)
        ]
        if stuck:
            listed = ", ".join(f"{valve!r} (always {int(self._state[valve][0])})" for valve, _ in stuck)
            self._say_once(
                "stuck",
                f"{self.path.name}: valve column{'s' if len(stuck) > 1 else ''} {listed} "
                f"unchanged in {min(r for _, r in stuck)} rows while other valves fired: no "
                "pulses from it" + ("" if len(stuck) == 1 else "s"),
            )

    def _should_fire(self, valve: str) -> bool:
        return valve in self.tracker.names or bool(precursor_in_name(valve)) or bool(re.search("valve", valve, re.I))

    def _row(self, t: float, fields: list[str]) -> list[ValvePulse]:
        out = []
        for col, valve in list(self._valve_cols.items()):
            text = fields[col]
            if text not in ("0", "1", "0.0", "1.0"):
                try:
                    number = float(text)
                except ValueError:
                    number = None
                if number is not None and math.isfinite(number):
                    # a number that is no 0/1: a position or a setpoint, not a valve signal
                    del self._valve_cols[col]
                    if valve in self.tracker.names or self._edges_seen.get(valve):
                        self.warnings.append(
                            f"{self.path.name}: line {self._line}: column {valve!r} holds "
                            f"{text[:20]}, not 0 or 1: it is no valve signal, left out"
                        )
                elif text:
                    self._bad_row(f"valve column {valve!r} holds {text[:20]!r}, not 0 or 1")
                continue
            is_open = text.startswith("1")
            previous = self._state.get(valve)
            self._state[valve] = (is_open, t)
            self._rows_seen[valve] = self._rows_seen.get(valve, 0) + 1
            if previous is None:
                if is_open:
                    self.tracker.event(t, valve, True)  # open from the first row we see
                continue
            was_open, t_before = previous
            if is_open != was_open:
                self._edges_seen[valve] = self._edges_seen.get(valve, 0) + 1
                edge = 0.5 * (t + t_before)  # between the two rows, as pulses_from_digital does
                pulse = self.tracker.event(edge, valve, is_open)
                if pulse is not None:
                    out.append(pulse)
        return out

    def _try_header(self, line: str) -> None:
        delimiter = "\t" if "\t" in line else "," if "," in line else ";" if ";" in line else None
        if delimiter is None:
            return  # a title line
        names = [f.strip().strip('"') for f in line.split(delimiter)]
        times = [i for i, n in enumerate(names) if _TIMEISH.search(n)]
        if not times:
            return
        elapsed = [i for i in times if _ELAPSED.search(names[i])]
        self._time_col = elapsed[0] if elapsed else times[0]
        self._time_is_clock = not elapsed
        self._delimiter = delimiter
        self._header = names
        given = {c.lower(): p for c, p in self._given.items()}
        for i, n in enumerate(names):
            if i == self._time_col:
                continue
            if n.lower() in given or (_VALVEISH.search(n) and not _STATUS.search(n)) or precursor_in_name(n):
                self._valve_cols[i] = n
                if n.lower() in given:
                    self.tracker.names[n] = given[n.lower()]
        self._needed = max([self._time_col, *self._valve_cols]) + 1
        missing = [c for c in self._given if c.lower() not in {n.lower() for n in names}]
        if missing:
            self.warnings.append(f"{self.path.name}: no column {', '.join(map(repr, missing))} in the log")

    def _stamp(self, text: str) -> float | None:
        if not self._time_is_clock:
            try:
                value = float(text)
            except ValueError:
                return None
            return value if math.isfinite(value) else None
        return _epoch(text)


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
