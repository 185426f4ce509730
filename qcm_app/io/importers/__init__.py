"""Recorded runs and vendor logs in, :class:`~qcm_app.io.runfile.RunData` out.

``load_run(path)`` recognises the format from the file's content (never from its name, since
labs rename files freely), in this order: our own run file, Angstrom Engineering tool log,
Colnatec Eon, INFICON STM-2 log, openQCM, SQM-160 text log, LabVIEW ALD tool DataLog, and finally
any CSV/TSV with a time and a frequency column. With a :class:`ColumnMapping` the file is read as a plain table with the
columns the user named. Every reader gives time in seconds from the first row (strictly
increasing: duplicated and out-of-order rows are dropped and counted in ``warnings``), frequency
per sensor, the instrument's own thickness when the log has one, and the film settings it carries.

Whatever is wrong with a file ends as one :class:`~qcm_app.domain.errors.UserInputError` naming the file
and line. Files are only ever opened for reading.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import shift_pulses
from qcm_app.domain.physics import is_crystal_frequency, valid_frequencies
from qcm_app.io.fileio import check_input
from qcm_app.io.importers import angstrom, colnatec, generic, labview, openqcm, sqm160, stm2
from qcm_app.io.importers.build import MAX_BACKWARD_FRACTION, MAX_BACKWARD_ROWS
from qcm_app.io.importers.generic import ColumnMapping
from qcm_app.io.importers.source import NotThisFormat, SourceText, read_source
from qcm_app.io.runfile import FORMAT_TAG, START_FREQUENCY_KEY, RunData, RunEvent, is_run_file, read_run

__all__ = ["FORMATS", "ColumnMapping", "detect_format", "load_run"]

OWN_FORMAT = "qcm-monitor run file"

#: (name, sniff, read) of each vendor format, tried in this order after our own run file
_VENDOR_FORMATS: tuple[tuple[str, Callable[[SourceText], bool], Callable[[SourceText], RunData]], ...] = (
    (angstrom.FORMAT_NAME, angstrom.sniff, angstrom.read),
    (colnatec.FORMAT_NAME, colnatec.sniff, colnatec.read),
    (stm2.FORMAT_NAME, stm2.sniff, stm2.read),
    (openqcm.FORMAT_NAME, openqcm.sniff, openqcm.read),
    (sqm160.FORMAT_NAME, sqm160.sniff, sqm160.read),
    (labview.FORMAT_NAME, labview.sniff, labview.read),
)
FORMATS: tuple[str, ...] = (OWN_FORMAT, *(name for name, _, _ in _VENDOR_FORMATS), generic.FORMAT_NAME)


def load_run(path: str | Path, mapping: ColumnMapping | None = None) -> RunData:
    """Read any supported run or log; ``mapping`` forces a plain table read with those columns."""
    # numbers near the float limit (1e308 in a damaged log) may overflow when scaled: they become
    # inf, and the readers turn non-finite times into errors and non-finite readings into gaps
    with np.errstate(over="ignore", invalid="ignore"):
        return _load(Path(path), mapping)


def _load(path: Path, mapping: ColumnMapping | None) -> RunData:
    check_input(path)  # a FIFO or a device would block the first read for ever
    if mapping is None and _starts_as_run_file(path):
        return _own_run(path)  # without decoding the whole file a second time
    source = read_source(path)
    if mapping is not None:
        return generic.read(source, mapping)
    if is_run_file(source.lines[0]):
        return _own_run(path)
    for _name, sniff, read in _VENDOR_FORMATS:
        if sniff(source):
            return read(source)
    try:
        return generic.read(source, None)
    except NotThisFormat as exc:
        raise _unrecognised(source, str(exc)) from None


def detect_format(path: str | Path) -> str:
    """The name of the format ``load_run`` would read ``path`` as (it raises if none fits)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _detect(Path(path))


def _detect(path: Path) -> str:
    check_input(path)
    source = read_source(path)
    if is_run_file(source.lines[0]):
        return OWN_FORMAT
    for name, sniff, _read in _VENDOR_FORMATS:
        if sniff(source):
            return name
    try:
        generic.read(source, None)
    except NotThisFormat as exc:
        raise _unrecognised(source, str(exc)) from None
    return generic.FORMAT_NAME


def _starts_as_run_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(FORMAT_TAG) + 2)
    except OSError:
        return False  # read_source says what is wrong
    return is_run_file(head.decode("latin-1"))


def _unrecognised(source: SourceText, reason: str) -> UserInputError:
    first = source.content_lines(1)
    line = first[0][0] if first else 1
    return source.error(
        f"unrecognised format ({reason}); tried: {', '.join(FORMATS)}; "
        f"for another table give the time and frequency columns",
        line,
    )


def _keep_rows(run: RunData, keep: np.ndarray) -> None:
    run.time_s = run.time_s[keep]
    run.frequency_hz = run.frequency_hz[keep]
    if run.mass_ng_cm2 is not None:
        run.mass_ng_cm2 = run.mass_ng_cm2[keep]
    if run.thickness_ang is not None:
        run.thickness_ang = run.thickness_ang[keep]
    if run.instrument_thickness_ang is not None:
        run.instrument_thickness_ang = run.instrument_thickness_ang[keep]


def _header_line(path: Path, key: str) -> int | None:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.startswith("#"):
                return None
            if line[1:].strip().startswith(f"{key}:"):
                return n
    return None


def _check_own_header(run: RunData, path: Path) -> None:
    """Header values the mass depends on must be physical: a clear line, not a division by zero."""
    meta = run.metadata
    for f in meta.start_frequency_hz:
        if not math.isnan(f) and not is_crystal_frequency(f):
            raise UserInputError(
                f"header '{START_FREQUENCY_KEY}' must be a crystal frequency in Hz, got {f:g}",
                path,
                _header_line(path, START_FREQUENCY_KEY),
            )
    try:
        meta.crystal.check()
    except ValueError as exc:
        raise UserInputError(f"header: {exc}", path) from None


def _own_run(path: Path) -> RunData:
    """Our run file, through the one reader of it, then held to every importer's promises: rows
    later than the one before (a resumed recording can repeat a time), time from the first row,
    invalid frequencies as gaps, and a start frequency per sensor."""
    run = read_run(path)
    run.source = str(path)
    run.metadata.extra.setdefault("Source format", OWN_FORMAT)
    t = run.time_s
    if t.size == 0:
        with open(path, "rb") as fh:
            last = sum(1 for _ in fh)
        raise UserInputError("no data rows after the column line", path, last)
    _check_own_header(run, path)
    finite = np.isfinite(t)
    if not finite.any():
        raise UserInputError("no row has a valid time", path)
    if not finite.all():
        run.warnings.append(f"{int((~finite).sum())} rows without a finite time (inf or nan) dropped")
        _keep_rows(run, finite)
        t = run.time_s
    before = np.concatenate(([-np.inf], np.fmax.accumulate(t)[:-1]))
    keep = t > before
    if not keep.all():
        back = int((t < before).sum())
        if back > max(MAX_BACKWARD_ROWS, MAX_BACKWARD_FRACTION * t.size):
            raise UserInputError(
                f"time goes backwards in {back} of {t.size} rows (a file spliced from several "
                "runs?); not dropping them: split the file into its runs",
                path,
            )
        run.warnings.append(f"{int((~keep).sum())} rows not later than the one before dropped")
        _keep_rows(run, keep)
    origin = float(run.time_s[0])
    if origin:
        run.time_s = run.time_s - origin
        run.events = [RunEvent(e.time_s - origin, e.kind, e.text) for e in run.events]
        run.valve_pulses = shift_pulses(run.valve_pulses, origin)
    freq = run.frequency_hz
    invalid = ~valid_frequencies(freq)
    if invalid.all():
        raise UserInputError("no valid frequency reading (a crystal frequency in Hz) in any row", path)
    if invalid.any():
        run.frequency_hz = np.where(invalid, np.nan, freq)
        run.warnings.append(f"{int(invalid.sum())} readings without a valid frequency kept as gaps")
    starts = run.metadata.start_frequency_hz
    if len(starts) != run.sensors or not all(np.isfinite(starts)):
        first = []
        for s in range(run.sensors):
            valid = run.frequency_hz[:, s][np.isfinite(run.frequency_hz[:, s])]
            first.append(float(valid[0]) if valid.size else float("nan"))
        run.metadata.start_frequency_hz = tuple(first)
    return run
