"""SQM-160 driver: the manual's CRC vectors, byte tables, fuzzing, and the emulator over a pty."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.base import CommandRejected, InstrumentError, ProtocolError, ReplyTimeout
from instruments.emulators.base import ConstantSource, PtyServer
from instruments.emulators.sqm160 import Sqc310Emulator, Sqm160Emulator
from instruments.sqm160 import Sqc310, Sqm160, crc14, encode_command, encode_reply
from instruments.transport import MemoryTransport, open_transport

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
    t = MemoryTransport()
    for request, reply in pairs:
        t.replies[request] = reply
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
    ("frequency_limits_hz", (), encode_command(b"B?"), encode_reply("A", b"0.25 0 5000000 6000000 0 100 0 1000 0"),
     (5e6, 6e6)),
]


@pytest.mark.parametrize(("method", "args", "request_bytes", "reply", "expected"), TABLE)
def test_byte_table(method: str, args: tuple, request_bytes: bytes, reply: bytes, expected: object) -> None:
    drv, t = _driver([(request_bytes, reply)])
    assert getattr(drv, method)(*args) == expected
    assert bytes(t.written) == request_bytes


def test_set_commands_send_exact_bytes() -> None:
    ok = encode_reply("A", b"")
    drv, t = _driver([(encode_command(b"S"), ok), (encode_command(b"U1"), ok), (encode_command(b"D3"), ok)])
    drv.zero()
    drv.set_shutter(True)
    drv.select_film(3)
    assert bytes(t.written) == encode_command(b"S") + encode_command(b"U1") + encode_command(b"D3")


def test_all_sensors_reading_and_inactive_channels() -> None:
    drv, _ = _driver([(encode_command(b"W"), encode_reply("A", b"1.50 0.123 5975830.230 -1 -1 -1"))])
    drv.sensors = (1, 2)
    reading = drv.read()
    assert reading.sensors[0].frequency_hz == pytest.approx(5975830.23)
    assert reading.sensors[0].rate_a_per_s == pytest.approx(1.5)
    assert reading.sensors[0].thickness_kang == pytest.approx(0.123)
    assert math.isnan(reading.sensors[1].frequency_hz)


def test_film_parameters() -> None:
    drv, _ = _driver([(encode_command(b"A1?"), encode_reply("A", b"LIGL 1.27 100 1.000 0.5 0 0 1"))])
    assert drv.film_parameters(1) == {"name": "LIGL", "density_g_cm3": 1.27, "tooling_pct": 100.0, "z_ratio": 1.0}


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
    t = MemoryTransport()
    t.replies[encode_command(b"W")] = data
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


@pytest.fixture
def pty_pair():
    server = PtyServer(Sqm160Emulator(ConstantSource(5_875_830.23, sensors=2)), baud=None).start()
    drv = Sqm160(open_transport(server.port, 19200, timeout_s=0.4), sensors=(1, 2))
    yield server, drv
    drv.close()
    server.stop()


def test_emulator_and_driver_over_a_real_pty(pty_pair) -> None:
    _server, drv = pty_pair
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
    t = MemoryTransport()
    reply = encode_reply("A", b"12.50 0.00 0.000 5950000.00 1.20 0.345 5949000.00 -1 -1 -1 -1 -1 -1")
    t.replies[encode_command(b"K2")] = reply
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
    with PtyServer(Sqc310Emulator(ConstantSource(5_950_000.0, sensors=2)), baud=None) as server:
        drv = Sqc310(open_transport(server.port, 19200, timeout_s=0.4), sensors=(1, 2, 3))
        assert drv.identify().startswith("SQC-310")
        r = drv.read()
        assert r.sensors[0].frequency_hz == pytest.approx(5_950_000.0)
        assert r.sensors[1].frequency_hz == pytest.approx(5_949_000.0)
        assert math.isnan(r.sensors[2].frequency_hz)  # an empty socket
        active, freq, life = drv.sensor_status(1)
        assert active and freq == pytest.approx(5_950_000.0) and 0 < life < 100
        drv.close()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_sqc310_fuzzed_replies_only_raise_driver_errors(data: bytes) -> None:
    t = MemoryTransport()
    t.replies[encode_command(b"K2")] = data
    try:
        Sqc310(t).read()
    except InstrumentError:
        pass
