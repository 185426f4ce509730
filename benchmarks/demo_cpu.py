"""The demo as a newcomer runs it: sample rate reached and CPU used while it streams untouched.

Starts the main window in demo mode (offscreen), lets it settle, then measures for a while:
samples per second reaching the view, and CPU time per thread from /proc (the GUI thread,
the acquisition worker, and the rest: the in-process emulator and Qt's helpers). Prints JSON.

    .venv/bin/python benchmarks/demo_cpu.py [--seconds 30] [--warm-up 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6 import QtCore, QtWidgets

from qcm_app.app.controller import AppController, AppSettings
from widgets.main_window import MainWindow

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) per thread of this process, by thread name and id."""
    out = {}
    main_tid = os.getpid()
    for task in Path(f"/proc/{main_tid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS_PER_S
        label = "gui" if int(task.name) == main_tid else name
        out[f"{label}:{task.name}"] = cpu
    return out


def wait(app: QtWidgets.QApplication, seconds: float) -> None:
    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=10.0)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    controller = AppController(AppSettings(runs_folder=Path("/tmp/qcm-demo-cpu")))
    window = MainWindow(controller)
    window.resize(1400, 860)
    window.show()
    controller.start_demo()
    wait(app, args.warm_up)
    n0 = controller.session.buffer.total
    cpu0 = thread_cpu_s()
    wall0 = time.monotonic()
    wait(app, args.seconds)
    wall = time.monotonic() - wall0
    cpu1 = thread_cpu_s()
    n1 = controller.session.buffer.total
    stats = controller.stats
    controller.stop()
    window.close()
    per_thread = {k: round((cpu1[k] - cpu0.get(k, 0.0)) / wall * 100, 1) for k in cpu1}
    gui = sum(v for k, v in per_thread.items() if k.startswith("gui:"))
    worker = sum(v for k, v in per_thread.items() if k.startswith("acquisition:"))
    total = sum(per_thread.values())
    print(
        json.dumps(
            {
                "benchmark": "demo_cpu",
                "seconds": round(wall, 1),
                "demo": controller.description,
                "samples_per_s_into_view": round((n1 - n0) / wall, 2),
                "worker_sample_rate_hz": round(stats.sample_rate_hz, 2) if stats else None,
                "cycles_seen": len(controller.session.cycles),
                "cpu_percent_of_one_core": {
                    "process": round(total, 1),
                    "gui_thread": round(gui, 1),
                    "acquisition_worker": round(worker, 1),
                    "other_threads (emulator, Qt)": round(total - gui - worker, 1),
                },
                "per_thread": {k: v for k, v in per_thread.items() if v > 0},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
