"""The window as a bench instrument: Disconnect, Follow/Reset view, markers, alarms, recording
details, crystal change, shortcuts and Help, the recipe picker, layout kept between launches."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from instruments.base import ProtocolError, ReplyTimeout
from qcm_app import __version__
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings, recorded_speed_note
from qcm_app.domain.alarms import AlarmInputs, AlarmKind, AlarmMonitor, AlarmSettings
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, read_run
from tests.qcm_app.test_replay import _write_run
from widgets.connection_dialog import human_reason
from widgets.main_window import MainWindow
from widgets.record_dialog import RecordDialog
from widgets.report_export import report_recipe_argument


def make_window(qtbot, tmp_path: Path, **settings: object) -> tuple[AppController, MainWindow]:
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs", demo_speed=20.0, **settings))
    window = MainWindow(controller)
    window.ask_recording_details = False
    qtbot.addWidget(window)
    return controller, window


def wait_samples(qtbot, controller: AppController, n: int = 10) -> None:
    qtbot.waitUntil(lambda: len(controller.session.buffer) > n, timeout=15_000)


def test_after_disconnect_a_recipe_does_not_restart_the_demo(qtbot, tmp_path) -> None:
    controller, window = make_window(qtbot, tmp_path)
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        window.refresh()
        assert window.source_label.text().startswith("Demo:")
        window.disconnect_action.trigger()
        assert controller.worker is None and controller.demo_server is None
        window.recipe_combo.setCurrentIndex(window.recipe_combo.findText("Alucone (TMA/EG)"))
        window.recipe_combo.activated.emit(window.recipe_combo.currentIndex())
        assert controller.worker is None and controller.demo_server is None and not controller.is_demo
        assert controller.recipe is not None and controller.recipe.name == "Alucone (TMA/EG)"
        assert window.source_label.text() == "" and window.progress_label.text() == ""
        window.show_analysis()  # the cycles stay on screen, the ETA does not
        assert window.progress_label.text().startswith("Cycle") and "ETA" not in window.progress_label.text()
        window.show_state("stopped", "")  # what the stopped worker reports, after the disconnect
        assert window.link_label.text() == "Not connected"
    finally:
        controller.stop()


def test_a_zoom_stops_following_and_reset_or_a_new_source_brings_it_back(qtbot, tmp_path) -> None:
    controller, window = make_window(qtbot, tmp_path)
    window.show()
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        vb = window.plots.mass_plot.getViewBox()
        assert window.follow_action.isChecked()
        vb.scaleBy(s=(0.5, 0.5))
        vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])  # what a wheel zoom emits
        assert not window.follow_action.isChecked()
        assert vb.autoRangeEnabled() == [False, False]
        window.reset_view_action.trigger()
        assert window.follow_action.isChecked() and all(vb.autoRangeEnabled())
        vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
        assert not window.follow_action.isChecked()
        vb.menu.viewAll.trigger()  # right-click → View All follows again too
        assert window.follow_action.isChecked() and all(vb.autoRangeEnabled())
        window.follow_action.trigger()  # F: stop following
        assert not any(vb.autoRangeEnabled())
        path = _write_run(tmp_path / "other.csv", preset="al2o3")
        window.open_run(str(path))
        qtbot.waitUntil(lambda: controller.is_replay and window.follow_action.isChecked(), timeout=10_000)
        assert all(vb.autoRangeEnabled())
    finally:
        controller.stop()


def test_tare_marker_and_note_are_drawn_and_written_then_replayed(qtbot, tmp_path, monkeypatch) -> None:
    controller, window = make_window(qtbot, tmp_path)
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        window.record_action.setChecked(True)
        qtbot.waitUntil(
            lambda: controller.worker.recording.path is not None and controller.worker.recording.path.exists(),
            timeout=5000,
        )
        path = controller.worker.recording.path
        window.tare_action.trigger()
        monkeypatch.setattr(QtWidgets.QInputDialog, "getText", lambda *a, **k: ("purge valve checked", True))
        window.marker_action.trigger()
        n = controller.session.buffer.total
        qtbot.waitUntil(lambda: controller.session.buffer.total > n + 3, timeout=5000)
        window.refresh()
        assert len(window.plots.marker_times()) == 2
        assert [kind for _, kind, _ in controller.events] == ["tare", "marker"]
        window.record_action.setChecked(False)
        qtbot.waitUntil(lambda: not Path(str(path) + ".recording").exists(), timeout=5000)
        run = read_run(path)
        kinds = {e.kind: e for e in run.events}
        assert "tare" in kinds and kinds["marker"].text == "purge valve checked"
        window.open_run(str(path))
        qtbot.waitUntil(
            lambda: controller.is_replay and any(k == "marker" for _, k, _ in controller.events), timeout=10_000
        )
        qtbot.waitUntil(lambda: len(controller.session.buffer) > 0, timeout=10_000)
        window.refresh()
        assert len(window.plots.marker_times()) >= 2
        controller.set_target(1)
        assert controller.check_alarms() == []  # a replay is a review: its alarms are its events
    finally:
        controller.stop()


def test_alarm_is_shown_sounded_and_written_to_the_run_file(qtbot, tmp_path) -> None:
    controller, window = make_window(qtbot, tmp_path, alarms=AlarmSettings(crystal_life_min_pct=101.0))
    beeps: list[int] = []
    window.sound = lambda: beeps.append(1)
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        window.record_action.setChecked(True)
        qtbot.waitUntil(
            lambda: controller.worker.recording.path is not None and controller.worker.recording.path.exists(),
            timeout=5000,
        )
        path = controller.worker.recording.path
        qtbot.waitUntil(lambda: window.banners.get("alarm:CRYSTAL_LIFE_LOW") is not None, timeout=5000)
        before = len(beeps)
        assert before >= 1
        controller.alarms.reset()  # raised again now that a file is open
        qtbot.waitUntil(lambda: len(beeps) > before, timeout=5000)
        banner = window.banners.get("alarm:CRYSTAL_LIFE_LOW")
        assert "Crystal life" in banner.label.text()
        count = len(beeps)
        for _ in range(5):
            window.refresh()
        assert len(beeps) == count  # once, not every tick
        window.record_action.setChecked(False)
        qtbot.waitUntil(lambda: not Path(str(path) + ".recording").exists(), timeout=5000)
        alarms = [e for e in read_run(path).events if e.kind == "alarm"]
        assert alarms and "Crystal life" in alarms[0].text
    finally:
        controller.stop()


def test_target_reached_is_a_prominent_banner(qtbot, tmp_path) -> None:
    controller, window = make_window(qtbot, tmp_path)
    window.sound = lambda: None
    try:
        controller.start_demo(load_preset("al2o3"))
        window.target_spin.setValue(1)
        qtbot.waitUntil(lambda: window.banners.get("target") is not None, timeout=40_000)
        label = window.banners.get("target").label
        assert "Target reached" in label.text() and label.font().bold()
        assert label.font().pointSizeF() > window.font().pointSizeF()
    finally:
        controller.stop()


def test_alarm_monitor_raises_once_per_condition() -> None:
    monitor = AlarmMonitor(
        AlarmSettings(
            crystal_life_min_pct=20.0,
            rate_min_ng_cm2_s=0.0,
            rate_max_ng_cm2_s=5.0,
            cycle_mass_min_ng_cm2=30.0,
            cycle_mass_max_ng_cm2=45.0,
        )
    )
    raised = monitor.check(AlarmInputs(life_pct=15.0, rate_ng_cm2_s=9.0))
    assert {a.kind for a in raised} == {AlarmKind.CRYSTAL_LIFE_LOW, AlarmKind.RATE_OUT_OF_BAND}
    assert monitor.check(AlarmInputs(life_pct=14.0, rate_ng_cm2_s=9.0)) == []
    assert monitor.check(AlarmInputs(life_pct=50.0, rate_ng_cm2_s=1.0)) == []  # cleared
    assert [a.kind for a in monitor.check(AlarmInputs(life_pct=10.0))] == [AlarmKind.CRYSTAL_LIFE_LOW]
    assert monitor.check(AlarmInputs(last_cycle_index=3, last_cycle_gain_ng_cm2=36.0)) == []
    bad = monitor.check(AlarmInputs(last_cycle_index=4, last_cycle_gain_ng_cm2=12.0))
    assert [a.kind for a in bad] == [AlarmKind.CYCLE_MASS_OUT_OF_BAND] and "Cycle 4" in bad[0].text
    assert monitor.check(AlarmInputs(last_cycle_index=4, last_cycle_gain_ng_cm2=12.0)) == []  # same cycle
    lost = monitor.check(AlarmInputs(link_lost=True, link_detail="port vanished"))
    assert [a.kind for a in lost] == [AlarmKind.LINK_LOST]
    assert monitor.check(AlarmInputs(life_pct=math.nan)) == []


def test_crystal_change_resets_life_and_mass_and_is_an_event(qtbot, tmp_path) -> None:
    controller, _window = make_window(qtbot, tmp_path)
    try:
        controller.start_demo(load_preset("al2o3"))
        qtbot.waitUntil(lambda: controller.session.readouts().life_pct < 99.9, timeout=15_000)
        controller.new_crystal()
        n = controller.session.buffer.total
        qtbot.waitUntil(lambda: controller.session.buffer.total > n + 3, timeout=5000)
        r = controller.session.readouts()
        assert r.life_pct > 99.0  # the new crystal's frequency is 100 %
        assert abs(r.mass_ng_cm2) < 5.0
        assert controller.events[-1][1] == "crystal change"
    finally:
        controller.stop()


def test_connecting_at_a_time_scale_says_so(qtbot, tmp_path) -> None:
    controller, _window = make_window(qtbot, tmp_path)
    try:
        controller.connect_instrument(ConnectionSpec(protocol="sqm160", port="loop://"), time_scale=10.0)
        assert controller.worker.pipeline.clock.time_scale == 10.0
        assert "10×" in controller.description
        assert "10x" in controller.worker.metadata.extra["Sped up"]
    finally:
        controller.stop()
    meta = RunMetadata(time_scale=10.0, extra={"Simulated": "yes"})
    assert recorded_speed_note(meta) == "recorded from a simulator at 10× real time"
    assert recorded_speed_note(RunMetadata()) == ""


def test_recording_dialog_has_defaults(qtbot, tmp_path) -> None:
    dialog = RecordDialog(tmp_path / "20260101-120000_Al2O3.csv", "sample A")
    qtbot.addWidget(dialog)
    assert dialog.path() == tmp_path / "20260101-120000_Al2O3.csv" and dialog.note() == "sample A"
    dialog.name_edit.setText("my run")
    assert dialog.path() == tmp_path / "my run.csv"


def test_recording_indicator_is_red_with_time_and_size(qtbot, tmp_path) -> None:
    _controller, window = make_window(qtbot, tmp_path)
    run = tmp_path / "run.csv"
    run.write_text("x" * 5000)
    window.show_recording(run)
    text = window.record_label.text()
    assert text.startswith("● REC 0:0") and "5 kB" in text and "run.csv" in text
    assert "#C62828" in window.record_label.styleSheet()
    assert "#C62828" in window.toolbar.widgetForAction(window.record_action).styleSheet()
    window.show_recording(None)
    assert window.record_label.text() == "Not recording" and window.record_label.styleSheet() == ""
    assert window.toolbar.widgetForAction(window.record_action).styleSheet() == ""


def test_shortcuts_and_help(qtbot, tmp_path) -> None:
    _controller, window = make_window(qtbot, tmp_path)
    assert window.tare_action.shortcut().toString() == "Ctrl+T"
    assert window.record_action.shortcut().toString() == "Ctrl+R"
    assert window.follow_action.shortcut().toString() == "F"
    assert window.marker_action.shortcut().toString() == "M"
    listed = window.shortcuts_text()
    assert all(key in listed for key in ("Ctrl+T", "Ctrl+R", "F ", "M ")) and "marker" in listed
    assert __version__ in window.about_text() and "GPL-3.0-or-later" in window.about_text()
    menus = [a.text() for a in window.menuBar().actions()]
    assert "&Help" in menus


def test_status_error_is_cleared_when_connected(qtbot, tmp_path) -> None:
    _controller, window = make_window(qtbot, tmp_path)
    window.show_state("lost", "read failed: expected 1 bytes")
    assert window.statusBar().currentMessage()
    window.show_state("connected", "")
    assert window.statusBar().currentMessage() == ""


def test_an_opened_runs_recipe_is_not_listed_twice(qtbot, tmp_path) -> None:
    _controller, window = make_window(qtbot, tmp_path)
    count = window.recipe_combo.count()
    preset = load_preset("al2o3")
    embedded = parse_recipe(preset.text, source=f"{tmp_path / 'run.csv'} (embedded recipe)")
    window.show_recipe(embedded)
    window.show_recipe(embedded)
    assert window.recipe_combo.count() == count
    assert window.recipe_combo.currentText() == preset.name
    other = parse_recipe(preset.text.replace("Al2O3 (TMA/H2O)", "Al2O3 slow"), source="x.csv (embedded recipe)")
    window.show_recipe(other)
    assert window.recipe_combo.count() == count + 1


def test_report_of_an_opened_run_uses_its_embedded_recipe(qtbot, tmp_path) -> None:
    controller, _window = make_window(qtbot, tmp_path)
    controller.recipe = parse_recipe(load_preset("al2o3").text, source="run.csv (embedded recipe)")
    assert report_recipe_argument(controller) is None
    controller.recipe = load_preset("al2o3")
    assert report_recipe_argument(controller) == controller.recipe.source


def test_connection_test_failures_read_as_advice() -> None:
    spec = ConnectionSpec(protocol="sqm160", port="/dev/ttyUSB0")
    timeout = human_reason(ReplyTimeout("/dev/ttyUSB0: expected 1 bytes, got 0 b''"), spec)
    assert "did not answer within 0.5 s" in timeout and "bytes" not in timeout and "b''" not in timeout
    garbled = human_reason(ProtocolError("bad CRC 0x12"), spec)
    assert "instrument type" in garbled and "CRC" not in garbled


def test_connect_dialog_does_not_jump_when_a_hint_appears(qtbot) -> None:
    from widgets.connection_dialog import ConnectionDialog

    dialog = ConnectionDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.port_combo.setEditText("")
    dialog.layout().activate()
    empty = dialog.sizeHint().height(), dialog.protocol_combo.pos().y()
    assert not dialog.port_hint_label.text() and dialog.problem_label.text()
    dialog.port_combo.setEditText("socket://localhost:7777")  # a hint appears, the problem goes
    assert dialog.port_hint_label.text() and not dialog.problem_label.text()
    dialog.layout().activate()
    assert (dialog.sizeHint().height(), dialog.protocol_combo.pos().y()) == empty


def test_layout_is_kept_between_launches(qtbot, tmp_path) -> None:
    _c, first = make_window(qtbot, tmp_path)
    first.show()
    first.main_split.setSizes([500, 100])
    first.side_split.setSizes([300, 900])
    first.wall_clock_action.setChecked(True)
    first.save_layout()
    _c2, second = make_window(qtbot, tmp_path)
    second.show()

    def ratio(split: QtWidgets.QSplitter) -> float:
        a, b = split.sizes()
        return a / b if b else math.inf

    # the window's size may differ on another screen; the proportions are what was kept
    qtbot.waitUntil(lambda: abs(ratio(second.main_split) - 5.0) < 0.2, timeout=5000)
    assert abs(ratio(second.side_split) - 1 / 3) < 0.1
    assert second.wall_clock_action.isChecked()


def test_crosshair_reads_time_frequency_and_mass(qtbot, tmp_path) -> None:
    import numpy as np

    _c, window = make_window(qtbot, tmp_path)
    t = np.array([0.0, 1.0, 2.0, 3.0])
    window.plots.set_data(t, [np.array([6.0e6, 5.9999e6, 5.9998e6, 5.9997e6])], [np.array([0.0, 1.5, 3.0, 4.5])])
    text = window.plots.readout_at(2.1)
    assert "0:02" in text and "5\u2009999\u2009800.00 Hz" in text and "3.0 ng/cm²" in text
    window.plots.set_wall_clock(QtCore.QDateTime(QtCore.QDate(2026, 1, 1), QtCore.QTime(10, 0, 0)).toSecsSinceEpoch())
    assert "10:00:02" in window.plots.readout_at(2.1)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_export_writes_the_file(qtbot, tmp_path, suffix) -> None:
    _c, window = make_window(qtbot, tmp_path)
    window.show()
    out = tmp_path / f"plots{suffix}"
    window.export_plot(out)
    qtbot.waitUntil(lambda: out.exists() and "Plot written" in window.statusBar().currentMessage(), timeout=10_000)
    if suffix == ".png":
        image = QtGui.QImage(str(out))
        assert image.width() >= window.plots.width() and image.height() > window.plots.height()
    else:
        from PySide6 import QtSvg

        renderer = QtSvg.QSvgRenderer(str(out))
        assert renderer.isValid()
        box = renderer.viewBox()  # the plots' own area, not the unbounded scene of the marker lines
        assert (box.width(), box.height()) == (window.plots.viewport().width(), window.plots.viewport().height())


def test_alarm_settings_round_trip_and_bad_values_fall_back() -> None:
    from qcm_app.app.settings import settings_from_mapping, settings_to_mapping

    settings, problems = settings_from_mapping(
        {"alarm_rate_max_ng_cm2_s": "5", "alarm_cycle_mass_min_ng_cm2": "", "alarm_crystal_life_min_pct": "15"}
    )
    assert not problems
    assert settings.alarms.rate_max_ng_cm2_s == 5.0 and math.isnan(settings.alarms.cycle_mass_min_ng_cm2)
    assert settings.alarms.crystal_life_min_pct == 15.0
    again, problems = settings_from_mapping(settings_to_mapping(settings))
    assert not problems and again.alarms.rate_max_ng_cm2_s == 5.0 and math.isnan(again.alarms.rate_min_ng_cm2_s)
    _, problems = settings_from_mapping({"alarm_crystal_life_min_pct": "140"})
    assert len(problems) == 1 and "alarm_crystal_life_min_pct" in problems[0]


def test_wall_clock_axis_follows_a_live_run_and_a_replayed_files_start(qtbot, tmp_path) -> None:
    from datetime import datetime

    controller, window = make_window(qtbot, tmp_path)
    window.wall_clock_action.setChecked(True)
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        window.refresh()
        origin = window.plots.time_axes[0].wall_origin_s
        assert origin is not None and abs(origin - controller.wall_clock_origin_s()) < 1e-6
        assert window.plots.time_axes[0].time_scale == 20.0
        path = _write_run(tmp_path / "run.csv", preset="al2o3")
        window.open_run(str(path))
        start = datetime.fromisoformat(read_run(path).metadata.start_time).timestamp()
        qtbot.waitUntil(lambda: window.plots.time_axes[0].wall_origin_s == start, timeout=10_000)
        assert window.plots.time_axes[0].tickStrings([60.0], 1, 1) == [
            datetime.fromtimestamp(start + 60).strftime("%H:%M:%S")
        ]
    finally:
        controller.stop()


def test_the_blocks_table_says_what_the_bars_say() -> None:
    from qcm_app.analysis.regimes import BlockRegime
    from widgets.blocks_table import initiation_text

    def block(labels: tuple[str, ...], **kw: object) -> BlockRegime:
        return BlockRegime(block_index=0, block_name="Al2O3", first_index=1, cycles=len(labels), labels=labels, **kw)

    assert initiation_text(block(("steady",))) == "none"  # a green bar is not "deciding…"
    assert initiation_text(block(("nucleation", "nucleation"))) == "deciding…"
    assert (
        initiation_text(block(("nucleation",) * 3 + ("steady",), nucleation_kind="enhanced", nucleation_cycles=3))
        == "enhanced, 3"
    )


def test_settings_dialog_edits_alarm_bounds(qtbot) -> None:
    from widgets.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.life_min.setValue(15.0)
    dialog.bounds["cycle_mass_min_ng_cm2"].setText("30")
    dialog.bounds["cycle_mass_max_ng_cm2"].setText("45,5")
    alarms = dialog.settings().alarms
    assert alarms.crystal_life_min_pct == 15.0
    assert (alarms.cycle_mass_min_ng_cm2, alarms.cycle_mass_max_ng_cm2) == (30.0, 45.5)
    assert math.isnan(alarms.rate_min_ng_cm2_s)
    dialog.bounds["rate_max_ng_cm2_s"].setText("fast")
    dialog._accept()
    assert "alarm bound" in dialog.problem.text() and dialog.result() != QtWidgets.QDialog.DialogCode.Accepted


def test_a_lost_link_is_an_alarm_and_a_marker_but_not_written_twice(qtbot, tmp_path) -> None:
    controller, window = make_window(qtbot, tmp_path)
    beeps: list[int] = []
    window.sound = lambda: beeps.append(1)
    try:
        controller.start_demo(load_preset("al2o3"))
        wait_samples(qtbot, controller)
        marks: list[tuple[str, str]] = []
        controller.worker.mark_event = lambda kind, text="": marks.append((kind, text))
        controller.state_changed.emit("lost", "the port vanished")
        window.refresh()
        banner = window.banners.get("alarm:LINK_LOST")
        assert banner is not None and "the port vanished" in banner.label.text() and beeps
        assert controller.events[-1][1:] == ("link lost", "the port vanished")
        assert marks == []  # the worker writes "# Link lost" itself
    finally:
        controller.stop()
