"""Accelerated 24-hour soak: a day of 10 Hz readings pushed through the real worker, pipeline,
recorder, analysis and main window as fast as they go.

A synthetic driver hands out the readings of a simulated 24-hour run (its timestamps 0.1 s
apart, so the run clock sees a real day) with no serial line in between; everything after the
driver is the application's own code, the window refreshing from its timer all along.
Measured: wall time, resident memory (peak, final, and growth after warm-up), Qt objects
before and after, and dropped samples (readings handed out minus rows in the run file and
samples in the view). Prints JSON.

    .venv/bin/python benchmarks/soak.py [--hours 24] [--rate-hz 10]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PySide6 import QtCore, QtWidgets

from instruments.base import Driver, DriverInfo, LinkLost, Reading, SensorReading
from instruments.transport import MemoryTransport
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.recipes import Recipe
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import read_run
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings
from widgets.main_window import MainWindow


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def qt_objects() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, QtCore.QObject))


def day_recipe(hours: float) -> Recipe:
    base = load_preset("ligl_on_al2o3")
    al, ligl = base.blocks
    remaining_s = hours * 3600 - al.repeat * al.cycle_duration_s
    return replace(base, blocks=(al, replace(ligl, repeat=max(1, int(remaining_s / ligl.cycle_duration_s)))))


class SyntheticDriver(Driver):
    """Readings of a precomputed run, as fast as they are asked for; then the 'link' ends."""

    info = DriverInfo(
        protocol="synthetic", title="Synthetic day", default_baud=0, max_sensors=1, measurement_period_s=0.0
    )

    def __init__(self, time_s: np.ndarray, frequency_hz: np.ndarray, done: threading.Event) -> None:
        super().__init__(MemoryTransport())
        self._t = time_s
        self._f = frequency_hz
        self._k = 0
        self._done = done

    @property
    def handed_out(self) -> int:
        return self._k

    def identify(self) -> str:
        return "synthetic 24 h"

    def read(self) -> Reading:
        k = self._k
        if k >= self._t.size:
            self._done.set()
            time.sleep(0.01)
            raise LinkLost("end of the synthetic run")
        self._k += 1
        return Reading(time_s=float(self._t[k]), sensors=(SensorReading(float(self._f[k])),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])

    recipe = day_recipe(args.hours)
    model = ProcessModel(recipe, ReactorSettings(seed=5, start_delay_s=60.0))
    n = int(args.hours * 3600 * args.rate_hz)
    t = np.arange(n) / args.rate_hz
    f = model.frequency_hz(t)
    folder = Path(tempfile.mkdtemp(prefix="qcm-soak-"))
    controller = AppController(AppSettings(runs_folder=folder))
    window = MainWindow(controller)
    window.resize(1400, 860)
    window.show()
    for _ in range(20):
        app.processEvents()
    objects_before = qt_objects()
    rss_start = rss_mb()

    done = threading.Event()
    driver = SyntheticDriver(t, f, done)
    controller.connect_instrument(
        ConnectionSpec(protocol="sqm160", port="synthetic", poll_interval_s=0.0), recipe, opener=lambda spec: driver
    )
    path = controller.start_recording(folder / "soak.csv")
    samples: list[tuple[float, float, int]] = []
    t0 = time.perf_counter()
    timer = QtCore.QTimer()
    timer.timeout.connect(lambda: samples.append((time.perf_counter() - t0, rss_mb(), driver.handed_out)))
    timer.start(1000)
    loop = QtCore.QEventLoop()
    watcher = QtCore.QTimer()
    watcher.timeout.connect(lambda: loop.quit() if done.is_set() else None)
    watcher.start(100)
    loop.exec()
    wall_s = time.perf_counter() - t0
    controller.stop()
    for _ in range(50):  # let queued chunks reach the view
        app.processEvents()
    window.refresh()
    rss_end = rss_mb()
    timer.stop()
    rows = read_run(path).time_s.size
    rss = np.array([s[1] for s in samples]) if samples else np.array([rss_end])
    progress = np.array([s[2] for s in samples]) if samples else np.array([n])
    warm = rss[np.searchsorted(progress, 0.05 * n)] if samples else rss_start
    window.close()
    objects_after = qt_objects()
    result = {
        "benchmark": "soak",
        "simulated_hours": args.hours,
        "rate_hz": args.rate_hz,
        "readings": n,
        "wall_s": round(wall_s, 1),
        "readings_per_s": round(n / wall_s),
        "speed_up_over_real_time": round(args.hours * 3600 / wall_s, 1),
        "rss_mb": {
            "start": round(rss_start, 1),
            "after_5_percent": round(float(warm), 1),
            "peak": round(float(max(rss.max(), rss_end)), 1),
            "final": round(rss_end, 1),
            "growth_after_warm_up": round(float(rss_end - warm), 1),
            "growth_from_start": round(rss_end - rss_start, 1),
        },
        "qt_objects": {"before": objects_before, "after": objects_after},
        "dropped_samples": {"run_file": n - rows, "view": n - controller.session.buffer.total},
        "cycles_found": len(controller.session.cycles),
        "cycles_true": len(model.truth),
        "run_file_mb": round(path.stat().st_size / 1e6, 1),
        "target": "RSS growth over the 24 h soak < 50 MB; zero dropped samples",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
