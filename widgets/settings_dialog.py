"""Settings that outlive a run: where runs go, the crystal's constants, the film used for the
instrument-style thickness column, the demo, and the operator's note for run headers."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from PySide6 import QtWidgets

from qcm_app.app.settings import AppSettings
from qcm_app.domain.physics import CrystalSettings
from qcm_app.domain.pipeline import FilmSettings


def _spin(value: float, low: float, high: float, decimals: int, suffix: str = "") -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setValue(value)
    if suffix:
        box.setSuffix(f" {suffix}")
    return box


def _bound_edit(value: float) -> QtWidgets.QLineEdit:
    edit = QtWidgets.QLineEdit("" if math.isnan(value) else f"{value:g}")
    edit.setPlaceholderText("off")
    return edit


def _bound_value(text: str) -> float:
    try:
        value = float(text.replace(",", ".")) if text.strip() else math.nan
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, settings: AppSettings, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._original = settings
        form = QtWidgets.QFormLayout(self)
        folder_row = QtWidgets.QHBoxLayout()
        self.runs_folder = QtWidgets.QLineEdit(str(settings.runs_folder))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.runs_folder, 1)
        folder_row.addWidget(browse)
        form.addRow("Runs folder", folder_row)
        c = settings.crystal
        self.nominal = _spin(c.nominal_mhz, 1.0, 20.0, 3, "MHz")
        self.fresh = _spin(c.fresh_frequency_hz, 1e6, 2e7, 0, "Hz")
        self.minimum = _spin(c.min_frequency_hz, 1e6, 2e7, 0, "Hz")
        self.blank = _spin(c.blank_frequency_hz, 1e6, 2e7, 0, "Hz")
        self.zq = _spin(c.zq_kg_m2_s, 1e6, 2e7, 0, "kg/(m² s)")
        form.addRow(QtWidgets.QLabel("<b>Crystal</b> (Sauerbrey always uses the run's measured start frequency)"))
        form.addRow("Nominal frequency", self.nominal)
        form.addRow("Fresh crystal (100 % life)", self.fresh)
        form.addRow("Minimum usable (0 % life)", self.minimum)
        form.addRow("Z-match blank frequency Fq", self.blank)
        form.addRow("Quartz acoustic impedance Zq", self.zq)
        f = settings.film
        self.density = _spin(f.density_g_cm3, 0.01, 30.0, 3, "g/cm³")
        self.z_ratio = _spin(f.z_ratio, 0.01, 10.0, 3)
        self.tooling = _spin(f.tooling_pct, 1.0, 1000.0, 1, "%")
        form.addRow(QtWidgets.QLabel("<b>Thickness column</b> (the recipe's block density wins when given)"))
        form.addRow("Film density", self.density)
        form.addRow("Z-ratio", self.z_ratio)
        form.addRow("Tooling", self.tooling)
        self.speed = _spin(settings.demo_speed, 1.0, 1000.0, 1, "×")
        form.addRow("Demo reactor speed", self.speed)
        a = settings.alarms
        self.life_min = _spin(a.crystal_life_min_pct, 0.0, 100.0, 1, "%")
        self.bounds = {
            name: _bound_edit(getattr(a, name))
            for name in ("rate_min_ng_cm2_s", "rate_max_ng_cm2_s", "cycle_mass_min_ng_cm2", "cycle_mass_max_ng_cm2")
        }
        form.addRow(QtWidgets.QLabel("<b>Alarms</b> (shown, sounded and written to the run file; empty: off)"))
        form.addRow("Crystal life below", self.life_min)
        for name, title in (
            ("rate_min_ng_cm2_s", "Mass rate below (ng/cm²/s)"),
            ("rate_max_ng_cm2_s", "Mass rate above (ng/cm²/s)"),
            ("cycle_mass_min_ng_cm2", "Δm per cycle below (ng/cm²)"),
            ("cycle_mass_max_ng_cm2", "Δm per cycle above (ng/cm²)"),
        ):
            form.addRow(title, self.bounds[name])
        self.note = QtWidgets.QLineEdit(settings.operator_note)
        self.note.setPlaceholderText("e.g. sample LiGL-90, run by A. Scientist")
        form.addRow("Operator note (run headers)", self.note)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.problem = QtWidgets.QLabel("")
        self.problem.setStyleSheet("color: #b71c1c")
        form.addRow(self.problem)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Runs folder", self.runs_folder.text())
        if folder:
            self.runs_folder.setText(folder)

    def settings(self) -> AppSettings:
        crystal = CrystalSettings(
            nominal_mhz=self.nominal.value(),
            fresh_frequency_hz=self.fresh.value(),
            min_frequency_hz=self.minimum.value(),
            blank_frequency_hz=self.blank.value(),
            zq_kg_m2_s=self.zq.value(),
            quartz_density_g_cm3=self._original.crystal.quartz_density_g_cm3,
            quartz_shear_modulus_g_cm_s2=self._original.crystal.quartz_shear_modulus_g_cm_s2,
        )
        film = FilmSettings(self.density.value(), self.z_ratio.value(), self.tooling.value())
        alarms = replace(
            self._original.alarms,
            crystal_life_min_pct=self.life_min.value(),
            **{name: _bound_value(edit.text()) for name, edit in self.bounds.items()},
        )
        return replace(
            self._original,
            runs_folder=Path(self.runs_folder.text().strip()).expanduser(),
            crystal=crystal,
            film=film,
            demo_speed=self.speed.value(),
            operator_note=self.note.text(),
            alarms=alarms,
        )

    def _accept(self) -> None:
        for edit in self.bounds.values():
            if math.isnan(_bound_value(edit.text())) and edit.text().strip():
                self.problem.setText(f"An alarm bound is a number or empty (off), not {edit.text()!r}.")
                return
        if not self.minimum.value() < self.fresh.value():
            self.problem.setText("The minimum usable frequency must be below the fresh crystal's.")
            return
        if not self.runs_folder.text().strip():
            self.problem.setText("Choose a runs folder.")
            return
        self.accept()
