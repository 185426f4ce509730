"""Valve markers in the window: ticks per precursor on the time axis, the demo's own valve line,
a "no uptake" alarm from an empty bottle, and the marker source in the connection dialog."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from PySide6 import QtWidgets

from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.marker_sources import EventLineSource, MarkerKind, MarkerSpec
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import read_run
from qcm_app.simulation.reactor import Depletion, ReactorSettings
from qcm_app.simulation.simulate import build_marker_server, build_server
from widgets.connection_dialog import ConnectionDialog
from widgets.main_window import MainWindow
from widgets.marker_source_box import MarkerDialog
from widgets.plots import PRECURSOR_COLOURS, SPARE_COLOURS, TimePlots, precursor_colour


def _window(qtbot, tmp_path, speed: float) -> tuple[AppController, MainWindow]:
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs", demo_speed=speed))
    window = MainWindow(controller)
    window.ask_recording_details = False
    qtbot.addWidget(window)
    return controller, window


def test_ticks_per_precursor_stay_at_the_foot_of_the_mass_plot(qtbot) -> None:
    plots = TimePlots(1)
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    qtbot.waitExposed(plots)
    t = np.arange(0.0, 30_000.0, 1.0)
    plots.set_data(t, [5.97e6 - t * 1e-3], [t * 0.01])
    pulses = [ValvePulse(30.0 * k + 15.0 * (k % 2), 0.1, name, name) for k, name in enumerate(["TMA", "H2O"] * 1500)]
    pulses.append(ValvePulse(100.0, 600.0, "Shutter 1", ""))  # a shutter open for 10 min, unnamed
    plots.set_valve_pulses(pulses)
    assert list(plots.valve_curves) == ["TMA", "H2O", "Shutter 1"]
    tma = plots.valve_curves["TMA"]
    assert np.array_equal(plots.valve_tick_times("TMA"), [p.time_s for p in pulses if p.precursor == "TMA"])
    assert tma.opts["pen"].color().name() == PRECURSOR_COLOURS["TMA"].lower()
    assert plots.valve_curves["H2O"].opts["pen"].color().name() == PRECURSOR_COLOURS["H2O"].lower()
    assert precursor_colour("Shutter 1") == precursor_colour("Shutter 1") in SPARE_COLOURS
    labels = [label.text for _, label in plots.valve_legend.items]
    assert labels == ["TMA valve · 1500", "H2O valve · 1500", "Shutter 1 valve · 1"]
    # the strokes sit in rows at the bottom of the view, below the whole mass trace
    view = plots.mass_plot.getViewBox()
    qtbot.waitUntil(lambda: view.viewRange()[0][1] > 29_000, timeout=5000)  # auto-range followed the data
    low, high = view.viewRange()[1]
    tops = [float(np.max(curve.yData)) for curve in plots.valve_curves.values()]
    assert low < tops[0] < tops[1] < tops[2] < float(np.min(t * 0.01))
    assert float(np.min(tma.yData)) == pytest.approx(low + 0.01 * (high - low))
    # a view of 8 h draws one stroke per pixel column, not 1500: the rest would paint over it
    drawn = tma.xData[::4]
    assert 100 < drawn.size <= view.width() + 2 and set(drawn) <= set(plots.valve_tick_times("TMA"))
    view.setXRange(3000.0, 3600.0, padding=0)  # zoomed in: every pulse in view, each one drawn
    in_view = [p.time_s for p in pulses if p.precursor == "TMA" and 3000 <= p.time_s <= 3600]
    assert np.array_equal(tma.xData[::4], in_view)
    # more pulses: the same items, updated; a run without a shutter hides its row and legend entry
    plots.set_valve_pulses([*pulses[:-1], ValvePulse(90_000.0, 0.1, "TMA", "TMA")])
    assert plots.valve_curves["TMA"] is tma and len(plots.valve_tick_times("TMA")) == 1501
    assert not plots.valve_curves["Shutter 1"].isVisible() and len(plots.valve_legend.items) == 2
    plots.set_valve_pulses([])
    assert not plots.valve_legend.isVisible() and plots.mass_plot.getViewBox().foot_fraction == 0


def test_demo_shows_its_reactors_valves_through_an_event_line(qtbot, tmp_path, monkeypatch) -> None:
    speed = 40.0
    controller, window = _window(qtbot, tmp_path, speed)
    try:
        controller.start_demo(load_preset("al2o3"))
        qtbot.waitUntil(lambda: len(controller.session.valve_pulses) >= 4, timeout=20_000)
        source = controller.worker.marker_source
        assert isinstance(source, EventLineSource) and source.url == controller.marker_server.port
        assert "valves: valve events on" in window.source_label.text()
        window.refresh()
        pulses = controller.session.valve_pulses
        assert [p.precursor for p in pulses[:4]] == ["TMA", "H2O", "TMA", "H2O"]
        assert set(window.plots.valve_curves) == {"TMA", "H2O"}
        assert len(window.plots.valve_tick_times("TMA")) == sum(p.precursor == "TMA" for p in pulses)
        assert controller.worker.analyzer.markers[:4] == tuple(pulses[:4])
        # the cycles are the valves': the first starts at the first TMA valve, none is placed before it
        qtbot.waitUntil(lambda: len(controller.session.cycles) >= 2, timeout=30_000)
        first = controller.session.cycles[0]
        assert all(first.pulses_observed) and first.start_s == controller.session.valve_pulses[0].time_s
        # the simulated tool stamps by the wall clock of this PC: each pulse lands where the reactor fired
        # it on the run's clock (run time 0: the instrument's first reading), within the ms of its stamps
        emulator = controller.demo_server.instrument
        emulator_start = time.monotonic() - emulator.elapsed_s()
        first_sample = (controller.worker.pipeline.clock.origin_s - emulator_start) * speed
        truth = [p.time_s - first_sample for p in controller.marker_server.instrument.schedule.model.valve_pulses()]
        got = np.array([p.time_s for p in pulses])
        k = int(np.searchsorted(truth, got[0] - 7.5))
        np.testing.assert_allclose(got, truth[k : k + got.size], atol=0.005 * speed)
        model = controller.marker_server.instrument.schedule.model.valve_pulses()
        np.testing.assert_allclose(
            [p.duration_s for p in pulses], [p.duration_s for p in model[k : k + got.size]], atol=0.002 * speed
        )
        # Instrument → Valve markers…: the dialog says what is followed now; the running worker follows the choice
        log = tmp_path / "tool_DataLog.txt"

        def answer(dialog: MarkerDialog) -> int:
            assert "the demo's simulated tool" in dialog.now_label.text()
            dialog.box.kind_combo.setCurrentIndex(dialog.box.kind_combo.findData("log"))
            dialog.box.target_edit.setText(str(log))
            dialog.accept()
            return QtWidgets.QDialog.DialogCode.Accepted

        monkeypatch.setattr(MarkerDialog, "exec", answer)
        window.markers_action.trigger()
        qtbot.waitUntil(lambda: controller.worker.marker_spec == MarkerSpec(MarkerKind.LOG, str(log)), timeout=10_000)
        assert controller.marker_spec == controller.worker.marker_spec
    finally:
        controller.stop()
    assert controller.marker_server is None


SHORT_AL2O3 = """name = "Al2O3, short purges"
[[blocks]]
name = "Al2O3"
repeat = 20
[[blocks.steps]]
name = "TMA"
kind = "pulse"
duration_s = 0.1
mass_ng_cm2 = 40.5
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 6
[[blocks.steps]]
name = "H2O"
kind = "pulse"
duration_s = 0.1
mass_ng_cm2 = -3.5
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 6
"""


def test_an_empty_bottle_raises_the_no_uptake_alarm_in_the_window(qtbot, tmp_path) -> None:
    """An instrument and the tool's valve line on one reactor whose TMA runs dry at its 5th pulse:
    the valve still fires, the analysis sees no uptake, the window shows and sounds it once, and the
    run file has the alarm and every valve pulse."""
    speed = 25.0
    recipe = parse_recipe(SHORT_AL2O3, source="test")
    reactor = ReactorSettings(seed=7, depleted=(Depletion("TMA", 5),), start_delay_s=10.0)
    qcm = build_server("sqm160", recipe, speed=speed, seed=7, reactor=reactor, paced=False).start()
    # the tool on this PC stamps by its wall clock: each pulse is placed exactly, whatever the latency
    valves = build_marker_server(
        "valves", recipe, speed=speed, seed=7, reactor=reactor, beside=qcm, frame_period_s=0.01, wall_clock=True
    ).start()
    controller, window = _window(qtbot, tmp_path, speed)
    beeps: list[int] = []
    window.sound = lambda: beeps.append(1)
    try:
        controller.connect_instrument(
            ConnectionSpec("sqm160", qcm.port, poll_interval_s=0.0),
            recipe,
            time_scale=speed,
            markers=MarkerSpec(MarkerKind.SERIAL, valves.port),
        )
        path = controller.start_recording(tmp_path / "empty.csv")
        qtbot.waitUntil(lambda: window.banners.get("alarm:NO_UPTAKE") is not None, timeout=30_000)
        text = window.banners.get("alarm:NO_UPTAKE").label.text()
        found = re.search(r"TMA pulse of cycle (\d+): no uptake", text)
        assert found and "depleted" in text
        assert beeps
        count = len(beeps)
        for _ in range(3):
            window.refresh()
        assert len(beeps) == count  # once, not every tick
        # the pulse it names fired when the bottle was empty: the reactor's 5th TMA pulse (or a later
        # one, when a loaded machine left too few samples around the 5th to measure it)
        first_sample = (
            controller.worker.pipeline.clock.origin_s - (time.monotonic() - qcm.instrument.elapsed_s())
        ) * speed
        tma = [p.time_s - first_sample for p in qcm.instrument.source.model.valve_pulses() if p.precursor == "TMA"]
        cycle = next(c for c in controller.session.cycles if c.index == int(found.group(1)))
        assert min(abs(np.array(tma[4:]) - cycle.pulse_times_s[0])) < 0.2
        # the worker writes the alarm line (a command queued to it); then stop
        qtbot.waitUntil(lambda: "no uptake" in path.read_text(encoding="utf-8"), timeout=10_000)
        seen = list(controller.session.valve_pulses)
        controller.stop()
    finally:
        controller.stop()
        qcm.stop()
        valves.stop()
    run = read_run(path)
    assert any("no uptake" in e.text for e in run.events if e.kind == "alarm")
    assert len(run.valve_pulses) >= len(seen) >= 8
    np.testing.assert_allclose([p.time_s for p in run.valve_pulses[: len(seen)]], [p.time_s for p in seen], atol=1e-4)


def test_connection_dialog_takes_a_marker_source_and_remembers_it(qtbot, tmp_path) -> None:
    dialog = ConnectionDialog()
    qtbot.addWidget(dialog)
    dialog.port_combo.setEditText("/dev/ttyUSB0")
    box = dialog.marker_box
    assert dialog.marker_spec() is None and dialog.ok_button.isEnabled()
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("tcp"))
    box.target_edit.setText("toolpc")
    assert "HOST:PORT" in dialog.problem_label.text() and not dialog.ok_button.isEnabled()
    assert dialog.test_button.isEnabled()  # the instrument can still be tested
    box.target_edit.setText("toolpc:5020")
    box.names_edit.setText("TMA=Mod8/do1, H2O=Mod8/do2")
    assert dialog.ok_button.isEnabled()
    assert dialog.marker_spec() == MarkerSpec(MarkerKind.TCP, "toolpc:5020", (("Mod8/do1", "TMA"), ("Mod8/do2", "H2O")))
    dialog.accept()
    again = ConnectionDialog()
    qtbot.addWidget(again)
    assert again.marker_spec() == dialog.marker_spec()
    log = tmp_path / "DataLog.txt"
    again.marker_box.kind_combo.setCurrentIndex(again.marker_box.kind_combo.findData("log"))
    again.marker_box.target_edit.setText(str(log))
    assert again.marker_spec() == MarkerSpec(MarkerKind.LOG, str(log), (("Mod8/do1", "TMA"), ("Mod8/do2", "H2O")))
    menu = MarkerDialog("")  # Instrument → Valve markers… starts from the same remembered choice
    qtbot.addWidget(menu)
    assert menu.spec() == dialog.marker_spec() and "no valve markers" in menu.now_label.text()
    menu.box.kind_combo.setCurrentIndex(menu.box.kind_combo.findData(""))
    assert menu.spec() is None and menu.ok_button.text() == "Stop following"
