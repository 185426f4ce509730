"""Angstrom Engineering tool logs: the deposition system's CSV with one column per tag.

What is read (header names as the real logs spell them, e.g. ``Physical Sensor 2.FrequencyMeasurement``):

- one sensor per ``Physical Sensor N.FrequencyMeasurement`` column (Hz);
- the instrument's thickness, ``Physical Sensor N.Thickness`` (else ``.ThicknessMeasurement``), in Å
  with tooling applied. A unit in the header (``(kÅ)``) is honoured; without one the values are Å:
  in the real log they rise ~2 per second at a 2 Å/s rate and agree with the frequency drop;
- ``.ToolingFactor``, ``.Density`` and ``.ZFactor`` (stored as float32: 2.70000004768372 is 2.7);
- time from ``Elapsed Time`` (.NET ``[d.]HH:MM:SS.fffffff``), or ``Date`` + ``Time`` when the
  elapsed clock is missing or restarts; the start time from ``Date`` + ``Time`` of the first row;
- ``StepName`` changes become ``step`` events; ``Version`` is the software version.

Quirks handled: every data row ends with a comma (one field more than the header), rows are
sometimes written twice, and the thickness is zeroed between layers (and mid-layer): zeroings stay
in ``instrument_thickness_ang`` as they are (see :mod:`qcm_app.io.importers.agreement`).
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
from qcm_app.io.importers.times import iso_from_epoch, parse_clock, parse_dates
from qcm_app.io.runfile import RunData, RunEvent, RunMetadata

FORMAT_NAME = "Angstrom Engineering tool log"
_SENSOR = re.compile(r"^Physical Sensor\s*(\d+)\.(.+)$")
_THICKNESS = re.compile(r"^Thickness(Measurement)?$")


def sniff(source: SourceText) -> bool:
    first = source.content_lines(1)
    return bool(first) and "Physical Sensor" in first[0][1] and ".FrequencyMeasurement" in first[0][1]


def read(source: SourceText) -> RunData:
    header_line, header = source.content_lines(1)[0]
    names = [n.strip().strip('"') for n in header.split(",")]
    tags: dict[int, dict[str, int]] = {}
    for i, name in enumerate(names):
        m = _SENSOR.match(name)
        if m:
            tags.setdefault(int(m.group(1)), {})[m.group(2).strip()] = i
    sensors = sorted(n for n, t in tags.items() if "FrequencyMeasurement" in t)
    if not sensors:
        raise source.error("expected columns named 'Physical Sensor N.FrequencyMeasurement'", header_line)
    table = Table.from_lines(source, names, header_line, ",", header_line=header_line)
    table.drop_cut_last_row()
    if not table.rows:
        raise source.error("no data rows after the header", header_line)

    # every numeric column we need, parsed in one pass over the (long) rows
    freq_cols = [tags[n]["FrequencyMeasurement"] for n in sensors]
    thick_cols = {n: _thickness_column(tags[n]) for n in sensors}
    setting_cols = {n: _setting_columns(tags[n]) for n in sensors}
    wanted = sorted(
        {
            *freq_cols,
            *(c for c, _ in thick_cols.values() if c is not None),
            *(c for cols in setting_cols.values() for c in cols.values()),
        }
    )
    values = table.numbers(wanted)
    column = {c: values[:, k] for k, c in enumerate(wanted)}
    freq = np.column_stack([column[c] for c in freq_cols])
    thick = np.full_like(freq, np.nan)
    for j, n in enumerate(sensors):
        c, scale = thick_cols[n]
        if c is not None:
            thick[:, j] = column[c] * scale

    meta = RunMetadata(instrument="Angstrom Engineering deposition system")
    meta.extra["Source format"] = FORMAT_NAME
    _film_settings(table, {n: {kind: column[c] for kind, c in setting_cols[n].items()} for n in sensors}, meta)
    if "Version" in names:
        meta.firmware = table.first_value(names.index("Version"))
    materials = {table.first_value(i) for i, name in enumerate(names) if name.endswith(".MaterialName")} - {""}
    if materials:
        meta.extra["Material"] = ", ".join(sorted(materials))

    t, wall = _times(table, names)
    order = RowOrder.from_times(t, table, "Elapsed Time" if "Elapsed Time" in names else "Time")
    if wall is not None:
        meta.start_time = iso_from_epoch(float(wall[0]))
    events = _step_events(table, names, order)
    labels = [names[c] for c in freq_cols]
    return build_run(table, order, freq, meta, labels, thick, events, sensor_numbers=sensors)


def _thickness_column(tags: dict[str, int]) -> tuple[int | None, float]:
    for want_measurement in (False, True):
        for tag, column in tags.items():
            bare, unit = split_unit(tag)
            m = _THICKNESS.match(bare)
            if m and bool(m.group(1)) == want_measurement:
                return column, thickness_scale_to_ang(unit, 1.0)
    return None, 1.0


def _setting_columns(tags: dict[str, int]) -> dict[str, int]:
    """Columns of one sensor's tooling, density and Z-factor (the nominal tooling is not the one used)."""
    out: dict[str, int] = {}
    for tag, column in tags.items():
        bare = split_unit(tag)[0]
        if bare.startswith("ToolingFactor"):
            out["tooling"] = column
        elif bare == "Density":
            out["density"] = column
        elif bare in ("ZFactor", "ZRatio", "Z-Factor", "Z-Ratio"):
            out["z"] = column
    return out


def _film_settings(table: Table, logged: dict[int, dict[str, np.ndarray]], meta: RunMetadata) -> None:
    """Per sensor, the first logged tooling/density/Z; warn when the log changes them midway."""
    settings: dict[int, dict[str, float]] = {}
    for n, columns in logged.items():
        found: dict[str, float] = {}
        for kind, values in columns.items():
            valid = values[np.isfinite(values)]
            if valid.size:
                found[kind] = float(valid[0])
                if valid.max() != valid.min():
                    table.warnings.append(
                        f"Physical Sensor {n}: {kind} changed during the log "
                        f"({valid.min():.6g} to {valid.max():.6g}); the first value is used"
                    )
        settings[n] = found
    sensors = list(logged)
    first = settings[sensors[0]]
    apply_film_settings(meta, first.get("density"), first.get("z"), first.get("tooling"))
    for n in sensors[1:]:
        if settings[n] and settings[n] != first:
            s = settings[n]
            meta.extra[f"Sensor {n} film"] = (
                f"density {s.get('density', float('nan')):.6g} g/cm3, "
                f"Z-ratio {s.get('z', float('nan')):.6g}, "
                f"tooling {s.get('tooling', float('nan')):.6g} %"
            )


def _times(table: Table, names: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """(time to order rows by, wall-clock seconds since 1970 or None)."""
    wall = None
    if "Date" in names and "Time" in names:
        try:
            days = parse_dates(table.strings(names.index("Date")), table, "Date", "mdy")
            wall = days * 86400.0 + parse_clock(table.strings(names.index("Time")), table, "Time")
        except UserInputError:
            if "Elapsed Time" not in names:
                raise
            table.warnings.append("Date/Time columns unreadable: start time unknown")
    if "Elapsed Time" in names:
        elapsed = parse_clock(table.strings(names.index("Elapsed Time")), table, "Elapsed Time")
        restarts = np.flatnonzero(np.diff(elapsed) < -1.0)
        if restarts.size and wall is not None:
            table.warnings.append(
                f"Elapsed Time restarts at line {int(table.linenos[restarts[0] + 1])}: times taken from Date and Time"
            )
            return wall, wall
        return elapsed, wall
    if wall is None:
        raise table.source.error("expected an 'Elapsed Time' column or 'Date' and 'Time' columns", table.header_line)
    return wall, wall


def _step_events(table: Table, names: list[str], order: RowOrder) -> list[RunEvent]:
    if "StepName" not in names:
        return []
    steps = table.strings(names.index("StepName"))
    kept = np.flatnonzero(order.keep).tolist()
    events: list[RunEvent] = []
    previous = None
    for k, i in enumerate(kept):
        if steps[i] != previous:
            previous = steps[i]
            if previous:
                events.append(RunEvent(float(order.time_s[k]) + order.origin_s, "step", previous))
    return events
