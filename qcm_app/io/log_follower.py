"""Live valve markers from a tool's log, followed as it grows (no Qt)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from qcm_app.domain.markers import ValvePulse, precursor_in_name
from qcm_app.io.marker_clock import ClockAlignment, EdgeTracker

#: a valve column is said to be stuck when it has not changed in this many rows while another valve
#: fired this many pulses (a long wait alone is no reason)
STUCK_AFTER_ROWS = 50
STUCK_AFTER_PULSES = 3

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
