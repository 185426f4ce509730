"""A log's data rows kept as text (:class:`Table`) and parsed into numbers only when a column is
asked for; trailing separators, a last row cut short by a crash and decimal commas handled once.

Speed: a 24-hour log at 10 Hz has ~860k rows, so numbers are parsed with numpy's C reader over all
rows at once; the slow per-row path only runs to explain an error (or to read fields the fast reader
refuses, such as blanks standing for "no value").
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from qcm_app.io.importers.source import SourceText

_SKIP_LINE = re.compile(r"^[ \t\f\v]*(?:#.*)?$", re.M)
_BLANKISH_LINE = re.compile(r"\n[ \t\f\v]*(?:\n|\Z)")
_QUOTED_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+(?:[eE][-+]?\d+)?$")
_NUMBER_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def _may_skip(joined: str) -> bool:
    """Cheap test for a comment or blank line, so clean day-long logs skip the full regex pass."""
    if not joined or "#" in joined:
        return True
    first = joined[: joined.find("\n")] if "\n" in joined else joined
    return not first.strip() or _BLANKISH_LINE.search(joined) is not None


def delimiter_name(delimiter: str | None) -> str:
    return {None: "blanks", "\t": "tabs", ",": "commas", ";": "semicolons", "|": "bars"}.get(delimiter, repr(delimiter))


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
    def from_lines(
        cls,
        source: SourceText,
        names: list[str],
        start: int,
        delimiter: str | None,
        decimal_comma: bool = False,
        header_line: int | None = None,
        stop: int | None = None,
    ) -> Table:
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
                counts = (
                    np.fromiter(map(str.count, self.rows, repeat(self.delimiter)), dtype=np.int64, count=len(self.rows))
                    + 1
                )
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
            raise self.source.error(
                f"expected at least {needed} values separated by "
                f"{delimiter_name(self.delimiter)}, found {int(counts[i])}",
                int(self.linenos[i]),
            )

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
            values = np.loadtxt(
                lines, delimiter=self.delimiter, usecols=columns, comments=None, quotechar='"', ndmin=2, dtype=float
            )
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
                raise self.source.error(
                    f"a number with a decimal comma ({value.strip()!r}) in a comma-separated "
                    "file; it cannot be read as one number",
                    lineno,
                )

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
            values = np.loadtxt(
                self.rows, delimiter=self.delimiter, usecols=[column], comments=None, quotechar='"', ndmin=1, dtype=str
            ).tolist()
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


def looks_like_number(text: str, decimal_comma: bool = False) -> bool:
    text = text.strip().strip('"')
    return bool(_NUMBER_RE.match(text.replace(",", ".") if decimal_comma else text))


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
