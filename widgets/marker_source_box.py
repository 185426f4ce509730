"""Where the tool's valve markers come from: none, its log file followed as it grows, or an event
line (``<t> <valve> <0|1>``) on a serial port or over TCP; and which precursor each valve doses.

A passive view shared by the connection dialog and *Instrument → Valve markers…*: it builds a
:class:`~qcm_app.io.marker_sources.MarkerSpec` and opens nothing (the acquisition worker does). The
last accepted choice is kept with the other connection settings (:class:`~qcm_app.app.settings.ConnectionSettings`).
"""

from __future__ import annotations

from PySide6 import QtWidgets
from PySide6.QtCore import Signal

from qcm_app.app.settings import ConnectionSettings, load_connection, save_marker_source
from qcm_app.domain.errors import UserInputError
from qcm_app.io.marker_sources import MarkerKind, MarkerSpec, parse_marker_spec

#: (shown, kind, placeholder of the target field)
KINDS: tuple[tuple[str, MarkerKind | None, str], ...] = (
    ("None", None, ""),
    ("Tool log file (followed as the tool writes it)", MarkerKind.LOG, "/path/to/Run_DataLog.txt"),
    ("Event lines on a serial port", MarkerKind.SERIAL, "/dev/ttyUSB1, COM4"),
    ("Event lines over TCP", MarkerKind.TCP, "host:port, e.g. 192.168.1.20:5020"),
)


class MarkerSourceBox(QtWidgets.QGroupBox):
    """Choose the valve marker source; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Valve markers from the tool (optional)", parent)
        self.kind_combo = QtWidgets.QComboBox()
        for shown, kind, _ in KINDS:
            self.kind_combo.addItem(shown, kind.value if kind else "")
        self.kind_combo.setToolTip(
            "With the tool's valve signals every pulse time is known: the valves become "
            "the cycle timeline and show as ticks on the time axis"
        )
        self.target_edit = QtWidgets.QLineEdit()
        self.browse_button = QtWidgets.QPushButton("Browse…")
        self.browse_button.setToolTip("Choose the log file the tool writes (it may not exist yet)")
        target_row = QtWidgets.QHBoxLayout()
        target_row.setContentsMargins(0, 0, 0, 0)
        target_row.addWidget(self.target_edit, 1)
        target_row.addWidget(self.browse_button)
        self.names_edit = QtWidgets.QLineEdit()
        self.names_edit.setPlaceholderText("TMA=Mod8/do1, H2O=Mod8/do2 (optional: names in the columns are used)")
        self.names_edit.setToolTip("Which precursor each valve column or event name doses, as PRECURSOR=VALVE")
        form = QtWidgets.QFormLayout(self)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Source:", self.kind_combo)
        self.target_label = QtWidgets.QLabel("Where:")
        form.addRow(self.target_label, target_row)
        form.addRow("Valve names:", self.names_edit)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.target_edit.textChanged.connect(self.changed)
        self.names_edit.textChanged.connect(self.changed)
        self.browse_button.clicked.connect(self._browse)
        self._kind_changed()

    # -- what the user chose ------------------------------------------------------------------

    def kind(self) -> MarkerKind | None:
        value = self.kind_combo.currentData()
        return MarkerKind(value) if value else None

    def spec(self) -> MarkerSpec | None:
        """The chosen source (None: no markers); raises :class:`UserInputError` while :meth:`problem`
        is not empty."""
        kind = self.kind()
        if kind is None:
            return None
        target = self.target_edit.text().strip()
        text = target if kind is MarkerKind.LOG else f"{kind.value}:{target}"
        names = [self.names_edit.text()] if self.names_edit.text().strip() else []
        return parse_marker_spec(text, names)

    def problem(self) -> str:
        """Why the choice cannot be used (empty when it can), in one line."""
        if self.kind() is None:
            return ""
        if not self.target_edit.text().strip():
            return {
                MarkerKind.LOG: "Valve markers: choose the tool's log file.",
                MarkerKind.SERIAL: "Valve markers: type the serial port.",
                MarkerKind.TCP: "Valve markers: type host:port.",
            }[self.kind()]  # type: ignore[index]
        try:
            self.spec()
        except UserInputError as exc:
            return "Valve markers: " + exc.detail.removeprefix("--markers: ").removeprefix("--markers ")
        return ""

    def set_spec(self, spec: MarkerSpec | None) -> None:
        self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(spec.kind.value if spec else ""), 0))
        self.target_edit.setText(spec.target if spec else "")
        self.names_edit.setText(spec.names_text() if spec else "")

    # -- remembering ------------------------------------------------------------------------------

    def restore(self, saved: ConnectionSettings | None = None) -> None:
        """The last accepted choice (an odd stored value shows as typed, for the user to mend)."""
        saved = saved or load_connection()
        self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(saved.markers_kind), 0))
        self.target_edit.setText(saved.markers_target)
        self.names_edit.setText(saved.valve_names)

    def store_in(self, connection: ConnectionSettings) -> None:
        """Put the choice into ``connection`` (saved with the rest of it)."""
        kind = self.kind()
        connection.markers_kind = kind.value if kind else ""
        connection.markers_target = self.target_edit.text().strip()
        connection.valve_names = self.names_edit.text().strip()

    def save(self) -> None:
        """Remember the choice alone (the rest of the connection is left as it is)."""
        connection = ConnectionSettings()
        self.store_in(connection)
        save_marker_source(connection)

    # -- reactions ----------------------------------------------------------------------------

    def _kind_changed(self, *_: object) -> None:
        kind = self.kind()
        placeholder = next(p for _, k, p in KINDS if k is kind)
        self.target_edit.setPlaceholderText(placeholder)
        for widget in (self.target_edit, self.target_label, self.names_edit):
            widget.setEnabled(kind is not None)
        self.browse_button.setEnabled(kind is MarkerKind.LOG)
        self.changed.emit()

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "The tool's log file",
            self.target_edit.text(),
            "Tool logs (*.txt *.tsv *.csv *.log);;All files (*)",
            options=QtWidgets.QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.target_edit.setText(path)


class MarkerDialog(QtWidgets.QDialog):
    """*Instrument → Valve markers…*: follow a marker source beside the running instrument."""

    def __init__(self, current: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Valve markers")
        self.box = MarkerSourceBox()
        self.box.restore()
        self.now_label = QtWidgets.QLabel(f"Now: {current}" if current else "Now: no valve markers")
        self.now_label.setWordWrap(True)
        self.problem_label = QtWidgets.QLabel()
        self.problem_label.setStyleSheet("color: #c62828;")
        self.problem_label.setMinimumHeight(self.problem_label.fontMetrics().lineSpacing())
        self.button_box = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.button_box.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Follow")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.now_label)
        layout.addWidget(self.box)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.button_box)
        self.box.changed.connect(self._update)
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        self.setMinimumWidth(560)
        self._update()

    def spec(self) -> MarkerSpec | None:
        return self.box.spec()

    def accept(self) -> None:
        if self.box.problem():
            return
        self.box.save()
        super().accept()

    def _update(self) -> None:
        problem = self.box.problem()
        self.problem_label.setText(problem)
        self.ok_button.setEnabled(not problem)
        self.ok_button.setText("Follow" if self.box.kind() is not None else "Stop following")
