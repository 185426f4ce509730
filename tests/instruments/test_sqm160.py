"""SQM-160 driver: the manual's CRC vectors, byte tables, fuzzing, and the emulator over a pty."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.base import CommandRejected, InstrumentError, ProtocolError, ReplyTimeout
from instruments.emulators.base import ConstantSource
from instruments.emulators.sqm160 import Sqc310Emulator, Sqm160Emulator
from instruments.sqm160 import (
    FilmParameters,
    Sqc310,
    Sqm160,
    SystemParameters,
    crc14,
    encode_command,
    encode_reply,
)
from instruments.transport import MemoryTransport
from tests.instruments.protocol import expected_protocol
from tests.support.pty import pty_pair

# (message, frame) pairs printed in the manual
MANUAL_COMMANDS = [
    (b"@", b"!#@O7"),
    (b"J", b"!#JO8"),
    (b"P1", b"!$P1Z\x91"),
    (b"L1?", b"!%L1?\x85{"),
    (b"M", b"!#M\x8e\x8a"),
]
MANUAL_REPLIES = [
    ("A", b"MON Ver 4.13", b"!0AMON Ver 4.13Uw"),
    ("A", b"5875830.230", b"!/A5875830.230:X"),
]


@pytest.mark.parametrize(("message", "frame"), MANUAL_COMMANDS)
def test_command_frames_match_the_manual(message: bytes, frame: bytes) -> None:
    assert encode_command(message) == frame


@pytest.mark.parametrize(("status", "data", "frame"), MANUAL_REPLIES)
def test_reply_frames_match_the_manual(status: str, data: bytes, frame: bytes) -> None:
    assert encode_reply(status, data) == frame


def test_crc_covers_the_length_character() -> None:
    # the manual's prose says the length is excluded; its examples only work if it is included
    assert bytes(crc14(b"#@")) == b"O7"
    assert bytes(crc14(b"@")) != b"O7"


def _driver(pairs: list[tuple[bytes, bytes]]) -> tuple[Sqm160, MemoryTransport]:
    t = MemoryTransport(exchanges=pairs)
    return Sqm160(t), t


# every command the driver sends, with a reply and the value it must parse to
TABLE = [
    ("identify", (), b"!#@O7", encode_reply("A", b"MON Ver 4.13"), "MON Ver 4.13"),
    ("channel_count", (), b"!#JO8", encode_reply("A", b"2"), 2),
    ("frequency_hz", (1,), b"!$P1Z\x91", b"!/A5875830.230:X", 5875830.23),
    ("rate_a_per_s", (1,), encode_command(b"L1"), encode_reply("A", b" 1.25"), 1.25),
    ("thickness_kang", (2,), encode_command(b"N2"), encode_reply("A", b"0.512"), 0.512),
    ("life_pct", (1,), encode_command(b"R1"), encode_reply("A", b"87.50"), 87.5),
    ("average_rate_a_per_s", (), b"!#M\x8e\x8a", encode_reply("A", b"0.75"), 0.75),
    ("average_thickness_kang", (), encode_command(b"O"), encode_reply("A", b"1.000"), 1.0),
    ("shutter_open", (), encode_command(b"U?"), encode_reply("A", b"1"), True),
    (
        "frequency_limits_hz",
        (),
        encode_command(b"C?"),
        encode_reply("A", b"5.000 6.000 0.00 100.00 0.000 1000.000 0"),
        (5e6, 6e6),
    ),
    ("power_up_flag", (), encode_command(b"Y"), encode_reply("A", b"1"), True),
]


@pytest.mark.parametrize(("method", "args", "request_bytes", "reply", "expected"), TABLE)
def test_byte_table(method: str, args: tuple, request_bytes: bytes, reply: bytes, expected: object) -> None:
    with expected_protocol(Sqm160, [(request_bytes, reply)]) as drv:
        assert getattr(drv, method)(*args) == expected


def test_set_commands_send_exact_bytes() -> None:
    ok = encode_reply("A", b"")
    drv, t = _driver([(encode_command(b"S"), ok), (encode_command(b"U1"), ok), (encode_command(b"D3"), ok)])
    drv.zero()
    drv.set_shutter(True)
    drv.select_film(3)
    assert bytes(t.written) == encode_command(b"S") + encode_command(b"U1") + encode_command(b"D3")


W_REPLY = b"00.00 1.50 0.123 5975830.230 2.25 0.456 5974830.230" + b" -1 -1 -1" * 4


def test_all_sensors_reading_skips_the_dummy_field_and_reads_six_triples() -> None:
    # issue 11, mismatch 1: real units send a leading "00.00", then 6 rate/thickness/frequency triples
    with expected_protocol(Sqm160, [(encode_command(b"W"), encode_reply("A", W_REPLY))], sensors=(1, 2, 3)) as drv:
        reading = drv.read()
    assert reading.sensors[0].rate_a_per_s == pytest.approx(1.5)  # sensor 1's rate is not lost
    assert reading.sensors[0].thickness_kang == pytest.approx(0.123)
    assert reading.sensors[0].frequency_hz == pytest.approx(5975830.23)
    assert reading.sensors[1].rate_a_per_s == pytest.approx(2.25)
    assert reading.sensors[1].frequency_hz == pytest.approx(5974830.23)
    assert math.isnan(reading.sensors[2].frequency_hz)  # an empty position


def test_all_sensors_reply_without_the_dummy_field_is_rejected() -> None:
    with (
        expected_protocol(
            Sqm160, [(encode_command(b"W"), encode_reply("A", b"1.50 0.123 5975830.230 -1 -1 -1"))]
        ) as drv,
        pytest.raises(ProtocolError, match="leading field"),
    ):
        drv.read()


def test_film_parameters_read_the_fixed_name_field() -> None:
    # issue 11, mismatch 3: "LIGL" padded to its 8 characters, then 7 fields
    reply = encode_reply("A", b"LIGL     1.27 100 1.000 0.500 0.000 0 1")
    with expected_protocol(Sqm160, [(encode_command(b"A1?"), reply)]) as drv:
        film = drv.film_parameters(1)
    assert film == FilmParameters(
        name="LIGL",
        density_g_cm3=1.27,
        tooling_pct=100.0,
        z_ratio=1.0,
        final_thickness_kang=0.5,
        thickness_setpoint_kang=0.0,
        time_setpoint_s=0,
        sensor_mask=1,
    )


def test_film_name_with_a_space_and_no_gap_before_the_density() -> None:
    reply = encode_reply("A", b"AL OXIDE3.50 85 0.900 1.000 0.800 120 3")
    with expected_protocol(Sqm160, [(encode_command(b"A2?"), reply)]) as drv:
        film = drv.film_parameters(2)
    assert (film.name, film.density_g_cm3, film.tooling_pct, film.time_setpoint_s, film.sensor_mask) == (
        "AL OXIDE",
        3.5,
        85.0,
        120,
        3,
    )


def test_system_parameters_have_eleven_fields() -> None:
    # issue 11, mismatch 4: time base, simulate, display mode, rate resolution, rate filter, tooling × 6
    reply = encode_reply("A", b"0.25 0 2 1 8 100 95 100 100 100 110")
    with expected_protocol(Sqm160, [(encode_command(b"B?"), reply)]) as drv:
        system = drv.system_parameters()
    assert system == SystemParameters(
        time_base_s=0.25,
        simulate=False,
        display_mode=2,
        high_rate_resolution=True,
        rate_filter=8,
        crystal_tooling_pct=(100, 95, 100, 100, 100, 110),
    )


def test_system_limits_have_seven_fields_in_mhz() -> None:
    # issue 11, mismatch 5: min/max frequency (MHz), min/max rate, min/max thickness, etch mode
    reply = encode_reply("A", b"4.500 6.100 0.00 99.00 0.000 500.000 1")
    with expected_protocol(Sqm160, [(encode_command(b"C?"), reply)]) as drv:
        limits = drv.system_limits()
    assert (limits.min_frequency_hz, limits.max_frequency_hz) == pytest.approx((4.5e6, 6.1e6))
    assert (limits.max_rate_a_per_s, limits.max_thickness_kang, limits.etch_mode) == (99.0, 500.0, True)


@pytest.mark.parametrize(
    ("command", "data"), [(b"B?", b"0.25 0 5000000 6000000 0.00 100.00 0.000 1000.000 0"), (b"C?", b"0 1 0 0")]
)
def test_old_system_layouts_are_protocol_errors(command: bytes, data: bytes) -> None:
    method = "system_parameters" if command == b"B?" else "system_limits"
    with (
        expected_protocol(Sqm160, [(encode_command(command), encode_reply("A", data))]) as drv,
        pytest.raises(ProtocolError, match="fields"),
    ):
        getattr(drv, method)()


# PyMeasure's published SQM-160 test vectors (tests/instruments/inficon/test_sqm160.py), and what our
# driver must make of them: the same (request, reply) pairs, so a real unit's padded numbers parse
PYMEASURE_VECTORS = [
    ("identify", (), b"!#@O7", b"!0AMON Ver 4.13Uw", "MON Ver 4.13"),
    ("channel_count", (), b"!#JO8", b"!%A6v\x86", 6),
    ("average_rate_a_per_s", (), b"!#M\x8e\x8a", b"!*A 0.01 i?", 0.01),
    ("average_thickness_kang", (), b"!#O\x8f9", b"!+A 0.000 Jo", 0.0),
    ("frequency_hz", (1,), b"!$P1Z\x91", b"!/A5875830.230:X", 5875830.23),
]


@pytest.mark.parametrize(("method", "args", "sent", "answered", "expected"), PYMEASURE_VECTORS)
def test_pymeasure_vectors(method: str, args: tuple, sent: bytes, answered: bytes, expected: object) -> None:
    with expected_protocol(Sqm160, [(sent, answered)]) as drv:
        value = getattr(drv, method)(*args)
    assert value == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_pymeasure_rate_vector_is_a_valid_frame() -> None:
    # PyMeasure asks the rate as "L1?"; its vector's reply is padded: ' 0.00 '
    assert encode_command(b"L1?") == b"!%L1?\x85{"
    assert encode_reply("A", b" 0.00 ") == b"!*A 0.00 [d"


@pytest.mark.parametrize(("status", "text"), [("C", "invalid command"), ("D", "bad data"), ("E", "not allowed")])
def test_error_status_is_rejected_with_its_meaning(status: str, text: str) -> None:
    drv, _ = _driver([(encode_command(b"P9"), encode_reply(status, b""))])
    with pytest.raises(CommandRejected, match=text):
        drv.frequency_hz(9)


def test_reset_status_is_accepted_and_remembered() -> None:
    drv, _ = _driver([(encode_command(b"@"), encode_reply("B", b"MON Ver 4.13"))])
    assert drv.identify() == "MON Ver 4.13"
    assert drv.was_reset


def test_bad_crc_is_a_protocol_error() -> None:
    reply = bytearray(encode_reply("A", b"5875830.230"))
    reply[-1] ^= 0x01
    drv, _ = _driver([(encode_command(b"P1"), bytes(reply))])
    with pytest.raises(ProtocolError, match="CRC"):
        drv.frequency_hz(1)


def test_noise_before_the_sync_is_skipped() -> None:
    drv, _ = _driver([(encode_command(b"P1"), b"\x00\xffzz" + encode_reply("A", b"5875830.230"))])
    assert drv.frequency_hz(1) == pytest.approx(5875830.23)


def test_silence_is_a_timeout() -> None:
    drv, _ = _driver([])
    with pytest.raises(ReplyTimeout):
        drv.identify()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_replies_only_raise_driver_errors(data: bytes) -> None:
    t = MemoryTransport(exchanges=[(encode_command(b"W"), data)])
    drv = Sqm160(t)
    try:
        drv.read()
    except InstrumentError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_requests_never_break_the_emulator(data: bytes) -> None:
    emu = Sqm160Emulator(ConstantSource())
    for reply in emu.handle(data):
        assert reply.startswith(b"!")
    # and it still answers a proper request afterwards
    replies = emu.handle(encode_command(b"@"))
    assert replies and replies[-1].endswith(bytes(crc14(replies[-1][1:-2])))


def test_emulator_and_driver_over_a_real_pty() -> None:
    with pty_pair(Sqm160Emulator(ConstantSource(5_875_830.23, sensors=2)), Sqm160, timeout_s=0.4, sensors=(1, 2)) as (
        _server,
        drv,
    ):
        assert drv.identify() == "MON Ver 4.13"
        assert drv.channel_count() == 2
        assert drv.frequency_hz(1) == pytest.approx(5_875_830.23)
        assert drv.frequency_hz(2) == pytest.approx(5_874_830.23)
        assert 0 < drv.life_pct(1) <= 100
        reading = drv.read()
        assert [s.frequency_hz for s in reading.sensors] == pytest.approx([5_875_830.23, 5_874_830.23])
        drv.set_shutter(True)
        assert drv.shutter_open()
        with pytest.raises(CommandRejected):
            drv.frequency_hz(7)


# --- SQC-310: same framing, K2 all-sensor reading, four sensors -----------------------------------


def test_sqc310_sensor_readings_byte_table() -> None:
    reply = encode_reply("A", b"12.50 0.00 0.000 5950000.00 1.20 0.345 5949000.00 -1 -1 -1 -1 -1 -1")
    t = MemoryTransport(exchanges=[(encode_command(b"K2"), reply)])
    drv = Sqc310(t, sensors=(2, 1))
    r = drv.read()
    assert bytes(t.written) == b"!$K2" + bytes(crc14(b"$K2"))
    assert r.instrument_time_s == pytest.approx(12.5)
    assert [s.frequency_hz for s in r.sensors] == pytest.approx([5949000.0, 5950000.0])
    assert r.sensors[0].thickness_kang == pytest.approx(0.345)


def test_sqc310_manual_example_frames() -> None:
    # the SQC-310 manual prints !$K2 with CRC characters (157)(49) and !$P1 with (90)(145)
    assert encode_command(b"K2") == b"!$K2" + bytes([157, 49])
    assert encode_command(b"P1") == b"!$P1" + bytes([90, 145])


def test_sqc310_over_a_pty() -> None:
    with pty_pair(Sqc310Emulator(ConstantSource(5_950_000.0, sensors=2)), Sqc310, timeout_s=0.4, sensors=(1, 2, 3)) as (
        _,
        drv,
    ):
        assert drv.identify().startswith("SQC-310")
        r = drv.read()
        assert r.sensors[0].frequency_hz == pytest.approx(5_950_000.0)
        assert r.sensors[1].frequency_hz == pytest.approx(5_949_000.0)
        assert math.isnan(r.sensors[2].frequency_hz)  # an empty socket
        active, freq, life = drv.sensor_status(1)
        assert active and freq == pytest.approx(5_950_000.0) and 0 < life < 100


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_sqc310_fuzzed_replies_only_raise_driver_errors(data: bytes) -> None:
    t = MemoryTransport(exchanges=[(encode_command(b"K2"), data)])
    try:
        Sqc310(t).read()
    except InstrumentError:
        pass


# --- the emulator as third-party clients see it (issue 11) ------------------------------------------


class FilmSource:
    """A crystal with fixed values, so replies can be compared byte for byte with documented ones."""

    def __init__(
        self, frequency_hz: float, thickness_kang: float = 0.0, rate_a_per_s: float = 0.0, sensors: int = 1
    ) -> None:
        self.values = (frequency_hz, thickness_kang, rate_a_per_s)
        self.sensor_count = sensors

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        f, thick, rate = self.values
        return f - 1000.0 * sensor, thick, rate


def _data(reply: bytes) -> str:
    """Status and data of one reply, checked the way PyMeasure's read() checks it."""
    assert reply[:1] == b"!" and reply[1] - 35 == len(reply) - 4
    assert tuple(reply[-2:]) == crc14(reply[1:-2])
    return reply[2:-2].decode("ascii")


@pytest.mark.parametrize(
    ("values", "sent", "answered"),
    [
        ((5_875_830.23, 0.0, 0.0), b"!#@O7", b"!0AMON Ver 4.13Uw"),
        ((5_875_830.23, 0.0, 0.0), b"!%L1?\x85{", b"!*A 0.00 [d"),
        ((5_875_830.23, 0.0, 0.01), b"!#M\x8e\x8a", b"!*A 0.01 i?"),
        ((5_875_830.23, 0.0, 0.0), b"!#O\x8f9", b"!+A 0.000 Jo"),
        ((5_875_830.23, 0.0, 0.0), b"!$P1Z\x91", b"!/A5875830.230:X"),
    ],
)
def test_emulator_answers_pymeasure_vectors_byte_for_byte(values: tuple, sent: bytes, answered: bytes) -> None:
    # issue 11, mismatches 2 (first status A, not B) and 7 (padded numbers)
    emu = Sqm160Emulator(FilmSource(*values))
    assert emu.handle(sent) == [answered]


def test_six_channel_emulator_answers_pymeasure_channel_vector() -> None:
    emu = Sqm160Emulator(FilmSource(5_875_830.23))
    emu.channels = 6
    assert emu.handle(b"!#JO8") == [b"!%A6v\x86"]


def test_emulator_w_reply_has_the_dummy_field_and_six_triples() -> None:
    # issue 11, mismatch 1
    emu = Sqm160Emulator(FilmSource(5_975_832.76, thickness_kang=-0.003, rate_a_per_s=0.01))
    text = _data(emu.handle(encode_command(b"W"))[0])
    assert text[0] == "A"
    fields = text[1:].split()
    assert len(fields) == 19 and fields[0] == "00.00"
    # PyMeasure drops the first five characters: sensor 1's rate must survive that
    assert float(text[1:][5:].split()[0]) == pytest.approx(0.01)
    triples = [fields[i : i + 3] for i in range(1, 19, 3)]
    assert [float(v) for v in triples[0]] == pytest.approx([0.01, -0.003, 5_975_832.76])
    assert all(float(v) == -1 for t in triples[1:] for v in t)  # one active sensor of six positions


def test_emulator_film_name_fills_its_eight_character_field() -> None:
    # issue 11, mismatch 3: a client slicing 8 characters must get the name and then the density
    emu = Sqm160Emulator(FilmSource(5_975_830.0))
    text = _data(emu.handle(encode_command(b"A1?"))[0])[1:]
    assert text[:8] == "LIGL    "
    rest = text[8:].split()
    assert len(rest) == 7 and float(rest[0]) == pytest.approx(1.27) and rest[1] == "100"


def test_emulator_system_replies_have_the_clients_field_counts() -> None:
    # issue 11, mismatches 4 and 5
    emu = Sqm160Emulator(FilmSource(5_975_830.0))
    system1 = _data(emu.handle(encode_command(b"B?"))[0])[1:].split()
    system2 = _data(emu.handle(encode_command(b"C?"))[0])[1:].split()
    assert len(system1) == 11 and len(system2) == 7
    assert float(system2[0]) == pytest.approx(5.0) and float(system2[1]) == pytest.approx(6.0)  # MHz


def test_sqm160_reports_power_up_through_y_and_never_status_b() -> None:
    # issue 11, mismatch 2: PyMeasure and other SQM-160 clients raise on any status but A/C/D
    emu = Sqm160Emulator(FilmSource(5_975_830.0))
    statuses = [_data(emu.handle(encode_command(m))[0])[0] for m in (b"@", b"J", b"P1")]
    assert statuses == ["A", "A", "A"]
    assert [_data(emu.handle(encode_command(b"Y"))[0]) for _ in range(3)] == ["A1", "A0", "A0"]


def test_sqc310_profile_reports_power_up_with_status_b_once() -> None:
    emu = Sqc310Emulator(FilmSource(5_975_830.0))
    assert [_data(emu.handle(encode_command(b"@"))[0])[0] for _ in range(3)] == ["B", "A", "A"]


def test_driver_reads_the_emulators_new_layouts_over_a_pty() -> None:
    with pty_pair(
        Sqm160Emulator(FilmSource(5_975_830.0, 0.25, 1.5, sensors=2)), Sqm160, timeout_s=0.5, sensors=(1, 2)
    ) as (_, drv):
        assert drv.power_up_flag() and not drv.power_up_flag() and drv.was_reset
        reading = drv.read()
        assert [s.rate_a_per_s for s in reading.sensors] == pytest.approx([1.5, 1.5])
        assert reading.sensors[1].frequency_hz == pytest.approx(5_974_830.0)
        assert drv.rate_a_per_s(1) == pytest.approx(1.5)
        assert drv.film_parameters(1).density_g_cm3 == pytest.approx(1.27)
        assert drv.system_parameters().crystal_tooling_pct == (100,) * 6
        assert drv.frequency_limits_hz() == pytest.approx((5e6, 6e6))
