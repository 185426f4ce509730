"""openQCM v1 driver: record tables, resync, fuzzing, and the emulator over a pty."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.base import InstrumentError, ProtocolError, ReplyTimeout, ValueUnavailable
from instruments.emulators.base import ConstantSource
from instruments.emulators.openqcm import OpenQcmEmulator
from instruments.openqcm import OpenQcm, Record, encode_record, parse_record, parse_serial_number
from instruments.transport import MemoryTransport
from tests.support.pty import pty_pair, read_some

# (bytes on the wire, frequency Hz, temperature °C)
RECORDS = [
    (b"RAWMONITOR5975830_253\xff", 5_975_830.0, 25.3),
    (b"RAWMONITOR10000123_-45\xff", 10_000_123.0, -4.5),
    (b"RAWMONITOR1_0\xff", 1.0, 0.0),
    (b"\x00\x13 junk RAWMONITOR5975831_251\xff", 5_975_831.0, 25.1),  # garbage before the header: resync
    (b"RAWMONITORRAWMONITOR5975832_250\xff", 5_975_832.0, 25.0),  # a header cut short by a reset
]


@pytest.mark.parametrize(("wire", "frequency", "temperature"), RECORDS)
def test_records_are_parsed(wire: bytes, frequency: float, temperature: float) -> None:
    t = MemoryTransport(wire)
    drv = OpenQcm(t)
    reading = drv.read()
    assert reading.sensors[0].frequency_hz == frequency
    assert drv.last_temperature_c == temperature
    assert math.isnan(reading.instrument_time_s)
    assert t.written == b""  # the board is only listened to


def test_encode_record_matches_the_firmware_format() -> None:
    assert encode_record(5_975_830.23, 25.31) == b"RAWMONITOR5975830_253\xff"
    assert encode_record(9_999_999.6, -0.44) == b"RAWMONITOR10000000_-4\xff"


@pytest.mark.parametrize(
    "wire",
    [
        b"RAWMONITOR59x5830_253\xff",
        b"RAWMONITOR5975830\xff",
        b"RAWMONITOR5975830_\xff",
        b"RAWMONITOR_253\xff",
        b"RAWMONITOR5975830_253_1\xff",
        b"RAWMON5975830_253\xff",
        b"5975830\t25.3\xff",
    ],
)
def test_malformed_records_are_protocol_errors(wire: bytes) -> None:
    with pytest.raises(ProtocolError):
        OpenQcm(MemoryTransport(wire)).read()


def test_garbage_record_then_recovery() -> None:
    drv = OpenQcm(MemoryTransport(b"\x01\x02garbage\xffRAWMONITOR5975830_253\xff"))
    with pytest.raises(ProtocolError, match="no RAWMONITOR"):
        drv.read()
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0


def test_runaway_record_is_a_protocol_error_and_skipped() -> None:
    drv = OpenQcm(MemoryTransport(b"RAWMONITOR" + b"7" * 100 + b"\xffRAWMONITOR5975830_253\xff"))
    with pytest.raises(ProtocolError, match="longer than 64 bytes"):
        drv.read()
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0


def test_zero_count_is_value_unavailable_but_temperature_is_kept() -> None:
    drv = OpenQcm(MemoryTransport(b"RAWMONITOR0_250\xff"))
    with pytest.raises(ValueUnavailable, match="not oscillating"):
        drv.read()
    assert drv.last_temperature_c == 25.0


def test_serial_number_replies_and_stray_terminators_are_passed_over() -> None:
    drv = OpenQcm(MemoryTransport(b"\xffSERIALNUMBER1042\xff\xffRAWMONITOR5975830_253\xff"))
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0
    assert drv.serial_number == "1042"


def test_identify_waits_for_a_valid_record_and_describes_it() -> None:
    t = MemoryTransport(b"noise\xffSERIALNUMBER77\xffRAWMONITOR5975830_253\xff")
    assert OpenQcm(t).identify() == "openQCM v1 at 5975830 Hz, 25.3 °C, serial 77"
    assert t.written == b""


def test_identify_without_crystal_still_proves_the_link() -> None:
    assert (
        OpenQcm(MemoryTransport(b"RAWMONITOR0_241\xff")).identify() == "openQCM v1 (crystal not oscillating), 24.1 °C"
    )


def test_silence_is_a_timeout() -> None:
    drv = OpenQcm(MemoryTransport())
    with pytest.raises(ReplyTimeout):
        drv.read()
    with pytest.raises(ReplyTimeout):
        drv.identify()


@pytest.mark.parametrize("options", [{"sensors": (2,)}, {"sensors": (1, 2)}, {"gate_s": 0.0}])
def test_bad_configuration_is_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        OpenQcm(MemoryTransport(), **options)


# -- emulator --------------------------------------------------------------------------------------


def test_emulator_streams_records_the_driver_reads() -> None:
    emu = OpenQcmEmulator(ConstantSource(5_975_830.23))
    assert emu.stream_period_s == 1.0  # the real gate unless told otherwise
    drv = OpenQcm(MemoryTransport(emu.stream_frame() or b""))
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0
    assert drv.last_temperature_c == pytest.approx(25.3, abs=0.3)


@pytest.mark.parametrize(
    ("request_bytes", "replies"),
    [
        (b"1", [b"SERIALNUMBER1042\xff"]),
        (b"1\r\n", [b"SERIALNUMBER1042\xff"]),
        (b"001", [b"SERIALNUMBER1042\xff"]),
        (b"12", []),
        (b"-1", []),
        (b"hello", []),
    ],
)
def test_emulator_answers_the_serial_number_request_only(request_bytes: bytes, replies: list[bytes]) -> None:
    assert OpenQcmEmulator(ConstantSource()).handle(request_bytes) == replies


@pytest.mark.parametrize("seed", range(20))
def test_corrupted_records_keep_their_framing_but_fail(seed: int) -> None:
    emu = OpenQcmEmulator(ConstantSource(), seed=seed)
    frame = emu.stream_frame() or b""
    bad = emu.corrupt(frame)
    assert bad.startswith(b"RAWMONITOR") and bad.endswith(b"\xff") and bad.count(b"\xff") == 1
    with pytest.raises(ProtocolError):
        OpenQcm(MemoryTransport(bad)).read()


def test_empty_reply_is_a_zero_count() -> None:
    emu = OpenQcmEmulator(ConstantSource())
    empty = emu.empty_reply(emu.stream_frame() or b"")
    assert empty.startswith(b"RAWMONITOR0_")
    with pytest.raises(ValueUnavailable):
        OpenQcm(MemoryTransport(empty)).read()


# -- fuzzing ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_fuzzed_record_parsers_only_raise_protocol_errors(data: bytes) -> None:
    try:
        record = parse_record(data)
        assert isinstance(record, Record) and record.frequency_hz >= 0
    except ProtocolError:
        pass
    try:
        serial = parse_serial_number(data)
        assert serial is None or serial.isdigit()
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_stream_only_raises_driver_errors(data: bytes) -> None:
    drv = OpenQcm(MemoryTransport(data))
    for _ in range(4):
        try:
            drv.read()
        except InstrumentError:
            pass
    try:
        OpenQcm(MemoryTransport(data)).identify()
    except InstrumentError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_input_never_breaks_the_emulator(data: bytes) -> None:
    emu = OpenQcmEmulator(ConstantSource())
    for reply in emu.handle(data):
        assert reply == b"SERIALNUMBER1042\xff"
    assert (emu.stream_frame() or b"").startswith(b"RAWMONITOR")


# -- emulator and driver over a real pty -----------------------------------------------------------

GATE_S = 0.05


def test_emulator_and_driver_over_a_real_pty() -> None:
    with pty_pair(OpenQcmEmulator(ConstantSource(), measurement_period_s=GATE_S), OpenQcm, gate_s=GATE_S) as (_, drv):
        assert drv.identify().startswith("openQCM v1 at 5975830 Hz")
        drv.start()
        assert read_some(drv, 5, 5_975_830.0) == (5, [])
        assert drv.last_temperature_c == pytest.approx(25.3, abs=0.3)
        drv.stop()


def test_a_slow_gate_is_waited_for_beyond_the_transport_timeout() -> None:
    # a 0.4 s gate read through a 0.15 s transport timeout: records are awaited, not torn apart
    with pty_pair(OpenQcmEmulator(ConstantSource(), measurement_period_s=0.4), OpenQcm, timeout_s=0.15, gate_s=0.4) as (
        _,
        drv,
    ):
        assert read_some(drv, 3, 5_975_830.0) == (3, [])
