"""Recording that never loses data: when the disk refuses, samples are kept in memory until the
user picks another place, then everything (what reached the old file and what waited in
memory) is written there and recording continues."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from qcm_app.pipeline import SampleChunk
from qcm_app.runfile import RunMetadata, RunWriter, default_run_name, format_rows, unique_path

log = logging.getLogger(__name__)

_Item = SampleChunk | tuple[str, float, str]


class Recording:
    def __init__(self, warn: Callable[[str], None], failed: Callable[[str], None] | None = None) -> None:
        self._warn = warn
        #: told once per failure, so the view can offer another folder
        self._failed = failed
        self._writer: RunWriter | None = None
        self._requested: Path | None = None
        self._memory: list[_Item] | None = None
        self._failed_path: Path | None = None
        self.path: Path | None = None

    @property
    def memory_rows(self) -> int:
        return sum(len(i) for i in self._memory or () if isinstance(i, SampleChunk))

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
            self._writer = RunWriter.resume(path, note)
        except OSError as exc:
            self._fail(path, exc)
            return
        self.path = path

    def write(self, chunk: SampleChunk, metadata: Callable[[], RunMetadata]) -> None:
        if self._requested is not None:
            target, self._requested = self._requested, None
            try:
                self._writer = RunWriter.create(target, metadata())
            except OSError as exc:
                self._fail(target, exc)
        if self._writer is not None:
            try:
                self._writer.write(chunk)
            except OSError as exc:
                self._fail(self._writer.path, exc)
                self._memory = [chunk]
            return
        if self._memory is not None:
            self._memory.append(chunk)

    def mark(self, kind: str, time_s: float, text: str = "") -> None:
        if self._writer is not None:
            try:
                self._writer.mark(kind, time_s, text)
                return
            except OSError as exc:
                self._fail(self._writer.path, exc)
        if self._memory is not None:
            self._memory.append((kind, time_s, text))

    def flush_if_due(self) -> None:
        if self._writer is not None:
            try:
                self._writer.flush_if_due()
            except OSError as exc:
                self._fail(self._writer.path, exc)

    def stop(self) -> None:
        self._requested = None
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:
                self._warn(f"closing {self._writer.path} failed: {exc.strerror or exc}")
            self._writer = None
        if self._memory is not None and self.memory_rows:
            self._warn(f"recording stopped with {self.memory_rows} samples only in memory: "
                       "choose a folder to save them")
            return  # keep them until relocate() or a new start
        self._memory = None
        self.path = None

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
            prefix = self._salvage_rows(self._failed_path)
            if prefix:
                writer.write_raw(prefix)
            writer.mark("note", items_time(items), "data below waited in memory after a write failure")
            for item in items:
                if isinstance(item, SampleChunk):
                    writer.write_raw(format_rows(item))
                else:
                    writer.mark(*item)
            writer.flush()
        except OSError as exc:
            self._warn(f"cannot save to {target}: {exc.strerror or exc}; data stays in memory")
            return
        if self._writer is not None:
            self._writer.close()
        self._writer = writer
        self._memory = None
        self._failed_path = None
        self.path = target
        log.info("recording relocated to %s", target)

    def _fail(self, path: Path, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        message = (f"cannot write {path}: {reason}. Acquisition continues and samples are kept in "
                   "memory; choose another folder to save them.")
        self._warn(message)
        if self._failed is not None:
            self._failed(message)
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
            self._writer = None
        self._failed_path = path
        if self._memory is None:
            self._memory = []

    @staticmethod
    def _salvage_rows(path: Path | None) -> str:
        """Data rows (and event lines) that reached the failed file, cut at the last full line."""
        if path is None or not path.exists():
            return ""
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        text = text[: text.rfind("\n") + 1]
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("Time (s)"):
                return "\n".join(lines[i + 1:])
        return ""


def items_time(items: list[_Item]) -> float:
    for item in items:
        if isinstance(item, SampleChunk) and len(item):
            return float(item.time_s[0])
    return 0.0
