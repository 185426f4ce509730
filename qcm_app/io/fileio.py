"""Every file the program writes goes through here, so one rule holds for all of them.

The rule (``qcm analyze --json``, ``report --out``, ``convert --out``, ``simulate --link``, the GUI's
exports): never write onto an input (same resolved path or same inode); never replace an existing
file unless asked (``overwrite``); never write to a device, FIFO or socket; write atomically (a
hidden temporary file in the same folder, fsynced, then renamed in one step, so a reader never sees
half a file and a full disk leaves the old file as it was). What ``overwrite`` may replace in a
report folder is decided by the folder's manifest (see :mod:`qcm_app.report.writer`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from qcm_app.domain.errors import UserInputError

#: pty targets of the links ``qcm simulate`` makes: a stale one (the server was killed) is ours to replace
PTY_PREFIX = "/dev/pts/"


def _stat(path: Path, follow: bool = True) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise UserInputError(f"cannot check the output: {exc.strerror or exc}", path) from None


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` are one file: the same resolved path or the same device and inode."""
    a, b = Path(a), Path(b)
    with contextlib.suppress(OSError, RuntimeError):
        if a.resolve() == b.resolve():
            return True
    sa, sb = _quiet_stat(a), _quiet_stat(b)
    return sa is not None and sb is not None and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _quiet_stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _check_folder(folder: Path, path: Path, what: str) -> None:
    """The folder an output goes in: it may be missing (it is created) but not be or lie under a file."""
    for parent in (folder, *folder.parents):
        st = _stat(parent)
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise UserInputError(f"{parent} is not a folder; {what} cannot be written under it", path)
        return


def check_output(
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    what: str = "output",
    folder: bool = False,
) -> Path:
    """Refuse an output we must not write, before any work is done; returns the absolute path.

    ``folder`` outputs (report folders) may exist as folders; whether one may be replaced is the
    caller's question (only ours are, see the report writer).
    """
    path = Path(os.path.abspath(path))
    if path == Path(path.anchor):
        raise UserInputError(f"{what} must name a {'folder' if folder else 'file'}, not the file system's root", path)
    for src in inputs:
        if same_file(src, path):
            raise UserInputError(f"the output would replace the input; choose another {what}", path)
    st = _stat(path)
    lst = _stat(path, follow=False)
    if st is None and lst is not None:  # a dangling symlink: writing would create a file somewhere else
        raise UserInputError(f"is a broken symbolic link; {what} will not write through it", path)
    if st is not None:
        mode = st.st_mode
        if folder:
            if not stat.S_ISDIR(mode):
                raise UserInputError(f"exists and is not a folder; {what} needs a folder", path)
        elif stat.S_ISDIR(mode):
            raise UserInputError(f"is a folder; {what} needs a file name", path)
        elif not stat.S_ISREG(mode):
            raise UserInputError(f"is not a regular file (a device, FIFO or socket); {what} will not write to it", path)
        elif not overwrite:
            raise UserInputError(f"already exists; choose another {what} or pass --overwrite", path)
    _check_folder(path.parent, path, what)
    return path


def check_input(path: str | Path, what: str = "file") -> Path:
    """An input must be a regular file: reading a FIFO would wait forever, a device for ever longer."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserInputError(f"{what} not found", path) from None
    except NotADirectoryError:
        raise UserInputError(f"{what} not found (a part of the path is a file)", path) from None
    except OSError as exc:
        raise UserInputError(f"cannot read the {what}: {exc.strerror or exc}", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise UserInputError(f"is a folder, expected a {what}", path)
    if not stat.S_ISREG(st.st_mode):
        raise UserInputError(f"is not a regular file (a device, FIFO or socket); expected a {what}", path)
    return path


def write_output(
    path: str | Path,
    write: Callable[[Path], None],
    *,
    inputs: Iterable[str | Path] = (),
    overwrite: bool = False,
    what: str = "output",
) -> Path:
    """Check ``path`` by :func:`check_output`, call ``write(tmp)`` and give the result its name
    atomically. Without ``overwrite`` a file that appeared meanwhile is not replaced either."""
    inputs = list(inputs)
    path = check_output(path, inputs=inputs, overwrite=overwrite, what=what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create the folder for {what}: {exc.strerror or exc}", path) from None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        check_output(path, inputs=inputs, overwrite=overwrite, what=what)  # it may have appeared meanwhile
        _publish(tmp, path, overwrite, what)
    except OSError as exc:
        raise UserInputError(f"cannot write: {exc.strerror or exc}", path) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)
    return path


def write_output_text(
    path: str | Path, text: str, *, inputs: Iterable[str | Path] = (), overwrite: bool = False, what: str = "output"
) -> Path:
    data = text.encode("utf-8")
    return write_output(path, lambda tmp: _write_new(tmp, data), inputs=inputs, overwrite=overwrite, what=what)


def _write_new(tmp: Path, data: bytes) -> None:
    with open(tmp, "xb") as fh:
        fh.write(data)


def _publish(tmp: Path, path: Path, overwrite: bool, what: str) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the name exists: no moment where an existing file is replaced
    except FileExistsError:
        raise UserInputError(f"already exists; choose another {what} or pass --overwrite", path) from None
    except OSError:
        if os.path.lexists(path):
            raise UserInputError(f"already exists; choose another {what} or pass --overwrite", path) from None
        os.rename(tmp, path)  # a file system without hard links


def check_link(path: str | Path, what: str = "--link") -> Path:
    """A symlink we may create at ``path``: nothing there, or a stale link of ours to a pty."""
    path = Path(os.path.abspath(path))
    for p in (path, path.with_name(path.name + ".new")):  # the server also uses NAME.new while re-linking
        lst = _stat(p, follow=False)
        if lst is None:
            continue
        if stat.S_ISLNK(lst.st_mode) and os.readlink(p).startswith(PTY_PREFIX):
            continue  # left by a simulate that was killed
        kind = "a folder" if stat.S_ISDIR(lst.st_mode) else "a file"
        raise UserInputError(f"already exists ({kind}); {what} makes a new link and will not replace it", p)
    st = _stat(path.parent)
    if st is None:
        raise UserInputError(f"folder {path.parent} does not exist; {what} needs an existing folder", path)
    if not stat.S_ISDIR(st.st_mode):
        raise UserInputError(f"{path.parent} is not a folder; {what} cannot be made under it", path)
    if not os.access(path.parent, os.W_OK):
        raise UserInputError(f"folder {path.parent} is not writable; {what} cannot be made", path)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` then rename over ``path``: for files inside a staging folder of ours, where
    replacing is the point (the outside world only sees the folder once complete)."""
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
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def read_bytes(path: Path, what: str = "file") -> bytes:
    """A file's bytes, or a one-line :class:`UserInputError` saying why not (never a traceback)."""
    check_input(path, what)
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
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
