"""Valve markers: importing the real tool log, agreement with the tool's own dose table, and how fast
the live follower and the edge detector go.

    .venv/bin/python benchmarks/markers.py [--hours 24]

Prints JSON: the DataLog import (seconds, pulses per precursor), the largest distance between the
pulse starts read from the valve columns and the tool's own dose table (s), the live follower's
rate over a synthetic 2 Hz log of ``--hours`` written in 64 kB chunks (rows/s), and
``pulses_from_digital`` on a 10 Hz day (samples/s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcm_app.domain.markers import counts_by_precursor, pulses_from_digital  # noqa: E402
from qcm_app.io.importers import load_run  # noqa: E402
from qcm_app.io.importers.labview import load_doses  # noqa: E402
from qcm_app.io.marker_sources import LogFollower  # noqa: E402

BOISE = ROOT.parent / "shared" / "data" / "real" / "boise-ald-2019-05-24"
RUN = "20190524_Run1_TMA-H2O-50cycles_TMA-10Pulses_TMA-H2O-20cycles_425C_GaPO4"


def datalog() -> dict:
    t0 = time.perf_counter()
    run = load_run(BOISE / f"{RUN}_DataLog.txt")
    took = time.perf_counter() - t0
    doses = load_doses(BOISE / f"{RUN}_Doses-DeltaM.txt")
    origin = float(run.metadata.extra["Time origin (tool elapsed s)"])
    ours = np.array([p.time_s for p in run.valve_pulses])
    listed = doses.starts_on(origin)
    worst = float(np.max(np.abs(ours - listed))) if ours.size == listed.size else None
    return {
        "import_s": round(took, 3),
        "rows": int(run.time_s.size),
        "pulses": counts_by_precursor(run.valve_pulses),
        "max_start_vs_tool_table_s": None if worst is None else round(worst, 3),
        "median_start_vs_tool_table_s": None if worst is None else round(float(np.median(ours - listed)), 3),
    }


def follower(hours: float) -> dict:
    rows = int(hours * 3600 * 2)
    t = np.arange(rows) * 0.5
    valve = ((t % 43.0) < 1.0).astype(int)
    text = "title\nElapsed Time [s]\tFrequency [Hz]\tTMA valve\n" + "".join(
        f"{a:.3f}\t5583588.4\t{v}\n" for a, v in zip(t.tolist(), valve.tolist(), strict=True)
    )
    data = text.encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.txt"
        f = LogFollower(path, run_clock=lambda: 0.0)
        got = 0
        t0 = time.perf_counter()
        with open(path, "wb") as fh:
            for k in range(0, len(data), 65536):
                fh.write(data[k : k + 65536])
                fh.flush()
                got += len(f.poll())
        took = time.perf_counter() - t0
    expected = int(np.sum(np.diff(valve) == -1))
    return {
        "hours": hours,
        "rows": rows,
        "pulses": got,
        "pulses_expected": expected,
        "rows_per_s": round(rows / took),
        "seconds": round(took, 2),
    }


def edges() -> dict:
    n = 864_000
    t = np.arange(n) * 0.1
    v = ((t % 30.0) < 0.2).astype(float)
    t0 = time.perf_counter()
    pulses = pulses_from_digital(t, v, "do1")
    took = time.perf_counter() - t0
    return {"samples": n, "pulses": len(pulses), "samples_per_s": round(n / took)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    print(json.dumps({"datalog": datalog(), "follower": follower(args.hours), "edges": edges()}, indent=2))


if __name__ == "__main__":
    main()
