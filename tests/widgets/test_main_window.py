"""The main window in demo mode: the real driver over a pty, samples, plots, readouts, tare,
recording, cycles and regime text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from qcm_app.app.controller import AppController, AppSettings
from qcm_app.app.hooks import QUIT_AFTER_ENV
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import read_run
from widgets.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(qtbot, tmp_path):
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs", demo_speed=20.0))
    window = MainWindow(controller)
    window.ask_recording_details = False
    qtbot.addWidget(window)
    controller.start_demo(load_preset("al2o3"))
    yield controller, window
    controller.stop()


def test_demo_goes_through_the_real_driver_over_a_pty(demo) -> None:
    controller, _ = demo
    assert controller.demo_server is not None
    assert controller.demo_server.port.startswith("/dev/pts/")
    assert type(controller.worker.spec).__name__ == "ConnectionSpec"
    assert controller.worker.spec.protocol == "sqm160"


def test_demo_samples_reach_plots_and_readouts(qtbot, demo) -> None:
    controller, window = demo
    qtbot.waitUntil(lambda: len(controller.session.buffer) > 20, timeout=10_000)
    window.refresh()
    curve = window.plots.mass_curves[0]
    assert curve.xData is not None and len(curve.xData) > 20
    assert np.array_equal(curve.xData, controller.session.buffer.view("time_s"))
    freq = window.readouts.text_of("frequency_hz")
    assert freq != "—" and float(freq.replace("\u2009", "")) > 5.9e6
    assert window.link_label.text() == "Connected"
    qtbot.waitUntil(lambda: controller.stats is not None and controller.stats.sample_rate_hz > 5, timeout=5000)


def test_tare_zeroes_the_displayed_mass(qtbot, demo) -> None:
    controller, window = demo
    qtbot.waitUntil(lambda: len(controller.session.buffer) > 5, timeout=10_000)
    qtbot.waitUntil(lambda: abs(controller.session.readouts().mass_ng_cm2) > 1.0, timeout=15_000)
    window.tare_action.trigger()
    n = controller.session.buffer.total
    qtbot.waitUntil(lambda: controller.session.buffer.total > n + 3, timeout=5000)
    assert abs(controller.session.readouts().mass_ng_cm2) < 2.0  # only noise since the tare


def test_recording_writes_a_file_that_reads_back(qtbot, demo, tmp_path) -> None:
    controller, window = demo
    qtbot.waitUntil(lambda: len(controller.session.buffer) > 5, timeout=10_000)
    window.record_action.setChecked(True)
    qtbot.waitUntil(
        lambda: controller.worker.recording.path is not None and controller.worker.recording.path.exists(), timeout=5000
    )
    path = controller.worker.recording.path
    n = controller.session.buffer.total
    qtbot.waitUntil(lambda: controller.session.buffer.total > n + 30, timeout=10_000)
    window.record_action.setChecked(False)
    qtbot.waitUntil(lambda: not Path(str(path) + ".recording").exists(), timeout=5000)
    run = read_run(path)
    assert run.metadata.instrument == "INFICON SQM-160"
    assert run.metadata.firmware == "MON Ver 4.13"
    assert run.metadata.recipe_name == "Al2O3 (TMA/H2O)"
    assert "[[blocks]]" in run.metadata.recipe_text
    assert run.metadata.start_frequency_hz[0] > 5.9e6
    assert run.time_s.size >= 30 and np.all(np.diff(run.time_s) > 0)
    assert np.all(run.frequency_hz[:, 0] > 5.9e6)
    assert run.metadata.time_scale == 20.0
    # the file's mass is the Sauerbrey mass of its own frequency column (tare aside)
    mass = run.mass_ng_cm2[:, 0]
    assert np.all(np.isfinite(mass))


def test_recording_never_overwrites(qtbot, demo, tmp_path) -> None:
    controller, _ = demo
    qtbot.waitUntil(lambda: len(controller.session.buffer) > 5, timeout=10_000)
    target = tmp_path / "runs" / "same.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("precious\n")
    controller.start_recording(target)
    qtbot.waitUntil(lambda: (tmp_path / "runs" / "same-2.csv").exists(), timeout=5000)
    assert target.read_text() == "precious\n"
    controller.stop_recording()


def test_cycles_and_regime_text_appear_live(qtbot, demo) -> None:
    controller, window = demo
    qtbot.waitUntil(lambda: len(controller.session.cycles) >= 3, timeout=40_000)
    window.refresh()
    x, h = window.cycle_chart._bars.opts["x"], window.cycle_chart._bars.opts["height"]
    assert len(x) >= 3 and np.all(np.asarray(h)[1:] > 20)  # Al2O3: ~37 ng/cm² per cycle
    assert "Al2O3" in window.regime_label.text()
    assert window.progress_label.text().startswith("Cycle ")
    assert "of 100" in window.progress_label.text()
    c = controller.session.cycles[-1]
    assert c.step_names == ("TMA", "H2O")
    assert "Δm_TMA/Δm_cycle" in window.breakdown.title.text()


def test_density_edit_changes_gpc(qtbot, demo) -> None:
    controller, window = demo
    qtbot.waitUntil(lambda: len(controller.session.cycles) >= 1, timeout=40_000)
    window.blocks_table.density_edited.emit("Al2O3", 1.5)
    qtbot.waitUntil(
        lambda: controller.session.regimes is not None and controller.session.regimes.blocks[0].density_g_cm3 == 1.5,
        timeout=5000,
    )


def test_process_events_20000_times(qapp) -> None:
    """PySide6 6.12.0 aborts after a few thousand calls on Python 3.11 ("deallocating None")."""
    widget = QtWidgets.QLabel("x")
    for i in range(20_000):
        if i % 1000 == 0:
            widget.setText(str(i))
        qapp.processEvents()
    assert widget.text() == "19000"


def test_main_py_starts_and_quits(tmp_path) -> None:
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", QUIT_AFTER_ENV: "3"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--runs-folder", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_bad_recipe_on_the_command_line_is_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[[blocks]]\nname='a'\nrepeat=0\n")
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--recipe", str(bad)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "repeat must be a whole number" in proc.stderr


def test_write_failure_and_recovery_are_offered_in_banners(qtbot, demo, tmp_path) -> None:
    _controller, window = demo
    window.show_write_failure("cannot write /x/run.csv: No space left on device. Samples are kept in memory")
    banner = window.banners.get("write")
    assert banner is not None and "Choose folder…" in banner.buttons
    assert banner.label.text().startswith("Cannot write")
    window.show_recording(tmp_path / "saved.csv")  # saved elsewhere: the banner goes
    assert window.banners.get("write") is None
    run = tmp_path / "runs" / "old.csv"
    run.parent.mkdir(parents=True, exist_ok=True)
    run.write_text("# qcm-monitor run 1\n")
    window.offer_recovery([run])
    recover = window.banners.get(f"recover:{run}")
    assert recover is not None and {"Continue recording", "Open for replay", "Leave it"} <= set(recover.buttons)
    Path(str(run) + ".recording").write_text("999999\n")
    recover.buttons["Leave it"].click()
    assert not Path(str(run) + ".recording").exists() and run.exists()  # the data stays


def test_main_py_reads_a_port_served_by_qcm_simulate(tmp_path) -> None:
    """Two processes, as in a lab: `qcm simulate` on a pty, the app on --port, recording."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "qcm_app", "simulate", "--protocol", "stm100", "--speed", "20"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = sim.stdout.readline().strip()
        env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", QUIT_AFTER_ENV: "4"}
        app = subprocess.run(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "--port",
                port,
                "--protocol",
                "stm100",
                "--poll-interval",
                "0",
                "--record",
                "--runs-folder",
                str(tmp_path / "runs"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert app.returncode == 0, app.stderr[-2000:]
    finally:
        sim.terminate()
        sim.wait(10)
    run = read_run(next((tmp_path / "runs").glob("*.csv")))
    assert run.metadata.instrument == "Sycon STM-100 / INFICON STM-2" and run.metadata.port == port
    assert run.time_s.size > 40  # polled as fast as the 9600-baud link allows (~50/s), for a few seconds


def test_every_replay_state_has_its_words() -> None:
    """Replay reports the same WorkerState words as the live worker; the window has words for each."""
    from qcm_app.domain.events import WorkerState
    from widgets.window_status import STATE_TEXT

    replay_states = {
        WorkerState.LOADING,
        WorkerState.REPLAYING,
        WorkerState.FINISHED,
        WorkerState.ERROR,
        WorkerState.STOPPED,
    }
    assert replay_states <= set(STATE_TEXT)
    assert all(STATE_TEXT[s] for s in replay_states)
