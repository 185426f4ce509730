"""The numbers a scientist reads at a glance from across the lab."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from qcm_app.app.session import Readouts

_ROWS = (
    ("frequency_hz", "Frequency", "Hz", "{:,.2f}"),
    ("delta_frequency_hz", "Δf", "Hz", "{:+,.2f}"),
    ("mass_ng_cm2", "Mass", "ng/cm²", "{:,.1f}"),
    ("mass_rate_ng_cm2_s", "Mass rate", "ng/cm²/s", "{:+,.2f}"),
    ("thickness_ang", "Thickness", "Å", "{:,.1f}"),
    ("life_pct", "Crystal life", "%", "{:.1f}"),
)


_TIPS = {
    "frequency_hz": "The crystal's resonance frequency now, as the instrument reports it",
    "delta_frequency_hz": "Frequency now minus the reference: the first reading of the run, or the reading at the "
    "last Tare or crystal change (negative as mass lands)",
    "mass_ng_cm2": "Areal mass since the reference (start, last Tare or crystal change), by Sauerbrey from the "
    "run's measured start frequency",
    "mass_rate_ng_cm2_s": "Least-squares slope of the mass over the last 5 s",
    "thickness_ang": "Film grown so far, block by block at each block's density (completed cycles, plus the growth "
    "since the last one at the current block's density); without a block density, the "
    "instrument-style thickness at the film density in Settings",
    "life_pct": "100 % at the fresh crystal's frequency, 0 % at the minimum usable one (Settings; New crystal "
    "resets it)",
}


def format_value(value: float, fmt: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return fmt.format(value).replace(",", "\u2009")


class ReadoutPanel(QtWidgets.QGroupBox):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Now", parent)
        grid = QtWidgets.QGridLayout(self)
        grid.setVerticalSpacing(2)
        self._values: dict[str, QtWidgets.QLabel] = {}
        big = self.font()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        big.setBold(True)
        for row, (key, title, unit, _) in enumerate(_ROWS):
            name = QtWidgets.QLabel(title)
            value = QtWidgets.QLabel("—")
            value.setFont(big)
            value.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setMinimumWidth(160)
            value.setObjectName(f"readout_{key}")
            name.setToolTip(_TIPS[key])
            value.setToolTip(_TIPS[key])
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(QtWidgets.QLabel(unit), row, 2)
            self._values[key] = value

    def show_readouts(self, r: Readouts) -> None:
        for key, _, _, fmt in _ROWS:
            self._values[key].setText(format_value(getattr(r, key), fmt))

    def text_of(self, key: str) -> str:
        return self._values[key].text()
