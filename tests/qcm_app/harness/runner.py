"""Run the corpus as a user would: each case is ``python -m qcm_app ARGV`` in its own process, a few
at a time, and each outcome is held to the promises (exit 2, one line on stderr, no traceback, no
hang, every input unchanged, nothing created or replaced).

``python -m tests.qcm_app.harness.runner`` prints the counts as JSON (the figures in the issue's
closing note); the test module asserts on the same outcomes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.qcm_app.harness.corpus import Case, Expect, build, digest, snapshot

ROOT = Path(__file__).resolve().parents[3]
#: a case that has not finished by then is a hang (generous: the machine may be busy)
TIMEOUT_S = 60.0


@dataclass
class Outcome:
    case: Case
    returncode: int | None  # None: killed after TIMEOUT_S
    stdout: str
    stderr: str
    changed_inputs: list[str]
    #: entries of the shared tree that changed, and outputs this case named that now exist
    changed_entries: list[str]
    duration_s: float

    @property
    def hung(self) -> bool:
        return self.returncode is None

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "Error:" in self.stderr.split("qcm:")[0]

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def problems(self) -> list[str]:
        """What broke a promise; empty when the case behaved."""
        out = []
        if self.hung:
            return [f"hung (killed after {TIMEOUT_S:.0f} s)"]
        if self.traceback:
            out.append("traceback on stderr")
        if "RuntimeWarning" in self.stderr:
            out.append("numpy RuntimeWarning on stderr")
        if self.changed_inputs:
            out.append(f"inputs changed: {self.changed_inputs}")
        lines = self.stderr_lines
        if self.case.expect is Expect.ERROR or self.returncode != 0:
            if self.returncode != 2:
                out.append(f"exit status {self.returncode}, expected 2")
            if len(lines) != 1:
                out.append(f"{len(lines)} lines on stderr, expected 1")
            if self.changed_entries:
                out.append(f"files created, changed or removed: {self.changed_entries[:5]}")
        else:  # exit 0 after dropping rows: it must say so, naming what was dropped
            warnings = [line for line in lines if "warning:" in line]
            if not warnings:
                out.append("exit 0 without a warning about the dropped rows")
            elif not any(w in " ".join(warnings).lower() for w in self.case.warn_words):
                out.append(f"warning does not say what was dropped: {warnings}")
        return out


def run_case(case: Case, root: Path) -> Outcome:
    before_inputs = {str(p): digest(p) for p in case.inputs}
    before = snapshot(root)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONWARNINGS="default")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "qcm_app", *case.argv], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S,
                              errors="replace")
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    duration = time.monotonic() - start
    changed_inputs = [p for p, d in before_inputs.items() if digest(Path(p)) != d]
    after = snapshot(root)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if rc != 0:  # a case that failed must not have written what it was asked to
        outs = str(root / "out") + os.sep
        changed += [a for a in case.argv if a.startswith(outs) and os.path.lexists(a)]
    return Outcome(case, rc, out, err, changed_inputs, changed, duration)


def run_all(cases: list[Case], root: Path, workers: int = 4) -> list[Outcome]:
    """Each case sees the tree as the corpus built it, so cases that must fail can run side by side:
    a case that wrongly writes shows in its own snapshot comparison (and may show in a neighbour's)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: run_case(c, root), cases))


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "inputs_tried": len(outcomes),
        "clean_errors": sum(1 for o in outcomes if o.returncode == 2 and len(o.stderr_lines) == 1
                            and not o.traceback),
        "warned_and_kept_the_rest": sum(1 for o in outcomes if o.returncode == 0 and not o.problems()),
        "tracebacks": sum(1 for o in outcomes if o.traceback),
        "hangs": sum(1 for o in outcomes if o.hung),
        "inputs_changed": sum(1 for o in outcomes if o.changed_inputs),
        "overwrites": sum(1 for o in outcomes if o.returncode != 0 and o.changed_entries),
        "broken_promises": sum(1 for o in outcomes if o.problems()),
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = build(root)
        start = time.monotonic()
        outcomes = run_all(cases, root)
        result = counts(outcomes)
        result["wall_s"] = round(time.monotonic() - start, 1)
        result["slowest"] = [f"{o.duration_s:.1f} s {o.case.name}"
                             for o in sorted(outcomes, key=lambda o: -o.duration_s)[:8]]
        print(json.dumps(result, indent=1))
        for o in outcomes:
            for problem in o.problems():
                last = o.stderr_lines[-1][:200] if o.stderr_lines else ""
                print(f"{o.case.name}: {problem} | {last}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
