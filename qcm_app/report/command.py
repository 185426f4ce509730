"""``qcm report RUN... --out DIR``: the reports from the command line, with a progress bar for batches.

Nothing heavy is imported until the command runs (``qcm`` builds this parser on every start).
The bar goes to stderr so stdout stays a clean list of what was written: redrawn in place on a
terminal, one plain line per run when stderr is a file or a pipe (CI logs, ``2> log``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TextIO

BAR_WIDTH = 24


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="+", help="run files of ours, vendor logs, or CSVs with columns time_s,frequency_hz")
    p.add_argument(
        "--out", type=Path, required=True, help="folder to create (several runs: one sub-folder each plus index.html)"
    )
    p.add_argument("--recipe", help="recipe TOML or preset name (default: the one in each run file, else none)")
    p.add_argument("--density", type=float, help="film density in g/cm³ for Å/cycle (all blocks)")
    p.add_argument("--crystal-mhz", type=float, help="f0 for the Sauerbrey constant (default: measured start)")
    p.add_argument("--note", default="", help="a line of text printed in the report")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    p.add_argument(
        "--valve",
        action="append",
        metavar="NAME=COLUMN",
        help="which precursor a 0/1 valve column doses, e.g. TMA=Mod8/do1 (repeatable)",
    )
    p.add_argument(
        "--reference",
        type=Path,
        help="the tool's per-step mass table (*_Doses-DeltaM.txt) to show beside ours "
        "(default: the one beside a tool's DataLog)",
    )


class ProgressBar:
    """``progress(done, total, path)`` for :func:`write_reports`, drawn on ``stream``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open = False

    def __call__(self, done: int, total: int, path: str) -> None:
        if self.tty:
            filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
            line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {Path(path).name if path else 'done'}"
            cols = shutil.get_terminal_size((80, 24)).columns - 1
            self.stream.write("\r" + line[:cols].ljust(cols))
            self._open = True
            if done >= total:
                self.close()
        elif path:
            self.stream.write(f"[{done + 1}/{total}] {path}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (also when the batch stops on an error, so the message starts clean)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def run_report(args: argparse.Namespace) -> int:
    from qcm_app.io.offline import analyze_file, print_import_warnings, timeline_text
    from qcm_app.report.folder import check_destination, check_options  # no matplotlib: bad input fails fast

    check_options(args.density, args.crystal_mhz)
    runs = [Path(r) for r in args.run]
    out: Path = args.out
    check_destination(out, args.overwrite, runs)  # before any file is analysed
    reference = getattr(args, "reference", None)
    if reference is not None and len(runs) > 1:
        from qcm_app.domain.errors import UserInputError

        raise UserInputError("--reference goes with one run (a batch finds each tool's table beside its log)")
    if len(runs) == 1:
        analyzed = analyze_file(
            runs[0], args.recipe, args.crystal_mhz, args.density, getattr(args, "valve", None) or ()
        )
        print_import_warnings(analyzed.run)
        from qcm_app.report.writer import write_report

        files = write_report(analyzed, out, args.note, overwrite=args.overwrite, reference=reference)
        res = analyzed.result
        print(f"{runs[0]}: {len(res.cycles)} cycles ({timeline_text(analyzed)})")
        for b in res.regimes.blocks:
            print(f"  {b.message()}")
        if files.reference_summary:
            print(f"  beside the tool's table: {files.reference_summary}")
        print(f"wrote {files.html}, {files.pdf} ({files.pdf_pages} pages), {files.csv}, {files.json}")
        return 0
    from qcm_app.report.writer import write_reports

    bar = ProgressBar()
    try:
        reports = write_reports(
            runs,
            out,
            args.recipe,
            args.density,
            bar,
            crystal_mhz=args.crystal_mhz,
            note=args.note,
            overwrite=args.overwrite,
        )
    finally:
        bar.close()
    for r in reports:
        for warning in r.warnings:
            print(f"qcm: warning: {r.source}: {warning}", file=sys.stderr)
        print(f"{r.source}: {r.cycles} cycles -> {r.html}")
    print(f"wrote {len(reports)} reports and {out / 'index.html'}")
    return 0
