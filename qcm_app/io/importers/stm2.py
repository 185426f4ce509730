"""INFICON STM-2 PC-program logs (``.log``): a ``Start`` line, rows of time, rate, thickness and
frequency, and a closing ``Stop Log`` line.

The vendor does not publish the layout beyond that, so this reader accepts::

    Start Log 01/23/2023 10:59:12      <- any line whose first word is "Start"; a date/time on it is used
    Time, Rate, Thickness, Frequency   <- optional header; names may carry units, e.g. "Thickness (kÅ)"
    0.0, 0.00, 0, 5975830.23           <- comma, tab or blank separated; time in s or HH:MM:SS(.f)
    ...
    Stop Log

Without a header the four values are taken in that order. Units: rate Å/s, thickness Å (what the
STM-2 reports) unless the header says kÅ, frequency Hz. A log may hold several Start/Stop blocks:
they are joined in order; when the times restart and no Start line dates the block, the block is
placed right after the previous one (the pause is unknown) and a warning says so. A missing final
``Stop Log`` (the program was killed) is only a warning.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from qcm_app.io.importers.build import RowOrder, build_run
from qcm_app.io.importers.columns import split_unit, thickness_scale_to_ang
from qcm_app.io.importers.source import SourceText
from qcm_app.io.importers.table import Table, has_decimal_comma
from qcm_app.io.importers.times import iso_from_epoch, time_values
from qcm_app.io.runfile import RunData, RunEvent, RunMetadata

FORMAT_NAME = "INFICON STM-2 log"
_START = re.compile(r"^\s*start\b[\s:,-]*(.*)$", re.I)
_STOP = re.compile(r"^\s*stop\b", re.I)
_HEADER_WORD = re.compile(r"time|rate|thick|freq", re.I)
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_CLOCK = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?")


def sniff(source: SourceText) -> bool:
    content = source.content_lines(6)
    if not content or not _START.match(content[0][1]):
        return False
    following = [line for _, line in content[1:]]
    return any(_HEADER_WORD.search(line) or _STOP.match(line) for line in following) or any(
        len(re.split(r"[,\t;]|\s+", line.strip())) >= 4 and line.strip()[:1].isdigit() for line in following
    )


def read(source: SourceText) -> RunData:
    rows: list[str] = []
    linenos: list[int] = []
    block_of_row: list[int] = []
    starts: list[tuple[int, float | None]] = []
    names: list[str] = []
    header_line = None
    open_block = False
    for i, line in enumerate(source.lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        first = text[0]
        if first.isdigit() or first in "+-.":
            if open_block:
                rows.append(line)
                linenos.append(i + 1)
                block_of_row.append(len(starts) - 1)
            continue
        if start := _START.match(text):
            starts.append((i + 1, _start_epoch(start.group(1))))
            open_block = True
        elif _STOP.match(text):
            open_block = False
        elif open_block and _HEADER_WORD.search(text):
            if not names:  # each block may repeat the header; the first one names the columns
                names = (
                    [f.strip().strip('"') for f in re.split(r"[\t,;]", text)]
                    if re.search(r"[\t,;]", text)
                    else text.split()
                )
                header_line = i + 1
        elif open_block:
            rows.append(line)  # not a number: reported with its line by the parser
            linenos.append(i + 1)
            block_of_row.append(len(starts) - 1)
    if not starts:
        raise source.error("expected a 'Start' line before the data", 1)
    if not rows:
        raise source.error("no data rows after the 'Start' line", starts[0][0])
    delimiter = "," if "," in rows[0] else "\t" if "\t" in rows[0] else ";" if ";" in rows[0] else None
    decimal_comma = delimiter != "," and has_decimal_comma(rows[:20], delimiter)
    table = Table(source, names, rows, np.asarray(linenos, dtype=np.int64), delimiter, decimal_comma, header_line)
    if open_block:
        table.warnings.append("the log has no final 'Stop Log' line (recording interrupted?)")
    table.drop_cut_last_row()
    blocks = np.asarray(block_of_row[: len(table.rows)], dtype=np.int64)
    if not table.rows:
        raise source.error("no complete data rows", starts[0][0])

    columns = _columns(names)
    if min(columns.values()) < 0:
        raise source.error("expected the header to name Time, Rate, Thickness and Frequency", header_line)
    freq = table.numbers([columns["freq"]])
    thick_unit = split_unit(names[columns["thick"]])[1] if names else ""
    thick = table.numbers([columns["thick"]]) * thickness_scale_to_ang(thick_unit, 1.0)
    times = time_values(table, columns["time"])
    t, dated, events = _place_blocks(times.seconds, times.absolute or times.wall_clock, blocks, starts, table)
    absolute = dated or times.absolute
    if times.wall_clock and not times.absolute and starts[0][1] is not None:
        t = t + (float(starts[0][1]) // 86400.0) * 86400.0  # times of day on the Start line's date
        absolute = True
    order = RowOrder.from_times(t, table, table.label(columns["time"]), times.wall_clock, columns["time"])
    meta = RunMetadata(instrument="INFICON STM-2")
    meta.extra["Source format"] = FORMAT_NAME
    if absolute:
        meta.start_time = iso_from_epoch(order.origin_s, times.utc)
    return build_run(table, order, freq, meta, [table.label(columns["freq"])], thick, events)


def _columns(names: list[str]) -> dict[str, int]:
    """Column of each quantity: by header name, else the documented order (-1: not named)."""
    columns = {"time": 0, "rate": 1, "thick": 2, "freq": 3}
    if names:
        for key in columns:
            found = [i for i, n in enumerate(names) if n.lower().startswith(key)]
            columns[key] = found[0] if found else -1
    return columns


def _start_epoch(text: str) -> float | None:
    """Seconds since 1970 of a date and time written on a Start line, if there is one."""
    date, clock = _DATE.search(text), _CLOCK.search(text)
    if not date or not clock:
        return None
    for date_format in ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y"):
        for clock_format in ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M:%S%p", "%I:%M %p"):
            try:
                moment = datetime.strptime(f"{date.group(0)} {clock.group(0)}", f"{date_format} {clock_format}")
            except ValueError:
                continue
            return (moment - datetime(1970, 1, 1)).total_seconds()
    return None


def _place_blocks(
    t: np.ndarray, clock_times: bool, blocks: np.ndarray, starts: list[tuple[int, float | None]], table: Table
) -> tuple[np.ndarray, bool, list[RunEvent]]:
    """Times of all blocks on one axis: (times, absolute, 'log restarted' events)."""
    t = t.copy()
    first_rows = np.flatnonzero(np.diff(np.concatenate(([-1], blocks))) != 0)
    dated = not clock_times and all(starts[int(blocks[r])][1] is not None for r in first_rows)
    events: list[RunEvent] = []
    if dated:
        for r in first_rows:
            b = int(blocks[r])
            mask = blocks == b
            t[mask] = t[mask] - t[r] + (starts[b][1] or 0.0)
    elif not clock_times:
        for k, r in enumerate(first_rows[1:].tolist()):
            end = t[first_rows[k + 1] - 1]
            if t[r] <= end:
                steps = np.diff(t[first_rows[k] : first_rows[k + 1]])
                step = float(np.median(steps)) if steps.size and np.isfinite(steps).all() else 1.0
                t[blocks == blocks[r]] += end + max(step, 0.0) - t[r]
                table.warnings.append(
                    f"line {starts[int(blocks[r])][0]}: the log restarts without a date; "
                    f"its rows are placed right after the previous block (pause unknown)"
                )
    for r in first_rows[1:].tolist():
        events.append(RunEvent(float(t[r]), "note", "log restarted"))
    return t, dated, events
