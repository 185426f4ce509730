"""Run the corpus as a user would and hold each outcome to the promises (exit 2, one line on stderr,
no traceback, no hang, every input unchanged, nothing created or replaced).

Two ways, both through the real entry point: the issue's headline cases each in their own
``python -m qcm_app`` process (exit status and stderr bytes exactly as a shell sees them), and the
whole corpus in a few batch processes (:mod:`tests.qcm_app.harness.batch`), since starting Python
costs most of a case's time on a busy machine.

``python -m tests.qcm_app.harness.runner`` prints the counts as JSON (the figures of the issue's
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

from qcm_app.app.hooks import QUIT_AFTER_ENV
from tests.qcm_app.harness.corpus import Case, Expect, build, changes, unmount_all

ROOT = Path(__file__).resolve().parents[3]
#: a case that has not finished by then is a hang (generous: the machine may be busy)
TIMEOUT_S = 45.0
#: cases run one process each: at least one of every kind the issue lists
HEADLINE = (
    "analyze event_time_0.csv",
    "analyze start_frequency_zero.csv",
    "report start_frequency_negative.csv",
    "convert quartz_density_-2.648.csv",
    "analyze tiny_first_sqm160.txt",
    "analyze --recipe nested.toml",
    "simulate --recipe repeat_1e12.toml",
    "report --recipe repeat_2_63.toml",
    "analyze --json the input itself",
    "analyze --json an existing file",
    "analyze --json /dev/full",
    "analyze --json a folder",
    "analyze --json under a file",
    "analyze --json a full disk",
    "report --out a read-only folder",
    "convert --out existing.txt/c.csv",
    "report --out under a file",
    "report --out a folder of the user's, --overwrite",
    "simulate --seed -1",
    "simulate --link existing",
    "simulate --link x",
    "simulate --sensors 0",
    "simulate --speed nan",
    "gui --speed -5",
    "analyze fifo.csv",
    "convert fifo.csv",
    "analyze inf_time_near_top.csv",
    "analyze time_goes_backwards.csv",
    "analyze decimal_comma_row.csv",
    "analyze run_inf_time_near_top.csv",
)


@dataclass
class Outcome:
    case: Case
    returncode: int | None  # None: a hang, stopped after TIMEOUT_S
    stdout: str
    stderr: str
    changed_inputs: list[str]
    #: entries of the shared tree that changed, and outputs this case named that now exist
    changed_entries: list[str]
    duration_s: float
    #: "process" (its own ``python -m qcm_app``) or "batch"
    how: str

    @property
    def hung(self) -> bool:
        return self.returncode is None

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def problems(self) -> list[str]:
        """What broke a promise; empty when the case behaved."""
        if self.hung:
            return [f"hung (stopped after {TIMEOUT_S:.0f} s)"]
        out = []
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
            if len(lines) != 1 or not lines[0].startswith("qcm: "):
                out.append(f"{len(lines)} lines on stderr, expected 1 starting 'qcm: '")
            if self.changed_entries:
                out.append(f"files created, changed or removed: {self.changed_entries[:5]}")
        else:  # exit 0 after dropping rows: it must say so, naming what was dropped
            warnings = [line for line in lines if "warning:" in line]
            if not warnings:
                out.append("exit 0 without a warning about the dropped rows")
            elif not any(w in " ".join(warnings).lower() for w in self.case.warn_words):
                out.append(f"warning does not say what was dropped: {warnings}")
        return out


def run_process(case: Case, root: Path) -> Outcome:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{QUIT_AFTER_ENV: "1"})  # a GUI case that starts ends
    start = time.monotonic()
    with changes(root, case.argv, case.inputs) as seen:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qcm_app", *case.argv],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT_S,
            )
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out, err = None, exc.stdout or b"", exc.stderr or b""
    return Outcome(
        case,
        rc,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        seen.inputs,
        seen.entries + seen.outputs,
        time.monotonic() - start,
        "process",
    )


def run_batch(cases: list[Case], root: Path, spec_path: Path) -> list[Outcome]:
    spec = {
        "root": str(root),
        "timeout_s": TIMEOUT_S,
        "cases": [{"argv": c.argv, "inputs": [str(p) for p in c.inputs]} for c in cases],
    }
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{QUIT_AFTER_ENV: "1"})  # a GUI case that starts ends
    proc = subprocess.run(
        [sys.executable, "-m", "tests.qcm_app.harness.batch", str(spec_path)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * 4 + 10 * len(cases),
    )
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(cases):
        raise AssertionError(f"batch stopped after {len(results)} of {len(cases)} cases: {proc.stderr[-2000:]}")
    return [
        Outcome(
            c,
            r["returncode"],
            r["stdout"],
            r["stderr"],
            r["changed_inputs"],
            r["changed_entries"] + r["outputs"],
            r["duration_s"],
            "batch",
        )
        for c, r in zip(cases, results, strict=True)
    ]


def run_all(cases: list[Case], root: Path, batches: int = 2, processes: int = 3) -> list[Outcome]:
    """The whole corpus in ``batches`` batch processes, and the headline cases again one process each,
    all side by side (cases that must fail only read the shared tree; each writes under its own folder)."""
    chunks = [cases[i::batches] for i in range(batches)]
    headline = [c for c in cases if c.name in HEADLINE]
    with ThreadPoolExecutor(max_workers=batches + processes) as pool:
        batch_jobs = [
            pool.submit(run_batch, chunk, root, root / "out" / f"batch{i}.json") for i, chunk in enumerate(chunks)
        ]
        single = list(pool.map(lambda c: run_process(c, root), headline))
        batched = [o for job in batch_jobs for o in job.result()]
    return batched + single


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "inputs_tried": len(outcomes),
        "in_own_process": sum(1 for o in outcomes if o.how == "process"),
        "clean_errors": sum(1 for o in outcomes if o.returncode == 2 and not o.problems()),
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
        try:
            cases = build(root)
            start = time.monotonic()
            outcomes = run_all(cases, root)
        finally:
            unmount_all()
        result: dict[str, object] = dict(counts(outcomes))
        result["wall_s"] = round(time.monotonic() - start, 1)
        result["slowest"] = [
            f"{o.duration_s:.1f} s {o.how} {o.case.name}" for o in sorted(outcomes, key=lambda o: -o.duration_s)[:5]
        ]
        print(json.dumps(result, indent=1))
        for o in outcomes:
            for problem in o.problems():
                last = o.stderr_lines[-1][:200] if o.stderr_lines else ""
                print(f"{o.how} {o.case.name}: {problem} | {last}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
