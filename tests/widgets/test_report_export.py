"""File → Export report writes the report of the run on screen, off the GUI thread."""

from __future__ import annotations

from PySide6 import QtWidgets

from qcm_app.app.controller import AppController, AppSettings
from tests.qcm_app.test_replay import _write_run
from widgets.main_window import MainWindow


def test_export_report_of_a_replayed_run(qtbot, tmp_path, monkeypatch) -> None:
    path = _write_run(tmp_path / "run.csv", preset="al2o3")
    controller = AppController(AppSettings(runs_folder=tmp_path))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    try:
        window.open_run(str(path))
        out = tmp_path / "report"
        monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
        window.report_action.trigger()
        qtbot.waitUntil(lambda: (out / "report.html").exists(), timeout=60_000)
        assert {p.name for p in out.iterdir()} >= {"report.html", "report.pdf", "cycles.csv", "summary.json"}
        qtbot.waitUntil(lambda: "Report written" in window.statusBar().currentMessage(), timeout=10_000)
    finally:
        controller.stop()


def test_export_without_a_run_file_explains(qtbot, tmp_path, monkeypatch) -> None:
    controller = AppController(AppSettings(runs_folder=tmp_path))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    shown: list[str] = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "information", lambda parent, title, text: shown.append(text))
    window.report_action.trigger()
    assert shown and "Record a run or open one" in shown[0]
