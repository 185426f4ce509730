"""Replaying a 24-hour 10 Hz run to its end, as File → Open run + Jump to end does.

Writes a simulated day as one of our run files, then times, in the app's own controller and
replay worker (offscreen, with the main window drawing): opening until the file is loaded, and
jump-to-end until the replay reports its end, with the cycles it found. Prints JSON.

    .venv/bin/python benchmarks/replay_speed.py [--hours 24]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6 import QtCore, QtWidgets

from qcm_app.acquisition.replay import ReplayCommand
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.pipeline import Pipeline
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, RunWriter
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run
from widgets.main_window import MainWindow


def write_day(path: Path, hours: float) -> int:
    base = load_preset("al2o3")
    block = replace(base.blocks[0], repeat=int(hours * 3600 / base.blocks[0].cycle_duration_s) - 2)
    recipe = replace(base, blocks=(block,))
    sampled = sample_run(ProcessModel(recipe, ReactorSettings(seed=8)), 10.0)
    pipe = Pipeline(1)
    chunk = pipe.process_arrays(sampled.time_s, sampled.frequency_hz)
    meta = RunMetadata(
        start_time=RunMetadata.now_iso(),
        instrument="simulated",
        recipe_name=recipe.name,
        recipe_text=recipe.text.replace("repeat = 100", f"repeat = {block.repeat}"),
        start_frequency_hz=tuple(pipe.converter.start_frequency_hz),
    )
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(chunk)
    writer.close()
    return len(chunk)


def until(app: QtWidgets.QApplication, condition: callable, timeout_s: float) -> float:
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="qcm-replay-"))
    path = folder / "day.csv"
    samples = write_day(path, args.hours)
    controller = AppController(AppSettings(runs_folder=folder))
    window = MainWindow(controller)
    window.resize(1400, 860)
    window.show()
    # states as the view receives them: queued after every chunk and cycle sent before them
    seen: list[str] = []
    controller.state_changed.connect(lambda state, _detail: seen.append(state))
    t0 = time.perf_counter()
    window.open_run(str(path))
    load_s = until(app, lambda: "replaying" in seen, 120)
    controller.replay_command(ReplayCommand.JUMP_TO_END)
    end_s = until(app, lambda: "finished" in seen, 300)
    window.refresh()
    total_s = time.perf_counter() - t0
    cycles = len(controller.session.cycles)
    controller.stop()
    print(
        json.dumps(
            {
                "benchmark": "replay_speed",
                "simulated_hours": args.hours,
                "samples": samples,
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "open_until_loaded_s": round(load_s, 2),
                "jump_to_end_until_finished_s": round(end_s, 2),
                "total_s": round(total_s, 2),
                "cycles": cycles,
                "cycles_in_recipe": controller.recipe.total_cycles if controller.recipe else None,
                "samples_in_view": controller.session.buffer.total,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
