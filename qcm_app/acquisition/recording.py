"""Recording that never loses data: when the disk refuses, samples are kept in memory until the
user picks another place, then everything (what reached the old file and what waited in
memory) is written there and recording continues.

"What reached the old file" is only what a successful flush put there: rows still in the write
buffer when the disk filled up are kept in memory too (``_unflushed``), and the failed file is cut
back to its last flushed row, so it never ends in half a row and no row is saved twice."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from qcm_app.domain.events import RunEventKind
from qcm_app.domain.pipeline import SampleChunk
from qcm_app.io.runfile import RunEvent, RunMetadata, RunWriter, default_run_name, format_rows, unique_path

log = logging.getLogger(__name__)

#: what waits for the disk: rows, or an event line
_Item = SampleChunk | RunEvent


class Recording:
    def __init__(self, warn: Callable[[str], None], failed: Callable[[str], None] | None = None) -> None:
        self._warn = warn
        #: told once per failure, so the view can offer another folder
        self._failed = failed
        self._writer: RunWriter | None = None
        self._requested: Path | None = None
        self._memory: list[_Item] | None = None
        #: rows and events handed to the writer since its last successful flush
        self._unflushed: list[_Item] = []
        self._flushes = 0
        #: size of the failed file at its last successful flush: the part of it that is surely whole
        self._failed_bytes = 0
        self._failed_path: Path | None = None
        self.path: Path | None = None
        #: samples held only in memory (an int, so the GUI thread may read it while the worker appends)
        self.memory_rows = 0

    @property
    def active(self) -> bool:
        """A run file is open or about to be created (the first samples create it)."""
        return self._writer is not None or self._requested is not None

    def _keep(self, item: _Item) -> None:
        assert self._memory is not None
        self._memory.append(item)
        if isinstance(item, SampleChunk):
            self.memory_rows += len(item)

    def _written(self, item: _Item) -> None:
        """``item`` reached the writer; forget what a flush since then made durable."""
        assert self._writer is not None
        if self._writer.flushes != self._flushes:
            self._flushes = self._writer.flushes
            self._unflushed = []  # the flush wrote everything before it, ``item`` included
        else:
            self._unflushed.append(item)

    def _refused(self, item: _Item, exc: OSError) -> None:
        """The disk refused ``item`` (or a flush): everything since the last flush goes to memory."""
        assert self._writer is not None
        lost = [*self._unflushed, item]
        self._unflushed = []
        self._fail(self._writer.path, exc)
        for it in lost:
            self._keep(it)

    def start(self, path: Path) -> None:
        """Ask for a new run file; it is created with the first samples (their start frequency
        goes into the header). An existing file is never overwritten: a free name is chosen."""
        self.stop()
        if path.is_dir():
            path = path / default_run_name()
        self._requested = unique_path(path)
        self.path = self._requested

    def resume(self, path: Path, note: str) -> None:
        """Continue an interrupted run file (appending after a note)."""
        self.stop()
        try:
            self._open(RunWriter.resume(path, note))
        except OSError as exc:
            self._fail(path, exc)
            return
        self.path = path

    def write(self, chunk: SampleChunk, metadata: Callable[[], RunMetadata]) -> None:
        if self._requested is not None:
            target, self._requested = self._requested, None
            try:
                self._open(RunWriter.create(target, metadata()))
            except OSError as exc:
                self._fail(target, exc)
        if self._writer is not None:
            try:
                self._writer.write(chunk)
            except OSError as exc:
                self._refused(chunk, exc)
                return
            self._written(chunk)
            return
        if self._memory is not None:
            self._keep(chunk)

    def mark(self, kind: RunEventKind, time_s: float, text: str = "") -> None:
        item = RunEvent(time_s, kind, text)
        if self._writer is not None:
            try:
                self._writer.mark(kind, time_s, text)
            except OSError as exc:
                self._refused(item, exc)
                return
            self._written(item)
            return
        if self._memory is not None:
            self._keep(item)

    def flush_if_due(self) -> None:
        if self._writer is not None:
            try:
                self._writer.flush_if_due()
            except OSError as exc:
                lost = self._unflushed
                self._unflushed = []
                self._fail(self._writer.path, exc)
                for it in lost:
                    self._keep(it)
                return
            if self._writer.flushes != self._flushes:
                self._flushes = self._writer.flushes
                self._unflushed = []

    def _open(self, writer: RunWriter) -> None:
        self._writer = writer
        self._flushes = writer.flushes
        self._unflushed = []

    def stop(self) -> None:
        self._requested = None
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:  # the last rows did not reach the disk: keep them
                lost = self._unflushed
                self._unflushed = []
                self._fail(self._writer.path, exc)
                for it in lost:
                    self._keep(it)
            self._writer = None
        if self._memory is not None and self.memory_rows:
            self._warn(
                f"recording stopped with {self.memory_rows} samples only in memory: choose a folder to save them"
            )
            return  # keep them until relocate() or a new start
        self._memory = None
        self.path = None

    def discard(self) -> int:
        """Forget the samples held in memory (the user said so); returns how many there were."""
        rows = self.memory_rows
        self._memory = None
        self.memory_rows = 0
        self._failed_path = None
        if self._writer is None:
            self.path = None
        return rows

    def relocate(self, target: Path, metadata: Callable[[], RunMetadata]) -> None:
        """Write the run to ``target`` (a folder or a file): what reached the failed file, then
        what waited in memory; then keep recording there."""
        if target.is_dir():
            name = self._failed_path.name if self._failed_path else default_run_name()
            target = target / name
        target = unique_path(target)
        items = self._memory or []
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            writer = RunWriter.create(target, metadata())
            prefix = self._salvage_rows(self._failed_path, self._failed_bytes)
            if prefix:
                writer.write_raw(prefix)
            writer.mark(RunEventKind.NOTE, items_time(items), "data below waited in memory after a write failure")
            for item in items:
                if isinstance(item, SampleChunk):
                    writer.write_raw(format_rows(item))
                else:
                    writer.mark(item.kind, item.time_s, item.text)
            writer.flush()
        except OSError as exc:
            self._warn(f"cannot save to {target}: {exc.strerror or exc}; data stays in memory")
            return
        if self._writer is not None:
            self._writer.close()
        self._open(writer)
        self._memory = None
        self.memory_rows = 0
        self._failed_path = None
        self.path = target
        log.info("recording relocated to %s", target)

    def _fail(self, path: Path, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        message = (
            f"cannot write {path}: {reason}. Acquisition continues and samples are kept in "
            "memory; choose another folder to save them."
        )
        self._warn(message)
        if self._failed is not None:
            self._failed(message)
        flushed = 0
        if self._writer is not None:
            flushed = self._writer.flushed_bytes if self._writer.path == path else 0
            try:
                self._writer.close()
            except OSError:
                pass
            self._writer = None
            # cut the file back to its last flushed row: no half row at its end, none saved twice
            with contextlib.suppress(OSError):
                if path.stat().st_size > flushed:
                    os.truncate(path, flushed)
        self._failed_path = path
        self._failed_bytes = flushed
        if self._memory is None:
            self._memory = []

    @staticmethod
    def _salvage_rows(path: Path | None, size: int) -> str:
        """Data rows (and event lines) that a flush put in the failed file (its first ``size`` bytes)."""
        if path is None or not path.exists():
            return ""
        try:
            with open(path, "rb") as fh:
                text = fh.read(size).decode("utf-8", errors="replace")
        except OSError:
            return ""
        text = text[: text.rfind("\n") + 1]
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("Time (s)"):
                return "\n".join(lines[i + 1 :])
        return ""


def items_time(items: list[_Item]) -> float:
    for item in items:
        if isinstance(item, SampleChunk) and len(item):
            return float(item.time_s[0])
    return 0.0
