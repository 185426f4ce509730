"""The main window's toolbar, menus and replay bar, and what their actions do: recipe and target
pickers, the dialogs (connect, open a run, settings, valve markers, marker, new crystal, export),
the view actions (follow, reset, wall clock) and help."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from qcm_app import __version__
from qcm_app.acquisition.replay import ReplayCommand
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind
from qcm_app.domain.recipes import Recipe
from qcm_app.io.recipe_files import load_recipe, preset_paths
from widgets.cycle_chart import ALL_BLOCKS, CycleChart
from widgets.plots import TimePlots
from widgets.replay_controls import ReplayControls
from widgets.window_status import StatusMixin

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


class ActionsMixin(StatusMixin):
    """The toolbar's and the menus' part of :class:`widgets.main_window.MainWindow`."""

    plots: TimePlots
    cycle_chart: CycleChart
    block_scale_combo: QtWidgets.QComboBox
    ask_recording_details: bool
    _shown_version: int
    _shown_analysis: int
    _selected_cycle: int | None

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
        self.new_crystal_action.setToolTip(
            "After changing the crystal: its frequency now is the new mass zero "
            "and 100 % life; the run file notes the change"
        )
        self.new_crystal_action.triggered.connect(self.new_crystal_dialog)
        self.markers_action = menu.addAction("Valve markers…")
        self.markers_action.setToolTip(
            "Follow the tool's valve signals beside the instrument: its log file as it "
            "grows, or event lines on a serial port or over TCP"
        )
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
                k = next(
                    (
                        self.recipe_combo.findData(p)
                        for p, text in self._preset_texts.items()
                        if text.strip() == recipe.text.strip()
                    ),
                    -1,
                )
            if k < 0:
                embedded = "(embedded" in recipe.source
                self.recipe_combo.insertItem(
                    0, recipe.name + (" (from the run file)" if embedded else ""), recipe.source
                )
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
            self,
            "Open a recorded run or instrument log",
            str(self.controller.settings.runs_folder),
            "Runs and logs (*.csv *.tsv *.txt *.log *.dat);;All files (*)",
        )
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
            self.controller.connect_instrument(
                dialog.spec(), self.controller.recipe, time_scale=dialog.time_scale(), markers=dialog.marker_spec()
            )

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

    def _toggle_recording(self, on: bool) -> None:
        if on and not self.controller.worker:
            self.record_action.setChecked(False)
            self.show_warning("Connect an instrument (or start the demo) before recording.")
            return
        if on:
            path: Path | None = None
            if self.ask_recording_details:
                from widgets.record_dialog import RecordDialog

                dialog = RecordDialog(
                    self.controller.default_recording_path(), self.controller.settings.operator_note, self
                )
                if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
                    self.show_recording(None)
                    return
                path = dialog.path()
                self.controller.set_operator_note(dialog.note())
            path = self.controller.start_recording(path)
            self.record_label.setText(f"Starting → {path.name}")
        else:
            self.controller.stop_recording()

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

    # -- markers, crystal ---------------------------------------------------------------------

    def add_marker_dialog(self) -> None:
        if self.controller.worker is None or self.controller.is_replay:
            self.show_warning("Markers are put on a live run (connect or start the demo first).")
            return
        n = sum(1 for _, kind, _ in self.controller.events if kind == RunEventKind.MARKER) + 1
        note, ok = QtWidgets.QInputDialog.getText(
            self, "Marker", "Note for this marker (written to the run file):", text=f"marker {n}"
        )
        if ok:
            self.controller.add_marker(note.strip())
            self._shown_version = -1

    def new_crystal_dialog(self) -> None:
        if self.controller.worker is None or self.controller.is_replay:
            self.show_warning("Connect the instrument with the new crystal first.")
            return
        answer = QtWidgets.QMessageBox.question(
            self,
            "New crystal",
            "Has the crystal been changed, and does the instrument read the new one now?\n\n"
            "Its frequency now becomes the mass zero and 100 % crystal life; the run file notes the change.",
        )
        if answer == QtWidgets.QMessageBox.StandardButton.Yes:
            self.controller.new_crystal()
            self._shown_version = -1

    # -- export -----------------------------------------------------------------------------------

    def export_plot_dialog(self) -> None:
        folder = self.controller.settings.runs_folder
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export plots", str(folder / "plots.png"), "PNG image (*.png);;SVG drawing (*.svg)"
        )
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
        box.setText(
            "<table>"
            + "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for _, key, what in SHORTCUTS)
            + "</table>"
        )
        box.open()

    def about_text(self) -> str:
        return (
            f"<b>qcm-monitor {__version__}</b><br>QCM monitoring of ALD/MLD reactors: instrument drivers, "
            "live per-cycle mass analysis, replay and reports.<br><br>Licence: GPL-3.0-or-later "
            "(GNU General Public License, version 3 or any later version). This program comes with "
            "ABSOLUTELY NO WARRANTY."
        )

    def show_about(self) -> None:
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("About qcm-monitor")
        box.setText(self.about_text())
        box.open()
