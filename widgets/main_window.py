"""The main window: a passive view over the controller's session.

Buttons call controller slots; a timer (15 Hz) reads the session and points the persistent
curves (and the valve ticks) at the newest history; link statistics arrive as signals. Alarms are
worked out by the controller; the window shows them in banners and sounds them. The layout (window, toolbars,
splitters) is kept in QSettings between launches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from qcm_app.app.controller import AppController
from qcm_app.app.session import column
from widgets.banner import BannerArea
from widgets.blocks_table import BlocksTable
from widgets.cycle_chart import ALL_BLOCKS, REGIME_COLOURS, BreakdownView, CycleChart
from widgets.plots import TimePlots
from widgets.readouts import ReadoutPanel, format_value
from widgets.window_closing import ClosingMixin

REFRESH_HZ = 15


class MainWindow(ClosingMixin):
    """The window; its toolbar and menus (:mod:`widgets.window_actions`), status bar
    (:mod:`widgets.window_status`), banners (:mod:`widgets.window_banners`), layout and closing
    (:mod:`widgets.window_closing`) are the mixins it is made of."""

    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("qcm-monitor")
        self.resize(1400, 860)
        self._shown_version = -1
        self._shown_events = -1
        #: ask for a file name and note before recording (off for --record and scripted runs)
        self.ask_recording_details = True
        #: the sound of an alarm (a test replaces it to count beeps)
        self.sound: Callable[[], None] = QtWidgets.QApplication.beep
        self._recording_since: float | None = None
        self._recording_path: Path | None = None
        self._shown_analysis = -1
        #: (session, its valves version) last drawn: a new session starts its versions again
        self._shown_valves: tuple[int, int] = (0, -1)
        self._selected_cycle: int | None = None

        self.plots = TimePlots(1)
        self.cycle_chart = CycleChart()
        self.breakdown = BreakdownView()
        self.readouts = ReadoutPanel()
        self.other_sensors_label = QtWidgets.QLabel("")
        self.regime_label = QtWidgets.QLabel("Waiting for the first pulse")
        self.regime_label.setWordWrap(True)
        self.regime_label.setObjectName("regime_label")
        font = self.regime_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.regime_label.setFont(font)
        self.progress_label = QtWidgets.QLabel("")
        self.blocks_table = BlocksTable()
        self.source_label = QtWidgets.QLabel("")
        self.source_label.setWordWrap(True)

        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        side_layout.addWidget(self.readouts)
        side_layout.addWidget(self.other_sensors_label)
        growth = QtWidgets.QGroupBox("Growth")
        growth_layout = QtWidgets.QVBoxLayout(growth)
        growth_layout.addWidget(self.regime_label)
        growth_layout.addWidget(self.progress_label)
        growth_layout.addWidget(self.blocks_table)
        side_layout.addWidget(growth, 1)
        side_layout.addWidget(self.source_label)
        self.side_layout = side_layout
        side.setMinimumWidth(440)

        chart_panel = QtWidgets.QWidget()
        chart_layout = QtWidgets.QVBoxLayout(chart_panel)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.setSpacing(2)
        scale_row = QtWidgets.QHBoxLayout()
        scale_row.setContentsMargins(6, 0, 6, 0)
        scale_row.addWidget(QtWidgets.QLabel("Scale to:"))
        self.block_scale_combo = QtWidgets.QComboBox()
        self.block_scale_combo.setToolTip(
            "Scale the bars to one block (a 36 ng block beside a 500 ng one stays readable), or show all blocks"
        )
        self.block_scale_combo.addItem("All blocks", ALL_BLOCKS)
        self.block_scale_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.block_scale_combo.activated.connect(self._block_scale_chosen)
        scale_row.addWidget(self.block_scale_combo)
        scale_row.addStretch(1)
        chart_layout.addLayout(scale_row)
        chart_layout.addWidget(self.cycle_chart, 1)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        bottom.setObjectName("bottom_split")
        bottom.addWidget(chart_panel)
        bottom.addWidget(self.breakdown)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 1)
        self.bottom_split = bottom
        self.main_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.main_split.setObjectName("main_split")
        self.main_split.addWidget(self.plots)
        self.main_split.addWidget(bottom)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.setObjectName("side_split")
        self.side_split = split
        split.addWidget(self.main_split)
        split.addWidget(side)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        central = QtWidgets.QWidget()
        central_layout = QtWidgets.QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        self.banners = BannerArea()
        central_layout.addWidget(self.banners)
        central_layout.addWidget(split, 1)
        self.setCentralWidget(central)

        self._build_toolbar()
        self._build_statusbar()
        self._wire(controller)
        self.restore_layout()

        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(1000 / REFRESH_HZ))
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def _wire(self, c: AppController) -> None:
        c.state_changed.connect(self.show_state)
        c.stats_changed.connect(self.show_stats)
        c.recording_changed.connect(self.show_recording)
        c.warning_raised.connect(self.show_warning)
        c.source_changed.connect(self.source_label.setText)
        c.source_changed.connect(self._source_changed)
        c.replay_position_changed.connect(self.replay_controls.show_position)
        c.recording_failed.connect(self.show_write_failure)
        c.source_changed.connect(lambda _: self.show_recipe(c.recipe))
        self.cycle_chart.cycle_selected.connect(self._cycle_clicked)
        self.plots.follow_changed.connect(self._follow_changed)
        self.blocks_table.density_edited.connect(c.set_density)

    # -- slots ----------------------------------------------------------------------------------

    def _source_changed(self, description: str) -> None:
        replay = self.controller.is_replay
        self.replay_bar.setVisible(replay)
        self.record_action.setEnabled(not replay)
        self.tare_action.setEnabled(True)
        self.marker_action.setEnabled(not replay)
        self.new_crystal_action.setEnabled(not replay)
        self.markers_action.setEnabled(not replay)
        self._shown_version = self._shown_analysis = self._shown_events = -1
        self._shown_valves = (0, -1)
        self._selected_cycle = None
        for key in self.banners.keys():  # noqa: SIM118 - a method returning a list
            if key.startswith(("alarm:", "target")):
                self.banners.remove(key)
        self.reset_view()
        self._apply_time_axis(self.wall_clock_action.isChecked())
        if not description:  # disconnected: nothing is running, so no demo line, progress or ETA
            self.progress_label.setText("")
            self.regime_label.setText("Not connected")
            self.regime_label.setStyleSheet("")
            self.statusBar().clearMessage()
            self.plots.set_markers([])
            self.plots.set_valve_pulses([])

    def refresh(self) -> None:
        """Timer tick: redraw only if the session changed since the last tick."""
        session = self.controller.session
        self._update_recording_indicator()
        for alarm in self.controller.check_alarms():  # every tick: a lost link brings no new data
            self.show_alarm(alarm)
        if session.version == self._shown_version:
            return
        if self.wall_clock_action.isChecked() and self.plots.time_axes[0].wall_origin_s is None:
            self._apply_time_axis(True)  # a live run's clock is known from its first sample on
        if len(self.controller.events) != self._shown_events:
            self._shown_events = len(self.controller.events)
            self.plots.set_markers(self.controller.events)
        if (id(session), session.valves_version) != self._shown_valves:
            self._shown_valves = (id(session), session.valves_version)
            self.plots.set_valve_pulses(session.valve_pulses)
        self._shown_version = session.version
        buf = session.buffer
        if len(self.plots.freq_curves) != session.sensors:
            self.plots.set_sensor_count(session.sensors)
        t = buf.view("time_s")
        # one crystal: its frequency; several: each one's shift, so they share a scale
        kind = "frequency_hz" if session.sensors == 1 else "frequency_shift_hz"
        self.plots.show_shift(session.sensors > 1)
        self.plots.set_data(
            t,
            [buf.view(column(kind, s)) for s in range(session.sensors)],
            [buf.view(column("mass_ng_cm2", s)) for s in range(session.sensors)],
        )
        self.readouts.show_readouts(session.readouts(0))
        others = []
        for sensor in range(1, session.sensors):
            r = session.readouts(sensor)
            others.append(
                f"S{sensor + 1}: {format_value(r.frequency_hz, '{:,.2f}')} Hz, "
                f"Δf {format_value(r.delta_frequency_hz, '{:+,.2f}')} Hz"
            )
        self.other_sensors_label.setText("\n".join(others))
        self.other_sensors_label.setVisible(bool(others))
        if session.analysis_version != self._shown_analysis:
            self._shown_analysis = session.analysis_version
            self.show_analysis()

    def show_analysis(self) -> None:
        session = self.controller.session
        labels = session.labels()
        snapshot = session.regimes
        steady = []
        if snapshot is not None:
            for b in snapshot.blocks:
                if b.has_steady:
                    steady.append(
                        (b.first_index, b.first_index + b.cycles - 1, b.steady_mass_ng_cm2, b.steady_std_ng_cm2)
                    )
            self.blocks_table.show_blocks(snapshot.blocks)
            # the colour of the newest cycle's label: the same state its bar shows
            regime = labels[-1] if labels else ""
            colour = REGIME_COLOURS.get(regime, "#333333")
            self.regime_label.setText(snapshot.message)
            self.regime_label.setStyleSheet(f"color: {colour}")
        else:
            self.blocks_table.show_blocks(())
            self.regime_label.setText("Waiting for the first pulse")
            self.regime_label.setStyleSheet("")
        self.cycle_chart.show_cycles(session.cycles, labels, steady)
        self._fill_block_scale()
        self.plots.set_regions(session.regime_spans())
        self.progress_label.setText(self.controller.progress().text())
        by_index = {c.index: (c, lab) for c, lab in zip(session.cycles, labels, strict=True)}
        chosen = self._selected_cycle if self._selected_cycle in by_index else None
        if chosen is None and session.cycles:
            chosen = session.cycles[-1].index
        cycle, label = by_index.get(chosen, (None, "")) if chosen is not None else (None, "")
        self.breakdown.show_cycle(cycle, label)
        self.cycle_chart.select(chosen)

    def _fill_block_scale(self) -> None:
        blocks = self.cycle_chart.blocks()
        wanted = [("All blocks", ALL_BLOCKS)] + [
            (f"{name} (#{first}–{last})", k) for k, (name, first, last) in sorted(blocks.items())
        ]
        current = [
            (self.block_scale_combo.itemText(i), self.block_scale_combo.itemData(i))
            for i in range(self.block_scale_combo.count())
        ]
        if [d for _, d in current] == [d for _, d in wanted]:
            for i, (text, _) in enumerate(wanted):
                if self.block_scale_combo.itemText(i) != text:
                    self.block_scale_combo.setItemText(i, text)
            return
        chosen = self.block_scale_combo.currentData()
        with QtCore.QSignalBlocker(self.block_scale_combo):
            self.block_scale_combo.clear()
            for text, data in wanted:
                self.block_scale_combo.addItem(text, data)
            self.block_scale_combo.setCurrentIndex(max(self.block_scale_combo.findData(chosen), 0))
        if self.block_scale_combo.currentData() != self.cycle_chart.block_shown:
            self.cycle_chart.show_block(ALL_BLOCKS)

    def _block_scale_chosen(self, index: int) -> None:
        self.cycle_chart.show_block(self.block_scale_combo.itemData(index))

    def _cycle_clicked(self, index: int) -> None:
        self._selected_cycle = None if index == self._selected_cycle else index
        self.show_analysis()
