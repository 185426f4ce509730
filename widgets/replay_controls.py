"""Play/pause, speed, position and jump-to-end for a replayed run (a passive view: it reports
what the user asked for through signals and shows the position it is given)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from qcm_app.acquisition.replay import SPEEDS
from qcm_app.app.session import format_duration


class ReplayControls(QtWidgets.QWidget):
    paused_changed = QtCore.Signal(bool)
    speed_changed = QtCore.Signal(float)
    seek_requested = QtCore.Signal(float)
    jump_to_end_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        self.play_button = QtWidgets.QPushButton("Pause")
        self.play_button.setCheckable(True)
        self.speed_combo = QtWidgets.QComboBox()
        for speed in SPEEDS:
            self.speed_combo.addItem(f"{speed:g}×", speed)
        self.speed_combo.setCurrentIndex(SPEEDS.index(100.0))
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setMinimumWidth(260)
        self.position_label = QtWidgets.QLabel("0:00 / 0:00")
        self.end_button = QtWidgets.QPushButton("Jump to end")
        self.busy = QtWidgets.QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate while a large file loads
        self.busy.setMaximumWidth(120)
        self.busy.setFormat("loading…")
        self.busy.setVisible(False)
        layout.addWidget(QtWidgets.QLabel("Replay:"))
        for w in (self.play_button, self.speed_combo, self.slider, self.position_label, self.end_button, self.busy):
            layout.addWidget(w)
        self._duration_s = 0.0
        self.play_button.toggled.connect(self._play_toggled)
        self.speed_combo.currentIndexChanged.connect(lambda _: self.speed_changed.emit(self.speed_combo.currentData()))
        self.slider.sliderReleased.connect(self._slider_released)
        self.end_button.clicked.connect(self.jump_to_end_requested)

    @property
    def speed(self) -> float:
        return float(self.speed_combo.currentData())

    def set_loading(self, loading: bool) -> None:
        self.busy.setVisible(loading)

    def show_position(self, time_s: float, duration_s: float) -> None:
        self._duration_s = duration_s
        if not self.slider.isSliderDown() and duration_s > 0:
            blocked = self.slider.blockSignals(True)
            self.slider.setValue(round(1000 * time_s / duration_s))
            self.slider.blockSignals(blocked)
        self.position_label.setText(f"{format_duration(time_s)} / {format_duration(duration_s)}")

    def _play_toggled(self, paused: bool) -> None:
        self.play_button.setText("Play" if paused else "Pause")
        self.paused_changed.emit(paused)

    def _slider_released(self) -> None:
        self.seek_requested.emit(self.slider.value() / 1000 * self._duration_s)
