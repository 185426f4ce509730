"""Crash recovery: a sidecar marks a run file as *in progress* while its writer has it open, so a
run whose process died can be found and offered for recovery at the next launch.

The sidecar (``run.csv.recording``) holds the writer's process id: a marker whose process is still
alive belongs to a recording going on right now (another window), not to an interrupted one.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

IN_PROGRESS_SUFFIX = ".recording"


def mark_in_progress(path: Path) -> Path:
    """Write the sidecar of a run file now being recorded; returns it (the writer removes it on close)."""
    marker = path.with_name(path.name + IN_PROGRESS_SUFFIX)
    marker.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return marker


def interrupted_runs(folder: str | Path) -> list[Path]:
    """Run files whose writer never closed them (the process died): candidates for recovery."""
    out = []
    for marker in sorted(Path(folder).glob(f"*{IN_PROGRESS_SUFFIX}")):
        try:
            pid = int(marker.read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            pid = -1
        if pid > 0 and pid != os.getpid() and _pid_alive(pid):
            continue
        run = marker.with_name(marker.name[: -len(IN_PROGRESS_SUFFIX)])
        if run.exists():
            out.append(run)
    return out


def forget_interrupted(run: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(str(run) + IN_PROGRESS_SUFFIX).unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
