"""The main window: a passive view over the controller's session.

Buttons call controller slots; a timer (15 Hz) reads the session and points the persistent
curves at the newest history; link statistics arrive as signals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from qcm_app.acquisition import LinkStats
from qcm_app.controller import AppController
from qcm_app.session import column
from widgets.plots import TimePlots
from widgets.readouts import ReadoutPanel

REFRESH_HZ = 15

_STATE_TEXT = {
    "idle": "Not connected",
    "connecting": "Connecting…",
    "connected": "Connected",
    "lost": "Link lost — reconnecting",
    "reconnecting": "Reconnecting…",
    "stopped": "Stopped",
}


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("qcm-monitor")
        self.resize(1400, 860)
        self._shown_version = -1

        self.plots = TimePlots(1)
        self.readouts = ReadoutPanel()
        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        side_layout.addWidget(self.readouts)
        self.source_label = QtWidgets.QLabel("")
        self.source_label.setWordWrap(True)
        side_layout.addWidget(self.source_label)
        self.side_layout = side_layout
        side_layout.addStretch(1)
        side.setMinimumWidth(330)

        self.main_split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.main_split.addWidget(self.plots)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.main_split)
        split.addWidget(side)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        self.setCentralWidget(split)

        self._build_toolbar()
        self._build_statusbar()
        self._wire(controller)

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
        self.record_action.setToolTip("Start/stop writing a run file")
        for a in (self.demo_action, self.disconnect_action, self.tare_action, self.record_action):
            tb.addAction(a)
        self.toolbar = tb
        self.demo_action.triggered.connect(lambda: self.controller.start_demo(self.controller.recipe))
        self.disconnect_action.triggered.connect(self.controller.stop)
        self.tare_action.triggered.connect(self.controller.tare)
        self.record_action.toggled.connect(self._toggle_recording)

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

    # -- slots ----------------------------------------------------------------------------------

    def _toggle_recording(self, on: bool) -> None:
        if on and not self.controller.worker:
            self.record_action.setChecked(False)
            self.show_warning("Connect an instrument (or start the demo) before recording.")
            return
        if on:
            path = self.controller.start_recording()
            self.record_label.setText(f"Recording → {path.name}")
        else:
            self.controller.stop_recording()

    def show_state(self, state: str, detail: str) -> None:
        self.link_label.setText(_STATE_TEXT.get(state, state))
        self.link_label.setToolTip(detail)
        colour = {"connected": "#1b5e20", "lost": "#b71c1c", "reconnecting": "#e65100"}.get(state, "#333")
        self.link_label.setStyleSheet(f"color: {colour}; font-weight: bold")
        if state in ("lost", "reconnecting") and detail:
            self.statusBar().showMessage(detail, 8000)

    def show_stats(self, s: LinkStats) -> None:
        self.rate_label.setText(f"{s.sample_rate_hz:.1f} samples/s" if s.sample_rate_hz else "— samples/s")
        errors = (f"CRC/frame {s.checksum_errors} · timeouts {s.timeouts} · no value {s.unavailable}"
                  f" · gaps {s.gaps}")
        self.errors_label.setText(errors)
        self.errors_label.setToolTip(s.last_error)

    def show_recording(self, path: object) -> None:
        if path is None:
            self.record_label.setText("Not recording")
            blocked = self.record_action.blockSignals(True)
            self.record_action.setChecked(False)
            self.record_action.blockSignals(blocked)
        else:
            self.record_label.setText(f"Recording → {Path(str(path)).name}")
            self.record_label.setToolTip(str(path))

    def show_warning(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def refresh(self) -> None:
        """Timer tick: redraw only if the session changed since the last tick."""
        session = self.controller.session
        if session.version == self._shown_version:
            return
        self._shown_version = session.version
        buf = session.buffer
        if len(self.plots.freq_curves) != session.sensors:
            self.plots.set_sensor_count(session.sensors)
        t = buf.view("time_s")
        self.plots.set_data(t, [buf.view(column("frequency_hz", s)) for s in range(session.sensors)],
                            [buf.view(column("mass_ng_cm2", s)) for s in range(session.sensors)])
        self.readouts.show_readouts(session.readouts(0))

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self._timer.stop()
        self.controller.stop()
        super().closeEvent(event)
