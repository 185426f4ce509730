"""``qcm convert``: any supported log → our run file, with mass and Z-match thickness computed by the
same pipeline as a live run (so a converted log and a recorded run are analysed alike).

The output appears complete or not at all: rows go to a hidden temporary file in the target folder,
which is flushed to disk and then renamed over the final name. An existing output is never
replaced unless asked (``overwrite``), and the input is only ever read.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.pipeline import FilmSettings, Pipeline
from qcm_app.io.fileio import check_output, write_output
from qcm_app.io.importers import ColumnMapping, load_run
from qcm_app.io.runfile import RunData, RunWriter

#: rows converted and written per block (bounds memory on day-long logs)
BLOCK_ROWS = 50_000


@dataclass(frozen=True)
class ConvertResult:
    path: Path
    rows: int
    sensors: int
    warnings: tuple[str, ...]


def convert_file(
    src: str | Path,
    out: str | Path,
    mapping: ColumnMapping | None = None,
    density: float | None = None,
    z_ratio: float | None = None,
    tooling: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``src`` as our run CSV at ``out``; film settings given here win over the log's."""
    return convert(src, out, mapping, density, z_ratio, tooling, overwrite).path


def convert(
    src: str | Path,
    out: str | Path,
    mapping: ColumnMapping | None = None,
    density: float | None = None,
    z_ratio: float | None = None,
    tooling: float | None = None,
    overwrite: bool = False,
    valves: Sequence[str] = (),
) -> ConvertResult:
    """:func:`convert_file` with a summary (rows, sensors, import warnings) for the command line;
    ``valves`` (``TMA=Mod8/do1``) name the valve columns, whose pulses are written as events."""
    src, out = Path(src), Path(out)
    for name, value in (("density", density), ("Z-ratio", z_ratio), ("tooling", tooling)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UserInputError(f"the {name} must be a positive number, not {value}")
    check_output(out, inputs=[src], overwrite=overwrite, what="--out")  # before reading a long log
    run = load_run(src, mapping)
    if valves:
        from qcm_app.domain.markers import name_channels, parse_valve_options

        run.valve_pulses = tuple(name_channels(run.valve_pulses, valve_map=parse_valve_options(valves))[0])
    meta = run.metadata
    if density is not None:
        meta.density_g_cm3 = density
    elif not math.isfinite(meta.density_g_cm3):
        meta.density_g_cm3 = 1.0
        run.warnings.append("the log gives no film density: thickness assumes 1.0 g/cm3 (use --density)")
    if z_ratio is not None:
        meta.z_ratio = z_ratio
    if tooling is not None:
        meta.tooling_pct = tooling
    meta.extra["Converted from"] = src.name
    if run.warnings:
        meta.extra["Import warnings"] = "; ".join(run.warnings)
    write_output(out, lambda tmp: _write_run(run, tmp), inputs=[src], overwrite=overwrite, what="--out")
    return ConvertResult(out, int(run.time_s.size), run.sensors, tuple(run.warnings))


def _write_run(run: RunData, tmp: Path) -> None:
    writer = RunWriter.create(tmp, run.metadata, in_progress_marker=False)  # exclusive create
    try:
        _write_rows(writer, run)
    finally:
        writer.close()  # flushes and fsyncs


def _write_rows(writer: RunWriter, run: RunData) -> None:
    """Convert through the live pipeline in blocks, with the run's events between the rows."""
    meta = run.metadata
    pipeline = Pipeline(
        sensors=run.sensors, crystal=meta.crystal, film=FilmSettings(meta.density_g_cm3, meta.z_ratio, meta.tooling_pct)
    )
    if len(meta.start_frequency_hz) == run.sensors and all(map(math.isfinite, meta.start_frequency_hz)):
        pipeline.converter.set_start(meta.start_frequency_hz)
    thick_kang = None if run.instrument_thickness_ang is None else run.instrument_thickness_ang / 1000.0
    from qcm_app.io.valve_lines import valve_events

    for event in run.events:  # notes without a time (``# Note: ...``) go first, so none is lost
        if not math.isfinite(event.time_s):
            writer.write_raw(f"# {event.kind.capitalize()}: {' '.join(event.text.split())}\n")
    events = sorted(
        (e for e in (*run.events, *valve_events(run.valve_pulses)) if math.isfinite(e.time_s)), key=lambda e: e.time_s
    )
    cuts = np.searchsorted(run.time_s, [e.time_s for e in events], side="left").tolist()
    n = int(run.time_s.size)
    bounds = sorted({0, n, *range(0, n, BLOCK_ROWS), *cuts})
    next_event = 0
    for first, end in pairwise(bounds):
        while next_event < len(events) and cuts[next_event] <= first:
            event = events[next_event]
            writer.mark(event.kind, event.time_s, event.text)
            next_event += 1
        thick = None if thick_kang is None else thick_kang[first:end]
        rate = None if run.instrument_rate_ang_s is None else run.instrument_rate_ang_s[first:end]
        writer.write(
            pipeline.process_arrays(
                run.time_s[first:end], run.frequency_hz[first:end], rate_a_per_s=rate, instrument_thickness_kang=thick
            )
        )
    for event in events[next_event:]:
        writer.mark(event.kind, event.time_s, event.text)


# --- command line --------------------------------------------------------------------------------


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``qcm convert IN --out OUT.csv``."""
    parser.add_argument("input", type=Path, help="a run file or instrument log (format recognised from its content)")
    parser.add_argument("--out", type=Path, required=True, help="the run file to write (CSV)")
    parser.add_argument("--density", type=float, help="film density g/cm3 (default: the log's, else 1.0)")
    parser.add_argument("--z-ratio", type=float, help="film Z-ratio (default: the log's, else 1.0)")
    parser.add_argument("--tooling", type=float, help="tooling factor %% (default: the log's, else 100)")
    parser.add_argument("--time-column", help="time column: header name or 1-based number (read as a plain table)")
    parser.add_argument(
        "--frequency-column",
        action="append",
        help="frequency column(s): name or 1-based number; repeat or comma-separate for sensors",
    )
    parser.add_argument("--delimiter", help="value separator: a character, 'tab' or 'whitespace'")
    parser.add_argument(
        "--decimal-comma",
        action="store_true",
        default=None,
        help="numbers are written with a decimal comma (5975830,23)",
    )
    parser.add_argument("--time-format", help="s, ms, min, h, clock, datetime, unix, unix_ms or a strptime pattern")
    parser.add_argument("--skip-rows", type=int, default=0, help="lines to skip before the header or data")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument(
        "--valve",
        action="append",
        metavar="NAME=COLUMN",
        help="which precursor a 0/1 valve column doses, e.g. TMA=Mod8/do1 (repeatable)",
    )


def mapping_from_args(args: argparse.Namespace) -> ColumnMapping | None:
    """A :class:`ColumnMapping` when any table option was given, else ``None`` (auto-detect)."""
    frequency = [c.strip() for item in (args.frequency_column or []) for c in item.split(",") if c.strip()]
    given = (args.time_column, frequency, args.delimiter, args.decimal_comma, args.time_format, args.skip_rows or None)
    if not any(given):
        return None
    return ColumnMapping(
        time_column=_column(args.time_column) if args.time_column else None,
        frequency_columns=tuple(_column(c) for c in frequency),
        delimiter=args.delimiter,
        decimal_comma=args.decimal_comma,
        time_format=args.time_format,
        skip_rows=args.skip_rows or 0,
    )


def _column(text: str) -> str | int:
    """A 1-based column number as users count them becomes a 0-based index; anything else is a name."""
    text = text.strip()
    if text.isdigit():
        if int(text) < 1:
            raise UserInputError(f"column numbers start at 1, not {text}")
        return int(text) - 1
    return text


def run_convert(args: argparse.Namespace) -> int:
    """The ``convert`` subcommand. A :class:`UserInputError` propagates to ``qcm_app.app.cli.main``,
    which prints it as one line and exits with status 2."""
    from qcm_app.io.importers import labview

    if labview.is_execution_table(args.input) or args.out.suffix.lower() == ".toml":
        written = labview.convert_recipe(args.input, args.out, overwrite=args.overwrite)
        print(f"wrote {written}")
        return 0
    result = convert(
        args.input,
        args.out,
        mapping_from_args(args),
        args.density,
        args.z_ratio,
        args.tooling,
        overwrite=args.overwrite,
        valves=args.valve or (),
    )
    for warning in result.warnings:
        print(f"qcm: warning: {args.input}: {warning}", file=sys.stderr)
    print(f"wrote {result.path} ({result.rows} rows, {result.sensors} sensor{'s' if result.sensors > 1 else ''})")
    return 0
