"""Offline mass-gain reports of recorded runs: ``report.html`` (self-contained), ``report.pdf``,
``cycles.csv`` and ``summary.json`` per run, and an ``index.html`` comparing several runs.

The package is split by job: :mod:`.content` works out what is said (one source for every format),
:mod:`.figures` draws it with matplotlib (Agg, no pyplot), :mod:`.html` and :mod:`.pdf` lay it out,
:mod:`.writer` puts the files in place atomically and :mod:`.command` is ``qcm report``.
No Qt here: reports are made without a display. Importing the package is cheap; matplotlib loads
with the writer, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qcm_app.report.command import ProgressBar, add_report_arguments, run_report

if TYPE_CHECKING:
    from qcm_app.report.writer import ReportFiles, write_report, write_reports

_LAZY = ("ReportFiles", "write_report", "write_reports")

__all__ = ["ProgressBar", "ReportFiles", "add_report_arguments", "run_report", "write_report", "write_reports"]


def __getattr__(name: str) -> Any:
    """The writer (and with it matplotlib) loads on first use, not when ``qcm`` builds its parser."""
    if name in _LAZY:
        from qcm_app.report import writer

        return getattr(writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
