"""The LabVIEW ALD tool's own files (Boise State's hot-wall reactor and its kin).

A run leaves four tab-separated latin-1 files named ``<run>_<kind>.txt``, each a title line (the
file's name) and a header:

- ``_DataLog.txt``: 2 Hz rows of wall clock, elapsed seconds, pressures, the QCM (frequency and the
  tool's own Sauerbrey mass), MFCs, thermocouples and the digital outputs ``ModN/doK`` that drive
  the valves;
- ``_ExecutionTable.txt``: the executed recipe, one row per step (``0: Purge`` waits, ``1:
  Pulse-Purge`` doses);
- ``_Doses-DeltaM.txt``: the tool's per-step table (pulse start, initial/final mass, ΔM);
- ``_Summary.txt``: operator notes.

The DataLog is read as a table (elapsed seconds, the valve columns as pulses, the mass column as a
reference); its valves are named after the dose table or the execution table found beside it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import name_channels, recipe_pulse_sequence
from qcm_app.domain.recipes import Recipe, parse_recipe
from qcm_app.io.importers import generic
from qcm_app.io.importers.source import SourceText, read_source
from qcm_app.io.runfile import RunData

FORMAT_NAME = "LabVIEW ALD tool DataLog"
#: the elapsed seconds of the log's first row (our time axis starts there; the tool's tables do not)
TIME_ORIGIN_KEY = "Time origin (tool elapsed s)"
_DATALOG_HEADER = re.compile(r"^Timestamp\tElapsed Time \[s\]\t.*\tMod\d+/do\d+", re.I)
_EXECUTION_HEADER = "Recipe Step\tPrecursor\t"
_DOSES_HEADER = "Recipe Step #\tPrecursor #\tPrecursor Name\t"
_NO_PRECURSOR = ("", "none", "n/a", "nan", "-")


def sniff(source: SourceText) -> bool:
    head = source.lines[:3]
    return any(_DATALOG_HEADER.match(line) for line in head)


def read(source: SourceText) -> RunData:
    run = generic.read(source, None)
    run.metadata.extra["Source format"] = FORMAT_NAME
    path = source.path
    doses_path, recipe_path = sibling(path, "Doses-DeltaM"), sibling(path, "ExecutionTable")
    reference: list[tuple[float, str]] = []
    origin = _origin_s(source)
    run.metadata.extra[TIME_ORIGIN_KEY] = f"{origin:g}"
    if doses_path is not None:
        try:
            doses = load_doses(doses_path)
        except UserInputError as exc:
            run.warnings.append(f"the dose table beside it is unreadable ({exc.detail})")
        else:
            run.metadata.extra["Tool dose table"] = doses_path.name
            reference = [
                (s.pulse_start_s - origin, s.precursor)
                for s in doses.steps
                if math.isfinite(s.pulse_start_s) and s.precursor
            ]
    names: list[str] = []
    if recipe_path is not None:
        try:
            names = recipe_pulse_sequence(load_execution_table(recipe_path))
        except UserInputError as exc:
            run.warnings.append(f"the execution table beside it is unreadable ({exc.detail})")
        else:
            run.metadata.extra["Tool recipe"] = recipe_path.name
    if run.valve_pulses and (reference or names):
        pulses, _notes = name_channels(run.valve_pulses, reference_starts=reference, recipe_pulse_names=names)
        run.valve_pulses = tuple(pulses)
    return run


def _origin_s(source: SourceText) -> float:
    """Elapsed seconds of the first data row (the run's time axis starts there)."""
    for line in source.lines[1:6]:
        fields = line.split("\t")
        if len(fields) > 1:
            try:
                return float(fields[1])
            except ValueError:
                continue
    return 0.0


def sibling(path: str | Path, kind: str) -> Path | None:
    """``<run>_<kind>.txt`` beside ``<run>_DataLog.txt`` (or any of the run's files), if it exists."""
    path = Path(path)
    m = re.match(r"^(.*)_(DataLog|ExecutionTable|Doses-DeltaM|Summary)\.txt$", path.name, re.I)
    if not m:
        return None
    candidate = path.with_name(f"{m.group(1)}_{kind}.txt")
    return candidate if candidate.is_file() and candidate != path else None


# --- the tool's tables -----------------------------------------------------------------------------


def _table_lines(path: Path, header_start: str, what: str) -> tuple[list[str], list[str], int]:
    """(header fields, data lines, line number of the header) of a title-line + header table."""
    source = read_source(path)
    for i, line in enumerate(source.lines[:3]):
        if line.startswith(header_start):
            names = [f.strip() for f in line.split("\t")]
            return names, source.lines[i + 1 :], i + 1
    raise UserInputError(f"not a {what} (expected a header starting {header_start.strip()!r})", path, 1)


def is_execution_table(path: str | Path) -> bool:
    """The file starts like the tool's executed recipe (read from its first bytes only; anything but
    a regular file is not one, and is never opened: a FIFO would block)."""
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as fh:
            head = fh.read(600).decode("latin-1")
    except OSError:
        return False
    return any(line.startswith(_EXECUTION_HEADER) for line in head.replace("\r", "").split("\n")[:3])


@dataclass(frozen=True)
class _Unit:
    """One executed row: a dose then its purge, or a purge alone (a wait)."""

    precursor: str
    dose_s: float
    purge_s: float

    @property
    def is_wait(self) -> bool:
        return not self.precursor


def load_execution_table(path: str | Path) -> Recipe:
    """The tool's executed recipe as ours: consecutive identical rows become one block with a repeat,
    a repeated sequence of rows (``[TMA, H2O] × 50``) one block of that cycle, purge-only rows waits."""
    path = Path(path)
    names, lines, header_line = _table_lines(path, _EXECUTION_HEADER, "tool execution table")
    col = {n.lower(): i for i, n in enumerate(names)}
    need = {
        "precursor": "Precursor",
        "dose time [s]": "Dose Time [s]",
        "purge time [s]": "Purge Time [s]",
        "ald process type": "ALD Process Type",
    }
    missing = [label for key, label in need.items() if key not in col]
    if missing:
        raise UserInputError(f"the execution table has no column {', '.join(map(repr, missing))}", path, header_line)
    units: list[tuple[int, _Unit]] = []
    for lineno, fields in _table_rows(lines, header_line, len(names), path):
        kind = fields[col["ald process type"]]
        precursor = fields[col["precursor"]]
        if not kind.startswith(("0", "1")):
            # other types hold the chamber closed or fill to a pressure: their timing is not in this table
            raise UserInputError(
                f"process type {kind[:40]!r} is not supported (only '0: Purge' and '1: Pulse-Purge' steps)",
                path,
                lineno,
            )
        purge = _seconds(fields[col["purge time [s]"]], "purge time", path, lineno)
        if kind.startswith("0") or precursor.lower() in _NO_PRECURSOR:
            units.append((lineno, _Unit("", 0.0, purge)))
            continue
        dose = _seconds(fields[col["dose time [s]"]], "dose time", path, lineno)
        units.append((lineno, _Unit(precursor, dose, purge)))
    if not units:
        raise UserInputError("the execution table has no steps", path, header_line)
    if all(u.is_wait for _, u in units):
        raise UserInputError("the execution table doses no precursor (every step is a purge)", path, header_line)
    stem = re.sub(r"_ExecutionTable$", "", path.stem, flags=re.I)
    return parse_recipe(recipe_toml(stem, [u for _, u in units]), source=str(path))


def _seconds(text: str, what: str, path: Path, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UserInputError(f"expected a positive {what} in seconds, found {text[:20]!r}", path, lineno)
    return value


def _group(units: list[_Unit]) -> list[tuple[list[_Unit], int]]:
    """Runs of identical cycles: at each position the period that covers the most rows wins (the
    shortest on a tie), so [A, B] × 50 stays one block and A × 10 another."""
    out: list[tuple[list[_Unit], int]] = []
    i, n = 0, len(units)
    while i < n:
        if units[i].is_wait:
            k = 1
            while i + k < n and units[i + k] == units[i]:
                k += 1
            out.append(([units[i]], k))
            i += k
            continue
        end = i
        while end < n and not units[end].is_wait:
            end += 1
        best_p, best_k = 1, 1
        for p in range(1, min(end - i, 64) + 1):
            k = 1
            while i + (k + 1) * p <= end and units[i + k * p : i + (k + 1) * p] == units[i : i + p]:
                k += 1
            if k >= 2 and p * k > best_p * best_k:
                best_p, best_k = p, k
        out.append((units[i : i + best_p], best_k))
        i += best_p * best_k
    return out


def recipe_toml(name: str, units: list[_Unit]) -> str:
    """Our recipe TOML: one block per group, named by its precursors ("TMA/H2O"); waits "Purge"."""
    lines = [f"name = {_quote(name)}", "# converted from the tool's execution table", ""]
    seen: dict[str, int] = {}
    for cycle, repeat in _group(units):
        base = "Purge" if cycle[0].is_wait else "/".join(u.precursor for u in cycle)
        seen[base] = seen.get(base, 0) + 1
        block = base if seen[base] == 1 else f"{base} ({seen[base]})"
        lines += ["[[blocks]]", f"name = {_quote(block)}", f"repeat = {repeat}"]
        for u in cycle:
            if not u.is_wait:
                lines += [
                    "[[blocks.steps]]",
                    f"name = {_quote(u.precursor)}",
                    'kind = "pulse"',
                    f"duration_s = {u.dose_s!r}",
                ]
            lines += ["[[blocks.steps]]", 'name = "Purge"', 'kind = "purge"', f"duration_s = {u.purge_s!r}"]
        lines.append("")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class DoseStep:
    """One row of the tool's dose table; times in the tool's elapsed seconds, masses in ng/cm²."""

    step: int
    precursor: str  # "" for a purge-only step
    pulse_start_s: float  # NaN for a purge-only step
    initial_ng_cm2: float
    final_ng_cm2: float
    delta_ng_cm2: float


@dataclass(frozen=True)
class DoseTable:
    path: Path
    steps: tuple[DoseStep, ...]

    @property
    def pulses(self) -> tuple[DoseStep, ...]:
        return tuple(s for s in self.steps if s.precursor)

    def starts_on(self, origin_s: float) -> np.ndarray:
        return np.array([s.pulse_start_s - origin_s for s in self.pulses])


def is_dose_table(path: str | Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(800).decode("latin-1")
    except OSError:
        return False
    return any(line.startswith(_DOSES_HEADER) for line in head.replace("\r", "").split("\n")[:3])


def load_doses(path: str | Path) -> DoseTable:
    """The tool's per-step mass table (``*_Doses-DeltaM.txt``)."""
    path = Path(path)
    names, lines, header_line = _table_lines(path, _DOSES_HEADER, "tool dose table")
    lower = [n.lower() for n in names]

    def column(prefix: str) -> int:
        for i, n in enumerate(lower):
            if n.startswith(prefix):
                return i
        raise UserInputError(f"the dose table has no column {prefix!r}", path, header_line)

    c_step, c_name = column("recipe step"), column("precursor name")
    c_start = column("pulse/fill start elapsed")
    c_initial, c_final, c_delta = column("initial mass"), column("final mass"), column("delta-m")
    steps: list[DoseStep] = []
    for lineno, fields in _table_rows(lines, header_line, len(names), path):
        try:
            step = int(fields[c_step])
            values = [float(fields[c]) for c in (c_start, c_initial, c_final, c_delta)]
        except ValueError:
            raise UserInputError("expected numbers (or NaN) in the step, time and mass columns", path, lineno) from None
        precursor = fields[c_name]
        if precursor.lower() in _NO_PRECURSOR:
            precursor = ""
        steps.append(DoseStep(step, precursor, *values))
    if not steps:
        raise UserInputError("the dose table has no rows", path, header_line)
    return DoseTable(path, tuple(steps))


def convert_recipe(src: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """``qcm convert X_ExecutionTable.txt --out r.toml``: any recipe we accept, written as our TOML."""
    from qcm_app.io.fileio import atomic_write_text
    from qcm_app.io.recipe_files import load_recipe

    src, out = Path(src), Path(out)
    if out.suffix.lower() != ".toml":
        raise UserInputError("a recipe is written as TOML: give --out a name ending in .toml", out)
    if out.exists() and src.exists() and out.resolve() == src.resolve():
        raise UserInputError("the output would replace the input; choose another --out", out)
    if out.is_dir():
        raise UserInputError("is a folder; --out needs a file name", out)
    if out.exists() and not overwrite:
        raise UserInputError("already exists; choose another --out or pass --overwrite", out)
    recipe = load_recipe(src)
    try:
        return atomic_write_text(out, recipe.text)
    except OSError as exc:
        raise UserInputError(f"cannot write: {exc.strerror or exc}", out) from None


def _table_rows(lines: list[str], header_line: int, width: int, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a tool table's non-empty rows; a row cut short is a one-line error."""
    for k, line in enumerate(lines):
        lineno = header_line + 1 + k
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < width:
            raise UserInputError(
                f"expected {width} tab-separated values, found {len(fields)} (the table is cut short?)", path, lineno
            )
        yield lineno, fields
