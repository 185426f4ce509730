"""The main window: a passive view over the controller's session.

Buttons call controller slots; a timer (15 Hz) reads the session and points the persistent
curves (and the valve ticks) at the newest history; link statistics arrive as signals. Alarms are
worked out by the controller; the window shows them in banners and sounds them. The layout (window, toolbars,
splitters) is kept in QSettings between launches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from qcm_app import __version__
from qcm_app.acquisition.replay import ReplayCommand
from qcm_app.acquisition.worker import LinkStats
from qcm_app.app.controller import AppController
from qcm_app.app.session import column
from qcm_app.app.settings import WindowLayout, load_window_layout, save_window_layout
from qcm_app.domain.alarms import Alarm, AlarmKind
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.recipes import Recipe
from qcm_app.io.recipe_files import load_recipe, preset_paths
from widgets.banner import BannerArea
from widgets.blocks_table import BlocksTable
from widgets.cycle_chart import ALL_BLOCKS, REGIME_COLOURS, BreakdownView, CycleChart
from widgets.plots import TimePlots
from widgets.readouts import ReadoutPanel, format_value
from widgets.replay_controls import ReplayControls

REFRESH_HZ = 15
#: (action attribute, shortcut, what it does): the Help → Keyboard shortcuts list is built from it
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("tare_action", "Ctrl+T", "Tare: set the displayed mass to zero"),
    ("record_action", "Ctrl+R", "Start or stop recording"),
    ("follow_action", "F", "Follow the newest data (or keep the current zoom)"),
    ("reset_view_action", "Ctrl+0", "Reset the view: the whole run, following"),
    ("marker_action", "M", "Put a marker (with a note) at the newest sample"),
    ("open_action", "Ctrl+O", "Open a recorded run or instrument log"),
    ("report_action", "Ctrl+E", "Export the report of the shown run"),
    ("export_plot_action", "Ctrl+Shift+E", "Export the plots as PNG or SVG"),
)

_STATE_TEXT = {
    "idle": "Not connected",
    "connecting": "Connecting…",
    "connected": "Connected",
    "lost": "Link lost — reconnecting",
    "reconnecting": "Reconnecting…",
    "stopped": "Stopped",
    "loading": "Loading…",
    "replaying": "Replaying",
    "finished": "Replay at the end",
    "error": "Cannot replay",
}


class MainWindow(QtWidgets.QMainWindow):
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
        self.block_scale_combo.setToolTip("Scale the bars to one block (a 36 ng block beside a 500 ng one stays "
                                          "readable), or show all blocks")
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

    # -- construction ---------------------------------------------------------------------------

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Acquisition")
        tb.setObjectName("acquisition_toolbar")
        tb.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.demo_action = QtGui.QAction("Demo", self)
        self.demo_action.setToolTip("Simulated instrument on a simulated reactor")
        self.disconnect_action = QtGui.QAction("Disconnect", self)
        self.tare_action = QtGui.QAction("Tare", self)
        self.tare_action.setToolTip("Set the displayed mass to zero (the analysis is not affected)")
        self.record_action = QtGui.QAction("Record", self)
        self.record_action.setCheckable(True)
        self.record_action.setToolTip("Start/stop writing a run file (Ctrl+R)")
        self.follow_action = QtGui.QAction("Follow", self)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.follow_action.setToolTip("Follow the newest data; off after a zoom or pan (F)")
        self.reset_view_action = QtGui.QAction("Reset view", self)
        self.reset_view_action.setToolTip("Show the whole run and follow it again (Ctrl+0)")
        self.marker_action = QtGui.QAction("Marker", self)
        self.marker_action.setToolTip("Put a marker with a note at the newest sample; written to the run file (M)")
        for name, key, _ in SHORTCUTS:
            if name in ("open_action", "report_action", "export_plot_action"):
                continue
            getattr(self, name).setShortcut(QtGui.QKeySequence(key))
        self.connect_action = QtGui.QAction("Connect…", self)
        self.connect_action.setToolTip("Choose a port and an instrument")
        for a in (self.connect_action, self.demo_action, self.disconnect_action):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.tare_action, self.record_action, self.marker_action):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.follow_action, self.reset_view_action):
            tb.addAction(a)
        tb.addSeparator()
        tb.addWidget(QtWidgets.QLabel(" Recipe: "))
        self.recipe_combo = QtWidgets.QComboBox()
        self.recipe_combo.setMinimumContentsLength(24)
        self._fill_recipes()
        tb.addWidget(self.recipe_combo)
        tb.addWidget(QtWidgets.QLabel("  Target cycles: "))
        self.target_spin = QtWidgets.QSpinBox()
        self.target_spin.setRange(0, 100_000)
        self.target_spin.setSpecialValueText("recipe")
        self.target_spin.setToolTip("Cycle count to reach (0: the recipe's total)")
        tb.addWidget(self.target_spin)
        tb.addWidget(QtWidgets.QLabel("  or thickness (nm): "))
        self.target_nm_spin = QtWidgets.QDoubleSpinBox()
        self.target_nm_spin.setRange(0, 100_000)
        self.target_nm_spin.setDecimals(1)
        self.target_nm_spin.setSpecialValueText("—")
        tb.addWidget(self.target_nm_spin)
        self.toolbar = tb
        self.connect_action.triggered.connect(self.open_connection_dialog)
        self.demo_action.triggered.connect(lambda: self.controller.start_demo(self.controller.recipe))
        self.disconnect_action.triggered.connect(self.controller.disconnect_source)
        self.tare_action.triggered.connect(self.controller.tare)
        self.follow_action.toggled.connect(self.plots.set_following)
        self.reset_view_action.triggered.connect(self.reset_view)
        self.marker_action.triggered.connect(self.add_marker_dialog)
        self.record_action.toggled.connect(self._toggle_recording)
        self.recipe_combo.activated.connect(self._recipe_chosen)
        self.target_spin.valueChanged.connect(self._target_changed)
        self.target_nm_spin.valueChanged.connect(self._target_changed)

        file_menu = self.menuBar().addMenu("&File")
        self.open_action = file_menu.addAction("&Open run…")
        self.open_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_run_dialog)
        self.report_action = file_menu.addAction("&Export report…")
        self.report_action.setShortcut("Ctrl+E")
        self.report_action.triggered.connect(self.export_report_dialog)
        self.export_plot_action = file_menu.addAction("Export &plot (PNG/SVG)…")
        self.export_plot_action.setShortcut("Ctrl+Shift+E")
        self.export_plot_action.triggered.connect(self.export_plot_dialog)
        file_menu.addSeparator()
        self.settings_action = file_menu.addAction("&Settings…")
        self.settings_action.triggered.connect(self.open_settings_dialog)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QtGui.QKeySequence.StandardKey.Quit, self.close)

        self.addToolBarBreak()
        self.replay_bar = self.addToolBar("Replay")
        self.replay_bar.setObjectName("replay_toolbar")
        self.replay_controls = ReplayControls()
        self.replay_bar.addWidget(self.replay_controls)
        self.replay_bar.setVisible(False)
        rc = self.replay_controls
        rc.paused_changed.connect(lambda p: self.controller.replay_command(ReplayCommand.SET_PAUSED, p))
        rc.speed_changed.connect(lambda v: self.controller.replay_command(ReplayCommand.SET_SPEED, v))
        rc.seek_requested.connect(lambda t: self.controller.replay_command(ReplayCommand.SEEK, t))
        rc.jump_to_end_requested.connect(lambda: self.controller.replay_command(ReplayCommand.JUMP_TO_END))

        menu = self.menuBar().addMenu("&Instrument")
        for a in (self.connect_action, self.demo_action, self.disconnect_action):
            menu.addAction(a)
        zero = menu.addAction("Zero instrument thickness")
        zero.triggered.connect(self.controller.zero_instrument)
        self.new_crystal_action = menu.addAction("New crystal…")
        self.new_crystal_action.setToolTip("After changing the crystal: its frequency now is the new mass zero "
                                           "and 100 % life; the run file notes the change")
        self.new_crystal_action.triggered.connect(self.new_crystal_dialog)
        self.markers_action = menu.addAction("Valve markers…")
        self.markers_action.setToolTip("Follow the tool's valve signals beside the instrument: its log file as it "
                                       "grows, or event lines on a serial port or over TCP")
        self.markers_action.triggered.connect(self.open_markers_dialog)

        view = self.menuBar().addMenu("&View")
        view.addAction(self.follow_action)
        view.addAction(self.reset_view_action)
        self.wall_clock_action = view.addAction("Wall-clock time axis")
        self.wall_clock_action.setCheckable(True)
        self.wall_clock_action.setToolTip("Time of day on the time axis instead of the run's clock")
        self.wall_clock_action.toggled.connect(self._apply_time_axis)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.tare_action)
        run_menu.addAction(self.record_action)
        run_menu.addAction(self.marker_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = help_menu.addAction("&Keyboard shortcuts")
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.about_action = help_menu.addAction("&About qcm-monitor")
        self.about_action.triggered.connect(self.show_about)

    def _fill_recipes(self) -> None:
        self.recipe_combo.clear()
        #: combo data (a preset's path) → that recipe's TOML text, to recognise it inside a run file
        self._preset_texts: dict[str, str] = {}
        for _stem, path in preset_paths().items():
            try:
                recipe = load_recipe(path)
            except UserInputError:
                continue
            self.recipe_combo.addItem(recipe.name, str(path))
            self._preset_texts[str(path)] = recipe.text
        self.recipe_combo.addItem("No recipe (infer the pattern)", "")
        self.recipe_combo.addItem("Open recipe file…", "?")

    def show_recipe(self, recipe: Recipe | None) -> None:
        """Reflect the controller's recipe in the picker (adding a file recipe if needed)."""
        blocked = self.recipe_combo.blockSignals(True)
        if recipe is None:
            self.recipe_combo.setCurrentIndex(self.recipe_combo.findData(""))
        else:
            k = self.recipe_combo.findData(recipe.source)
            if k < 0:  # a run's embedded recipe that is one of the presets: that entry, not a second one
                k = next((self.recipe_combo.findData(p) for p, text in self._preset_texts.items()
                          if text.strip() == recipe.text.strip()), -1)
            if k < 0:
                embedded = "(embedded" in recipe.source
                self.recipe_combo.insertItem(0, recipe.name + (" (from the run file)" if embedded else ""),
                                             recipe.source)
                k = 0
            self.recipe_combo.setCurrentIndex(k)
        self.recipe_combo.blockSignals(blocked)

    def _recipe_chosen(self, index: int) -> None:
        data = self.recipe_combo.itemData(index)
        recipe: Recipe | None = None
        if data == "?":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open recipe", "", "Recipes (*.toml)")
            if not path:
                self.show_recipe(self.controller.recipe)
                return
            data = path
        if data:
            try:
                recipe = load_recipe(data)
            except UserInputError as exc:
                self.show_warning(str(exc))
                self.show_recipe(self.controller.recipe)
                return
        self.controller.set_recipe(recipe)
        self.show_recipe(recipe)
        self._shown_analysis = -1

    def _target_changed(self) -> None:
        nm = self.target_nm_spin.value()
        self.controller.set_target(self.target_spin.value() or None, nm * 10 if nm else None)
        self._shown_analysis = -1

    def open_run_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a recorded run or instrument log", str(self.controller.settings.runs_folder),
            "Runs and logs (*.csv *.tsv *.txt *.log *.dat);;All files (*)")
        if path:
            self.open_run(path)

    def open_run(self, path: str) -> None:
        self._selected_cycle = None
        self.controller.open_run(path, speed=self.replay_controls.speed)

    def export_report_dialog(self) -> None:
        from widgets.report_export import export_report

        export_report(self, self.controller)

    def open_settings_dialog(self) -> None:
        from qcm_app.app.settings import save_settings
        from widgets.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller.settings, self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self.controller.apply_settings(dialog.settings())
            save_settings(self.controller.settings)
            self.show_warning("Settings saved; crystal and film settings apply from the next connection.")

    def open_connection_dialog(self) -> None:
        from widgets.connection_dialog import ConnectionDialog

        dialog = ConnectionDialog(self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self.controller.connect_instrument(dialog.spec(), self.controller.recipe,
                                               time_scale=dialog.time_scale(), markers=dialog.marker_spec())

    def open_markers_dialog(self) -> None:
        """Follow (another) valve marker source beside the running instrument."""
        from widgets.marker_source_box import MarkerDialog

        c = self.controller
        if c.worker is None or c.is_replay:
            self.show_warning("Valve markers are followed beside a live instrument (connect or start the demo first).")
            return
        current = c.marker_spec.describe() if c.marker_spec else ""
        if current and c.is_demo and c.marker_server is not None:
            current += " (the demo's simulated tool)"
        dialog = MarkerDialog(current, self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            c.set_markers(dialog.spec())

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.link_label = QtWidgets.QLabel(_STATE_TEXT["idle"])
        self.rate_label = QtWidgets.QLabel("— samples/s")
        self.errors_label = QtWidgets.QLabel("")
        self.record_label = QtWidgets.QLabel("Not recording")
        for w in (self.link_label, self.rate_label, self.errors_label, self.record_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

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

    def _toggle_recording(self, on: bool) -> None:
        if on and not self.controller.worker:
            self.record_action.setChecked(False)
            self.show_warning("Connect an instrument (or start the demo) before recording.")
            return
        if on:
            path: Path | None = None
            if self.ask_recording_details:
                from widgets.record_dialog import RecordDialog

                dialog = RecordDialog(self.controller.default_recording_path(), self.controller.settings.operator_note,
                                      self)
                if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
                    self.show_recording(None)
                    return
                path = dialog.path()
                self.controller.set_operator_note(dialog.note())
            path = self.controller.start_recording(path)
            self.record_label.setText(f"Starting → {path.name}")
        else:
            self.controller.stop_recording()

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

    def show_state(self, state: str, detail: str) -> None:
        self.replay_controls.set_loading(state == "loading")
        if state == "stopped" and self.controller.worker is None:
            state = "idle"  # the user disconnected: not a stopped acquisition waiting to go on
        self.link_label.setText(_STATE_TEXT.get(state, state))
        self.link_label.setToolTip(detail)
        colour = {"connected": "#1b5e20", "lost": "#b71c1c", "reconnecting": "#e65100"}.get(state, "#333")
        self.link_label.setStyleSheet(f"color: {colour}; font-weight: bold")
        if state in ("lost", "reconnecting") and detail:
            self.statusBar().showMessage(detail, 8000)
        elif state == "connected":  # an error from before the link came back is no longer true
            self.statusBar().clearMessage()

    def show_stats(self, s: LinkStats) -> None:
        self.rate_label.setText(f"{s.sample_rate_hz:.1f} samples/s" if s.sample_rate_hz else "— samples/s")
        errors = (f"CRC/frame {s.checksum_errors} · timeouts {s.timeouts} · no value {s.unavailable}"
                  f" · gaps {s.gaps}")
        self.errors_label.setText(errors)
        self.errors_label.setToolTip(s.last_error)

    def show_write_failure(self, text: str) -> None:
        self.banners.show_banner("write", text[:1].upper() + text[1:], [("Choose folder…", self.choose_save_folder)],
                                 kind="error")

    def choose_save_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Save the run in",
                                                            str(self.controller.settings.runs_folder))
        if folder:
            self.controller.relocate_recording(folder)

    def offer_recovery(self, runs: list[Path]) -> None:
        """Interrupted recordings found at start-up: continue one, replay it, or leave it."""
        for run in runs:
            def go_on(run: Path = run) -> None:
                self.banners.remove(f"recover:{run}")
                self.controller.continue_run(run)

            def replay(run: Path = run) -> None:
                self.banners.remove(f"recover:{run}")
                self.controller.forget_interrupted(run)
                self.open_run(str(run))

            def leave(run: Path = run) -> None:
                self.controller.forget_interrupted(run)
                self.banners.remove(f"recover:{run}")

            banner = self.banners.show_banner(
                f"recover:{run}", f"The recording {run.name} was interrupted (the program ended while writing "
                f"it). Its data up to the last second is safe.",
                [("Continue recording", go_on), ("Open for replay", replay), ("Leave it", leave)], kind="info")
            banner.buttons["Dismiss"].hide()

    def show_recording(self, path: object) -> None:
        if path is not None:
            self.banners.remove("write")
        if path is None:
            self._recording_since = None
            self._recording_path = None
            self.record_label.setText("Not recording")
            self.record_label.setStyleSheet("")
            self.record_label.setToolTip("")
            self._record_button_style(False)
            blocked = self.record_action.blockSignals(True)
            self.record_action.setChecked(False)
            self.record_action.blockSignals(blocked)
        else:
            if self._recording_since is None or Path(str(path)) != self._recording_path:
                self._recording_since = time.monotonic() if self._recording_since is None else self._recording_since
            self._recording_path = Path(str(path))
            self.record_label.setToolTip(str(path))
            self._record_button_style(True)
            self.record_label.setStyleSheet("background: #C62828; color: white; font-weight: bold; "
                                            "border-radius: 3px; padding: 1px 6px")
            self._update_recording_indicator()

    def _record_button_style(self, recording: bool) -> None:
        button = self.toolbar.widgetForAction(self.record_action)
        if button is not None:
            button.setStyleSheet("background: #C62828; color: white; font-weight: bold; border-radius: 3px"
                                 if recording else "")

    def _update_recording_indicator(self) -> None:
        """● REC, elapsed time and file size: unmistakable from across the lab."""
        if self._recording_since is None or self._recording_path is None:
            return
        from qcm_app.app.session import format_duration

        elapsed = format_duration(time.monotonic() - self._recording_since)
        try:
            size = self._recording_path.stat().st_size
        except OSError:
            size = 0
        shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
        self.record_label.setText(f"● REC {elapsed} · {shown} · {self._recording_path.name}")

    def show_warning(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

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
        self.plots.set_data(t, [buf.view(column(kind, s)) for s in range(session.sensors)],
                            [buf.view(column("mass_ng_cm2", s)) for s in range(session.sensors)])
        self.readouts.show_readouts(session.readouts(0))
        others = []
        for sensor in range(1, session.sensors):
            r = session.readouts(sensor)
            others.append(f"S{sensor + 1}: {format_value(r.frequency_hz, '{:,.2f}')} Hz, "
                          f"Δf {format_value(r.delta_frequency_hz, '{:+,.2f}')} Hz")
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
                    steady.append((b.first_index, b.first_index + b.cycles - 1, b.steady_mass_ng_cm2,
                                   b.steady_std_ng_cm2))
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
        wanted = [("All blocks", ALL_BLOCKS)] + [(f"{name} (#{first}–{last})", k)
                                                  for k, (name, first, last) in sorted(blocks.items())]
        current = [(self.block_scale_combo.itemText(i), self.block_scale_combo.itemData(i))
                   for i in range(self.block_scale_combo.count())]
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

    # -- view -------------------------------------------------------------------------------------

    def reset_view(self) -> None:
        """The whole run, following again; the cycle chart shows every block."""
        self.plots.reset_view()
        self.cycle_chart.show_block(ALL_BLOCKS)
        self.block_scale_combo.setCurrentIndex(0)

    def _follow_changed(self, on: bool) -> None:
        if self.follow_action.isChecked() != on:
            with QtCore.QSignalBlocker(self.follow_action):
                self.follow_action.setChecked(on)

    def _apply_time_axis(self, wall: bool) -> None:
        origin = self.controller.wall_clock_origin_s() if wall else None
        self.plots.set_wall_clock(origin, self.controller.wall_clock_scale())

    # -- alarms, markers, crystal -------------------------------------------------------------

    def show_alarm(self, alarm: Alarm) -> None:
        """Visible (a banner that stays until dismissed) and audible (the system bell)."""
        if alarm.kind is AlarmKind.TARGET_REACHED:
            banner = self.banners.show_banner("target", f"✔ {alarm.text}", kind="success")
            font = banner.label.font()
            font.setPointSizeF(font.pointSizeF() * 1.5)
            font.setBold(True)
            banner.label.setFont(font)
        else:
            self.banners.show_banner(f"alarm:{alarm.kind.name}", f"⚠ Alarm: {alarm.text}", kind="error")
        self.sound()

    def add_marker_dialog(self) -> None:
        if self.controller.worker is None or self.controller.is_replay:
            self.show_warning("Markers are put on a live run (connect or start the demo first).")
            return
        n = sum(1 for _, kind, _ in self.controller.events if kind == "marker") + 1
        note, ok = QtWidgets.QInputDialog.getText(self, "Marker", "Note for this marker (written to the run file):",
                                                  text=f"marker {n}")
        if ok:
            self.controller.add_marker(note.strip())
            self._shown_version = -1

    def new_crystal_dialog(self) -> None:
        if self.controller.worker is None or self.controller.is_replay:
            self.show_warning("Connect the instrument with the new crystal first.")
            return
        answer = QtWidgets.QMessageBox.question(
            self, "New crystal", "Has the crystal been changed, and does the instrument read the new one now?\n\n"
            "Its frequency now becomes the mass zero and 100 % crystal life; the run file notes the change.")
        if answer == QtWidgets.QMessageBox.StandardButton.Yes:
            self.controller.new_crystal()
            self._shown_version = -1

    # -- export -----------------------------------------------------------------------------------

    def export_plot_dialog(self) -> None:
        folder = self.controller.settings.runs_folder
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export plots", str(folder / "plots.png"), "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            if not Path(path).suffix:
                path += ".svg" if "svg" in chosen.lower() else ".png"
            self.export_plot(Path(path))

    def export_plot(self, path: Path) -> None:
        """Render on the GUI thread (Qt painting must), write the bytes in a pool thread."""
        from widgets.plot_export import export_plots

        export_plots(self, path)

    # -- help -------------------------------------------------------------------------------------

    def shortcuts_text(self) -> str:
        return "\n".join(f"{key:<14} {what}" for _, key, what in SHORTCUTS)

    def show_shortcuts(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText("<table>" + "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>"
                                         for _, key, what in SHORTCUTS) + "</table>")
        box.open()

    def about_text(self) -> str:
        return (f"<b>qcm-monitor {__version__}</b><br>QCM monitoring of ALD/MLD reactors: instrument drivers, "
                "live per-cycle mass analysis, replay and reports.<br><br>Licence: GPL-3.0-or-later "
                "(GNU General Public License, version 3 or any later version). This program comes with "
                "ABSOLUTELY NO WARRANTY.")

    def show_about(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("About qcm-monitor")
        box.setText(self.about_text())
        box.open()

    # -- layout -------------------------------------------------------------------------------------

    def save_layout(self) -> None:
        splits = (self.side_split, self.main_split, self.bottom_split)
        save_window_layout(WindowLayout(self.saveGeometry(), self.saveState(),
                                        {split.objectName(): split.saveState() for split in splits},
                                        self.wall_clock_action.isChecked()))

    def restore_layout(self) -> None:
        splits = (self.side_split, self.main_split, self.bottom_split)
        layout = load_window_layout(tuple(split.objectName() for split in splits))
        if layout.geometry is not None:
            self.restoreGeometry(layout.geometry)
        if layout.state is not None:
            self.restoreState(layout.state)
        for split in splits:
            if split.objectName() in layout.splitters:
                split.restoreState(layout.splitters[split.objectName()])
        self.wall_clock_action.setChecked(layout.wall_clock)

    def _cycle_clicked(self, index: int) -> None:
        self._selected_cycle = None if index == self._selected_cycle else index
        self.show_analysis()

    # -- closing ----------------------------------------------------------------------------------

    #: the answers of the close dialogs (the button texts)
    SAVE, DISCARD, STOP_AND_QUIT, CANCEL = "Save…", "Discard them", "Stop recording and quit", "Cancel"

    def ask(self, title: str, text: str, buttons: list[str]) -> str:
        """A question with these buttons; the text of the one pressed (Cancel when the box is closed)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text, parent=self)
        pressed = {box.addButton(b, QtWidgets.QMessageBox.ButtonRole.RejectRole if b == self.CANCEL else
                                 QtWidgets.QMessageBox.ButtonRole.AcceptRole): b for b in buttons}
        box.exec()
        return pressed.get(box.clickedButton(), self.CANCEL)

    def pick_folder(self, title: str) -> str:
        return QtWidgets.QFileDialog.getExistingDirectory(self, title, str(self.controller.settings.runs_folder))

    def close_without_asking(self) -> None:
        """Close for a signal or $QCM_QUIT_AFTER_S (nobody to ask): samples only in memory are saved in the
        runs folder, else the temporary folder, rather than lost."""
        self._force_close = True
        self.close()

    def _may_close(self) -> bool:
        """Ask before anything would be lost or stopped: samples only in memory (save where, or
        discard explicitly), or a recording in progress (Ctrl+Q included: it closes the window)."""
        c = self.controller
        if c.unsaved_rows:
            while True:
                answer = self.ask("Quit", f"{c.unsaved_rows} samples are only in memory: the disk refused "
                                  "them. Save them in another folder before quitting, or discard them?",
                                  [self.SAVE, self.DISCARD, self.CANCEL])
                if answer == self.DISCARD:
                    c.discard_unsaved()
                    return True
                if answer != self.SAVE:
                    return False
                folder = self.pick_folder("Save the samples held in memory in")
                if not folder:
                    continue
                c.save_unsaved(folder)
                if not c.unsaved_rows:
                    return True
        if c.recording_active:
            name = c.recording_path.name if c.recording_path else "the run file"
            return self.ask("Quit", f"Recording to {name}. Stop the recording and quit? Everything recorded so "
                            "far is in the file.", [self.STOP_AND_QUIT, self.CANCEL]) == self.STOP_AND_QUIT
        return True

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        # a hidden window has nobody to answer (a script, a test closing it): as if closed by a signal
        asking = self.isVisible() and not getattr(self, "_force_close", False)
        if asking and not self._may_close():
            event.ignore()
            return
        self.save_layout()
        self._timer.stop()
        self.controller.stop()
        if self.controller.unsaved_rows:  # closing without asking: never lose them
            import logging
            import tempfile

            for folder in (self.controller.settings.runs_folder, Path(tempfile.gettempdir())):
                saved = self.controller.save_unsaved(folder)
                if saved:
                    logging.getLogger(__name__).warning("samples held in memory saved to %s",
                                                        ", ".join(map(str, saved)))
                if not self.controller.unsaved_rows:
                    break
        super().closeEvent(event)
