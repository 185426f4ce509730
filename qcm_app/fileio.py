"""Writing output files so that a reader never sees half of one: write a hidden temporary file in
the same folder, fsync it, then rename it over the target in one step."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically; clean up on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def read_bytes(path: Path, what: str = "file") -> bytes:
    """A file's bytes, or a one-line :class:`UserInputError` saying why not (never a traceback)."""
    from qcm_app.errors import UserInputError

    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise UserInputError(f"is a folder, expected a {what}", path) from None
    except PermissionError:
        raise UserInputError("permission denied", path) from None
    except OSError as exc:
        raise UserInputError(f"cannot read the {what}: {exc.strerror or exc}", path) from None


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file (a byte-order mark is accepted), with the same one-line errors."""
    from qcm_app.errors import UserInputError

    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
