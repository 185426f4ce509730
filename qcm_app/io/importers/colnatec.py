"""Colnatec Eon logs: a CSV (latin-1, as the Windows program writes it) with one column group per QCM.

Columns: ``Date, Time, Unix Timestamp, Rate QCMn, MA QCMn, Frequency QCMn, Thickness QCMn, ...``.
Names may carry a unit in brackets (``Thickness QCM1 (kÅ)``); ``Tooling``, ``Density`` and
``Z-Ratio``/``Z-Factor`` columns (optionally per QCM) are used when present.

Assumptions where the vendor's format is not published: the thickness is in kÅ unless the header
names another unit (Å, nm); dates without a four-digit year first are month/day/year unless a
value proves day/month; the separator is whichever of ``,``/``;``/tab splits the header into QCM
columns. Time comes from ``Unix Timestamp`` (ms when the numbers are that large) or ``Date`` +
``Time``, whichever orders more rows; the start time is the log's own wall clock.
"""

from __future__ import annotations

import re

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.io.importers.build import RowOrder, build_run
from qcm_app.io.importers.columns import split_unit, thickness_scale_to_ang
from qcm_app.io.importers.metadata import apply_film_settings
from qcm_app.io.importers.source import SourceText
from qcm_app.io.importers.table import Table
from qcm_app.io.importers.times import MAX_TIME_S, iso_from_epoch, parse_clock, parse_dates
from qcm_app.io.runfile import RunData, RunMetadata

FORMAT_NAME = "Colnatec Eon log"
_QCM = re.compile(r"^(.*?)\s*QCM\s*(\d+)$", re.I)
_FREQUENCY_QCM = re.compile(r"Frequency\s*QCM\s*\d", re.I)


def _header(source: SourceText) -> tuple[int, str, str | None]:
    """(line number, text, delimiter) of the header: the first line naming a 'Frequency QCMn'."""
    for lineno, line in source.content_lines(10):
        if _FREQUENCY_QCM.search(line):
            for d in (",", ";", "\t"):
                if any(_FREQUENCY_QCM.search(f) for f in line.split(d)) and line.count(d) >= 2:
                    return lineno, line, d
    return 0, "", None


def sniff(source: SourceText) -> bool:
    return _header(source)[2] is not None


def read(source: SourceText) -> RunData:
    header_line, header, delimiter = _header(source)
    if delimiter is None:
        raise source.error("expected a header with 'Frequency QCM1' columns", 1)
    names = [n.strip().strip('"') for n in header.split(delimiter)]
    qcms: dict[int, dict[str, tuple[int, str]]] = {}
    shared: dict[str, int] = {}
    for i, name in enumerate(names):
        bare, unit = split_unit(name)
        m = _QCM.match(bare)
        if m:
            qcms.setdefault(int(m.group(2)), {})[_kind(m.group(1))] = (i, unit)
        else:
            shared[_kind(bare)] = i
    sensors = sorted(n for n, cols in qcms.items() if "frequency" in cols)
    if not sensors:
        raise source.error("expected columns named 'Frequency QCM1', 'Frequency QCM2', ...", header_line)
    decimal_comma = delimiter != "," and _decimal_comma_rows(source, header_line, delimiter)
    table = Table.from_lines(source, names, header_line, delimiter, decimal_comma, header_line)
    table.drop_cut_last_row()
    if not table.rows:
        raise source.error("no data rows after the header", header_line)

    freq_cols = [qcms[n]["frequency"][0] for n in sensors]
    freq = table.numbers(freq_cols)
    thick = np.full_like(freq, np.nan)
    for j, n in enumerate(sensors):
        if "thickness" in qcms[n]:
            column, unit = qcms[n]["thickness"]
            thick[:, j] = table.numbers([column])[:, 0] * thickness_scale_to_ang(unit, 1000.0)

    meta = RunMetadata(instrument="Colnatec Eon")
    meta.extra["Source format"] = FORMAT_NAME
    first = qcms[sensors[0]] if sensors else {}
    settings = {}
    for kind in ("density", "z", "tooling"):
        setting_column = first[kind][0] if kind in first else shared.get(kind)
        if setting_column is not None:
            values = table.numbers([setting_column])[:, 0]
            valid = values[np.isfinite(values)]
            settings[kind] = float(valid[0]) if valid.size else None
    apply_film_settings(meta, settings.get("density"), settings.get("z"), settings.get("tooling"))

    t, wall, label, utc = _times(table, shared)
    order = RowOrder.from_times(t, table, label, column=names.index(label))
    meta.start_time = iso_from_epoch(float(wall[0]), utc)
    labels = [names[c] for c in freq_cols]
    return build_run(table, order, freq, meta, labels, thick, sensor_numbers=sensors)


def _kind(text: str) -> str:
    low = text.strip().lower()
    if low.startswith("freq"):
        return "frequency"
    if low.startswith("thick"):
        return "thickness"
    if low.startswith("tooling"):
        return "tooling"
    if low.startswith("density"):
        return "density"
    if re.match(r"^z[-\s_]*(ratio|factor)", low):
        return "z"
    if "unix" in low:
        return "unix"
    return low


def _decimal_comma_rows(source: SourceText, header_line: int, delimiter: str) -> bool:
    for line in source.lines[header_line : header_line + 5]:
        if re.search(r"(^|" + re.escape(delimiter) + r")\s*-?\d+,\d+\s*(" + re.escape(delimiter) + "|$)", line):
            return True
    return False


def _times(table: Table, shared: dict[str, int]) -> tuple[np.ndarray, np.ndarray, str, bool]:
    """(ordering time, wall clock, column label, wall clock is UTC): of the two candidate clocks, the
    one with fewer rows out of order (a whole-second clock repeats itself at fast logging)."""
    wall = None
    if "date" in shared and "time" in shared:
        try:
            days = parse_dates(table.strings(shared["date"]), table, table.label(shared["date"]), "mdy")
            wall = days * 86400.0 + parse_clock(table.strings(shared["time"]), table, table.label(shared["time"]))
        except UserInputError:
            if "unix" not in shared:
                raise
            table.warnings.append("Date/Time columns unreadable: the Unix Timestamp is used")
    unix = None
    if "unix" in shared:
        unix = table.numbers([shared["unix"]])[:, 0]
        finite = unix[np.isfinite(unix)]
        if finite.size and np.median(finite) > 1e11:
            unix = unix * 1e-3
    if unix is None:
        if wall is None:
            raise table.source.error(
                "expected a 'Unix Timestamp' column or 'Date' and 'Time' columns", table.header_line
            )
        return wall, wall, table.label(shared["time"]), False
    if wall is not None and _disorder(wall) < _disorder(unix):
        return wall, wall, table.label(shared["time"]), False
    if wall is None:
        return unix, unix, table.label(shared["unix"]), True
    return unix, wall, table.label(shared["unix"]), False


def _disorder(t: np.ndarray) -> int:
    """Rows not later than the one before, or with no usable time."""
    usable = np.isfinite(t) & (np.abs(t) < MAX_TIME_S)
    return int(np.count_nonzero(~(np.diff(t) > 0))) + int(np.count_nonzero(~usable))
