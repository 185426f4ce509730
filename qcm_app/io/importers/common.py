"""Shared machinery of the importers: reading text safely, splitting it into rows, parsing numbers and
times in bulk, and turning the parsed arrays into a :class:`RunData` by one set of rules.

Why one place: every vendor log has the same troubles (odd encodings, trailing commas, duplicated
rows, wall-clock times that roll over at midnight, a last row cut short by a crash) and a user
deserves the same answer to each of them, including the same one-line errors naming file and line.

Speed: a 24-hour log at 10 Hz has ~860k rows, so numbers and times are parsed with numpy's C
reader over all rows at once; the slow per-row path only runs to explain an error (or to read
fields the fast reader refuses, such as blanks standing for "no value").
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import repeat
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.physics import MAX_CRYSTAL_FREQUENCY_HZ, MIN_CRYSTAL_FREQUENCY_HZ, valid_frequencies
from qcm_app.io.fileio import read_bytes
from qcm_app.io.runfile import RESERVED_KEYS, RunData, RunEvent, RunMetadata

SECONDS_PER_DAY = 86400.0
#: a backwards jump of wall-clock time larger than this is a midnight rollover, not disorder
ROLLOVER_THRESHOLD_S = SECONDS_PER_DAY / 2
#: a few rows out of order are a glitch, dropped with a warning; more and the file is not one run in
#: time order, and dropping them would lose most of it without a word
MAX_BACKWARD_ROWS = 10
MAX_BACKWARD_FRACTION = 0.01
#: no log's clock reads beyond ~year 5000 in seconds since 1970 (nor elapsed time that long)
MAX_TIME_S = 1e11

_CLOCK_RE = re.compile(r"^(?:(\d+)\.)?(\d{1,3}):(\d{1,2}):(\d{1,2}(?:[.,]\d*)?)\s*([AaPp][Mm])?$")
_DATE_RE = re.compile(r"^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})$")
_DATETIME_RE = re.compile(r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})[T ]+(\S+(?:\s*[AaPp][Mm])?)\s*(Z|[+-]\d{2}:?\d{2})?$")
#: time of day, then the date (LabVIEW tools: ``11:23:14.559 05/24/2019``)
_CLOCK_DATE_RE = re.compile(r"^(\d{1,2}:\d{1,2}:\d{1,2}(?:[.,]\d*)?(?:\s*[AaPp][Mm])?)"
                            r"\s+(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})$")
_UNIT_RE = re.compile(r"^(.*?)\s*[\(\[]([^\)\]]*)[\)\]]\s*$")
_SKIP_LINE = re.compile(r"^[ \t\f\v]*(?:#.*)?$", re.M)
_BLANKISH_LINE = re.compile(r"\n[ \t\f\v]*(?:\n|\Z)")


def _may_skip(joined: str) -> bool:
    """Cheap test for a comment or blank line, so clean day-long logs skip the full regex pass."""
    if not joined or "#" in joined:
        return True
    first = joined[: joined.find("\n")] if "\n" in joined else joined
    return not first.strip() or _BLANKISH_LINE.search(joined) is not None
_QUOTED_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")
_NUMBER_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


class NotThisFormat(Exception):
    """Raised by an auto-detecting reader when the file is not its kind (caller tries the next)."""


# --- the file as text ----------------------------------------------------------------------------

@dataclass
class SourceText:
    """A log file's lines (no line ends; ``lines[i]`` is line ``i + 1``), read once, never written."""

    path: Path
    lines: list[str]
    ends_with_newline: bool
    encoding: str

    def error(self, message: str, line: int | None = None) -> UserInputError:
        return UserInputError(message, self.path, line)

    def content_lines(self, limit: int | None = None) -> list[tuple[int, str]]:
        """(line number, text) of the non-blank lines, the first ``limit`` of them."""
        out: list[tuple[int, str]] = []
        for i, line in enumerate(self.lines):
            if line.strip():
                out.append((i + 1, line))
                if limit is not None and len(out) >= limit:
                    break
        return out


def read_source(path: str | Path) -> SourceText:
    """Read a log as text: UTF-8 (with or without BOM), UTF-16 with BOM, else latin-1 (Colnatec)."""
    path = Path(path)
    raw = read_bytes(path, "file")
    text, encoding = _decode(raw, path)
    if not text.strip():
        raise UserInputError("the file is empty (expected a header line or data rows)", path, 1)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    ends = text.endswith("\n")
    if ends:
        lines.pop()
    return SourceText(path, lines, ends, encoding)


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise UserInputError(f"not valid UTF-16 text (byte {exc.start})", path) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise UserInputError("binary data (a NUL byte), expected a text log", path, line)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


# --- names and units -----------------------------------------------------------------------------

def split_unit(name: str) -> tuple[str, str]:
    """``'Thickness QCM1 (kÅ)'`` → ``('Thickness QCM1', 'kÅ')``; no unit gives ``''``."""
    m = _UNIT_RE.match(name.strip())
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return name.strip(), ""


def thickness_scale_to_ang(unit: str, default: float) -> float:
    """Factor from a header's thickness unit to Å (kÅ → 1000, nm → 10); ``default`` when none given.

    Tolerates mojibake (``kÃ…``) and plain ASCII spellings (``kA``, ``A``), as vendor headers vary."""
    u = unit.strip().lower().replace(" ", "")
    if not u:
        return default
    if u.startswith("k"):
        return 1000.0
    if u in ("nm",):
        return 10.0
    if u in ("µm", "um", "μm"):
        return 1.0e4
    return 1.0


def round_setting(value: float) -> float:
    """A film setting as the user typed it: instruments store 2.70 as 2.70000004768372 (float32)."""
    return float(f"{value:.6g}")


def find_column(names: Sequence[str], wanted: str | int, source: SourceText, header_line: int | None) -> int:
    """Index of a column given by (case-insensitive) name, name without its unit, or 0-based number."""
    if isinstance(wanted, int):
        if wanted >= 0 and (not names or wanted < len(names)):
            return wanted
        raise source.error(f"there is no column number {wanted + 1} (the header has {len(names)})", header_line)
    key = wanted.strip().lower()
    for i, name in enumerate(names):
        if name.strip().lower() == key:
            return i
    for i, name in enumerate(names):
        if split_unit(name)[0].lower() == key:
            return i
    listed = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise source.error(f"no column named {wanted!r}; the columns are {listed}", header_line)


# --- rows ----------------------------------------------------------------------------------------

def delimiter_name(delimiter: str | None) -> str:
    return {None: "blanks", "\t": "tabs", ",": "commas", ";": "semicolons", "|": "bars"}.get(
        delimiter, repr(delimiter))


@dataclass
class Table:
    """Data rows of a log, kept as text until a column is asked for (then parsed in bulk)."""

    source: SourceText
    names: list[str]
    rows: list[str]
    linenos: np.ndarray
    delimiter: str | None
    decimal_comma: bool = False
    header_line: int | None = None
    warnings: list[str] = field(default_factory=list)
    _counts: np.ndarray | None = None

    @classmethod
    def from_lines(cls, source: SourceText, names: list[str], start: int, delimiter: str | None,
                   decimal_comma: bool = False, header_line: int | None = None, stop: int | None = None) -> Table:
        """Rows from line index ``start`` (0-based) to ``stop``; blank and ``#`` lines are skipped.

        The skipping is found by one regex pass over the joined text (day-long logs have none)."""
        rows = source.lines[start:stop]
        linenos = np.arange(start + 1, start + 1 + len(rows), dtype=np.int64)
        joined = "\n".join(rows)
        skipped = [m.start() for m in _SKIP_LINE.finditer(joined)] if rows and _may_skip(joined) else []
        if skipped:
            ends = np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) + 1)
            drop = np.zeros(len(rows), dtype=bool)
            drop[np.searchsorted(ends, skipped, side="right")] = True
            keep = np.flatnonzero(~drop)
            rows = [rows[i] for i in keep.tolist()]
            linenos = linenos[keep]
        return cls(source, names, rows, linenos, delimiter, decimal_comma and delimiter != ",", header_line)

    def split(self, row: str) -> list[str]:
        return row.split() if self.delimiter is None else row.split(self.delimiter)

    def field_counts(self) -> np.ndarray:
        if self._counts is None or self._counts.shape[0] != len(self.rows):
            if self.delimiter is None:
                counts = np.fromiter(map(len, map(str.split, self.rows)), dtype=np.int64, count=len(self.rows))
            else:
                counts = np.fromiter(map(str.count, self.rows, repeat(self.delimiter)), dtype=np.int64,
                                     count=len(self.rows)) + 1
            self._counts = counts
        return self._counts

    def _count(self, row: str) -> int:
        return len(row.split()) if self.delimiter is None else row.count(self.delimiter) + 1

    def drop_cut_last_row(self) -> None:
        """A last row with fewer values than the others was cut short by a crash: drop it, say so."""
        if len(self.rows) < 1:
            return
        if self.names:
            expected = len(self.names)
        else:
            sample = [self._count(r) for r in self.rows[:200]]
            expected = max(set(sample), key=sample.count)
        cut = self._count(self.rows[-1]) < expected
        if not cut and not self.source.ends_with_newline and expected > 1:
            cut = not self.split(self.rows[-1])[expected - 1].strip()  # ends just after a separator
        if cut:
            self.warnings.append(f"line {int(self.linenos[-1])}: last row cut short, dropped")
            self.keep_rows(np.arange(len(self.rows) - 1))

    def require_fields(self, needed: int) -> None:
        """Every row must reach the last column we read; name the first that does not."""
        if not self.rows:
            return
        counts = self.field_counts()
        short = np.flatnonzero(counts < needed)
        if short.size:
            i = int(short[0])
            raise self.source.error(f"expected at least {needed} values separated by "
                                    f"{delimiter_name(self.delimiter)}, found {int(counts[i])}",
                                    int(self.linenos[i]))

    def keep_rows(self, index: np.ndarray) -> None:
        self.rows = [self.rows[int(i)] for i in index]
        self.linenos = self.linenos[index]
        self._counts = None

    def label(self, column: int) -> str:
        if 0 <= column < len(self.names) and self.names[column].strip():
            return self.names[column].strip()
        return f"column {column + 1}"

    def numbers(self, columns: Sequence[int]) -> np.ndarray:
        """(rows, len(columns)) floats; blanks and dashes are NaN, anything else unreadable is an error."""
        columns = list(columns)
        n = len(self.rows)
        if n == 0 or not columns:
            return np.empty((n, len(columns)))
        lines = self.rows
        if self.decimal_comma:
            lines = "\n".join(lines).replace(",", ".").split("\n")
        try:
            values = np.loadtxt(lines, delimiter=self.delimiter, usecols=columns, comments=None,
                                quotechar='"', ndmin=2, dtype=float)
        except (ValueError, IndexError, TypeError):
            values = None
        if values is not None and values.shape == (n, len(columns)):
            return values
        self.require_fields(max(columns) + 1)
        return self._numbers_one_by_one(columns)

    def _numbers_one_by_one(self, columns: list[int]) -> np.ndarray:
        out = np.empty((len(self.rows), len(columns)))
        labels = [self.label(c) for c in columns]
        for i, row in enumerate(self.rows):
            if self.delimiter == "," and '"' in row:
                self._refuse_quoted_decimal_comma(row, int(self.linenos[i]))
            fields = self.split(row)
            for j, c in enumerate(columns):
                out[i, j] = self.to_float(fields[c] if c < len(fields) else "", labels[j], int(self.linenos[i]))
        return out

    def _refuse_quoted_decimal_comma(self, row: str, lineno: int) -> None:
        """``"9,5"`` in a comma file would split into two wrong numbers: say so instead."""
        import csv

        for value in next(csv.reader([row]), []):
            if _QUOTED_DECIMAL_COMMA.match(value.strip()):
                raise self.source.error(f"a number with a decimal comma ({value.strip()!r}) in a comma-separated "
                                        "file; it cannot be read as one number", lineno)

    def to_float(self, text: str, label: str, lineno: int) -> float:
        text = text.strip().strip('"').strip()
        if self.decimal_comma:
            text = text.replace(",", ".")
        if _NUMBER_RE.match(text):
            return float(text)
        low = text.lower()
        if not text or low in ("nan", "n/a", "na", "none", "null") or set(text) == {"-"}:
            return math.nan
        if low in ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
            return float(low)
        raise self.source.error(f"expected a number in column {label!r}, found {text[:30]!r}", lineno)

    def strings(self, column: int) -> list[str]:
        """One column's fields as stripped text (for times, dates and names)."""
        if not self.rows:
            return []
        try:
            values = np.loadtxt(self.rows, delimiter=self.delimiter, usecols=[column], comments=None,
                                quotechar='"', ndmin=1, dtype=str).tolist()
        except (ValueError, IndexError, TypeError):
            values = None
        if values is not None and len(values) == len(self.rows):
            joined = "\n".join(values)
            if " " in joined or "\t" in joined:
                values = [v.strip() for v in values]
            return values
        self.require_fields(column + 1)
        split = self.split
        return [split(r)[column].strip().strip('"').strip() for r in self.rows]

    def first_value(self, column: int) -> str:
        """The first row's field (to decide how to read a column before reading all of it)."""
        if not self.rows:
            return ""
        if self._count(self.rows[0]) <= column:
            self.require_fields(column + 1)
        return self.split(self.rows[0])[column].strip().strip('"').strip()


# --- times ---------------------------------------------------------------------------------------

def looks_like_clock(text: str) -> bool:
    return bool(_CLOCK_RE.match(text.strip()))


def looks_like_date(text: str) -> bool:
    return bool(_DATE_RE.match(text.strip()))


def looks_like_datetime(text: str) -> bool:
    text = text.strip()
    return bool(_DATETIME_RE.match(text) or _CLOCK_DATE_RE.match(text))


def looks_like_number(text: str, decimal_comma: bool = False) -> bool:
    text = text.strip().strip('"')
    return bool(_NUMBER_RE.match(text.replace(",", ".") if decimal_comma else text))


def parse_clock(values: list[str], table: Table, label: str) -> np.ndarray:
    """``[d.]HH:MM:SS[.f]`` (also with AM/PM, as .NET and Windows tools write) → seconds."""
    n = len(values)
    if n == 0:
        return np.empty(0)
    joined = "\n".join(values)
    if table.decimal_comma:
        joined = joined.replace(",", ".")
    if re.fullmatch(r"[0-9:.\n]*", joined) and not re.search(r"\.\d*:", joined):
        try:
            parts = np.loadtxt(joined.split("\n"), delimiter=":", comments=None, ndmin=2, dtype=float)
        except ValueError:
            parts = None
        if parts is not None and parts.shape == (n, 3):
            bad = np.flatnonzero((parts[:, 1] >= 60) | (parts[:, 2] >= 61))
            if bad.size:
                i = int(bad[0])
                raise table.source.error(f"expected a time HH:MM:SS in column {label!r}, found {values[i]!r}",
                                         int(table.linenos[i]))
            return parts[:, 0] * 3600.0 + parts[:, 1] * 60.0 + parts[:, 2]
    out = np.empty(n)
    for i, text in enumerate(values):
        out[i] = _clock_seconds(text, table, label, int(table.linenos[i]))
    return out


def _clock_seconds(text: str, table: Table, label: str, lineno: int) -> float:
    m = _CLOCK_RE.match(text.strip())
    if m:
        days, hours, minutes, seconds, ampm = m.groups()
        h, mi, s = int(hours), int(minutes), float(seconds.replace(",", "."))
        if ampm:
            if not 1 <= h <= 12:
                m = None
            else:
                h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        if m and mi < 60 and s < 61:
            return (int(days) if days else 0) * SECONDS_PER_DAY + h * 3600.0 + mi * 60.0 + s
    raise table.source.error(f"expected a time HH:MM:SS in column {label!r}, found {text[:30]!r}", lineno)


def parse_dates(values: list[str], table: Table, label: str, order: str = "dmy") -> np.ndarray:
    """Dates → days since 1970-01-01. ``YYYY-MM-DD`` is recognised by its four-digit year; otherwise
    ``order`` ('dmy' or 'mdy') decides, unless the values prove the other order (a first field > 12)."""
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    joined = "\n".join(values)
    parts = None
    if re.fullmatch(r"[0-9/.\n-]*", joined):
        try:
            parts = np.loadtxt(joined.translate(str.maketrans("/.-", ",,,")).split("\n"), delimiter=",",
                               comments=None, ndmin=2, dtype=np.int64)
        except ValueError:
            parts = None
    if parts is None or parts.shape != (n, 3):
        parts = np.empty((n, 3), dtype=np.int64)
        for i, text in enumerate(values):
            m = _DATE_RE.match(text.strip())
            if not m:
                raise table.source.error(f"expected a date in column {label!r}, found {text[:30]!r}",
                                         int(table.linenos[i]))
            parts[i] = [int(g) for g in m.groups()]
    if int(parts[:, 0].max()) > 31 or re.match(r"\d{4}", values[0].strip()):
        year, month, day = parts[:, 0], parts[:, 1], parts[:, 2]
    else:
        if order == "mdy" and int(parts[:, 0].max()) > 12:
            order = "dmy"
        elif order == "dmy" and int(parts[:, 1].max()) > 12 and int(parts[:, 0].max()) <= 12:
            order = "mdy"
        first, second = (parts[:, 1], parts[:, 0]) if order == "mdy" else (parts[:, 0], parts[:, 1])
        day, month, year = first, second, parts[:, 2]
    year = np.where(year < 100, year + 2000, year)
    bad = np.flatnonzero((month < 1) | (month > 12) | (day < 1) | (day > 31) | (year < 1900) | (year > 2200))
    if not bad.size:
        months = (year - 1970) * 12 + (month - 1)
        first_of_month = months.astype("datetime64[M]")
        days = first_of_month.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
        bad = np.flatnonzero(days.astype("datetime64[M]") != first_of_month)  # e.g. 31/02
        if not bad.size:
            return days.astype(np.int64)
    i = int(bad[0])
    raise table.source.error(f"expected a date in column {label!r}, found {values[i]!r}", int(table.linenos[i]))


def parse_datetimes(values: list[str], table: Table, label: str, order: str = "dmy") -> tuple[np.ndarray, bool]:
    """``YYYY-MM-DD HH:MM:SS[.f]`` (or with ``T``) → seconds since 1970 in the log's own clock.

    Returns (seconds, True if the values carried a UTC offset and were converted to UTC)."""
    dates: list[str] = []
    clocks: list[str] = []
    offsets = np.zeros(len(values))
    utc = False
    for i, text in enumerate(values):
        m = _DATETIME_RE.match(text.strip())
        if not m:
            swapped = _CLOCK_DATE_RE.match(text.strip())
            if swapped:
                clocks.append(swapped.group(1))
                dates.append(swapped.group(2))
                continue
            raise table.source.error(f"expected a date and time in column {label!r}, found {text[:30]!r}",
                                     int(table.linenos[i]))
        dates.append(m.group(1))
        clocks.append(m.group(2))
        if m.group(3):
            utc = True
            zone = m.group(3)
            if zone != "Z":
                sign = -1.0 if zone[0] == "-" else 1.0
                digits = zone[1:].replace(":", "")
                offsets[i] = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    days = parse_dates(dates, table, label, order)
    return days * SECONDS_PER_DAY + parse_clock(clocks, table, label) - offsets, utc


def iso_from_epoch(seconds: float, utc: bool = False) -> str:
    """ISO text of a time in the log's clock (no zone unless the log said UTC/offset)."""
    if not math.isfinite(seconds):
        return ""
    try:
        moment = datetime(1970, 1, 1) + timedelta(seconds=seconds)
    except OverflowError:
        return ""
    if utc:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


# --- from parsed arrays to RunData ----------------------------------------------------------------

@dataclass
class RowOrder:
    """Which rows survive (each later than every row before it) and their time from the first."""

    keep: np.ndarray
    time_s: np.ndarray
    origin_s: float
    warnings: list[str]

    @classmethod
    def from_times(cls, t: np.ndarray, table: Table, label: str, wall_clock: bool = False,
                   column: int | None = None) -> RowOrder:
        """``wall_clock``: times of day without a date, so a big step back is midnight (+24 h).
        ``column`` lets an error quote the offending field."""
        t = np.asarray(t, dtype=float)
        warnings: list[str] = []
        if t.size == 0:
            raise table.source.error("no data rows", table.header_line or 1)
        with np.errstate(over="ignore", invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(t) | ~np.isfinite(t - t[0]) | (np.abs(t) > MAX_TIME_S))
        if bad.size:
            i = int(bad[0])
            found = ""
            if column is not None:
                fields = table.split(table.rows[i])
                found = f", found {fields[column].strip()[:30]!r}" if column < len(fields) else ""
            raise table.source.error(f"expected a time in column {label!r}{found}", int(table.linenos[i]))
        if wall_clock:
            back = np.flatnonzero(np.diff(t) < -ROLLOVER_THRESHOLD_S) + 1
            if back.size:
                step = np.zeros_like(t)
                step[back] = SECONDS_PER_DAY
                t = t + np.cumsum(step)
                warnings.append(f"the clock passed midnight {back.size} time(s) (first at line "
                                f"{int(table.linenos[back[0]])}): 24 h added from there")
        running = np.maximum.accumulate(t)
        before = np.concatenate(([-np.inf], running[:-1]))
        keep = t > before
        dropped = np.flatnonzero(~keep)
        if dropped.size:
            repeated = dropped[t[dropped] == before[dropped]]
            identical = sum(1 for i in repeated.tolist() if table.rows[i] == table.rows[i - 1])
            others = repeated.size - identical
            back = dropped.size - repeated.size
            if identical:
                warnings.append(f"{identical} duplicate rows dropped")
            if others:
                warnings.append(f"{others} rows repeating an earlier time with other values dropped "
                                f"(the first reading at each time is kept)")
            if back:
                first = int(table.linenos[dropped[t[dropped] < before[dropped]][0]])
                if back > max(MAX_BACKWARD_ROWS, MAX_BACKWARD_FRACTION * t.size):
                    raise table.source.error(
                        f"time goes backwards in {back} of {t.size} rows in column {label!r} (several runs in one "
                        "file, or a time column that is not one?); not dropping them: split the file or give "
                        "the time column (--time-column)", first)
                warnings.append(f"{back} rows going back in time dropped (first at line {first})")
        kept = t[keep]
        return cls(keep=keep, time_s=kept - kept[0], origin_s=float(kept[0]), warnings=warnings)


def build_run(table: Table, order: RowOrder, frequency_hz: np.ndarray, metadata: RunMetadata,
              frequency_labels: Sequence[str], instrument_thickness_ang: np.ndarray | None = None,
              events: Sequence[RunEvent] = (), sensor_numbers: Sequence[int] | None = None) -> RunData:
    """Apply the row order, turn invalid frequencies (blank, zero, negative) into gaps, drop sensors
    that never gave a reading, and fill the per-sensor metadata."""
    freq = np.asarray(frequency_hz, dtype=float).reshape(len(order.keep), -1)[order.keep]
    if freq.shape[1] == 0:
        raise table.source.error("no frequency column", table.header_line or int(table.linenos[0]))
    thick = None
    if instrument_thickness_ang is not None:
        thick = np.asarray(instrument_thickness_ang, dtype=float).reshape(len(order.keep), -1)[order.keep]
        thick[~np.isfinite(thick)] = np.nan
    warnings = [*table.warnings, *order.warnings]
    invalid = ~valid_frequencies(freq)
    numbers = list(sensor_numbers) if sensor_numbers is not None else list(range(1, freq.shape[1] + 1))
    labels = list(frequency_labels)
    if invalid.any():
        freq = np.where(invalid, np.nan, freq)
        used = ~invalid.all(axis=0)
        for s in np.flatnonzero(~used).tolist():
            warnings.append(f"column {labels[s]!r} has no valid frequency: sensor left out")
        if not used.any():
            raise table.source.error(f"no valid frequency (a positive number in Hz) in column {labels[0]!r}",
                                     table.header_line or int(table.linenos[0]))
        freq = freq[:, used]
        if thick is not None:
            thick = thick[:, used]
        numbers = [n for n, u in zip(numbers, used.tolist(), strict=True) if u]
        gaps = int(invalid[:, used].sum())
        if gaps:
            warnings.append(f"{gaps} readings without a valid frequency (blank, not a number, or outside "
                            f"{MIN_CRYSTAL_FREQUENCY_HZ:g}–{MAX_CRYSTAL_FREQUENCY_HZ:g} Hz) kept as gaps")
    starts = []
    for s in range(freq.shape[1]):
        valid = freq[:, s][np.isfinite(freq[:, s])]
        starts.append(float(valid[0]))
    metadata.start_frequency_hz = tuple(starts)
    metadata.sensors = tuple(numbers)
    shifted = [RunEvent(e.time_s - order.origin_s, e.kind, e.text) for e in events]
    return RunData(metadata=metadata, time_s=order.time_s, frequency_hz=freq, events=shifted,
                   source=str(table.source.path), instrument_thickness_ang=thick, warnings=warnings)


def apply_film_settings(meta: RunMetadata, density: float | None, z_ratio: float | None,
                        tooling_pct: float | None) -> None:
    """Copy film settings found in a log into the metadata (only plausible, positive values)."""
    if density is not None and math.isfinite(density) and density > 0:
        meta.density_g_cm3 = round_setting(density)
    if z_ratio is not None and math.isfinite(z_ratio) and z_ratio > 0:
        meta.z_ratio = round_setting(z_ratio)
    if tooling_pct is not None and math.isfinite(tooling_pct) and tooling_pct > 0:
        meta.tooling_pct = round_setting(tooling_pct)


_SETTING_KEYS = (
    (re.compile(r"^(film\s*)?density", re.I), "density"),
    (re.compile(r"^z[-\s_]*(ratio|factor|value)?$", re.I), "z"),
    (re.compile(r"^tooling(\s*factor)?", re.I), "tooling"),
)


#: keys our run-file header already uses (from the format's one declaration): a log's own line of
#: that name must not shadow ours
_RESERVED_KEYS = frozenset(key.lower() for key in RESERVED_KEYS)


def extra_key(key: str) -> str:
    """A log's ``Key`` as a run-file header key (prefixed with 'Log' when ours already means something)."""
    key = " ".join(key.replace(":", " ").split())
    return f"Log {key}" if key.lower() in _RESERVED_KEYS or key.lower().startswith("qcm-monitor") else key


def preamble_settings(pairs: dict[str, str], meta: RunMetadata) -> None:
    """``Key: value`` lines before a table: film settings go to their fields, the rest to ``extra``."""
    found: dict[str, float] = {}
    for key, value in pairs.items():
        name, _unit = split_unit(key)
        for pattern, kind in _SETTING_KEYS:
            if pattern.match(name):
                number = re.match(r"^\s*([-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?)", value)
                if number:
                    found[kind] = float(number.group(1).replace(",", "."))
                break
        else:
            if key.strip():
                meta.extra[extra_key(key)] = " ".join(value.split())
    apply_film_settings(meta, found.get("density"), found.get("z"), found.get("tooling"))


# --- a time column of any kind -------------------------------------------------------------------

TIME_FORMATS = ("s", "ms", "min", "h", "clock", "datetime", "unix", "unix_ms")
TIME_SCALES = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0, "hr": 3600.0}
_NAME_UNIT_SUFFIX = re.compile(r"[_ ](ms|s|sec|min|h|hz|khz|mhz)$", re.I)


def name_unit(name: str) -> str:
    """A unit written into the name itself (``time_ms``, ``frequency_hz``), lower case, or ``''``."""
    m = _NAME_UNIT_SUFFIX.search(split_unit(name)[0])
    return m.group(1).lower() if m else ""


def has_decimal_comma(lines: Sequence[str], delimiter: str | None) -> bool:
    """Numbers such as ``5975830,23`` outnumber ``5975830.23`` (impossible with a comma separator)."""
    if delimiter == ",":
        return False
    comma = dot = 0
    for line in lines:
        for f in line.split() if delimiter is None else line.split(delimiter):
            f = f.strip().strip('"')
            if re.fullmatch(r"[-+]?\d+,\d+", f):
                comma += 1
            elif re.fullmatch(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?", f):
                dot += 1
    return comma > 0 and comma >= dot


@dataclass(frozen=True)
class Times:
    seconds: np.ndarray
    #: times of day without a date: a big step back is midnight
    wall_clock: bool = False
    #: seconds since 1970 in the log's clock, so the start time is known
    absolute: bool = False
    #: the log gave UTC (Unix time, or a zone offset)
    utc: bool = False


def time_values(table: Table, column: int, date_column: int | None = None, time_format: str | None = None,
                date_order: str = "dmy") -> Times:
    """Seconds from a time column, whatever its kind; ``time_format=None`` decides from the first value:
    a number (seconds, or the header's ms/min/h; Unix time when that large), ``YYYY-MM-DD HH:MM:SS``
    or ``HH:MM:SS`` (combined with ``date_column`` when given)."""
    label = table.label(column)
    kind = time_format
    if kind is None:
        first = table.first_value(column)
        if looks_like_number(first, table.decimal_comma):
            unit = split_unit(label)[1].lower() or name_unit(label)
            number = float(first.replace(",", ".") if table.decimal_comma else first)
            kind = unit if unit in TIME_SCALES else ("unix_ms" if number > 1e11 else "unix" if number > 1e8 else "s")
        elif looks_like_datetime(first):
            kind = "datetime"
        elif looks_like_clock(first):
            kind = "clock"
        else:
            raise table.source.error(f"expected a time in column {label!r}, found {first[:30]!r}",
                                     int(table.linenos[0]))
    if kind in ("s", "ms", "min", "h", "sec", "seconds", "hr", "unix", "unix_ms"):
        numbers = table.numbers([column])[:, 0]
        if kind == "unix":
            return Times(numbers, absolute=True, utc=True)
        if kind == "unix_ms":
            return Times(numbers * 1e-3, absolute=True, utc=True)
        return Times(numbers * TIME_SCALES.get(kind, 1.0))
    values = table.strings(column)
    if "%" in kind:
        return strptime_times(values, table, label, kind)
    if kind == "clock":
        seconds = parse_clock(values, table, label)
        if date_column is None:
            return Times(seconds, wall_clock=True)
        days = parse_dates(table.strings(date_column), table, table.label(date_column), date_order)
        return Times(days * SECONDS_PER_DAY + seconds, wall_clock=True, absolute=True)
    seconds, utc = parse_datetimes(values, table, label, date_order)
    return Times(seconds, absolute=True, utc=utc)


def strptime_times(values: list[str], table: Table, label: str, pattern: str) -> Times:
    """A user-given ``strptime`` pattern: one call per row (slower), but exactly the user's wording."""
    out = np.empty(len(values))
    epoch = datetime(1970, 1, 1)
    has_date = any(code in pattern for code in ("%d", "%j", "%y", "%Y", "%m", "%b", "%B"))
    for i, text in enumerate(values):
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            raise table.source.error(f"expected a time like {pattern!r} in column {label!r}, found {text[:30]!r}",
                                     int(table.linenos[i])) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        out[i] = (moment - epoch).total_seconds()
    if not has_date:
        out -= (datetime(1900, 1, 1) - epoch).total_seconds()
        return Times(out, wall_clock=True)
    return Times(out, absolute=True, utc="%z" in pattern)
