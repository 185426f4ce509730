"""The main window's status bar: the link's state, samples/s and error counts, and the recording
indicator (● REC, elapsed time, file size)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtGui, QtWidgets

from qcm_app.acquisition.worker import LinkStats
from qcm_app.app.controller import AppController
from qcm_app.domain.events import LINK_DOWN_STATES, WorkerState
from widgets.banner import BannerArea
from widgets.replay_controls import ReplayControls

#: the words the status bar shows for each state (every state has one: a test checks)
STATE_TEXT: dict[WorkerState, str] = {
    WorkerState.IDLE: "Not connected",
    WorkerState.CONNECTING: "Connecting…",
    WorkerState.CONNECTED: "Connected",
    WorkerState.LOST: "Link lost — reconnecting",
    WorkerState.RECONNECTING: "Reconnecting…",
    WorkerState.STOPPED: "Stopped",
    WorkerState.LOADING: "Loading…",
    WorkerState.REPLAYING: "Replaying",
    WorkerState.FINISHED: "Replay at the end",
    WorkerState.ERROR: "Cannot replay",
}
_STATE_COLOUR = {WorkerState.CONNECTED: "#1b5e20", WorkerState.LOST: "#b71c1c", WorkerState.RECONNECTING: "#e65100"}


class StatusMixin(QtWidgets.QMainWindow):
    """The status bar's part of :class:`widgets.main_window.MainWindow`."""

    controller: AppController
    banners: BannerArea
    replay_controls: ReplayControls
    record_action: QtGui.QAction
    toolbar: QtWidgets.QToolBar
    _recording_since: float | None
    _recording_path: Path | None

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.link_label = QtWidgets.QLabel(STATE_TEXT[WorkerState.IDLE])
        self.rate_label = QtWidgets.QLabel("— samples/s")
        self.errors_label = QtWidgets.QLabel("")
        self.record_label = QtWidgets.QLabel("Not recording")
        for w in (self.link_label, self.rate_label, self.errors_label, self.record_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    def show_state(self, state: WorkerState | str, detail: str) -> None:
        """A worker's ``state_changed`` (Qt brings the state as its text; a word that is no
        :class:`WorkerState` raises ``ValueError``)."""
        state = WorkerState(state)
        self.replay_controls.set_loading(state is WorkerState.LOADING)
        if state is WorkerState.STOPPED and self.controller.worker is None:
            state = WorkerState.IDLE  # the user disconnected: not a stopped acquisition waiting to go on
        self.link_label.setText(STATE_TEXT[state])
        self.link_label.setToolTip(detail)
        colour = _STATE_COLOUR.get(state, "#333")
        self.link_label.setStyleSheet(f"color: {colour}; font-weight: bold")
        if state in LINK_DOWN_STATES and detail:
            self.statusBar().showMessage(detail, 8000)
        elif state is WorkerState.CONNECTED:  # an error from before the link came back is no longer true
            self.statusBar().clearMessage()

    def show_stats(self, s: LinkStats) -> None:
        self.rate_label.setText(f"{s.sample_rate_hz:.1f} samples/s" if s.sample_rate_hz else "— samples/s")
        errors = f"CRC/frame {s.checksum_errors} · timeouts {s.timeouts} · no value {s.unavailable} · gaps {s.gaps}"
        self.errors_label.setText(errors)
        self.errors_label.setToolTip(s.last_error)

    def show_recording(self, path: Path | None) -> None:
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
            self.record_label.setStyleSheet(
                "background: #C62828; color: white; font-weight: bold; border-radius: 3px; padding: 1px 6px"
            )
            self._update_recording_indicator()

    def _record_button_style(self, recording: bool) -> None:
        button = self.toolbar.widgetForAction(self.record_action)
        if button is not None:
            button.setStyleSheet(
                "background: #C62828; color: white; font-weight: bold; border-radius: 3px" if recording else ""
            )

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
