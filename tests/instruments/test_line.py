"""Generic line-based monitor: dialect tables, error messages, fuzzing, and the emulator over a pty."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.base import InstrumentError, ProtocolError, ReplyTimeout, ValueUnavailable
from instruments.emulators.base import ConstantSource
from instruments.emulators.line import LineEmulator
from instruments.line import LineMonitor
from instruments.transport import MemoryTransport
from tests.support.pty import pty_pair

# (bytes on the wire, driver options, frequency Hz, instrument time s or None)
LINES = [
    (b"12.5\t5975830.25\t25.10\n", {}, 5_975_830.25, None),
    (b"12.5\t5975830.25\t25.10\r\n", {"time_column": 0}, 5_975_830.25, 12.5),
    (b"12.5,5975830.25\n", {"time_column": 0}, 5_975_830.25, 12.5),
    (b"12.5;5975830.25;25.1\n", {}, 5_975_830.25, None),
    (b"   12.5   5975830.25  25.1  \n", {"time_column": 0}, 5_975_830.25, 12.5),
    (b"5975830.25\n", {}, 5_975_830.25, None),
    (b"12,5;5975830,25;25,1\r\n", {"decimal_comma": True, "time_column": 0}, 5_975_830.25, 12.5),
    (b"12,5\t5975830,25\n", {"decimal_comma": True}, 5_975_830.25, None),
    (b"12,5 5975830,25\n", {"decimal_comma": True, "time_column": 0}, 5_975_830.25, 12.5),
    (b"01:02:03.5\t5975830.25\n", {"time_column": 0}, 5_975_830.25, 3723.5),
    (b"25.1\t12.5\t5975830.25\n", {"frequency_column": 2, "time_column": 1}, 5_975_830.25, 12.5),
    (b"12.5\t5975830.25\r", {"terminator": b"\r"}, 5_975_830.25, None),  # CR-only devices
    (b"12.5 5975830.25\n", {"delimiter": " ", "time_column": 0}, 5_975_830.25, 12.5),
    (b"12.5\t5.97583025e6\n", {"delimiter": "\t"}, 5_975_830.25, None),
]


@pytest.mark.parametrize(("wire", "options", "frequency", "instrument_time"), LINES)
def test_dialects_are_parsed(wire: bytes, options: dict, frequency: float, instrument_time: float | None) -> None:
    t = MemoryTransport(wire)
    reading = LineMonitor(t, **options).read()
    assert reading.sensors[0].frequency_hz == pytest.approx(frequency)
    if instrument_time is None:
        assert math.isnan(reading.instrument_time_s)
    else:
        assert reading.instrument_time_s == pytest.approx(instrument_time)
    assert t.written == b""


def test_a_line_with_an_unknown_separator_is_one_field() -> None:
    with pytest.raises(ProtocolError, match=r"frequency column 0: not a number: '12\.5\|5975830\.25'"):
        LineMonitor(MemoryTransport(b"12.5|5975830.25\n")).read()


def test_temperature_column_is_kept() -> None:
    drv = LineMonitor(MemoryTransport(b"12.5\t5975830.25\t25.10\n12.6\t5975830.20\tnan\n"), temperature_column=2)
    drv.read()
    assert drv.last_temperature_c == 25.1
    drv.read()
    assert math.isnan(drv.last_temperature_c)


def test_blank_lines_are_skipped() -> None:
    drv = LineMonitor(MemoryTransport(b"\n\r\n  \n1.0\t5975830\n"))
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0


@pytest.mark.parametrize(
    ("wire", "options", "message"),
    [
        (b"12.5\tabc\n", {}, "frequency column 1: not a number: 'abc'"),
        (b"12.5\t5975830,25\n", {}, r"decimal comma\? set decimal_comma=True"),
        (b"12.5\t5975830.25\n", {"frequency_column": 3}, "2 field.*no frequency column 3"),
        (b"5975830.25\n", {"time_column": 1}, "1 field.*no time column 1"),
        (b"noon\t5975830.25\n", {"time_column": 0}, "time column 0: not a number: 'noon'"),
        (b"time\tfrequency\ttemperature\n", {}, "frequency column 1: not a number: 'frequency'"),
        (b"12.5\tinf\n", {}, "frequency column 1: not a finite number"),
        (b"12.5\t59758\x0030.25\n", {}, "control bytes"),
    ],
)
def test_malformed_lines_say_what_is_wrong(wire: bytes, options: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        LineMonitor(MemoryTransport(wire), **options).read()


@pytest.mark.parametrize(
    "wire", [b"12.5\tnan\n", b"12.5\t\t25.1\n", b"12.5\t--------\n", b"12.5\t0\n", b"12.5;NaN;25,1\n", b"12.5\t-3\n"]
)
def test_missing_frequency_is_value_unavailable(wire: bytes) -> None:
    with pytest.raises(ValueUnavailable, match="no frequency"):
        LineMonitor(MemoryTransport(wire)).read()


def test_runaway_line_is_a_protocol_error_and_the_next_line_reads() -> None:
    drv = LineMonitor(MemoryTransport(b"9" * 300 + b"\n1.0\t5975830\n"))
    with pytest.raises(ProtocolError, match="longer than 256 bytes"):
        drv.read()
    assert drv.read().sensors[0].frequency_hz == 5_975_830.0


def test_identify_passes_over_the_header_and_describes_the_layout() -> None:
    t = MemoryTransport(b"time (s)\tfrequency (Hz)\tT (C)\n0.100\t5975830.250\t24.80\n")
    assert LineMonitor(t).identify() == ("line monitor: 3 tab-separated field(s), frequency in column 1, 5975830.25 Hz")
    assert t.written == b""


def test_identify_accepts_a_line_without_frequency() -> None:
    drv = LineMonitor(MemoryTransport(b"0.1;nan\n"))
    assert drv.identify() == "line monitor: 2 semicolon-separated field(s), frequency in column 1, no frequency yet"


def test_identify_gives_up_on_garbage() -> None:
    with pytest.raises(ProtocolError, match="no valid line"):
        LineMonitor(MemoryTransport(b"a\tb\n" * 10)).identify()


def test_silence_is_a_timeout() -> None:
    with pytest.raises(ReplyTimeout):
        LineMonitor(MemoryTransport(b"1.0\t5975")).read()


@pytest.mark.parametrize(
    "options",
    [
        {"decimal_comma": True, "delimiter": ","},
        {"delimiter": "|"},
        {"terminator": b"\r\n"},
        {"frequency_column": -1},
        {"time_column": -2},
        {"max_gap_s": 0},
        {"sensors": (2,)},
    ],
)
def test_bad_configuration_is_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        LineMonitor(MemoryTransport(), **options)


# -- emulator --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dialect",
    [
        {},
        {"delimiter": ";", "decimal_comma": True, "line_ending": "\r\n"},
        {"delimiter": ",", "with_temperature": False},
        {"delimiter": " ", "decimal_comma": True, "line_ending": "\r\n"},
    ],
)
def test_emulator_dialects_are_read_by_the_driver(dialect: dict) -> None:
    emu = LineEmulator(ConstantSource(5_975_830.23), **dialect)
    drv = LineMonitor(
        MemoryTransport(emu.stream_frame() or b""), decimal_comma=dialect.get("decimal_comma", False), time_column=0
    )
    reading = drv.read()
    assert reading.sensors[0].frequency_hz == pytest.approx(5_975_830.23)
    assert 0 <= reading.instrument_time_s < 5


def test_emulator_line_is_byte_exact() -> None:
    emu = LineEmulator(
        ConstantSource(5_975_830.23), delimiter=";", decimal_comma=True, line_ending="\r\n", with_temperature=False
    )
    frame = emu.stream_frame() or b""
    time_text = frame.split(b";")[0]
    assert frame == time_text + b";5975830,230\r\n" and b"," in time_text


@pytest.mark.parametrize("seed", range(20))
def test_corrupted_lines_keep_their_framing_but_fail(seed: int) -> None:
    emu = LineEmulator(ConstantSource(), seed=seed)
    frame = emu.stream_frame() or b""
    bad = emu.corrupt(frame)
    assert bad.endswith(b"\n") and bad.count(b"\t") == frame.count(b"\t") and bad != frame
    with pytest.raises(ProtocolError, match="frequency column 1"):
        LineMonitor(MemoryTransport(bad)).read()


@pytest.mark.parametrize("seed", range(10))
def test_empty_replies_have_no_frequency(seed: int) -> None:
    emu = LineEmulator(ConstantSource(), seed=seed)
    with pytest.raises(ValueUnavailable):
        LineMonitor(MemoryTransport(emu.empty_reply(emu.stream_frame() or b""))).read()


def test_emulator_refuses_contradictory_options() -> None:
    with pytest.raises(ValueError):
        LineEmulator(ConstantSource(), delimiter=",", decimal_comma=True)


# -- fuzzing ---------------------------------------------------------------------------------------

OPTION_SETS = [
    {},
    {"time_column": 0, "temperature_column": 2},
    {"decimal_comma": True},
    {"delimiter": ","},
    {"delimiter": "whitespace", "frequency_column": 0},
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(OPTION_SETS))
def test_fuzzed_lines_only_raise_driver_errors(data: bytes, options: dict) -> None:
    drv = LineMonitor(MemoryTransport(), **options)
    try:
        frequency, _ = drv.parse_line(data)
        assert frequency > 0
    except (ProtocolError, ValueUnavailable):
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"1.5", b"\t", b",", b";", b" ", b"\n", b"\r", b"nan", b"-", b"5975830", b":", b"\xff", b"e9"]
        ),
        max_size=40,
    ).map(b"".join)
    | st.binary(max_size=300),
    st.sampled_from(OPTION_SETS),
)
def test_fuzzed_stream_only_raises_driver_errors(data: bytes, options: dict) -> None:
    drv = LineMonitor(MemoryTransport(data), **options)
    for _ in range(4):
        try:
            drv.read()
        except InstrumentError:
            pass
    try:
        LineMonitor(MemoryTransport(data), **options).identify()
    except InstrumentError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_input_never_breaks_the_emulator(data: bytes) -> None:
    emu = LineEmulator(ConstantSource())
    assert emu.handle(data) == []
    assert (emu.stream_frame() or b"").endswith(b"\n")


# -- emulator and driver over a real pty -----------------------------------------------------------

PERIOD_S = 0.02


def test_emulator_and_driver_over_a_real_pty() -> None:
    emulator = LineEmulator(
        ConstantSource(), measurement_period_s=PERIOD_S, delimiter=";", decimal_comma=True, line_ending="\r\n"
    )
    with pty_pair(
        emulator, LineMonitor, timeout_s=0.2, decimal_comma=True, time_column=0, temperature_column=2, max_gap_s=0.3
    ) as (_, drv):
        assert drv.identify().startswith("line monitor: 3 semicolon-separated field(s), frequency in column 1")
        drv.start()
        stamps = [drv.read().instrument_time_s for _ in range(5)]
        assert stamps == sorted(stamps) and stamps[-1] > stamps[0]
        assert drv.last_temperature_c == pytest.approx(24.8, abs=0.2)
        drv.stop()
