"""The connection dialog and the port list behind it.

The serial ports are faked at ``comports()`` so the tests do not depend on what is plugged in.
The line driver's options are reached through the fields generated from its declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial.tools.list_ports
from PySide6 import QtCore
from serial.tools.list_ports_common import ListPortInfo

from instruments import registry
from instruments.base import DriverInfo
from instruments.emulators.base import ConstantSource, PtyServer
from instruments.emulators.sqm160 import FIRMWARE, Sqm160Emulator
from instruments.ports import USB_BRIDGES, PortInfo, describe_port, list_ports
from instruments.transport import MemoryTransport
from qcm_app.acquisition.worker import ConnectionSpec
from widgets.connection_dialog import ConnectionDialog, connection_settings

Qt = QtCore.Qt


def comport(
    device: str,
    vid: int | None = None,
    pid: int | None = None,
    description: str = "n/a",
    serial_number: str | None = None,
    manufacturer: str | None = None,
) -> ListPortInfo:
    """A pyserial port entry as ``comports()`` returns it."""
    entry = ListPortInfo(device, skip_link_detection=True)
    entry.vid, entry.pid = vid, pid
    entry.description = description
    entry.serial_number = serial_number
    entry.manufacturer = manufacturer
    return entry


@pytest.fixture(autouse=True)
def fake_ports(monkeypatch: pytest.MonkeyPatch) -> list[ListPortInfo]:
    """What ``comports()`` reports; tests may change the list in place."""
    entries: list[ListPortInfo] = []
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda include_links=False: list(entries))
    return entries


@pytest.fixture
def with_line() -> DriverInfo:
    """The ``line`` protocol is offered; its DriverInfo."""
    assert "line" in registry.available_protocols()
    return registry.driver_class("line").info


@pytest.fixture
def make_dialog(qtbot):
    """Build dialogs that pytest-qt closes and deletes after the test.

    They are not shown: the offscreen platform warns about size hints on any shown window, and
    warnings fail tests.
    """

    def make() -> ConnectionDialog:
        dialog = ConnectionDialog()
        qtbot.addWidget(dialog)
        return dialog

    return make


def type_port(qtbot, dialog: ConnectionDialog, text: str) -> None:
    dialog.port_combo.lineEdit().clear()
    qtbot.keyClicks(dialog.port_combo.lineEdit(), text)


def select_protocol(dialog: ConnectionDialog, protocol: str) -> None:
    index = dialog.protocol_combo.findData(protocol)
    assert index >= 0, protocol
    dialog.protocol_combo.setCurrentIndex(index)


def select_baud(dialog: ConnectionDialog, baud: int) -> None:
    index = dialog.baud_combo.findData(baud)
    assert index >= 0, baud
    dialog.baud_combo.setCurrentIndex(index)


def set_sensors(dialog: ConnectionDialog, wanted: set[int]) -> None:
    for n, box in enumerate(dialog._sensor_boxes, start=1):
        box.setChecked(n in wanted)


def combo_data(combo) -> list[object]:
    return [combo.itemData(i) for i in range(combo.count())]


def line_field(dialog: ConnectionDialog, name: str):
    """The field generated for one of the line driver's options."""
    return dialog.option_panels["line"].field(name)


def choose_delimiter(dialog: ConnectionDialog, delimiter: str | None) -> None:
    """Pick the delimiter the line driver takes as ``delimiter`` from the combo box, as a user would."""
    (choice,) = [c for c in registry.protocol_spec("line").option("delimiter").choices if c.value == delimiter]
    combo = line_field(dialog, "delimiter")
    combo.setCurrentIndex(combo.findData(choice.key))


# -- instruments/ports.py ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vid", "pid", "hint_has", "protocol"),
    [
        (0x10C4, 0xEA60, "INFICON SQM-160 USB (CP210x)", "sqm160"),
        (0x0403, 0x6001, "FTDI FT232R", None),
        (0x0403, 0x6015, "FTDI FT-X", None),
        (0x067B, 0x2303, "Prolific PL2303", None),
        (0x1A86, 0x7523, "CH340", None),
        (0x2341, 0x8037, "openQCM (Arduino Micro)", "openqcm"),
        (0x16C0, 0x0483, "openQCM (Teensy)", "openqcm"),
        (0x1234, 0x5678, "", None),
    ],
)
def test_usb_bridges_are_recognised_by_vid_pid(fake_ports, vid, pid, hint_has, protocol) -> None:
    fake_ports.append(comport("/dev/ttyUSB0", vid, pid, "USB serial", "A1B2", "Some Vendor"))
    (port,) = list_ports()
    assert port.device == "/dev/ttyUSB0"
    assert hint_has in port.hint and bool(port.hint) == bool(hint_has)
    assert port.suggested_protocol == protocol
    assert port.usb_id == f"{vid:04X}:{pid:04X}"
    assert (port.description, port.serial_number, port.manufacturer) == ("USB serial", "A1B2", "Some Vendor")


def test_cp210x_hint_is_the_documented_one() -> None:
    assert USB_BRIDGES[(0x10C4, 0xEA60)].hint == "INFICON SQM-160 USB (CP210x)"


def test_ports_without_usb_ids_have_no_hint_and_no_na(fake_ports) -> None:
    fake_ports.append(comport("/dev/ttyS0"))
    (port,) = list_ports()
    assert port == PortInfo("/dev/ttyS0")
    assert port.usb_id == "" and port.label == "/dev/ttyS0"


def test_ports_sort_naturally_and_hand_typed_ones_are_added_once(fake_ports) -> None:
    fake_ports.extend([comport("/dev/ttyUSB10"), comport("/dev/ttyUSB2"), comport("/dev/ttyACM0")])
    devices = [p.device for p in list_ports(include=["/dev/pts/3", "/dev/ttyUSB2", "", "loop://", "/dev/pts/3"])]
    assert devices == ["/dev/ttyACM0", "/dev/ttyUSB2", "/dev/ttyUSB10", "/dev/pts/3", "loop://"]


@pytest.mark.parametrize(
    ("typed", "described_as"),
    [
        ("loop://", "loopback"),
        ("socket://192.168.1.20:4001", "TCP"),
        ("rfc2217://lab-server:2217", "RFC 2217"),
        ("spy:///dev/ttyUSB0", "spy"),
        ("weird://x", "pyserial URL"),
        ("/dev/pts/3", "pseudo-terminal"),
    ],
)
def test_hand_typed_ports_are_described(typed: str, described_as: str) -> None:
    port = describe_port(typed)
    assert port.device == typed
    assert described_as in port.description
    assert port.suggested_protocol is None


def test_a_link_takes_the_hint_of_its_target(tmp_path: Path) -> None:
    link = tmp_path / "usb-Silicon_Labs_CP2102-if00-port0"
    link.symlink_to("/dev/ttyUSB7")
    target = PortInfo(
        "/dev/ttyUSB7", "CP2102", 0x10C4, 0xEA60, hint="INFICON SQM-160 USB (CP210x)", suggested_protocol="sqm160"
    )
    port = describe_port(str(link), [target])
    assert port.device == str(link)
    assert port.description == "link to /dev/ttyUSB7"
    assert port.suggested_protocol == "sqm160" and port.usb_id == "10C4:EA60"


def test_an_emulator_link_is_described_as_a_pty(tmp_path: Path) -> None:
    link = tmp_path / "qcm-sqm160"
    link.symlink_to("/dev/pts/3")
    port = describe_port(str(link))
    assert port.description == "link to /dev/pts/3" and "pseudo-terminal" in port.hint


# -- protocols, bauds, sensors --------------------------------------------------------------------------


def test_lists_the_available_protocols_by_title(make_dialog) -> None:
    dialog = make_dialog()
    protocols = registry.available_protocols()
    assert "sqm160" in protocols
    assert combo_data(dialog.protocol_combo) == protocols
    titles = [dialog.protocol_combo.itemText(i) for i in range(dialog.protocol_combo.count())]
    assert titles == [registry.driver_class(p).info.title for p in protocols]


def test_bauds_and_sensors_follow_the_protocol(make_dialog, with_line: DriverInfo) -> None:
    sqm = registry.driver_class("sqm160").info
    dialog = make_dialog()
    select_protocol(dialog, "sqm160")
    assert combo_data(dialog.baud_combo) == list(sqm.bauds)
    assert dialog.baud() == sqm.default_baud
    assert len(dialog._sensor_boxes) == sqm.max_sensors

    select_baud(dialog, 115200)
    set_sensors(dialog, {1, 2})
    select_protocol(dialog, "line")
    assert combo_data(dialog.baud_combo) == list(with_line.bauds)
    assert dialog.baud() == with_line.default_baud
    assert len(dialog._sensor_boxes) == with_line.max_sensors
    assert dialog.sensors() == tuple(n for n in (1, 2) if n <= with_line.max_sensors)

    select_protocol(dialog, "sqm160")
    assert dialog.baud() == sqm.default_baud  # a new protocol starts from its own default


def test_at_least_one_sensor_is_needed(make_dialog) -> None:
    dialog = make_dialog()
    dialog.port_combo.setEditText("/dev/pts/9")
    set_sensors(dialog, set())
    assert not dialog.ok_button.isEnabled()
    assert not dialog.test_button.isEnabled()
    assert "sensor" in dialog.problem_label.text()
    with pytest.raises(ValueError, match="sensor"):
        dialog.spec()
    dialog._sensor_boxes[0].setChecked(True)
    assert dialog.ok_button.isEnabled() and dialog.problem() == ""


def test_a_port_is_needed(make_dialog) -> None:
    dialog = make_dialog()
    assert dialog.port() == ""  # no ports, nothing remembered
    assert not dialog.ok_button.isEnabled()
    assert "port" in dialog.problem_label.text()


# -- the ConnectionSpec -------------------------------------------------------------------------------


def test_spec_has_port_protocol_baud_and_sensors(qtbot, make_dialog) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "/dev/pts/5")
    select_protocol(dialog, "sqm160")
    select_baud(dialog, 115200)
    set_sensors(dialog, {1, 3})
    assert dialog.spec() == ConnectionSpec(protocol="sqm160", port="/dev/pts/5", baud=115200, sensors=(1, 3))
    assert dialog.option_panels["line"].isHidden()


def test_spec_carries_the_line_options(qtbot, make_dialog, with_line: DriverInfo) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "socket://10.0.0.7:4001")
    select_protocol(dialog, "line")
    assert not dialog.option_panels["line"].isHidden()
    choose_delimiter(dialog, ";")
    line_field(dialog, "frequency_column").setValue(3)
    line_field(dialog, "time_column").setValue(0)
    line_field(dialog, "decimal_comma").setChecked(True)
    spec = dialog.spec()
    assert (spec.protocol, spec.port, spec.baud, spec.sensors) == (
        "line",
        "socket://10.0.0.7:4001",
        with_line.default_baud,
        (1,),
    )
    assert spec.options == {"delimiter": ";", "frequency_column": 2, "time_column": None, "decimal_comma": True}

    line_driver = registry.driver_class("line")
    line_driver(MemoryTransport(), **spec.options).close()  # the driver takes these options as they are

    choose_delimiter(dialog, None)
    line_field(dialog, "time_column").setValue(1)
    line_field(dialog, "decimal_comma").setChecked(False)
    assert dialog.spec().options == {
        "delimiter": None,
        "frequency_column": 2,
        "time_column": 0,
        "decimal_comma": False,
    }  # None: the driver detects the delimiter
    for index in range(line_field(dialog, "delimiter").count()):
        line_field(dialog, "delimiter").setCurrentIndex(index)
        line_driver(MemoryTransport(), **dialog.spec().options).close()


def test_contradictory_line_options_are_refused(qtbot, make_dialog, with_line: DriverInfo) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "/dev/pts/5")
    select_protocol(dialog, "line")
    choose_delimiter(dialog, ",")
    line_field(dialog, "decimal_comma").setChecked(True)
    assert "comma" in dialog.problem() and not dialog.ok_button.isEnabled()
    choose_delimiter(dialog, "\t")
    assert dialog.problem() == ""
    line_field(dialog, "time_column").setValue(line_field(dialog, "frequency_column").value())
    assert "same column" in dialog.problem()
    select_protocol(dialog, "sqm160")  # the line options do not matter for other instruments
    assert dialog.problem() == "" and dialog.spec().options == {}


# -- ports in the dialog ------------------------------------------------------------------------------


def test_a_hinted_port_is_chosen_first_with_its_protocol(fake_ports, make_dialog, with_line: DriverInfo) -> None:
    fake_ports.extend([comport("/dev/ttyS0"), comport("/dev/ttyUSB3", 0x10C4, 0xEA60, "CP2102 USB to UART")])
    dialog = make_dialog()
    assert dialog.port() == "/dev/ttyUSB3"
    assert dialog.protocol() == "sqm160"
    assert "INFICON SQM-160 USB (CP210x)" in dialog.port_hint_label.text()
    popup_text = dialog.port_combo.itemData(1, Qt.ItemDataRole.UserRole + 1)
    assert "CP2102 USB to UART" in popup_text and "SQM-160" in popup_text


def test_picking_a_hinted_port_selects_its_protocol(qtbot, fake_ports, make_dialog, with_line: DriverInfo) -> None:
    fake_ports.extend([comport("/dev/ttyS0"), comport("/dev/ttyUSB0", 0x10C4, 0xEA60)])
    dialog = make_dialog()
    dialog.port_combo.setCurrentIndex(0)
    select_protocol(dialog, "line")
    qtbot.keyClick(dialog.port_combo, Qt.Key.Key_Down)  # the user moves to the CP210x port
    assert dialog.port() == "/dev/ttyUSB0"
    assert dialog.protocol() == "sqm160"


def test_refresh_finds_new_ports_and_keeps_the_typed_one(qtbot, fake_ports, make_dialog) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "socket://lab-pc:4001")
    assert "TCP" in dialog.port_hint_label.text()
    fake_ports.append(comport("/dev/ttyACM0", 0x2341, 0x8037, "Arduino Micro"))
    qtbot.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
    items = [dialog.port_combo.itemText(i) for i in range(dialog.port_combo.count())]
    assert items == ["/dev/ttyACM0", "socket://lab-pc:4001"]
    assert dialog.port() == "socket://lab-pc:4001"


# -- remembering the last choice ---------------------------------------------------------------------------


def test_the_last_choice_is_restored(qtbot, make_dialog, with_line: DriverInfo, isolated_settings: Path) -> None:
    first = make_dialog()
    type_port(qtbot, first, "/dev/pts/42")
    select_protocol(first, "line")
    select_baud(first, with_line.bauds[0])
    choose_delimiter(first, "\t")
    line_field(first, "frequency_column").setValue(4)
    line_field(first, "time_column").setValue(2)
    line_field(first, "decimal_comma").setChecked(True)
    chosen = first.spec()
    with qtbot.waitSignal(first.accepted, timeout=1000):
        qtbot.mouseClick(first.ok_button, Qt.MouseButton.LeftButton)

    # the settings went to this test's own folder (conftest's default format and path), not the user's
    settings_file = Path(connection_settings().fileName())
    assert settings_file.is_relative_to(isolated_settings / "qsettings") and settings_file.is_file()
    assert "[connection]" in settings_file.read_text()

    second = make_dialog()
    assert second.spec() == chosen
    assert second.port_combo.findText("/dev/pts/42") >= 0  # the hand-typed port is offered again

    select_protocol(second, "sqm160")
    select_baud(second, 9600)
    set_sensors(second, {2, 5})
    second.accept()
    third = make_dialog()
    assert third.spec() == ConnectionSpec(protocol="sqm160", port="/dev/pts/42", baud=9600, sensors=(2, 5))
    select_protocol(third, "line")  # the line options were kept while another protocol was in use
    assert third.spec().options == chosen.options


def test_cancel_forgets_the_choice(qtbot, make_dialog) -> None:
    first = make_dialog()
    type_port(qtbot, first, "/dev/pts/42")
    first.reject()
    assert make_dialog().port() == ""


def test_odd_saved_settings_fall_back_to_defaults(make_dialog) -> None:
    settings = connection_settings()
    settings.beginGroup("connection")
    for key, value in (
        ("port", "/dev/pts/1"),
        ("protocol", "no-such-instrument"),
        ("baud", "fast"),
        ("sensors", "x,,99"),
        ("frequency_column", ""),
    ):
        settings.setValue(key, value)
    settings.endGroup()
    settings.sync()
    dialog = make_dialog()
    first = registry.available_protocols()[0]
    info = registry.driver_class(first).info
    assert dialog.spec() == ConnectionSpec(protocol=first, port="/dev/pts/1", baud=info.default_baud, sensors=(1,))


# -- testing the connection --------------------------------------------------------------------------


@pytest.fixture
def sqm160_pty() -> Iterator[PtyServer]:
    srv = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    yield srv
    srv.stop()


def test_connection_test_shows_the_firmware(qtbot, make_dialog, sqm160_pty: PtyServer) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, sqm160_pty.port)
    select_protocol(dialog, "sqm160")
    with qtbot.waitSignal(dialog.connection_tested, timeout=5000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        assert not dialog.test_button.isEnabled()  # one test at a time
    qtbot.waitUntil(lambda: "MON Ver" in dialog.test_result_text(), timeout=5000)
    assert blocker.args == [True, FIRMWARE]
    assert dialog.test_button.isEnabled()
    assert sqm160_pty.requests_seen >= 1


def test_connection_test_on_a_missing_port_shows_one_line(qtbot, make_dialog, tmp_path: Path) -> None:
    dialog = make_dialog()
    missing = str(tmp_path / "no-such-port")
    type_port(qtbot, dialog, missing)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_result_text().startswith("Failed:"), timeout=5000)
    text = dialog.test_result_text()
    assert "cannot open" in text and missing in text
    assert "\n" not in text
    assert dialog.test_button.isEnabled() and dialog.ok_button.isEnabled()


def test_a_silent_port_is_reported_as_no_answer(qtbot, make_dialog) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "loop://")  # opens fine, echoes the command back instead of answering
    with qtbot.waitSignal(dialog.connection_tested, timeout=5000) as blocker:
        dialog.test_button.click()
    ok, text = blocker.args
    assert not ok and "did not answer" in text and "\n" not in text


def test_a_result_for_an_older_choice_is_dropped(qtbot, make_dialog, sqm160_pty: PtyServer) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, sqm160_pty.port)
    select_protocol(dialog, "sqm160")
    received: list[tuple[bool, str]] = []
    dialog.connection_tested.connect(lambda ok, text: received.append((ok, text)))
    dialog.test_button.click()
    select_baud(dialog, 9600)  # before the result can arrive: the GUI thread has not run its event loop
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=5000)
    assert received == []
    assert dialog.test_result_text() == ""  # "Testing…" went with the change
    dialog.test_button.click()  # a new test for the current choice is reported
    qtbot.waitUntil(lambda: dialog.test_result_text().startswith("Answered"), timeout=5000)


# -- fields generated from a protocol's declaration --------------------------------------------------------


def test_a_declared_protocol_appears_with_its_fields_and_limits(qtbot, make_dialog, made_up_protocol: str) -> None:
    from PySide6 import QtWidgets

    dialog = make_dialog()
    assert dialog.protocol_combo.findData(made_up_protocol) >= 0
    assert (
        dialog.protocol_combo.itemText(dialog.protocol_combo.findData(made_up_protocol)) == "Made-up meter (tests only)"
    )
    type_port(qtbot, dialog, "/dev/pts/7")
    select_protocol(dialog, made_up_protocol)
    panel = dialog.option_panels[made_up_protocol]
    assert not panel.isHidden() and dialog.option_panels["line"].isHidden()
    assert panel.title() == "Made-up meter settings"
    assert combo_data(dialog.baud_combo) == [2400, 4800] and len(dialog._sensor_boxes) == 2

    rate = panel.field("rate_hz")
    assert isinstance(rate, QtWidgets.QSpinBox)
    assert (rate.minimum(), rate.maximum(), rate.value(), rate.suffix()) == (1, 500, 10, " Hz")
    assert rate.toolTip() == "samples per second"
    gain = panel.field("gain")
    assert isinstance(gain, QtWidgets.QDoubleSpinBox)
    assert (gain.minimum(), gain.maximum(), gain.value(), gain.decimals()) == (0.5, 4.0, 1.0, 2)
    mode = panel.field("mode")
    assert isinstance(mode, QtWidgets.QComboBox)
    assert [mode.itemText(i) for i in range(mode.count())] == ["Fast", "Slow"]
    assert isinstance(panel.field("tag"), QtWidgets.QLineEdit)
    assert isinstance(panel.field("averaging"), QtWidgets.QCheckBox)
    channel = panel.field("channel")
    assert (channel.minimum(), channel.maximum(), channel.text()) == (0, 8, "all channels")  # shown from 1

    assert dialog.spec().options == {
        "rate_hz": 10,
        "mode": "fast",
        "gain": 1.0,
        "tag": "",
        "averaging": False,
        "channel": None,
    }
    rate.setValue(9999)  # the spin box holds the declared limit
    assert rate.value() == 500
    qtbot.keyClicks(panel.field("tag"), "run 7")
    panel.field("averaging").setChecked(True)
    channel.setValue(3)
    gain.setValue(2.5)
    assert dialog.spec().options == {
        "rate_hz": 500,
        "mode": "fast",
        "gain": 2.5,
        "tag": "run 7",
        "averaging": True,
        "channel": 2,
    }
    mode.setCurrentIndex(mode.findData("slow"))  # the declaration's conflict rule is the dialog's problem
    assert dialog.problem() == "A slow mode cannot sample faster than 100 Hz." and not dialog.ok_button.isEnabled()
    rate.setValue(50)
    assert dialog.problem() == ""

    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert make_dialog().spec().options == {
        "rate_hz": 50,
        "mode": "slow",
        "gain": 2.5,
        "tag": "run 7",
        "averaging": True,
        "channel": 2,
    }


def test_options_reach_the_driver(qtbot, make_dialog, made_up_protocol: str) -> None:
    dialog = make_dialog()
    type_port(qtbot, dialog, "loop://")
    select_protocol(dialog, made_up_protocol)
    dialog.option_panels[made_up_protocol].field("rate_hz").setValue(42)
    driver = dialog.spec().open()
    try:
        assert driver.options["rate_hz"] == 42 and driver.options["channel"] is None
    finally:
        driver.close()


def test_unreadable_saved_options_keep_the_defaults(make_dialog, made_up_protocol: str) -> None:
    settings = connection_settings()
    settings.beginGroup("connection")
    for key, value in (
        ("protocol", made_up_protocol),
        ("port", "/dev/pts/1"),
        ("options/madeup/rate_hz", "9999"),
        ("options/madeup/mode", "turbo"),
        ("options/madeup/gain", "3.25"),
    ):
        settings.setValue(key, value)
    settings.endGroup()
    settings.sync()
    options = make_dialog().spec().options
    assert (options["rate_hz"], options["mode"], options["gain"]) == (10, "fast", 3.25)
