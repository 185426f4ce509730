"""Many corpus cases in one interpreter: ``python -m tests.qcm_app.harness.batch CASES.json`` runs
each case's argv through ``qcm_app.app.cli.main`` (the function ``python -m qcm_app`` calls) and prints
one JSON outcome per case. Starting Python and numpy takes most of a case's time on a busy machine,
so the corpus runs in a few of these batches, while the issue's headline cases also run one process
each (see :mod:`tests.qcm_app.harness.runner`).

What a user would see is kept: an exception escaping ``main`` is recorded as the traceback it would
print, ``SystemExit`` (argparse) as its status, warnings as the lines Python would print, and a case
still running after the timeout is interrupted by an alarm and counted as a hang.
"""

from __future__ import annotations

import io
import json
import signal
import sys
import time
import traceback
import warnings
from contextlib import redirect_stderr, redirect_stdout


class _Hang(BaseException):
    pass


def _alarm(*_: object) -> None:
    raise _Hang


def run_one(argv: list[str], timeout_s: float) -> dict[str, object]:
    from qcm_app.app.cli import main

    out, err = io.StringIO(), io.StringIO()
    rc: int | None
    start = time.monotonic()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("default")  # as a fresh `python -m qcm_app` would show them
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except _Hang:
                raise
            except BaseException:
                traceback.print_exc(file=err)
                rc = 1
    except _Hang:
        rc = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {
        "returncode": rc,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "duration_s": time.monotonic() - start,
    }


def main() -> int:
    from pathlib import Path

    from tests.qcm_app.harness.corpus import changes

    with open(sys.argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    root = Path(spec["root"])
    for case in spec["cases"]:
        with changes(root, case["argv"], [Path(p) for p in case["inputs"]]) as seen:
            result = run_one(case["argv"], spec["timeout_s"])
        result.update(changed_inputs=seen.inputs, changed_entries=seen.entries, outputs=seen.outputs)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
