"""Choosing an instrument: port, protocol, baud rate, sensors, and a quick "does it answer?" test;
beside it, optionally, where the tool's valve markers come from.

A passive view. It builds a :class:`~qcm_app.acquisition.worker.ConnectionSpec` and does no acquisition.
Its only I/O is the connection test, which opens the port, asks for the instrument's identity and
closes it again. That runs in a thread-pool thread, so a silent instrument never freezes the
window. The last choice is remembered in the settings store (:mod:`qcm_app.app.settings`), so the next
session starts where this one left.
"""

from __future__ import annotations

import contextlib
import logging

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Signal, Slot

from instruments import registry
from instruments.base import DriverInfo, InstrumentError, ProtocolError, ReplyTimeout
from instruments.ports import PortInfo, describe_port, list_ports
from instruments.protocol_spec import OptionValue
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.settings import ConnectionSettings, load_connection, save_connection, user_store
from qcm_app.io.marker_sources import MarkerSpec
from widgets.marker_source_box import MarkerSourceBox
from widgets.protocol_fields import ProtocolFields

log = logging.getLogger(__name__)

_PORT_LABEL_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_OK_COLOUR = "#1a7f37"
_ERROR_COLOUR = "#c62828"


#: the settings store the choice is kept in (tests read it)
connection_settings = user_store


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def human_reason(exc: InstrumentError, spec: ConnectionSpec) -> str:
    """What a person can act on, not the driver's byte counts."""
    if isinstance(exc, ReplyTimeout):
        return (
            f"the instrument on {spec.port} did not answer within {spec.timeout_s:g} s. Check that it is "
            "switched on, that the cable is plugged in, and the baud rate and instrument type"
        )
    if isinstance(exc, ProtocolError):
        return (
            f"the instrument on {spec.port} did not answer in the chosen protocol (something else came "
            "back). Check the instrument type and the baud rate"
        )
    text = _one_line(exc)
    return text.replace(" b''", "")


def probe(spec: ConnectionSpec) -> tuple[bool, str]:
    """Open the port, ask for the identity and close again.

    Returns ``(True, identity)`` or ``(False, one-line reason)`` and never raises, because it runs
    in a pool thread where an exception would be lost. It blocks for up to the spec's timeout, so
    never call it on the GUI thread.
    """
    try:
        driver = spec.open()
    except InstrumentError as exc:
        return False, human_reason(exc, spec)
    except Exception as exc:  # a bad option or a driver bug: report it instead of losing it
        log.exception("connection test: opening %s failed", spec.port)
        return False, _one_line(f"{type(exc).__name__}: {exc}")
    try:
        return True, _one_line(driver.identify()) or "(empty identity string)"
    except InstrumentError as exc:
        log.info("connection test on %s: %s", spec.port, exc)
        return False, human_reason(exc, spec)
    except Exception as exc:
        log.exception("connection test: identify on %s failed", spec.port)
        return False, _one_line(f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(InstrumentError):
            driver.close()


class _ProbeSignals(QtCore.QObject):
    """Carries the result back to the GUI thread. A QRunnable is not a QObject and cannot emit."""

    finished = Signal(int, bool, str)  # generation, ok, text


class _ProbeTask(QtCore.QRunnable):
    """One connection test on a pool thread.

    A pool thread rather than a QThread owned by the dialog: if the dialog is deleted mid-test,
    nothing has to be stopped or joined, and Qt drops the result with the dialog's connections.
    """

    def __init__(self, generation: int, spec: ConnectionSpec) -> None:
        super().__init__()
        self.generation = generation
        self.spec = spec
        self.signals = _ProbeSignals()

    def run(self) -> None:
        ok, text = probe(self.spec)
        self.signals.finished.emit(self.generation, ok, text)


class _PortDelegate(QtWidgets.QStyledItemDelegate):
    """Shows device, description and hint in the popup.

    The item text stays the bare device name, so the editable field and the completer only ever
    hold something that can be opened.
    """

    def initStyleOption(
        self, option: QtWidgets.QStyleOptionViewItem, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        label = index.data(_PORT_LABEL_ROLE)
        if label:
            option.text = label


class ConnectionDialog(QtWidgets.QDialog):
    """Ask which instrument to connect to; after ``exec()`` returns Accepted, :meth:`spec` has the answer.

    ``connection_tested(ok, text)`` fires when a connection test finishes for the current choice.
    A test that finishes after the user has changed the choice is ignored, because it would describe
    a different connection.
    """

    connection_tested = Signal(bool, str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to instrument")
        self._ports: list[PortInfo] = []
        self._infos: dict[str, DriverInfo] = {}
        #: the driver options of each protocol that has some, generated from its declaration
        self.option_panels: dict[str, ProtocolFields] = {}
        self._sensor_boxes: list[QtWidgets.QCheckBox] = []
        #: bumped on every change of the choice; a test result from an older generation is stale
        self._generation = 0
        self._probing = False
        self._build()
        self._load_protocols()
        self._restore()
        self._wire()
        self._update_port_hint()
        self._update_buttons()

    # -- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        self.port_combo = QtWidgets.QComboBox()
        self.port_combo.setEditable(True)
        self.port_combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self.port_combo.setItemDelegate(_PortDelegate(self.port_combo))
        self.port_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.port_combo.setMinimumContentsLength(22)
        port_edit = self.port_combo.lineEdit()
        assert port_edit is not None  # the combo is editable
        port_edit.setPlaceholderText("/dev/ttyUSB0, COM3, /dev/pts/3, socket://host:port")
        self.port_combo.setToolTip("Choose a port, or type a device path or a pyserial URL (loop://, socket://…)")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for serial ports again (after plugging in a USB cable)")
        port_row = QtWidgets.QHBoxLayout()
        port_row.setContentsMargins(0, 0, 0, 0)
        port_row.addWidget(self.port_combo, 1)
        port_row.addWidget(self.refresh_button)

        self.port_hint_label = QtWidgets.QLabel()
        self.port_hint_label.setWordWrap(True)
        self.port_hint_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.port_hint_label.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
        # always there, two lines tall: a hint appearing or going never moves the fields below
        self.port_hint_label.setMinimumHeight(2 * self.port_hint_label.fontMetrics().lineSpacing())
        self.port_hint_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)

        self.protocol_combo = QtWidgets.QComboBox()
        self.baud_combo = QtWidgets.QComboBox()
        self.sensor_row = QtWidgets.QHBoxLayout()
        self.sensor_row.setContentsMargins(0, 0, 0, 0)
        self.sensor_row.addStretch(1)
        sensors = QtWidgets.QWidget()
        sensors.setLayout(self.sensor_row)

        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        port_label = QtWidgets.QLabel("&Port:")
        port_label.setBuddy(self.port_combo)
        form.addRow(port_label, port_row)
        form.addRow("", self.port_hint_label)
        form.addRow("&Instrument:", self.protocol_combo)
        form.addRow("&Baud rate:", self.baud_combo)
        form.addRow("Sensors:", sensors)
        self.time_scale_spin = QtWidgets.QDoubleSpinBox()
        self.time_scale_spin.setRange(0.01, 1000.0)
        self.time_scale_spin.setDecimals(2)
        self.time_scale_spin.setValue(1.0)
        self.time_scale_spin.setSuffix(" ×")
        self.time_scale_spin.setToolTip(
            "Process seconds per real second. 1× for a real instrument; the speed of "
            "`qcm simulate --speed N` when the port is a sped-up simulator"
        )
        form.addRow("&Time scale:", self.time_scale_spin)

        self.options_layout = QtWidgets.QVBoxLayout()  # the protocols' option panels, one shown at a time
        self.options_layout.setContentsMargins(0, 0, 0, 0)

        self.test_button = QtWidgets.QPushButton("Test connection")
        self.test_button.setToolTip("Open the port, ask the instrument who it is, and close it again")
        self.test_label = QtWidgets.QLabel()
        self.test_label.setWordWrap(True)
        self.test_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.test_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        test_row = QtWidgets.QHBoxLayout()
        test_row.addWidget(self.test_button, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_label, 1)

        self.problem_label = QtWidgets.QLabel()
        self.problem_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.problem_label.setStyleSheet(f"color: {_ERROR_COLOUR};")
        self.problem_label.setMinimumHeight(self.problem_label.fontMetrics().lineSpacing())

        self.button_box = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.button_box.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Connect")

        self.marker_box = MarkerSourceBox()

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(self.options_layout)
        layout.addLayout(test_row)
        layout.addWidget(self.marker_box)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)
        layout.addWidget(self.button_box)
        self.setMinimumWidth(520)

    def _wire(self) -> None:
        self.refresh_button.clicked.connect(self.refresh_ports)
        self.port_combo.activated.connect(self._on_port_activated)
        self.port_combo.editTextChanged.connect(self._on_port_text_changed)
        self.protocol_combo.currentIndexChanged.connect(self._on_protocol_changed)
        self.baud_combo.currentIndexChanged.connect(self._on_choice_changed)
        for panel in self.option_panels.values():
            panel.changed.connect(self._on_choice_changed)
        self.test_button.clicked.connect(self.test_connection)
        self.marker_box.changed.connect(self._update_buttons)  # the test is the instrument's, not the markers'
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)

    def _load_protocols(self) -> None:
        for protocol in registry.available_protocols():
            declaration = registry.protocol_spec(protocol)
            self._infos[protocol] = declaration.info
            self.protocol_combo.addItem(declaration.title, protocol)
            self.protocol_combo.setItemData(
                self.protocol_combo.count() - 1, f"protocol “{protocol}”", QtCore.Qt.ItemDataRole.ToolTipRole
            )
            if declaration.options:
                panel = ProtocolFields(declaration)
                panel.hide()
                self.options_layout.addWidget(panel)
                self.option_panels[protocol] = panel

    # -- what the user chose --------------------------------------------------------------------

    def port(self) -> str:
        return self.port_combo.currentText().strip()

    def protocol(self) -> str:
        return self.protocol_combo.currentData() or ""

    def baud(self) -> int | None:
        return self.baud_combo.currentData()

    def sensors(self) -> tuple[int, ...]:
        return tuple(n for n, box in enumerate(self._sensor_boxes, start=1) if box.isChecked())

    def options(self) -> dict[str, OptionValue]:
        """The chosen driver's keyword arguments, as its declaration names them (empty without options)."""
        panel = self.option_panels.get(self.protocol())
        return panel.values() if panel is not None else {}

    def time_scale(self) -> float:
        """Process seconds per real second (1 for a real instrument)."""
        return float(self.time_scale_spin.value())

    def problem(self) -> str:
        """Why the current choice cannot be used yet (empty when it can)."""
        return self._instrument_problem() or self.marker_box.problem()

    def _instrument_problem(self) -> str:
        if not self.protocol():
            return "No instrument driver is available."
        if not self.port():
            return "Choose a port or type one in."
        if not self.sensors():
            return "Select at least one sensor."
        return registry.protocol_spec(self.protocol()).problem(self.options())

    def marker_spec(self) -> MarkerSpec | None:
        """The valve marker source chosen beside the instrument (None: none)."""
        return self.marker_box.spec()

    def spec(self) -> ConnectionSpec:
        """Build the chosen connection. Raises ValueError while the instrument's choice is incomplete."""
        problem = self._instrument_problem()
        if problem:
            raise ValueError(problem)
        return ConnectionSpec(
            protocol=self.protocol(), port=self.port(), baud=self.baud(), sensors=self.sensors(), options=self.options()
        )

    def test_result_text(self) -> str:
        """The text the connection test left in the dialog (empty before a test)."""
        return self.test_label.text()

    # -- actions ----------------------------------------------------------------------------------

    @Slot()
    def refresh_ports(self) -> None:
        """Look for ports again. The typed text stays, so a hand-typed pty or URL is not lost."""
        self._fill_ports(list_ports(include=[self.port()]), self.port())
        self._update_port_hint()

    @Slot()
    def test_connection(self) -> None:
        """Start a connection test in a pool thread. The result arrives in :meth:`_on_probe_finished`."""
        if self._probing or self._instrument_problem():
            return
        spec = self.spec()
        self._probing = True
        task = _ProbeTask(self._generation, spec)
        task.signals.finished.connect(self._on_probe_finished)
        self._show_test_result(f"Testing {spec.port} at {spec.baud} baud…", None)
        self._update_buttons()
        QtCore.QThreadPool.globalInstance().start(task)

    def accept(self) -> None:
        if self.problem():
            return
        self._save()
        super().accept()

    # -- reactions ----------------------------------------------------------------------------

    @Slot(int, bool, str)
    def _on_probe_finished(self, generation: int, ok: bool, text: str) -> None:
        self._probing = False
        self._update_buttons()
        if generation != self._generation:
            return
        self._show_test_result(f"Answered: {text}" if ok else f"Failed: {text}", ok)
        self.connection_tested.emit(ok, text)

    @Slot(int)
    def _on_port_activated(self, index: int) -> None:
        """The user picked a listed port. If its bridge suggests an instrument we have, pre-select it."""
        if not 0 <= index < len(self._ports):
            return
        suggested = self._ports[index].suggested_protocol
        position = self.protocol_combo.findData(suggested) if suggested else -1
        if position >= 0:
            self.protocol_combo.setCurrentIndex(position)

    @Slot(str)
    def _on_port_text_changed(self, _text: str) -> None:
        self._update_port_hint()
        self._on_choice_changed()

    @Slot(int)
    def _on_protocol_changed(self, _index: int) -> None:
        self._apply_protocol(self.protocol())
        self._on_choice_changed()

    @Slot()
    def _on_choice_changed(self) -> None:
        self._generation += 1
        self._show_test_result("", None)
        self._update_buttons()

    # -- helpers ---------------------------------------------------------------------------------

    def _fill_ports(self, ports: list[PortInfo], text: str) -> None:
        with QtCore.QSignalBlocker(self.port_combo):
            self.port_combo.clear()
            self._ports = list(ports)
            for i, port in enumerate(self._ports):
                self.port_combo.addItem(port.device)
                self.port_combo.setItemData(i, port.label, _PORT_LABEL_ROLE)
                self.port_combo.setItemData(i, _port_details(port), QtCore.Qt.ItemDataRole.ToolTipRole)
            index = self.port_combo.findText(text) if text else -1
            self.port_combo.setCurrentIndex(index)
            self.port_combo.setEditText(text)
        view = self.port_combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 8 if self._ports else 0)

    def _apply_protocol(self, protocol: str, baud: int | None = None, sensors: tuple[int, ...] | None = None) -> None:
        """Offer this driver's baud rates and sensors. Keep the checked sensors that still exist."""
        info = self._infos.get(protocol)
        keep = sensors if sensors is not None else self.sensors()
        with QtCore.QSignalBlocker(self.baud_combo):
            self.baud_combo.clear()
            if info is not None:
                for rate in info.bauds:
                    self.baud_combo.addItem(f"{rate}", rate)
                wanted = baud if baud in info.bauds else info.default_baud
                self.baud_combo.setCurrentIndex(max(self.baud_combo.findData(wanted), 0))
        for box in self._sensor_boxes:
            self.sensor_row.removeWidget(box)
            box.hide()
            box.deleteLater()
        self._sensor_boxes = []
        count = info.max_sensors if info is not None else 0
        keep = tuple(n for n in keep if 1 <= n <= count) or ((1,) if count else ())
        for n in range(1, count + 1):
            box = QtWidgets.QCheckBox(str(n))
            box.setToolTip(f"Read sensor (crystal) {n}")
            box.setChecked(n in keep)
            box.toggled.connect(self._on_choice_changed)
            self.sensor_row.insertWidget(n - 1, box)
            self._sensor_boxes.append(box)
        resized = False
        for name, panel in self.option_panels.items():
            if panel.isHidden() == (name == protocol):
                panel.setVisible(name == protocol)
                resized = True
        if resized:
            self.adjustSize()  # shrink back when a protocol's options disappear

    def _update_port_hint(self) -> None:
        text = self.port()
        port = next((p for p in self._ports if p.device == text), None)
        if port is None:
            port = describe_port(text, self._ports) if text else PortInfo("")
        self.port_hint_label.setText(" · ".join(filter(None, (port.description, port.hint, port.usb_id))))

    def _update_buttons(self) -> None:
        problem = self.problem()
        self.problem_label.setText(problem)  # its line stays when empty: nothing below moves
        self.ok_button.setEnabled(not problem)
        self.test_button.setEnabled(not self._instrument_problem() and not self._probing)

    def _show_test_result(self, text: str, ok: bool | None) -> None:
        colour = "" if ok is None else f"color: {_OK_COLOUR if ok else _ERROR_COLOUR};"
        self.test_label.setStyleSheet(colour)
        self.test_label.setText(text)

    # -- remembering the last choice -----------------------------------------------------------------

    def _restore(self) -> None:
        """Bring back the last accepted choice. With none, prefer a port whose hint names an instrument."""
        saved = load_connection()
        saved_port, saved_protocol, baud, sensors = saved.port, saved.protocol, saved.baud, saved.sensors
        for name, panel in self.option_panels.items():
            panel.restore(saved.options.get(name, {}))

        ports = list_ports(include=[saved_port] if saved_port else [])
        port = saved_port
        protocol = saved_protocol if saved_protocol in self._infos else ""
        if not port and ports:
            hinted = next((p for p in ports if p.suggested_protocol in self._infos), ports[0])
            port = hinted.device
            protocol = protocol or (hinted.suggested_protocol if hinted.suggested_protocol in self._infos else "")
        self._fill_ports(ports, port)

        index = self.protocol_combo.findData(protocol) if protocol else 0
        with QtCore.QSignalBlocker(self.protocol_combo):
            self.protocol_combo.setCurrentIndex(max(index, 0))
        self._apply_protocol(
            self.protocol(),
            baud=baud if protocol == saved_protocol else None,
            sensors=sensors if protocol == saved_protocol else (1,),
        )
        self.marker_box.restore(saved)

    def _save(self) -> None:
        """Remember the choice; every protocol's options too, so switching back finds them as they were."""
        connection = ConnectionSettings(
            port=self.port(),
            protocol=self.protocol(),
            baud=self.baud(),
            sensors=self.sensors(),
            options={name: panel.texts() for name, panel in self.option_panels.items()},
        )
        self.marker_box.store_in(connection)
        save_connection(connection)


def _port_details(port: PortInfo) -> str:
    """The tooltip: everything known about a port, so two identical adapters can be told apart."""
    lines = [port.device]
    for name, value in (
        ("Description", port.description),
        ("Likely", port.hint),
        ("USB ID", port.usb_id),
        ("Manufacturer", port.manufacturer),
        ("Serial number", port.serial_number),
    ):
        if value:
            lines.append(f"{name}: {value}")
    return "\n".join(lines)
