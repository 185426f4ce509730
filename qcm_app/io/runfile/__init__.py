"""The run file: a ``#`` header of ``Key: value unit`` lines, then unit-bearing CSV columns.

Events that happen during a run (tare, link lost/restored) are comment lines between the data rows,
so the file stays readable by any CSV tool that skips ``#`` lines. One job per module:
:mod:`.format` (the data types, header keys, columns and the text of lines), :mod:`.writer`
(:class:`RunWriter`), :mod:`.recovery` (in-progress markers, interrupted runs), :mod:`.reader`.
"""

from qcm_app.io.runfile.format import (
    FORMAT_TAG,
    HEADER_KEYS,
    NOTE_KEY,
    RESERVED_KEYS,
    SENSORS_KEY,
    START_FREQUENCY_KEY,
    RunData,
    RunEvent,
    RunMetadata,
    column_names,
    format_header,
    format_rows,
    is_run_file,
    parse_header,
)
from qcm_app.io.runfile.reader import read_header_only, read_run
from qcm_app.io.runfile.recovery import IN_PROGRESS_SUFFIX, forget_interrupted, interrupted_runs, mark_in_progress
from qcm_app.io.runfile.writer import FLUSH_INTERVAL_S, RunWriter, default_run_name, unique_path

__all__ = [
    "FLUSH_INTERVAL_S",
    "FORMAT_TAG",
    "HEADER_KEYS",
    "IN_PROGRESS_SUFFIX",
    "NOTE_KEY",
    "RESERVED_KEYS",
    "SENSORS_KEY",
    "START_FREQUENCY_KEY",
    "RunData",
    "RunEvent",
    "RunMetadata",
    "RunWriter",
    "column_names",
    "default_run_name",
    "forget_interrupted",
    "format_header",
    "format_rows",
    "interrupted_runs",
    "is_run_file",
    "mark_in_progress",
    "parse_header",
    "read_header_only",
    "read_run",
    "unique_path",
]
