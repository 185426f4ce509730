"""Run every benchmark and print one JSON document with all their figures.

    .venv/bin/python benchmarks/run_all.py [--quick]

Each benchmark is a script of its own (run it alone for its own JSON); here they run one after
another in fresh processes so that one cannot warm or slow another. ``--quick`` shortens the
soak to 2 simulated hours and the link measurement to 1 s per protocol.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("link_rates", ["--seconds", "3"], ["--seconds", "1"]),
    ("pipeline_throughput", [], []),
    ("gui_frame_time", [], ["--frames", "15"]),
    ("demo_cpu", [], ["--seconds", "10", "--warm-up", "5"]),
    ("soak", [], ["--hours", "2"]),
    ("analysis_speed", ["--baseline-timeout", "300"], ["--hours", "6", "--baseline-timeout", "60"]),
    ("replay_speed", [], ["--hours", "6"]),
    ("accuracy", [], ["--quick"]),
    ("report_speed", [], []),
    ("markers", [], ["--hours", "2"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", help="names of benchmarks to run")
    args = parser.parse_args()
    out: dict[str, object] = {}
    for name, full, quick in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        script = HERE / f"{name}.py"
        if not script.exists():
            out[name] = {"error": "script missing"}
            continue
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script), *(quick if args.quick else full)], capture_output=True, text=True
        )
        took = round(time.perf_counter() - t0, 1)
        if proc.returncode != 0:
            out[name] = {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"], "seconds": took}
            continue
        try:
            out[name] = json.loads(proc.stdout)
        except json.JSONDecodeError:
            out[name] = {"error": "no JSON on stdout", "seconds": took}
        print(f"{name}: {took} s", file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
