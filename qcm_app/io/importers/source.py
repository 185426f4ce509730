"""A log file as text, read once: the encoding found (UTF-8 with or without BOM, UTF-16 with BOM,
else latin-1, as Colnatec writes), line ends unified, and :class:`SourceText`, whose errors name the
file and line.

Why shared: every vendor log has the same troubles (odd encodings, a binary file, an empty one), and a
user deserves the same one-line answer to each of them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from qcm_app.domain.errors import UserInputError
from qcm_app.io.fileio import read_bytes


class NotThisFormat(Exception):
    """Raised by an auto-detecting reader when the file is not its kind (caller tries the next)."""


@dataclass
class SourceText:
    """A log file's lines (no line ends; ``lines[i]`` is line ``i + 1``), read once, never written."""

    path: Path
    lines: list[str]
    ends_with_newline: bool
    encoding: str

    def error(self, message: str, line: int | None = None) -> UserInputError:
        return UserInputError(message, self.path, line)

    def content_lines(self, limit: int | None = None) -> list[tuple[int, str]]:
        """(line number, text) of the non-blank lines, the first ``limit`` of them."""
        out: list[tuple[int, str]] = []
        for i, line in enumerate(self.lines):
            if line.strip():
                out.append((i + 1, line))
                if limit is not None and len(out) >= limit:
                    break
        return out


def read_source(path: str | Path) -> SourceText:
    """Read a log as text: UTF-8 (with or without BOM), UTF-16 with BOM, else latin-1 (Colnatec)."""
    path = Path(path)
    raw = read_bytes(path, "file")
    text, encoding = _decode(raw, path)
    if not text.strip():
        raise UserInputError("the file is empty (expected a header line or data rows)", path, 1)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    ends = text.endswith("\n")
    if ends:
        lines.pop()
    return SourceText(path, lines, ends, encoding)


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise UserInputError(f"not valid UTF-16 text (byte {exc.start})", path) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise UserInputError("binary data (a NUL byte), expected a text log", path, line)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
