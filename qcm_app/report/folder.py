"""Report folders: what may be replaced, and how a finished folder takes its place.

Kept apart from the drawing code so that the checks run (and fail, in one line) before matplotlib is
even imported: ``qcm report`` refuses a bad destination in a fraction of a second.

Every file is built in a hidden sibling folder (``.NAME.xxxx.partial``) and the folder is renamed
into place once complete; if anything fails the hidden folder is removed and the destination is as
it was. An existing folder is only replaced when asked (``overwrite``) and only if it is a report
folder of ours; even then only what we wrote there (the files its summary.json or index.csv
lists) is replaced: the user's own files
in it are carried over into the new folder, and ``--out ~/data --overwrite`` never deletes data.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import secrets
import shutil
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qcm_app.domain.errors import UserInputError
from qcm_app.io.fileio import check_output, fsync_dir

GENERATOR = "qcm-monitor report"
REPORT_FILES = ("report.html", "report.pdf", "cycles.csv", "summary.json")
INDEX_FILES = ("index.html", "index.csv")


def check_options(density: float | None, crystal_mhz: float | None) -> None:
    """The checks ``qcm analyze`` makes, done before any file is read (a batch may take minutes)."""
    if density is not None and not (math.isfinite(density) and density > 0):
        raise UserInputError("--density must be a positive number of g/cm³")
    if crystal_mhz is not None and not 0.5 < crystal_mhz < 100:
        raise UserInputError("--crystal-mhz must be a crystal frequency in MHz, e.g. 6 or 5")


def check_destination(out_dir: Path, overwrite: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse, before any work, a destination we would not be allowed to fill."""
    out_dir = check_output(out_dir, inputs=inputs, overwrite=overwrite, what="--out", folder=True)
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise UserInputError(
            "folder exists and is not empty; choose another folder, or replace it (--overwrite)", out_dir
        )
    if not is_report_folder(out_dir):
        raise UserInputError(
            "is not a report folder written by qcm-monitor; not replacing it "
            "(choose another folder or remove it yourself)",
            out_dir,
        )
    root = out_dir.resolve()
    for p in inputs:
        with contextlib.suppress(OSError):
            if p.resolve().is_relative_to(root):
                raise UserInputError(f"holds the input {p.name}; not replacing it (choose another folder)", out_dir)


def _listed(folder: Path) -> list[str] | None:
    """The manifest of a report folder: the files a report's summary.json lists (it names what we
    wrote), or for a batch, the index files and the run folders its index.csv lists. None when the
    folder has neither (a report from before the list, or not ours)."""
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        report = doc.get("report") if isinstance(doc, dict) else None
        if isinstance(report, dict) and report.get("generator") == GENERATOR and isinstance(report.get("files"), list):
            return [*(f for f in report["files"] if _plain_name(f)), "summary.json"]
    if is_report_folder(folder):
        with (
            contextlib.suppress(OSError, ValueError, csv.Error),
            open(folder / "index.csv", encoding="utf-8", newline="") as fh,
        ):
            rows = list(csv.DictReader(fh))
            return [*INDEX_FILES, *(r["folder"] for r in rows if _plain_name(r.get("folder")))]
    return None


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def owned_entries(folder: Path) -> list[str]:
    """The names in a report folder that we wrote (its manifest, see :func:`_listed`); for a folder
    without one, the report's and the index's files and the run sub-folders holding a report of ours."""
    listed = _listed(folder)
    if listed is None:
        listed = [*REPORT_FILES, *INDEX_FILES]
        with contextlib.suppress(OSError):
            listed += [d.name for d in folder.iterdir() if d.is_dir() and not d.is_symlink() and _summary_is_ours(d)]
    return [n for n in dict.fromkeys(listed) if os.path.lexists(folder / n)]


def _summary_is_ours(folder: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        return (
            isinstance(doc, dict)
            and isinstance(doc.get("report"), dict)
            and doc["report"].get("generator") == GENERATOR
        )
    return False


def is_report_folder(folder: Path) -> bool:
    """True for a folder this module wrote: its summary.json or its index.html names us."""
    if _summary_is_ours(folder):
        return True
    with contextlib.suppress(OSError, ValueError), open(folder / "index.html", encoding="utf-8") as fh:
        return 'name="generator" content="qcm-monitor' in fh.read(4096)
    return False


@contextmanager
def staged(out_dir: Path, overwrite: bool, inputs: Sequence[Path]) -> Iterator[Path]:
    """A hidden sibling folder to fill; renamed to ``out_dir`` when the block completes, removed
    whatever happens."""
    check_destination(out_dir, overwrite, inputs)
    out_dir = _absolute(out_dir)  # "." and ".." have no name to rename to
    tmp = out_dir.parent / f".{out_dir.name}.{secrets.token_hex(4)}.partial"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise UserInputError(f"cannot create the report folder: {exc.strerror or exc}", out_dir) from None
    try:
        yield tmp
        check_destination(out_dir, overwrite, inputs)  # it may have appeared while we worked
        _publish(tmp, out_dir)
    except (OSError, zlib.error) as exc:  # a full disk surfaces from the PDF's compressor as zlib.error
        raise UserInputError(f"cannot write the report: {_reason(exc)}", out_dir) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _reason(exc: BaseException) -> str:
    """The operating system's word for a failed write, also when a library wrapped it in its own error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen.strerror or str(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc)


def _publish(tmp: Path, out_dir: Path) -> None:
    """Rename the finished folder into place. An existing report is moved aside; whatever in it we
    did not write (the user's own files) is moved into the new folder, and the rest deleted only once
    the new folder is in place; on any failure everything is put back as it was."""
    fsync_dir(tmp)
    old: Path | None = None
    carried: list[str] = []
    if out_dir.is_dir():
        if any(out_dir.iterdir()):
            owned = set(owned_entries(out_dir))
            keep = sorted(e.name for e in out_dir.iterdir() if e.name not in owned)
            clash = [n for n in keep if os.path.lexists(tmp / n)]
            if clash:
                raise UserInputError(
                    f"holds {clash[0]!r}, which is not ours but has the name of a file of the new "
                    "report; not replacing it (rename it or choose another folder)",
                    out_dir,
                )
            old = out_dir.parent / f".{out_dir.name}.{secrets.token_hex(4)}.old"
            os.rename(out_dir, old)
            try:
                for name in keep:
                    os.rename(old / name, tmp / name)
                    carried.append(name)
            except OSError:
                _carry_back(tmp, old, carried)
                os.rename(old, out_dir)
                raise
        else:
            out_dir.rmdir()
    try:
        os.rename(tmp, out_dir)
    except OSError:
        if old is not None:
            _carry_back(tmp, old, carried)
            os.rename(old, out_dir)  # put the previous report back
        elif out_dir.exists():
            raise UserInputError("appeared while the report was being written; not replacing it", out_dir) from None
        raise
    fsync_dir(out_dir.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _carry_back(tmp: Path, old: Path, names: Sequence[str]) -> None:
    for name in names:
        with contextlib.suppress(OSError):
            os.rename(tmp / name, old / name)


def _absolute(path: Path) -> Path:
    """Absolute without resolving symlinks (the user's spelling of the folder is kept otherwise)."""
    return Path(os.path.abspath(path))
