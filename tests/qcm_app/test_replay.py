"""Replay goes through the live pipeline and ends with exactly the offline analysis."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from qcm_app.acquisition.replay import ReplayCommand
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.pipeline import Pipeline
from qcm_app.io.offline import analyze_file
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, RunWriter
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run
from tests.support.testset import same_result


def _write_run(path: Path, seed: int = 11, preset: str = "ligl_on_al2o3") -> Path:
    recipe = load_preset(preset)
    sampled = sample_run(ProcessModel(recipe, ReactorSettings(seed=seed)), 10.0)
    pipe = Pipeline(1)
    chunk = pipe.process_arrays(sampled.time_s, sampled.frequency_hz)
    meta = RunMetadata(
        start_time=RunMetadata.now_iso(),
        instrument="simulated",
        recipe_name=recipe.name,
        recipe_text=recipe.text,
        start_frequency_hz=tuple(pipe.converter.start_frequency_hz),
    )
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(chunk)
    writer.close()
    return path


@pytest.fixture
def controller(tmp_path):
    c = AppController(AppSettings(runs_folder=tmp_path))
    yield c
    c.stop()


def test_replay_to_the_end_equals_offline_analysis(qtbot, controller, tmp_path) -> None:
    path = _write_run(tmp_path / "run.csv")
    controller.open_run(path, speed=1000.0)
    qtbot.waitUntil(lambda: controller.worker.state == "replaying", timeout=10_000)
    controller.replay_command(ReplayCommand.JUMP_TO_END)
    qtbot.waitUntil(lambda: controller.link_state == "finished", timeout=20_000)  # the GUI saw it: all before it too
    qtbot.waitUntil(lambda: len(controller.session.cycles) == 140, timeout=5000)
    offline = analyze_file(path).result
    live = controller.worker.analyzer.result()
    assert same_result(offline, live)
    assert [c.index for c in controller.session.cycles] == list(range(1, 141))
    assert controller.session.regimes.message == offline.regimes.message
    assert controller.recipe is not None and controller.recipe.name == "LiGL on ALD-Al2O3"  # from the header


def test_paced_replay_and_seek_backwards_start_over(qtbot, controller, tmp_path) -> None:
    path = _write_run(tmp_path / "run.csv", preset="al2o3")
    controller.open_run(path, speed=1000.0)
    qtbot.waitUntil(lambda: len(controller.session.cycles) >= 10, timeout=20_000)
    controller.replay_command(ReplayCommand.SET_PAUSED, True)
    qtbot.waitUntil(lambda: controller.worker.paused, timeout=10_000)
    # chunks the worker sent before it paused were posted before this timer's event: let them land
    landed: list[bool] = []
    QtCore.QTimer.singleShot(0, lambda: landed.append(True))
    qtbot.waitUntil(lambda: bool(landed), timeout=10_000)
    n = controller.session.buffer.total
    qtbot.wait(300)  # absence takes a while to show: nothing may arrive while paused
    assert controller.session.buffer.total == n  # paused
    controller.replay_command(ReplayCommand.SEEK, 100.0)
    # the reset empties the view before the samples up to the seek point arrive: wait for those too
    qtbot.waitUntil(
        lambda: (
            len(controller.session.cycles) < 5
            and controller.session.buffer.total > 0
            and controller.session.buffer.view("time_s")[-1] >= 99.0
        ),
        timeout=10_000,
    )
    t = controller.session.buffer.view("time_s")
    assert t[-1] <= 100.1 and np.all(np.diff(t) > 0)
    controller.replay_command(ReplayCommand.SET_PAUSED, False)
    controller.replay_command(ReplayCommand.JUMP_TO_END)
    qtbot.waitUntil(lambda: controller.link_state == "finished", timeout=20_000)  # the GUI saw it: all before it too
    assert same_result(analyze_file(path).result, controller.worker.analyzer.result())


def test_vendor_log_replays_without_a_recipe(qtbot, controller, tmp_path) -> None:
    sampled = sample_run(ProcessModel(load_preset("al2o3"), ReactorSettings(seed=3)), 10.0)
    path = tmp_path / "lab.csv"
    np.savetxt(
        path,
        np.c_[sampled.time_s, sampled.frequency_hz],
        delimiter=",",
        header="time_s,frequency_hz",
        comments="",
        fmt="%.4f",
    )
    controller.open_run(path, speed=1000.0)
    controller.replay_command(ReplayCommand.JUMP_TO_END)
    qtbot.waitUntil(lambda: controller.link_state == "finished", timeout=20_000)  # the GUI saw it: all before it too
    assert len(controller.session.cycles) == 100


def test_unreadable_file_is_a_warning_not_a_crash(qtbot, controller, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01garbage\xff\n" * 10)
    warnings: list[str] = []
    controller.warning_raised.connect(warnings.append)
    controller.open_run(bad)
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "bad.csv" in warnings[0] and "\n" not in warnings[0]
    qtbot.waitUntil(lambda: controller.worker.state == "stopped", timeout=5000)


def test_replay_commands_are_typed(tmp_path) -> None:
    """The commands dispatch through an explicit table; a misspelt one raises instead of passing."""
    from qcm_app.acquisition.replay import ReplayWorker

    worker = ReplayWorker(tmp_path / "none.csv", lambda recipe: None)
    for command in ReplayCommand:
        worker.command(
            command,
            *(
                (1.0,)
                if command in (ReplayCommand.SET_SPEED, ReplayCommand.SEEK)
                else (True,)
                if command is ReplayCommand.SET_PAUSED
                else ()
            ),
        )
    worker._run_commands()
    assert worker.paused and worker._seek_to == math.inf
    with pytest.raises(ValueError):
        worker.command("jump_to_the_end")  # type: ignore[arg-type]
