"""The columns of a tool log beside time and frequency that the analysis and the report can use.

ALD tools log their own valve outputs as 0/1 columns, their own Sauerbrey mass, and deposition
monitors their rate and source shutters. Read here, once, for every table-like importer:

- 0/1 columns become :class:`~qcm_app.domain.markers.ValvePulse` lists (a column that never changes is no
  timeline: left out, and said so when its name says it is a valve);
- the tool's mass column becomes ``reference_mass_ng_cm2``;
- rate columns (one per sensor) become ``instrument_rate_ang_s``;
- a wall-clock column beside the elapsed-seconds one still gives the run's start time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse, is_digital, precursor_in_name, pulses_from_digital, sorted_pulses
from qcm_app.io.importers.build import RowOrder
from qcm_app.io.importers.columns import split_unit
from qcm_app.io.importers.table import Table
from qcm_app.io.importers.times import iso_from_epoch, time_values
from qcm_app.io.runfile import RunData

_STATUS_NAME = re.compile(r"\bok\b|ok\?|status|stat_|xstat|alarm|error|fault|interlock|enable|xtal", re.I)
_VALVE_NAME = re.compile(r"valve|pulse|shutter|shtsrc|dose|^do\d|/do\d", re.I)
_SHUTTER_NAME = re.compile(r"shutter|shtsrc|shtr", re.I)
_MASS_NAME = re.compile(r"^(areal\s*)?mass\b", re.I)
_NOT_MASS = re.compile(r"offset|rate|flow|/s\b|delta|Δ", re.I)
_RATE_NAME = re.compile(r"(?<!subst)rate", re.I)  # not "substrate"
_NOT_RATE = re.compile(r"flow|sampl|baud|setpoint|\bsp\b|iteration", re.I)
_RATE_SCALES = {"a/s": 1.0, "å/s": 1.0, "ang/s": 1.0, "nm/s": 10.0, "ka/s": 1000.0, "kå/s": 1000.0}


def attach_signals(
    run: RunData,
    table: Table,
    order: RowOrder,
    used: Sequence[int],
    time_columns: Sequence[int] = (),
    valve_map: Mapping[str, str] | None = None,
) -> RunData:
    """Fill ``run``'s valve pulses, reference mass and rate from ``table``'s other columns.

    ``used``: columns already read (time, frequency, thickness); ``time_columns``: other time
    columns (a wall clock, for the start time); ``valve_map``: channel → precursor given by the user,
    whose channels must be 0/1 columns."""
    valve_map = dict(valve_map or {})
    names = table.names
    skip = set(used)
    keep = order.keep
    t = run.time_s
    pulses: list[ValvePulse] = []
    constant: list[str] = []
    digital_seen = 0
    rate_cols: list[int] = []
    first = table.split(table.rows[0]) if table.rows else []
    for i, name in enumerate(names):
        if i in skip or not name.strip() or i >= len(first):
            continue
        bare = split_unit(name)[0]
        value = first[i].strip().strip('"')
        label = table.label(i)
        if run.reference_mass_ng_cm2 is None and _MASS_NAME.match(bare) and not _NOT_MASS.search(name):
            values = _numbers(table, i)
            if values is not None:
                run.reference_mass_ng_cm2 = values[keep]
                run.metadata.extra["Reference mass column"] = label
            continue
        if _RATE_NAME.search(bare) and not _NOT_RATE.search(name):
            rate_cols.append(i)
            continue
        named_valve = label in valve_map or bool(_VALVE_NAME.search(name))
        #: a named precursor or the word "valve": a signal that should fire (unused outputs need not)
        expected_to_fire = label in valve_map or bool(precursor_in_name(bare) or re.search("valve", name, re.I))
        if value not in ("0", "1", "0.0", "1.0") and not named_valve:
            continue
        if _STATUS_NAME.search(name) and label not in valve_map:
            continue
        values = _numbers(table, i)
        if values is None or not is_digital(values):
            if label in valve_map:
                raise UserInputError(
                    f"--valve: column {label!r} is not a 0/1 valve signal", table.source.path, table.header_line
                )
            continue
        digital_seen += 1
        v = values[keep]
        if np.nanmin(v) == np.nanmax(v):
            if expected_to_fire:
                constant.append(label)
            continue
        precursor = valve_map.get(label) or precursor_in_name(bare)
        pulses.extend(pulses_from_digital(t, v, label, precursor))
    if constant:
        listed = ", ".join(map(repr, constant[:4])) + (f" and {len(constant) - 4} more" if len(constant) > 4 else "")
        run.warnings.append(
            f"valve column{'s' if len(constant) > 1 else ''} {listed} never change"
            f"{'' if len(constant) > 1 else 's'}: no pulses read from "
            f"{'them' if len(constant) > 1 else 'it'}"
        )
    if digital_seen and not pulses and not constant:
        run.warnings.append(f"{digital_seen} digital columns, none of which ever changes: no valve timeline")
    run.valve_pulses = sorted_pulses(pulses)
    if rate_cols and len(rate_cols) == run.frequency_hz.shape[1]:
        read = [_numbers(table, c) for c in rate_cols]
        rates = np.column_stack([v if v is not None else np.full(len(table.rows), np.nan) for v in read])
        for j, c in enumerate(rate_cols):
            rates[:, j] *= _RATE_SCALES.get(split_unit(names[c])[1].lower().replace(" ", ""), 1.0)
        run.instrument_rate_ang_s = rates[keep]
    if not run.metadata.start_time:
        run.metadata.start_time = _start_from_clock(table, order, time_columns)
    return run


def _numbers(table: Table, column: int) -> np.ndarray | None:
    try:
        return table.numbers([column])[:, 0]
    except UserInputError:
        return None


def _start_from_clock(table: Table, order: RowOrder, columns: Sequence[int]) -> str:
    """The wall clock of the first kept row, from a date-and-time column (elapsed time was used)."""
    kept = np.flatnonzero(order.keep)
    if not kept.size:
        return ""
    row = int(kept[0])
    for c in columns:
        one = Table(
            table.source,
            table.names,
            [table.rows[row]],
            table.linenos[row : row + 1],
            table.delimiter,
            table.decimal_comma,
            table.header_line,
        )
        try:
            times = time_values(one, c)
        except (UserInputError, IndexError, ValueError):
            continue
        if times.absolute:
            return iso_from_epoch(float(times.seconds[0]), times.utc)
    return ""


def is_shutter(channel: str) -> bool:
    """A source shutter (evaporation monitors), not a precursor valve."""
    return bool(_SHUTTER_NAME.search(channel))
