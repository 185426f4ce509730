"""Faults that must never cost recorded data: a killed process, a refusing disk, bad input files."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments.emulators.base import ConstantSource, PtyServer
from instruments.emulators.sqm160 import Sqm160Emulator
from qcm_app.acquisition import worker as acquisition
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.app.hooks import QUIT_AFTER_ENV
from qcm_app.domain.errors import UserInputError
from qcm_app.io import runfile
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import interrupted_runs, read_run

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    return {"QT_QPA_PLATFORM": "offscreen", "HOME": str(home), "PATH": "/usr/bin:/bin"}


def _data_rows(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Time (s)")) + 1
    return [line for line in lines[start:] if line and not line.startswith("#")]


def test_sigkill_while_recording_loses_at_most_the_last_second(tmp_path) -> None:
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--record", "--speed", "1", "--runs-folder", str(runs)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        first_row_seen = None
        while time.monotonic() < deadline:
            files = list(runs.glob("*.csv"))
            if files and first_row_seen is None and _data_rows(files[0]):
                first_row_seen = time.monotonic()
            if first_row_seen is not None and time.monotonic() - first_row_seen > 4.0:
                break
            time.sleep(0.05)
        assert first_row_seen is not None, "no data rows appeared"
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    path = next(runs.glob("*.csv"))
    run = read_run(path)  # re-opens; a row cut short at the end would be dropped with a warning
    assert run.time_s.size > 20
    # the speed-1 demo's run clock runs with the wall clock: rows end within a second of the kill
    # (the first row may have appeared up to one flush interval before the test saw it)
    covered_s = killed_at - first_row_seen + runfile.FLUSH_INTERVAL_S + 0.1
    missing_s = covered_s - (run.time_s[-1] - run.time_s[0])
    assert missing_s <= 1.0, f"{missing_s:.2f} s missing"
    assert interrupted_runs(runs) == [path]  # the next launch will offer to recover it
    relaunch = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--runs-folder", str(runs)],
        cwd=tmp_path,
        env={**_env(tmp_path), QUIT_AFTER_ENV: "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert relaunch.returncode == 0
    assert f"interrupted recordings found: {path}" in relaunch.stderr


def test_continue_an_interrupted_run_appends_after_a_gap(qtbot, tmp_path, monkeypatch) -> None:
    # the one gap here is the interruption; a machine too busy to let the demo answer for a few
    # seconds must not add a lost link of its own (under load it did: "2 gaps")
    monkeypatch.setattr(acquisition, "TIMEOUTS_BEFORE_REOPEN", 10**6)
    runs = tmp_path / "runs"
    first = AppController(AppSettings(runs_folder=runs, demo_speed=20.0))
    first.start_demo(load_preset("al2o3"))
    path = first.start_recording()
    qtbot.waitUntil(lambda: path.exists() and len(_data_rows(path)) > 20, timeout=15_000)
    # simulate the crash: the thread stops without closing the file, the marker stays
    first.worker.recording._writer._fh.flush()
    first.worker.recording._writer = None
    first.stop()
    before = read_run(path)
    assert interrupted_runs(runs) == [path]
    second = AppController(AppSettings(runs_folder=runs, demo_speed=20.0))
    try:
        second.continue_run(path)
        qtbot.waitUntil(lambda: len(_data_rows(path)) > before.time_s.size + 20, timeout=15_000)
        # the earlier part is back in view, on the run's own clock
        assert second.session.buffer.view("time_s")[0] == pytest.approx(before.time_s[0], abs=1e-3)
    finally:
        second.stop()
    after = read_run(path)
    assert np.all(np.diff(after.time_s) > 0)
    assert after.time_s[: before.time_s.size] == pytest.approx(before.time_s)
    gaps = after.gaps()
    assert len(gaps) == 1 and gaps[0][0] == pytest.approx(before.time_s[-1], abs=1e-3)
    assert interrupted_runs(runs) == []


@pytest.fixture
def pty_controller(tmp_path):
    server = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    c = AppController(AppSettings(runs_folder=tmp_path / "runs"))
    c.connect_instrument(ConnectionSpec(protocol="sqm160", port=server.port, poll_interval_s=0.02))
    yield c
    c.stop()
    server.stop()


def test_unwritable_location_keeps_samples_in_memory_until_a_folder_is_chosen(qtbot, pty_controller, tmp_path) -> None:
    c = pty_controller
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    failures: list[str] = []
    c.recording_failed.connect(failures.append)
    c.start_recording(not_a_folder / "run.csv")
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert "cannot write" in failures[0] and "kept in memory" in failures[0]
    n0 = c.session.buffer.total
    qtbot.waitUntil(lambda: c.session.buffer.total > n0 + 50, timeout=10_000)
    assert c.worker.state == "connected"
    good = tmp_path / "elsewhere"
    good.mkdir()
    c.relocate_recording(good)
    qtbot.waitUntil(lambda: any(good.glob("*.csv")), timeout=5000)
    n1 = c.session.buffer.total
    qtbot.waitUntil(lambda: c.session.buffer.total > n1 + 20, timeout=10_000)
    c.stop()
    run = read_run(next(good.glob("*.csv")))
    # every sample the view saw since recording was asked for is in the new file, in order, none twice;
    # the file may hold a few more: chunks recorded just before the stop whose signal the view never got
    session_t = c.session.buffer.view("time_s")
    expected = session_t[session_t >= run.time_s[0] - 1e-6]
    assert run.time_s[0] <= session_t[n0] + 1e-3
    assert expected.size > n0 and run.time_s.size >= expected.size
    assert run.time_s[: expected.size] == pytest.approx(expected, abs=1e-3)
    assert np.all(np.diff(run.time_s) > 0)


def test_disk_full_mid_recording(qtbot, pty_controller, tmp_path, monkeypatch) -> None:
    c = pty_controller
    path = c.start_recording(tmp_path / "runs" / "full.csv")
    qtbot.waitUntil(lambda: path.exists() and len(_data_rows(path)) > 20, timeout=10_000)
    original = runfile.RunWriter.write

    def full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")

    failures: list[str] = []
    c.recording_failed.connect(failures.append)
    monkeypatch.setattr(runfile.RunWriter, "write", full)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert "No space left on device" in failures[0]
    monkeypatch.setattr(runfile.RunWriter, "write", original)
    n = c.session.buffer.total
    qtbot.waitUntil(lambda: c.session.buffer.total > n + 30, timeout=10_000)
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    c.relocate_recording(rescue)
    qtbot.waitUntil(lambda: any(rescue.glob("*.csv")), timeout=5000)
    c.stop()
    saved = read_run(next(rescue.glob("*.csv")))
    t = c.session.buffer.view("time_s")
    first_recorded = read_run(path).time_s[0]
    expected = t[t >= first_recorded - 1e-6]
    # what reached the first file + what waited in memory: every sample the view saw, once, in order
    # (the file may end with a few the view never got: recorded just before the stop)
    assert saved.time_s.size >= expected.size
    assert saved.time_s[: expected.size] == pytest.approx(expected, abs=1e-3)
    assert np.all(np.diff(saved.time_s) > 0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_garbage_run_files_give_one_line_errors(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("g") / "run.csv"
    path.write_bytes(b"# qcm-monitor run 1\n" + data)
    try:
        read_run(path)
    except UserInputError as exc:
        assert "\n" not in str(exc) and "run.csv" in str(exc)
