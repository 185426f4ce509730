"""GUI frame time (offscreen) with 1 hour, 24 hours and 1 million points of history on screen.

A frame is what the window's timer does when new data arrived: point the persistent curves at
the ring buffer's newest views (setData) and render the plot widget. Measured beside a naive
baseline in the same run: clear() and re-plot everything on each frame, without peak
downsampling or clip-to-view. Prints JSON (median and 95th percentile, ms).

    .venv/bin/python benchmarks/gui_frame_time.py [--frames 40]
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

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from qcm_app.acquisition.ringbuffer import RingBuffer
from qcm_app.io.recipe_files import load_preset
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings
from widgets.plots import TimePlots

SIZES = {"1 h at 10 Hz": 36_000, "24 h at 10 Hz": 864_000, "1 M points": 1_000_000}


def history(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    recipe = load_preset("al2o3")
    blocks = [b.__class__(**{**b.__dict__, "repeat": 3000}) for b in recipe.blocks]
    model = ProcessModel(recipe.__class__(name=recipe.name, blocks=tuple(blocks)), ReactorSettings(seed=2))
    t = np.arange(n) * 0.1
    f = model.frequency_hz(t)
    return t, f, (f[0] - f) * 12.3


def frame_times(widget: QtWidgets.QWidget, update: callable, frames: int) -> list[float]:
    out = []
    for k in range(frames):
        t0 = time.perf_counter()
        update(k)
        widget.grab()  # renders the whole widget, as a repaint would
        out.append((time.perf_counter() - t0) * 1000)
    return out


def ours(t: np.ndarray, f: np.ndarray, m: np.ndarray, frames: int) -> list[float]:
    plots = TimePlots(1)
    plots.resize(1100, 600)
    buf = RingBuffer(len(t) + 1000, ("time_s", "f", "m"))
    buf.append({"time_s": t[:-frames], "f": f[:-frames], "m": m[:-frames]})

    def update(k: int) -> None:
        i = len(t) - frames + k
        buf.append({"time_s": t[i : i + 1], "f": f[i : i + 1], "m": m[i : i + 1]})
        plots.set_data(buf.view("time_s"), [buf.view("f")], [buf.view("m")])

    update(0)
    plots.grab()
    return frame_times(plots, update, frames)


def naive(t: np.ndarray, f: np.ndarray, m: np.ndarray, frames: int) -> list[float]:
    widget = pg.GraphicsLayoutWidget()
    widget.resize(1100, 600)
    p1, p2 = widget.addPlot(row=0, col=0), widget.addPlot(row=1, col=0)
    p2.setXLink(p1)

    def update(k: int) -> None:
        n = len(t) - frames + k + 1
        p1.clear()
        p2.clear()
        p1.plot(t[:n], f[:n])
        p2.plot(t[:n], m[:n])

    update(0)
    widget.grab()
    return frame_times(widget, update, frames)


def summary(ms: list[float]) -> dict[str, float]:
    a = np.array(ms)
    return {"median_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    results = {}
    for name, n in SIZES.items():
        t, f, m = history(n)
        a = summary(ours(t, f, m, args.frames))
        b = summary(naive(t, f, m, max(5, args.frames // 4)))
        results[name] = {
            "points": n,
            "ours": a,
            "naive_full_redraw": b,
            "speedup_median": round(b["median_ms"] / a["median_ms"], 1),
        }
    app.processEvents()
    print(
        json.dumps(
            {
                "benchmark": "gui_frame_time",
                "widget_px": [1100, 600],
                "results": results,
                "target": "a frame with 1 M points under 16 ms",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
