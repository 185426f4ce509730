"""Text logs of the INFICON SQM-160 (and SQC-310) PC programs.

INFICON does not publish the layout of these logs (searches of manuals and forums found only the
serial protocol), so this reader takes what the instrument itself reports, in the order its
"readings" reply uses (time, then rate, thickness and frequency of each sensor)::

    SQM-160 Data Log                   <- optional preamble; "Key: value" lines are kept,
    Film: Al2O3                           Density / Z-Ratio / Tooling become film settings
    Density: 3.97
    Time	Rate 1	Thickness 1	Frequency 1	Rate 2	Thickness 2	Frequency 2
    0.0	0.00	0.000	5975830.23	0.00	0.000	5981234.50

- separators: tab, ``;`` or ``,`` (or blanks when names have no spaces, e.g. ``Rate1 Thick1 Freq1``);
- channel names: ``Rate 1``/``Rate1``/``Rate Ch1``/``Ch1 Rate``/``Sensor 1 Rate``, likewise
  ``Thickness``/``Thick`` and ``Frequency``/``Freq``, optionally with a unit in brackets;
- time: seconds, ``HH:MM:SS(.f)`` (midnight rollover unrolled) or ``YYYY-MM-DD HH:MM:SS``;
- units: rate Å/s, thickness kÅ (what the SQM-160 reports) unless the header says Å, frequency Hz;
- a decimal comma is accepted when the separator is not a comma.
"""

from __future__ import annotations

import re

import numpy as np

from qcm_app.io.importers.build import RowOrder, build_run
from qcm_app.io.importers.columns import split_unit, thickness_scale_to_ang
from qcm_app.io.importers.metadata import preamble_settings
from qcm_app.io.importers.source import SourceText
from qcm_app.io.importers.table import Table, has_decimal_comma
from qcm_app.io.importers.times import iso_from_epoch, time_values
from qcm_app.io.runfile import RunData, RunMetadata

FORMAT_NAME = "SQM-160 text log"
_QUANTITY = r"(rate|thick(?:ness)?|freq(?:uency)?)"
_CHANNEL_AFTER = re.compile(rf"^{_QUANTITY}[\s_#.-]*(?:ch(?:annel)?|s(?:ensor)?)?[\s_#.-]*(\d+)$", re.I)
_CHANNEL_BEFORE = re.compile(rf"^(?:ch(?:annel)?|s(?:ensor)?)[\s_#.-]*(\d+)[\s_#.:-]*{_QUANTITY}$", re.I)
_TIME = re.compile(r"^(time|elapsed)", re.I)
_INSTRUMENT = re.compile(r"\bSQ[MC][- ]?\d{3}\b", re.I)
_PREAMBLE = re.compile(r"^\s*([^:=\t]{1,60}?)\s*[:=\t]\s*(.+)$")


def _channel(name: str) -> tuple[str, int] | None:
    bare = split_unit(name)[0]
    m = _CHANNEL_AFTER.match(bare)
    if m:
        return m.group(1).lower()[:4], int(m.group(2))
    m = _CHANNEL_BEFORE.match(bare)
    if m:
        return m.group(2).lower()[:4], int(m.group(1))
    return None


def _find_header(source: SourceText) -> tuple[int, str | None, list[str]] | None:
    """(line number, separator, names) of the first line naming a time and channel columns."""
    for lineno, line in source.content_lines(40):
        for d in ("\t", ";", ",", None):
            names = [f.strip().strip('"') for f in (line.split() if d is None else line.split(d))]
            if len(names) < 3:
                continue
            kinds = {c[0] for c in map(_channel, names) if c}
            if "freq" in kinds and kinds & {"rate", "thic"} and any(_TIME.match(n) for n in names):
                return lineno, d, names
    return None


def sniff(source: SourceText) -> bool:
    return _find_header(source) is not None


def read(source: SourceText) -> RunData:
    found = _find_header(source)
    if found is None:
        raise source.error("expected a header naming Time and 'Frequency 1'-style columns", 1)
    header_line, delimiter, names = found
    meta = RunMetadata(instrument="SQM-160")
    meta.extra["Source format"] = FORMAT_NAME
    pairs: dict[str, str] = {}
    for line in source.lines[: header_line - 1]:
        mark = _INSTRUMENT.search(line)
        if mark:
            meta.instrument = f"INFICON {mark.group(0).upper()}"
        pm = _PREAMBLE.match(line)
        if pm:
            pairs[pm.group(1)] = pm.group(2)
    preamble_settings(pairs, meta)

    sample = source.lines[header_line : header_line + 20]
    table = Table.from_lines(source, names, header_line, delimiter, has_decimal_comma(sample, delimiter), header_line)
    table.drop_cut_last_row()
    if not table.rows:
        raise source.error("no data rows after the header", header_line)
    freq_cols: dict[int, int] = {}
    thick_cols: dict[int, int] = {}
    for i, name in enumerate(names):
        c = _channel(name)
        if c and c[0] == "freq":
            freq_cols.setdefault(c[1], i)
        elif c and c[0] == "thic":
            thick_cols.setdefault(c[1], i)
    sensors = sorted(freq_cols)
    freq = table.numbers([freq_cols[n] for n in sensors])
    thick = np.full_like(freq, np.nan)
    for j, n in enumerate(sensors):
        if n in thick_cols:
            unit = split_unit(names[thick_cols[n]])[1]
            thick[:, j] = table.numbers([thick_cols[n]])[:, 0] * thickness_scale_to_ang(unit, 1000.0)
    time_col = next(i for i, n in enumerate(names) if _TIME.match(n))
    times = time_values(table, time_col)
    order = RowOrder.from_times(times.seconds, table, names[time_col], times.wall_clock, time_col)
    if times.absolute:
        meta.start_time = iso_from_epoch(order.origin_s, times.utc)
    labels = [names[freq_cols[n]] for n in sensors]
    return build_run(table, order, freq, meta, labels, thick, sensor_numbers=sensors)
