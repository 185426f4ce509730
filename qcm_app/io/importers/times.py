"""A time column of any kind into seconds: elapsed numbers (s, ms, min, h), Unix time, times of day
(with AM/PM or a day count), dates in either order, date-times with a zone, or a user's ``strptime``
pattern. Parsed in bulk like the numbers (see :mod:`.table`); the per-row path names the first bad
field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from qcm_app.io.importers.columns import name_unit, split_unit
from qcm_app.io.importers.table import Table, looks_like_number

SECONDS_PER_DAY = 86400.0
#: no log's clock reads beyond ~year 5000 in seconds since 1970 (nor elapsed time that long)
MAX_TIME_S = 1e11
_CLOCK_RE = re.compile(r"^(?:(\d+)\.)?(\d{1,3}):(\d{1,2}):(\d{1,2}(?:[.,]\d*)?)\s*([AaPp][Mm])?$")
_DATE_RE = re.compile(r"^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})$")
_DATETIME_RE = re.compile(r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})[T ]+(\S+(?:\s*[AaPp][Mm])?)\s*(Z|[+-]\d{2}:?\d{2})?$")
#: time of day, then the date (LabVIEW tools: ``11:23:14.559 05/24/2019``)
_CLOCK_DATE_RE = re.compile(
    r"^(\d{1,2}:\d{1,2}:\d{1,2}(?:[.,]\d*)?(?:\s*[AaPp][Mm])?)"
    r"\s+(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})$"
)

TIME_FORMATS = ("s", "ms", "min", "h", "clock", "datetime", "unix", "unix_ms")
TIME_SCALES = {"s": 1.0, "sec": 1.0, "seconds": 1.0, "ms": 1e-3, "min": 60.0, "h": 3600.0, "hr": 3600.0}


def looks_like_clock(text: str) -> bool:
    return bool(_CLOCK_RE.match(text.strip()))


def looks_like_date(text: str) -> bool:
    return bool(_DATE_RE.match(text.strip()))


def looks_like_datetime(text: str) -> bool:
    text = text.strip()
    return bool(_DATETIME_RE.match(text) or _CLOCK_DATE_RE.match(text))


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
                raise table.source.error(
                    f"expected a time HH:MM:SS in column {label!r}, found {values[i]!r}", int(table.linenos[i])
                )
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
            parts = np.loadtxt(
                joined.translate(str.maketrans("/.-", ",,,")).split("\n"),
                delimiter=",",
                comments=None,
                ndmin=2,
                dtype=np.int64,
            )
        except ValueError:
            parts = None
    if parts is None or parts.shape != (n, 3):
        parts = np.empty((n, 3), dtype=np.int64)
        for i, text in enumerate(values):
            m = _DATE_RE.match(text.strip())
            if not m:
                raise table.source.error(
                    f"expected a date in column {label!r}, found {text[:30]!r}", int(table.linenos[i])
                )
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
            raise table.source.error(
                f"expected a date and time in column {label!r}, found {text[:30]!r}", int(table.linenos[i])
            )
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


@dataclass(frozen=True)
class Times:
    seconds: np.ndarray
    #: times of day without a date: a big step back is midnight
    wall_clock: bool = False
    #: seconds since 1970 in the log's clock, so the start time is known
    absolute: bool = False
    #: the log gave UTC (Unix time, or a zone offset)
    utc: bool = False


def time_values(
    table: Table, column: int, date_column: int | None = None, time_format: str | None = None, date_order: str = "dmy"
) -> Times:
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
            raise table.source.error(
                f"expected a time in column {label!r}, found {first[:30]!r}", int(table.linenos[0])
            )
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
            raise table.source.error(
                f"expected a time like {pattern!r} in column {label!r}, found {text[:30]!r}", int(table.linenos[i])
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        out[i] = (moment - epoch).total_seconds()
    if not has_date:
        out -= (datetime(1900, 1, 1) - epoch).total_seconds()
        return Times(out, wall_clock=True)
    return Times(out, absolute=True, utc="%z" in pattern)
