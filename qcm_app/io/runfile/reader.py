"""Reading a run file back: the header into :class:`RunMetadata`, the rows into arrays, the comment
lines among them into events (valve lines into ``valve_pulses``). Tolerant of what a crash leaves
(a last row cut short), strict elsewhere (a malformed row is an error naming its line).
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind, event_kind
from qcm_app.io.fileio import read_text
from qcm_app.io.runfile.format import FORMAT_TAG, NOTE_KEY, RunData, RunEvent, RunMetadata, is_run_file, parse_header

_EVENT_RE = re.compile(r"^#\s*([A-Za-z][A-Za-z ]*?):\s*([-+0-9.eE]+)\s*s\b\s*(?:\((.*)\))?\s*$")


def read_header_only(path: Path) -> tuple[RunMetadata, int]:
    header: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("#"):
                header.append(line.rstrip("\n"))
                continue
            columns = line.strip().split(",")
            break
        else:
            raise UserInputError("no column line after the header", path)
    meta = parse_header(header, str(path))
    return meta, max(1, sum(c.startswith("Frequency") for c in columns))


def read_run(path: str | Path) -> RunData:
    """Read one of our run files. A row cut short at the end (crash) is dropped with a warning;
    a malformed row elsewhere is an error naming its line."""
    path = Path(path)
    text = read_text(path, "run file")
    lines = text.split("\n")
    header: list[str] = []
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        header.append(lines[i])
        i += 1
    if not header or not is_run_file(header[0]):
        raise UserInputError(f"not a qcm-monitor run file (first line should start with '# {FORMAT_TAG}')", path, 1)
    if i >= len(lines) or not lines[i].startswith("Time (s)"):
        raise UserInputError("expected the column line 'Time (s),Frequency (Hz),...'", path, i + 1)
    meta = parse_header(header, str(path))
    columns = lines[i].strip().split(",")
    col_line = i + 1
    data_lines: list[str] = []
    data_lineno: list[int] = []
    events: list[RunEvent] = []
    warnings: list[str] = []
    for j in range(i + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _EVENT_RE.match(line)
            if m:
                try:
                    event_time_s = float(m.group(2))
                except ValueError:
                    event_time_s = math.inf
                if math.isfinite(event_time_s):
                    events.append(RunEvent(event_time_s, event_kind(m.group(1).strip().lower()), m.group(3) or ""))
                else:  # "# Tare: e s": kept as a note so nothing is lost, and said
                    warnings.append(
                        f"line {j + 1}: event {m.group(1).strip()!r} without a time in seconds "
                        f"({m.group(2)!r}), kept as a note"
                    )
                    events.append(RunEvent(math.nan, RunEventKind.NOTE, line.lstrip("# ").strip()))
            elif line.startswith(f"# {NOTE_KEY}:"):
                events.append(RunEvent(math.nan, RunEventKind.NOTE, line[len(NOTE_KEY) + 3 :].strip()))
            continue
        if "#" in line:  # a row cut short by a crash, closed by a later resume
            warnings.append(f"line {j + 1}: row cut short, skipped")
            continue
        data_lines.append(line)
        data_lineno.append(j + 1)
    if data_lines and len(data_lines[-1].split(",")) != len(columns) and not text.endswith("\n"):
        warnings.append(f"line {data_lineno[-1]}: last row cut short (interrupted recording), dropped")
        data_lines.pop()
        data_lineno.pop()
    table = _parse_table(data_lines, data_lineno, len(columns), path)
    if table.shape[0] == 0:
        table = np.empty((0, len(columns)))
    freq_cols = [k for k, c in enumerate(columns) if c.startswith("Frequency")]
    mass_cols = [k for k, c in enumerate(columns) if c.startswith("Mass")]
    thick_cols = [k for k, c in enumerate(columns) if c.startswith("Thickness")]
    inst_cols = [k for k, c in enumerate(columns) if c.startswith("Instrument thickness")]
    if not freq_cols:
        raise UserInputError("no 'Frequency (Hz)' column", path, col_line)
    if len(meta.sensors) != len(freq_cols):
        meta.sensors = tuple(range(1, len(freq_cols) + 1))
    # valve pulses (recorded live, or converted from a tool's log) are the run's pulse timeline, not events
    from qcm_app.io.valve_lines import VALVE_EVENT, pulses_from_events  # it builds on this package

    valve_lines = [e for e in events if e.kind == VALVE_EVENT]
    pulses = pulses_from_events(valve_lines)
    if len(pulses) < len(valve_lines):
        warnings.append(
            f"{len(valve_lines) - len(pulses)} valve lines not in the form "
            "'# Valve: T s (PRECURSOR; CHANNEL; D s)', skipped"
        )
    return RunData(
        metadata=meta,
        time_s=table[:, 0].copy(),
        frequency_hz=table[:, freq_cols],
        mass_ng_cm2=table[:, mass_cols] if mass_cols else None,
        thickness_ang=table[:, thick_cols] if thick_cols else None,
        instrument_thickness_ang=table[:, inst_cols] * 1000.0 if inst_cols else None,
        events=[e for e in events if e.kind != VALVE_EVENT],
        source=str(path),
        warnings=warnings,
        valve_pulses=pulses,
    )


def _parse_table(lines: list[str], linenos: list[int], width: int, path: Path) -> np.ndarray:
    if not lines:
        return np.empty((0, width))
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2, dtype=float)
    except ValueError:
        table = None
    if table is not None and table.shape[1] == width:
        return table
    for line, lineno in zip(lines, linenos, strict=True):
        parts = line.split(",")
        if len(parts) != width:
            raise UserInputError(f"expected {width} comma-separated values, found {len(parts)}", path, lineno)
        for p in parts:
            try:
                float(p)
            except ValueError:
                raise UserInputError(f"not a number: {p.strip()[:30]!r}", path, lineno) from None
    raise UserInputError("unreadable data rows", path)
