"""Writing a run file: :class:`RunWriter` opens with ``"x"`` (never overwrites), flushes at least
twice a second, and marks the file as in progress (see :mod:`.recovery`) until it is closed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from datetime import datetime
from pathlib import Path

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind
from qcm_app.domain.pipeline import SampleChunk
from qcm_app.io.runfile.format import NOTE_KEY, RunMetadata, column_names, format_header, format_rows
from qcm_app.io.runfile.reader import read_header_only
from qcm_app.io.runfile.recovery import mark_in_progress

FLUSH_INTERVAL_S = 0.5


def unique_path(path: Path) -> Path:
    """``path`` itself if free, else ``name-2.csv``, ``name-3.csv``, ... (never overwrite)."""
    if not path.exists():
        return path
    for i in range(2, 10_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UserInputError("no free file name", path)


def default_run_name(recipe_name: str = "") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", recipe_name).strip("-")[:40]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}_{slug or 'run'}.csv"


class RunWriter:
    """Appends samples to a run file; the worker thread owns it.

    ``open`` creates the file exclusively (``"x"``); ``resume`` re-opens an interrupted run to
    continue it after a gap marker.
    """

    def __init__(self, fh: io.TextIOBase, path: Path, sensors: int, in_progress_marker: bool = True) -> None:
        self._fh = fh
        self.path = path
        self.sensors = sensors
        self._last_flush = time.monotonic()
        self.rows = 0
        #: successful flushes, and the file's size after the last one: what the disk surely holds
        self.flushes = 0
        self.flushed_bytes = fh.tell()
        self._marker: Path | None = None
        if in_progress_marker:  # live recordings only: lets the next launch offer recovery
            self._marker = mark_in_progress(path)

    @classmethod
    def create(cls, path: str | Path, meta: RunMetadata, in_progress_marker: bool = True) -> RunWriter:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115 - lives as long as the writer
        try:
            fh.write(format_header(meta))
            fh.write(",".join(column_names(len(meta.sensors))) + "\n")
            fh.flush()
        except OSError:
            fh.close()
            raise
        return cls(fh, path, len(meta.sensors), in_progress_marker)

    @classmethod
    def resume(cls, path: str | Path, note: str) -> RunWriter:
        """Continue an interrupted run file: a truncated last row is completed as a comment."""
        path = Path(path)
        _meta, sensors = read_header_only(path)
        with open(path, "rb") as raw:  # bytes: the last one tells whether the last row is whole
            raw.seek(0, os.SEEK_END)
            size = raw.tell()
            raw.seek(max(0, size - 1))
            ends_clean = size == 0 or raw.read(1) == b"\n"
        fh = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
        if not ends_clean:
            fh.write("  # (row cut short by an interruption)\n")
        fh.write(f"# {NOTE_KEY}: resumed {RunMetadata.now_iso()}: {note}\n")
        fh.flush()
        return cls(fh, path, sensors)

    def write(self, chunk: SampleChunk) -> None:
        if len(chunk):
            self._fh.write(format_rows(chunk))
            self.rows += len(chunk)
        self.flush_if_due()

    def write_raw(self, text: str) -> None:
        """Rows already formatted (salvaged from another file of ours)."""
        self._fh.write(text)

    def mark(self, kind: RunEventKind | str, time_s: float, text: str = "") -> None:
        """An event line between the rows, e.g. ``# Link lost: 123.4 s (port vanished)`` (a word that
        is no :class:`RunEventKind`, from another program's log, is written as it came)."""
        detail = f" ({' '.join(text.split())})" if text else ""
        self._fh.write(f"# {kind.capitalize()}: {time_s:.4f} s{detail}\n")
        self.flush()

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        self._fh.flush()
        self._last_flush = time.monotonic()
        self.flushes += 1
        self.flushed_bytes = self._fh.tell()

    def close(self) -> None:
        try:
            self._fh.flush()
            with contextlib.suppress(OSError):
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
            if self._marker is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._marker.unlink()
