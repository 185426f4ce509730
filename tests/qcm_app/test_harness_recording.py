"""Recording fault suite (issue 10): a full disk (a real small tmpfs where this machine lets us mount
one, else an injected ENOSPC), a read-only folder, and closing or quitting with samples only in
memory or while recording. Every sample handed to the recorder ends up in a file exactly once.
(kill -9 while recording is in tests/qcm_app/test_faults.py.)"""

from __future__ import annotations

import contextlib
import errno
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from instruments.emulators.base import ConstantSource, PtyServer
from instruments.emulators.sqm160 import Sqm160Emulator
from qcm_app.acquisition.recording import Recording
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.pipeline import Pipeline
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, read_run
from qcm_app.io.runfile import writer as runfile_writer
from widgets.main_window import MainWindow

ROWS_PER_CHUNK = 10


class _LimitedFile(io.TextIOBase):
    """A text file on a 'disk' that holds ``limit`` bytes: a write beyond it puts what fits, then
    raises ENOSPC, as a full file system does (used where mounting a tmpfs is not allowed)."""

    def __init__(self, fh: io.TextIOWrapper, limit: int) -> None:
        self._fh, self._limit, self._size = fh, limit, 0
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if len(self._pending) > 4096:  # a buffer that goes to disk by itself now and then
            self._drain()
        return len(text)

    def _drain(self) -> None:
        room = self._limit - self._size
        data, self._pending = self._pending, ""
        if len(data.encode()) > room:
            part = data.encode()[: max(room, 0)].decode(errors="ignore")
            self._fh.write(part)
            self._fh.flush()
            self._size += len(part.encode())
            raise OSError(errno.ENOSPC, "No space left on device")
        self._fh.write(data)
        self._fh.flush()
        self._size += len(data.encode())

    def flush(self) -> None:
        self._drain()

    def tell(self) -> int:
        return self._size

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        try:
            self._drain()
        finally:
            self._fh.close()


@contextlib.contextmanager
def small_disk(
    folder: Path, size_bytes: int, monkeypatch: pytest.MonkeyPatch, read_only: bool = False, mount: bool = True
) -> Iterator[str]:
    """``folder`` on a file system of ``size_bytes`` (or read-only); says which kind it could make."""
    folder.mkdir(parents=True)
    opts = f"size={size_bytes}" + (",ro" if read_only else "")
    mounted = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)], capture_output=True)
        if mount
        else None
    )
    if mounted is not None and mounted.returncode == 0:
        try:
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        return
    real_open = open

    def limited_open(path, mode="r", *args, **kw):
        if Path(path).parent == folder and ("x" in mode or "a" in mode or "w" in mode):
            if read_only:
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return _LimitedFile(real_open(path, mode, *args, **kw), size_bytes)
        return real_open(path, mode, *args, **kw)

    monkeypatch.setattr(runfile_writer, "open", limited_open, raising=False)
    yield "injected"


def _chunks(n: int) -> list:
    pipe = Pipeline(1)
    t = np.arange(n * ROWS_PER_CHUNK) * 0.1
    f = 5_975_830.0 - 0.001 * np.arange(t.size)
    return [
        pipe.process_arrays(t[i : i + ROWS_PER_CHUNK], f[i : i + ROWS_PER_CHUNK])
        for i in range(0, t.size, ROWS_PER_CHUNK)
    ]


def _meta() -> RunMetadata:
    return RunMetadata(start_time="2026-01-01T00:00:00+00:00", instrument="test", start_frequency_hz=(5_975_830.0,))


@pytest.mark.parametrize("mount", [True, False], ids=["tmpfs-where-allowed", "injected-enospc"])
@pytest.mark.parametrize("flush_interval_s", [0.0, 1e9], ids=["flushed-every-write", "all-in-the-buffer"])
def test_disk_full_keeps_every_sample_including_the_unflushed_buffer(
    tmp_path, monkeypatch, flush_interval_s, mount
) -> None:
    monkeypatch.setattr(runfile_writer, "FLUSH_INTERVAL_S", flush_interval_s)
    warnings: list[str] = []
    failures: list[str] = []
    rec = Recording(warnings.append, failures.append)
    chunks = _chunks(600)  # 6000 rows, ~70 bytes each: far more than the 32 kB disk holds
    full = tmp_path / "full"
    with small_disk(full, 32 * 1024, monkeypatch, mount=mount) as kind:
        rec.start(full / "run.csv")
        for chunk in chunks:
            rec.write(chunk, _meta)
            rec.flush_if_due()
        assert failures and "No space left on device" in failures[0], kind
        assert rec.memory_rows > 0
        on_disk = (full / "run.csv").read_bytes()
        assert on_disk.endswith(b"\n"), f"{kind}: the failed file ends in half a row"
        rescue = tmp_path / "rescue"
        rescue.mkdir()
        rec.relocate(rescue, _meta)
        rec.stop()
    saved = read_run(next(rescue.glob("*.csv")))
    expected = np.concatenate([c.time_s for c in chunks])
    assert saved.time_s.size == expected.size, f"{kind}: {expected.size - saved.time_s.size} samples lost"
    assert np.allclose(saved.time_s, expected, atol=1e-4)  # every sample once, in order
    assert rec.memory_rows == 0


@pytest.mark.parametrize("mount", [True, False], ids=["tmpfs-where-allowed", "injected-erofs"])
def test_read_only_folder_keeps_every_sample_until_saved_elsewhere(tmp_path, monkeypatch, mount) -> None:
    warnings: list[str] = []
    rec = Recording(warnings.append)
    chunks = _chunks(50)
    ro = tmp_path / "ro"
    with small_disk(ro, 1024 * 1024, monkeypatch, read_only=True, mount=mount) as kind:
        rec.start(ro / "run.csv")
        for chunk in chunks:
            rec.write(chunk, _meta)
        assert rec.memory_rows == 500, kind
        rec.stop()  # the user stopped recording: the samples are still held
        assert rec.memory_rows == 500 and "only in memory" in warnings[-1]
        rescue = tmp_path / "rescue"
        rescue.mkdir()
        rec.relocate(rescue, _meta)
        rec.stop()
    saved = read_run(next(rescue.glob("*.csv")))
    assert np.allclose(saved.time_s, np.concatenate([c.time_s for c in chunks]), atol=1e-4)


# --- the window: close, quit and recipe changes while recording --------------------------------


@pytest.fixture
def live(qtbot, tmp_path):
    server = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs"))
    window = MainWindow(controller)
    window.ask_recording_details = False  # no file-name dialog: the test presses Record
    qtbot.addWidget(window)
    window.show()
    # pytest-qt closes the window before this fixture ends: a question then must not wait for a click
    window.ask = lambda title, text, buttons: (
        MainWindow.DISCARD if MainWindow.DISCARD in buttons else MainWindow.STOP_AND_QUIT
    )
    controller.connect_instrument(
        ConnectionSpec(protocol="sqm160", port=server.port, poll_interval_s=0.02, timeout_s=2.0)
    )
    yield controller, window
    controller.discard_unsaved()  # whatever is left, the test is over
    window.hide()
    server.stop()


def _rows(path: Path) -> int:
    """Data rows that reached the file so far (it is flushed twice a second)."""
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line[:1].isdigit())


def _refusing_recording(qtbot, controller, tmp_path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    controller.start_recording(not_a_folder / "run.csv")
    qtbot.waitUntil(lambda: controller.unsaved_rows > 30, timeout=15_000)


def test_closing_with_samples_only_in_memory_asks_and_saves_them(qtbot, live, tmp_path) -> None:
    controller, window = live
    _refusing_recording(qtbot, controller, tmp_path)
    answers = [MainWindow.CANCEL, MainWindow.SAVE]
    asked: list[str] = []

    def ask(title: str, text: str, buttons: list[str]) -> str:
        asked.append(text)
        assert MainWindow.DISCARD in buttons and MainWindow.SAVE in buttons
        return answers.pop(0)

    window.ask = ask
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    window.pick_folder = lambda title: str(rescue)
    assert not window.close()  # Cancel: nothing happens
    assert window.isVisible() and controller.worker is not None
    held = controller.unsaved_rows
    assert window.close()
    assert "only in memory" in asked[0]
    saved = read_run(next(rescue.glob("*.csv")))
    assert saved.time_s.size >= held and controller.unsaved_rows == 0


def test_discarding_samples_in_memory_is_an_explicit_choice(qtbot, live, tmp_path) -> None:
    controller, window = live
    _refusing_recording(qtbot, controller, tmp_path)
    window.ask = lambda title, text, buttons: MainWindow.DISCARD
    assert window.close()
    assert controller.unsaved_rows == 0


def test_quit_shortcut_while_recording_asks(qtbot, live, tmp_path) -> None:
    controller, window = live
    path = controller.start_recording(tmp_path / "run.csv")
    qtbot.waitUntil(lambda: _rows(path) > 20, timeout=15_000)
    quit_action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Quit")
    assert quit_action.shortcut() == QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Quit)  # Ctrl+Q
    asked: list[list[str]] = []
    window.ask = lambda title, text, buttons: asked.append(buttons) or MainWindow.CANCEL
    quit_action.trigger()
    assert asked == [[MainWindow.STOP_AND_QUIT, MainWindow.CANCEL]]
    assert window.isVisible() and controller.recording_active
    window.ask = lambda title, text, buttons: MainWindow.STOP_AND_QUIT
    quit_action.trigger()
    assert not window.isVisible() and not controller.recording_active
    assert read_run(path).time_s.size > 20


def test_recipe_change_while_recording_live_goes_on_with_an_event(qtbot, live, tmp_path) -> None:
    controller, _ = live
    path = controller.start_recording(tmp_path / "run.csv")
    qtbot.waitUntil(lambda: _rows(path) > 20, timeout=15_000)
    controller.set_recipe(load_preset("al2o3"))
    qtbot.waitUntil(lambda: "# Recipe changed:" in path.read_text(), timeout=15_000)
    after = _rows(path)
    qtbot.waitUntil(lambda: _rows(path) > after + 20, timeout=15_000)
    controller.stop()
    run = read_run(path)
    changed = [e for e in run.events if e.kind == "recipe changed"]
    assert len(changed) == 1 and "Al2O3" in changed[0].text
    assert np.sum(run.time_s > changed[0].time_s) > 10  # the recording went on after it


def test_recipe_change_in_the_demo_stops_the_recording_visibly(qtbot, tmp_path) -> None:
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs", demo_speed=20.0))
    window = MainWindow(controller)
    window.ask_recording_details = False  # no file-name dialog: the test presses Record
    qtbot.addWidget(window)
    try:
        controller.start_demo(load_preset("al2o3"))
        window.record_action.setChecked(True)
        qtbot.waitUntil(
            lambda: controller.recording_path is not None and controller.recording_path.exists(), timeout=10_000
        )
        path = controller.recording_path
        warnings: list[str] = []
        controller.warning_raised.connect(warnings.append)
        with qtbot.waitSignal(controller.recording_changed, timeout=10_000, check_params_cb=lambda p: p is None):
            controller.set_recipe(load_preset("alucone"))
        assert not window.record_action.isChecked()
        assert window.record_label.text() == "Not recording"
        assert any("Recording stopped" in w and str(path) in w for w in warnings)
        assert not controller.recording_active
    finally:
        controller.stop()
