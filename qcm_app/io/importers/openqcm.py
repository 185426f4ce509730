"""openQCM logs: ``dd/mm/yy<TAB>HH:MM:SS<TAB>frequency<TAB>temperature`` at 1 Hz, no header.

The date makes the times absolute, so a run across midnight orders itself; if a writer kept the
date of the start (times of day falling back by ~24 h) the rollover is unrolled all the same. Rows
repeated within the same second are dropped (the first reading is kept). Tabs or runs of blanks
separate the values; a decimal comma (``10000123,45``) is accepted. The temperature is read to
check the row but not kept: :class:`RunData` has no place for it.
"""

from __future__ import annotations

import re

from qcm_app.io.importers.build import RowOrder, build_run
from qcm_app.io.importers.source import SourceText
from qcm_app.io.importers.table import Table, has_decimal_comma
from qcm_app.io.importers.times import iso_from_epoch, parse_clock, parse_dates
from qcm_app.io.runfile import RunData, RunMetadata

FORMAT_NAME = "openQCM log"
_ROW = re.compile(
    r"^\s*\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\s+[-+]?\d[\d.,eE+-]*"
    r"(?:\s+[-+]?[\d.,eE+-]+)*\s*$"
)


def sniff(source: SourceText) -> bool:
    content = source.content_lines(6)
    if not content:
        return False
    checked = content[:-1] if len(content) > 1 else content  # the last line may be cut short
    return all(_ROW.match(line) for _, line in checked)


def read(source: SourceText) -> RunData:
    first = source.content_lines(1)[0][1]
    delimiter = "\t" if first.count("\t") >= 2 else None
    start = source.content_lines(1)[0][0] - 1
    sample = [line for _, line in source.content_lines(20)]
    table = Table.from_lines(source, [], start, delimiter, has_decimal_comma(sample[:-1] or sample, delimiter))
    table.drop_cut_last_row()
    if not table.rows:
        raise source.error("no complete data rows", start + 1)
    days = parse_dates(table.strings(0), table, "date", "dmy")
    seconds = days * 86400.0 + parse_clock(table.strings(1), table, "time")
    values = table.numbers([2, 3] if int(table.field_counts().min()) >= 4 else [2])
    order = RowOrder.from_times(seconds, table, "time", wall_clock=True)
    meta = RunMetadata(instrument="openQCM")
    meta.extra["Source format"] = FORMAT_NAME
    meta.start_time = iso_from_epoch(order.origin_s)
    return build_run(table, order, values[:, :1], meta, ["frequency (column 3)"])
