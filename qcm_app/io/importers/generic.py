"""Any CSV/TSV/text table with a time column and one or more frequency columns.

Lab-built monitors, PLL/lock-in setups and spreadsheets exported by hand all end up as "some
table with a time and a frequency". Without a :class:`ColumnMapping` the obvious is detected:

- the separator (tab, ``;``, ``,``, ``|`` or blanks), by the longest run of rows that agree;
- a decimal comma (``5975830,23``) when the separator is not a comma;
- a header line (any line before the data whose fields are not all numbers/times), with
  ``Key: value`` lines above it kept as metadata (density, Z-ratio and tooling are recognised);
- the time column by name (``time``, ``t``, ``elapsed``, ``timestamp``, ...) and its kind: seconds
  (or ``ms``/``min``/``h`` from the header's unit), Unix time, ``HH:MM:SS(.fff)`` wall clock (with
  a separate ``Date`` column if there is one; without a date, midnight rollovers are unrolled),
  or ``YYYY-MM-DD HH:MM:SS``;
- frequency columns by name (``frequency``, ``freq``, ``f``, or a Hz unit; kHz/MHz are scaled),
  leaving out relative ones (``Delta F``, ``shift``, rates); several columns are several sensors;
- without a header: ``<time> <frequency> [...]`` rows, as line-based monitors write them.

A mapping overrides any of these guesses; column names are matched case-insensitively (with or
without their unit), column numbers are 0-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qcm_app.domain.errors import UserInputError
from qcm_app.io.importers.build import RowOrder, build_run
from qcm_app.io.importers.columns import find_column, name_unit, split_unit, thickness_scale_to_ang
from qcm_app.io.importers.metadata import preamble_settings
from qcm_app.io.importers.signals import attach_signals
from qcm_app.io.importers.source import NotThisFormat, SourceText
from qcm_app.io.importers.table import Table, has_decimal_comma, looks_like_number
from qcm_app.io.importers.times import (
    TIME_FORMATS,
    iso_from_epoch,
    looks_like_clock,
    looks_like_date,
    looks_like_datetime,
    time_values,
)
from qcm_app.io.runfile import RunData, RunMetadata

FORMAT_NAME = "CSV/TSV with time and frequency columns"
WHITESPACE = " "
_FREQ_SCALES = {"hz": 1.0, "khz": 1e3, "mhz": 1e6}
_DELIMITERS = {
    "tab": "\t",
    "\\t": "\t",
    "\t": "\t",
    "space": WHITESPACE,
    "whitespace": WHITESPACE,
    WHITESPACE: WHITESPACE,
    "comma": ",",
    ",": ",",
    "semicolon": ";",
    ";": ";",
    "|": "|",
}

_TIME_NAME = re.compile(r"time|zeit|temps|tiempo|elapsed|^t$|^t[_ ]|^sec(onds)?$|^s$", re.I)
_DATE_NAME = re.compile(r"^(date|datum|day|fecha)$", re.I)
_FREQ_NAME = re.compile(r"freq|^f$|^f[_ \d]|^f\d*$|hz\b", re.I)
_NOT_FREQ = re.compile(r"delta|Δ|shift|change|drift|rate|/s|dissip|temp|^d[_ ]?f|resist|time", re.I)
_THICK_NAME = re.compile(r"thick|thik", re.I)
#: an elapsed-seconds column, preferred to a wall clock (no midnight, no daylight-saving jumps)
_ELAPSED_NAME = re.compile(r"elapsed|process time|run time|^t$|^sec(onds)?$|in seconds|^time[_ ]?s$", re.I)
_KANG_REGISTER = re.compile(r"\bC_THIK", re.I)
_EXCEL_SEP = re.compile(r'^\s*"?sep=(.)"?\s*$', re.I)
_PREAMBLE = re.compile(r"^\s*([^:=\t;,]{1,60}?)\s*[:=]\s*(.*)$")


@dataclass(frozen=True)
class ColumnMapping:
    """How to read a table that no detector recognises (or to override what they guess).

    ``time_format``: one of ``TIME_FORMATS`` or a ``strptime`` pattern such as ``%d.%m.%Y %H:%M:%S``.
    ``delimiter``: a character, or ``"tab"``/``"whitespace"``. ``None`` fields are detected.
    """

    time_column: str | int | None = None
    frequency_columns: tuple[str | int, ...] = ()
    delimiter: str | None = None
    decimal_comma: bool | None = None
    time_format: str | None = None
    skip_rows: int = 0
    header: bool | None = None
    thickness_columns: tuple[str | int, ...] = ()
    #: unit of the thickness columns when the header does not say (``"A"`` or ``"kA"``)
    thickness_unit: str = "A"
    date_column: str | int | None = None
    #: day/month order of ambiguous dates such as 03/04/2024: ``"dmy"`` or ``"mdy"``
    date_order: str = "dmy"

    def __post_init__(self) -> None:
        for name in ("frequency_columns", "thickness_columns"):
            value = getattr(self, name)
            if isinstance(value, (str, int)):
                object.__setattr__(self, name, (value,))
            else:
                object.__setattr__(self, name, tuple(value))
        if self.delimiter is not None:
            key = self.delimiter if self.delimiter in _DELIMITERS else self.delimiter.strip().lower()
            if key in _DELIMITERS:
                object.__setattr__(self, "delimiter", _DELIMITERS[key])
            elif len(self.delimiter) != 1:
                raise UserInputError(
                    f"the delimiter must be one character, 'tab' or 'whitespace', not {self.delimiter!r}"
                )
        if self.time_format is not None and self.time_format not in TIME_FORMATS and "%" not in self.time_format:
            raise UserInputError(
                f"unknown time format {self.time_format!r}; use one of {', '.join(TIME_FORMATS)} "
                f"or a strptime pattern such as '%H:%M:%S'"
            )
        if self.skip_rows < 0:
            raise UserInputError("the number of rows to skip cannot be negative")
        if self.date_order not in ("dmy", "mdy"):
            raise UserInputError(f"date order must be 'dmy' or 'mdy', not {self.date_order!r}")


@dataclass
class _Layout:
    delimiter: str | None
    decimal_comma: bool
    names: list[str]
    header_line: int | None
    data_start: int
    preamble: dict[str, str] = field(default_factory=dict)


def read(source: SourceText, mapping: ColumnMapping | None = None) -> RunData:
    """Read with ``mapping`` (or detect everything); see the module docstring."""
    auto = mapping is None
    m = mapping or ColumnMapping()
    layout = _layout(source, m, auto)
    table = Table.from_lines(
        source, layout.names, layout.data_start, layout.delimiter, layout.decimal_comma, layout.header_line
    )
    table.drop_cut_last_row()
    if not table.rows:
        names = layout.names
        if auto and not (
            any(_TIME_NAME.search(split_unit(n)[0]) for n in names) and any(_is_frequency_name(n) for n in names)
        ):
            raise NotThisFormat("no rows of values")
        raise source.error("no data rows", layout.header_line or m.skip_rows + 1)
    time_col, freq_cols, thick_cols, date_col = _columns(table, m, auto)
    times = time_values(table, time_col, date_col, m.time_format, m.date_order)
    freq = table.numbers(freq_cols)
    for j, c in enumerate(freq_cols):
        unit = split_unit(table.label(c))[1].lower() or name_unit(table.label(c))
        freq[:, j] *= _FREQ_SCALES.get(unit, 1.0)
    thick = None
    if thick_cols:
        thick = table.numbers(thick_cols)
        default = 1000.0 if m.thickness_unit.strip().lower().startswith("k") else 1.0
        for j, c in enumerate(thick_cols):
            # INFICON controllers name their crystal thickness register C_THIK, in kÅ
            own = 1000.0 if _KANG_REGISTER.search(table.label(c)) and not m.thickness_columns else default
            thick[:, j] *= thickness_scale_to_ang(split_unit(table.label(c))[1], own)
    order = RowOrder.from_times(times.seconds, table, table.label(time_col), times.wall_clock, time_col)
    meta = RunMetadata()
    meta.start_time = iso_from_epoch(order.origin_s, times.utc) if times.absolute else ""
    meta.extra["Source format"] = FORMAT_NAME
    meta.extra["Columns"] = f"time {table.label(time_col)!r}; frequency " + ", ".join(
        repr(table.label(c)) for c in freq_cols
    )
    preamble_settings(layout.preamble, meta)
    run = build_run(table, order, freq, meta, [table.label(c) for c in freq_cols], thick)
    if not auto:
        return run
    clocks = [i for i, n in enumerate(table.names) if i != time_col and _TIME_NAME.search(split_unit(n)[0])]
    return attach_signals(run, table, order, [time_col, *freq_cols, *thick_cols, *clocks], clocks)


def _fail(auto: bool, source: SourceText, message: str, line: int | None) -> Exception:
    return NotThisFormat(message) if auto else source.error(message, line)


def _layout(source: SourceText, m: ColumnMapping, auto: bool) -> _Layout:
    sample: list[tuple[int, str]] = []
    for i in range(m.skip_rows, len(source.lines)):
        line = source.lines[i]
        if line.strip() and not line.lstrip().startswith("#"):
            sample.append((i, line))
            if len(sample) >= 200:
                break
    if not sample:
        raise source.error(
            "no rows to read" + (f" after skipping {m.skip_rows} lines" if m.skip_rows else ""),
            min(m.skip_rows + 1, len(source.lines)),
        )
    hint = _EXCEL_SEP.match(sample[0][1])
    if hint and len(sample) > 1:
        sample = sample[1:]  # Excel's "sep=;" line names the separator
    texts = [line for _, line in sample]
    delimiter = m.delimiter or (hint.group(1) if hint else None) or _sniff_delimiter(texts)
    if delimiter is None:
        raise _fail(
            auto, source, "cannot tell how the values are separated (tabs, ';', ',' or blanks)", sample[0][0] + 1
        )
    split_by = None if delimiter == WHITESPACE else delimiter
    body = texts[-21:-1] if len(texts) > 2 else texts
    decimal_comma = m.decimal_comma if m.decimal_comma is not None else has_decimal_comma(body, split_by)
    width = _width(body, split_by)
    header_at: int | None = None
    data_at: int | None = None
    for k, (i, line) in enumerate(sample):
        fields = _split(line, split_by)
        if len(fields) < 2 or abs(len(fields) - width) > 1:
            continue
        is_header = any(f and not _value_like(f, decimal_comma) for f in fields)
        if m.header is True or (m.header is None and is_header):
            header_at = k
            data_at = i + 1
        else:
            data_at = i
        break
    if data_at is None:
        raise _fail(auto, source, f"no table of values separated by {delimiter!r}", sample[0][0] + 1)
    names: list[str] = []
    header_line = None
    preamble: dict[str, str] = {}
    last_preamble = len(sample) if header_at is None else header_at
    for index, line in sample[:last_preamble]:
        if header_at is None and index >= data_at:
            break
        pm = _PREAMBLE.match(line)
        if pm:
            preamble[pm.group(1).strip()] = pm.group(2).strip()
    if header_at is not None:
        header_line = sample[header_at][0] + 1
        names = [f.strip().strip('"').strip() for f in _split(sample[header_at][1], split_by)]
    return _Layout(split_by, bool(decimal_comma), names, header_line, data_at, preamble)


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split() if delimiter is None else line.split(delimiter)


def _sniff_delimiter(lines: list[str]) -> str | None:
    """The separator that splits most of the trailing rows into the same number of fields."""
    body = lines[:-1] if len(lines) > 2 else lines  # the very last row may be cut short
    body = body[-20:]
    best, best_score = None, 0.5
    for d in ("\t", ";", ",", "|"):
        counts = [line.count(d) for line in body]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        score = counts.count(max(set(nonzero), key=nonzero.count)) / len(counts)
        if score > best_score:
            best, best_score = d, score
    if best is not None:
        return best
    tail = body[-5:]
    if tail and all(len(line.split()) >= 2 for line in tail) and len({len(x.split()) for x in tail}) == 1:
        return WHITESPACE
    return None


def _width(body: list[str], delimiter: str | None) -> int:
    counts = [len(_split(line, delimiter)) for line in body]
    return max(set(counts), key=counts.count)


def _value_like(text: str, decimal_comma: bool) -> bool:
    text = text.strip().strip('"')
    return (
        looks_like_number(text, decimal_comma)
        or looks_like_clock(text)
        or looks_like_date(text)
        or looks_like_datetime(text)
        or text.lower() in ("nan", "inf", "-inf", "-")
    )


def _columns(table: Table, m: ColumnMapping, auto: bool) -> tuple[int, list[int], list[int], int | None]:
    source, names, line = table.source, table.names, table.header_line
    first_row = _split(table.rows[0], table.delimiter)
    if m.time_column is not None:
        time_col = find_column(names, m.time_column, source, line)
    elif names:
        found = [i for i, n in enumerate(names) if _TIME_NAME.search(split_unit(n)[0])]
        if not found:
            raise _fail(auto, source, "no time column (a column named like 'Time' or 't')", line)
        time_col = _preferred_time(table, found)
    else:
        time_col = 0
        if auto and not (first_row and _value_like(first_row[0], table.decimal_comma)):
            raise NotThisFormat("no header, and the first column is not a time")
    if m.frequency_columns:
        freq_cols = [find_column(names, c, source, line) for c in m.frequency_columns]
    elif names:
        freq_cols = [i for i, n in enumerate(names) if i != time_col and _is_frequency_name(n)]
        if not freq_cols:
            raise _fail(auto, source, "no frequency column (a column named like 'Frequency' or with unit Hz)", line)
    else:
        freq_cols = [1]
        if auto:
            value = first_row[1].strip() if len(first_row) > 1 else ""
            number = value.replace(",", ".") if table.decimal_comma else value
            if not (looks_like_number(number) and 1e3 <= abs(float(number)) <= 1e9):
                raise NotThisFormat("no header, and the second column is not a frequency in Hz")
    if m.thickness_columns:
        thick_cols = [find_column(names, c, source, line) for c in m.thickness_columns]
    else:
        thick_cols = [i for i, n in enumerate(names) if _THICK_NAME.search(n) and not _NOT_FREQ.search(n)]
        if len(thick_cols) != len(freq_cols):
            thick_cols = []
    date_col = None
    if m.date_column is not None:
        date_col = find_column(names, m.date_column, source, line)
    else:
        dates = [i for i, n in enumerate(names) if _DATE_NAME.match(split_unit(n)[0]) and i != time_col]
        date_col = dates[0] if dates else None
    return time_col, freq_cols, thick_cols, date_col


def _preferred_time(table: Table, found: list[int]) -> int:
    """An elapsed-seconds column (named so, holding numbers) over a wall clock; else the first."""
    first_row = _split(table.rows[0], table.delimiter)
    for i in found:
        bare, unit = split_unit(table.names[i])
        value = first_row[i].strip().strip('"') if i < len(first_row) else ""
        numeric = looks_like_number(value, table.decimal_comma)
        if numeric and (_ELAPSED_NAME.search(bare) or unit.lower() in ("s", "sec", "seconds")):
            return i
    return found[0]


def _is_frequency_name(name: str) -> bool:
    bare, unit = split_unit(name)
    if _NOT_FREQ.search(name):
        return False
    return bool(_FREQ_NAME.search(bare)) or unit.lower() in _FREQ_SCALES
