"""INFICON STM-2 over SMDP: byte tables, fuzzing, and driver ↔ emulator over a pty with faults."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments import registry
from instruments.base import (
    CommandRejected,
    InstrumentError,
    ProtocolError,
    ReplyTimeout,
    ValueUnavailable,
)
from instruments.emulators.base import ConstantSource
from instruments.emulators.smdp import Stm2SmdpEmulator
from instruments.smdp import Stm2Smdp, decode_frame, encode_frame, unescape
from instruments.transport import MemoryTransport
from tests.instruments.protocol import h
from tests.support.pty import pty_pair

pytestmark = pytest.mark.timeout(5)


# Requests to address 0x10, opcode 0x80: checksum = (0x10 + 0x80 + sum(DATA)) & 0xFF = (0x90 + sum) & 0xFF,
# sent as 0x30 + high nibble, 0x30 + low nibble; worked out by hand.
REQ_MODEL = h("02 10 80 40 3D 30 0D")  # the manual's worked example (0xD0)
REQ_THICKNESS = h("02 10 80 53 3E 33 0D")  # 0xE3
REQ_RATE = h("02 10 80 54 3E 34 0D")
REQ_FREQUENCY = h("02 10 80 55 3E 35 0D")
REQ_LIFE = h("02 10 80 56 3E 36 0D")
REQ_TIMER = h("02 10 80 57 3E 37 0D")
REQ_CRYSTAL = h("02 10 80 4D 3D 3D 0D")  # 0xDD
REQ_ZERO = h("02 10 80 42 3D 32 0D")
REQ_ACK = h("02 10 80 3F 3C 3F 0D")  # '?' = USRAPI_ackPfail, 0xCF
REQ_MASS = h("02 10 80 73 30 33 0D")  # 0x103 wraps to 0x03
REQ_MASS_RATE = h("02 10 80 74 30 34 0D")
REQ_DENSITY = h("02 10 80 45 3F 31 34 0D")  # 0x114 → 0x14
REQ_Z = h("02 10 80 46 3F 31 35 0D")
REQ_TOOLING = h("02 10 80 4A 3F 31 39 0D")
OK = h("02 10 81 39 31 0D")  # response code 1, no DATA: 0x10 + 0x81 = 0x91

# Replies: checksum = (0x10 + 0x81 + sum(DATA)) & 0xFF; "5319234.34" sums to 0x200, so 0x91 → "91".
FREQ_REPLY = h("02 10 81 35 33 31 39 32 33 34 2E 33 34 39 31 0D")

GETTERS: list[tuple[str, bytes, bytes, Any]] = [
    ("identify", REQ_MODEL, h("02 10 81 53 54 4D 2D 32 3E 34 0D"), "STM-2"),
    ("thickness_ang", REQ_THICKNESS, h("02 10 81 2D 31 35 39 35 39 32 0D"), -1595),
    ("rate_a_per_s", REQ_RATE, h("02 10 81 31 32 2E 34 35 36 0D"), 12.4),
    ("frequency_hz", REQ_FREQUENCY, FREQ_REPLY, 5319234.34),
    ("life_pct", REQ_LIFE, h("02 10 81 31 32 2E 34 35 36 0D"), 12.4),
    ("timer_s", REQ_TIMER, h("02 10 81 31 32 3A 34 35 39 37 0D"), 765),
    ("crystal_good", REQ_CRYSTAL, h("02 10 81 40 3D 31 0D"), True),
    ("crystal_good", REQ_CRYSTAL, h("02 10 81 21 3B 32 0D"), False),
    ("density_g_cm3", REQ_DENSITY, h("02 10 81 31 2E 32 33 30 38 35 0D"), 1.23),
    ("z_factor", REQ_Z, h("02 10 81 31 2E 32 33 34 38 39 0D"), 1.234),
    ("tooling_pct", REQ_TOOLING, h("02 10 81 38 30 2E 31 35 38 0D"), 80.1),
    ("mass_ug_cm2", REQ_MASS, h("02 10 81 2D 31 2E 36 35 33 0D"), -1.6),
    ("mass_rate_ug_cm2_s", REQ_MASS_RATE, h("02 10 81 32 33 2E 34 35 38 0D"), 23.4),
    # DATA "X\rY" travels as 58 07 31 59; the checksum is over the unescaped 58 0D 59 (0x14F → "4?")
    ("identify", REQ_MODEL, h("02 10 81 58 07 31 59 34 3F 0D"), "X\rY"),
]

SETTERS: list[tuple[str, tuple[float, ...], bytes]] = [
    ("zero", (), REQ_ZERO),
    ("acknowledge_power_loss", (), REQ_ACK),
    ("set_density_g_cm3", (1.23,), h("02 10 80 45 3D 31 2E 32 33 30 30 36 0D")),  # "E=1.230": 0x206 → 0x06
    ("set_z_factor", (1.234,), h("02 10 80 46 3D 31 2E 32 33 34 30 3B 0D")),  # 0x20B → 0x0B
    ("set_tooling_pct", (80.1,), h("02 10 80 4A 3D 38 30 2E 31 3D 3E 0D")),  # 0x1DE → 0xDE
]


def scripted(*exchanges: tuple[bytes, bytes], address: int = 0x10) -> tuple[MemoryTransport, Stm2Smdp]:
    t = MemoryTransport(exchanges=exchanges)
    return t, Stm2Smdp(t, address=address)


class StreamTransport(MemoryTransport):
    """Bytes already on the line stay there: lets fuzzing feed a raw stream the driver must read."""

    def reset_input_buffer(self) -> None:
        pass


# -- framing ------------------------------------------------------------------------------------


def test_manual_example_and_escapes() -> None:
    assert encode_frame(0x10, 0x80, b"@") == REQ_MODEL
    # 02, 0D and 07 in DATA are escaped; the checksum is over the raw bytes: 0x90 + 0x16 = 0xA6
    assert encode_frame(0x10, 0x80, h("02 0D 07")) == h("02 10 80 07 30 07 31 07 32 3A 36 0D")
    frame = decode_frame(h("02 10 80 07 30 07 31 07 32 3A 36 0D"))
    assert (frame.address, frame.command, frame.data, frame.checksum_ok) == (0x10, 0x80, h("02 0D 07"), True)
    assert not decode_frame(h("02 10 80 40 3D 31 0D")).checksum_ok


@pytest.mark.parametrize(
    "raw",
    [
        h("02 10 80 07 33 3D 30 0D"),  # escape followed by something other than 30/31/32
        h("02 10 80 40 3D 30 07 0D"),  # a lone escape at the end
        h("02 10 3D 0D"),  # too short for address, command and checksum
        h("02 10 80 40 4D 30 0D"),  # checksum character outside 0x30..0x3F
        h("02 10 80 02 3D 30 0D"),  # raw STX inside
        h("10 80 40 3D 30 0D"),  # no STX
    ],
)
def test_malformed_frames(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_frame(raw)


# -- byte tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "request_bytes", "reply", "expected"), GETTERS)
def test_getter_bytes(method: str, request_bytes: bytes, reply: bytes, expected: Any) -> None:
    t, drv = scripted((request_bytes, reply))
    value = getattr(drv, method)()
    assert bytes(t.written) == request_bytes
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("method", "args", "request_bytes"), SETTERS)
def test_setter_bytes(method: str, args: tuple[float, ...], request_bytes: bytes) -> None:
    t, drv = scripted((request_bytes, OK))
    getattr(drv, method)(*args)
    assert bytes(t.written) == request_bytes


def test_other_address() -> None:
    t, drv = scripted((h("02 22 80 40 3E 32 0D"), h("02 22 81 53 54 4D 2D 32 3F 36 0D")), address=0x22)
    assert drv.identify() == "STM-2"
    assert bytes(t.written) == h("02 22 80 40 3E 32 0D")
    with pytest.raises(ValueError):
        Stm2Smdp(MemoryTransport(), address=0x0F)


def test_read_is_one_frequency_exchange() -> None:
    t, drv = scripted((REQ_FREQUENCY, FREQ_REPLY))
    (sensor,) = drv.read().sensors
    assert bytes(t.written) == REQ_FREQUENCY
    assert sensor.frequency_hz == 5319234.34
    assert math.isnan(sensor.thickness_kang)


def test_power_fail_flag_is_acknowledged_once_and_value_kept() -> None:
    # CMD_RSP 0x89: group 8, power-fail bit D3, response 1; 0x10 + 0x89 + 0x200 = 0x299 → "99"
    t, drv = scripted((REQ_FREQUENCY, h("02 10 89 35 33 31 39 32 33 34 2E 33 34 39 39 0D")), (REQ_ACK, OK))
    assert drv.frequency_hz() == 5319234.34
    assert bytes(t.written) == REQ_FREQUENCY + REQ_ACK
    assert drv.power_was_lost


REQ_UNKNOWN = h("02 10 80 51 3E 31 0D")  # 'Q'
REQ_LOW_DENSITY = h("02 10 80 45 3D 30 2E 31 30 30 30 31 0D")  # "E=0.100": 0x201 → 0x01


@pytest.mark.parametrize(
    ("message", "request_bytes", "reply", "error", "text"),
    [
        ("U", REQ_FREQUENCY, OK, ValueUnavailable, "empty reply"),  # the STM-2's "no value"
        ("U", REQ_FREQUENCY, h("02 10 81 2D 2D 2D 2D 2D 2D 2D 2D 3F 39 0D"), ValueUnavailable, "no frequency"),
        ("U", REQ_FREQUENCY, h("02 10 81 35 33 31 39 32 33 34 2E 33 34 39 32 0D"), ProtocolError, "checksum"),
        ("Q", REQ_UNKNOWN, h("02 10 82 39 32 0D"), CommandRejected, "illegal command"),
        ("E=0.100", REQ_LOW_DENSITY, h("02 10 84 39 34 0D"), CommandRejected, "out of range"),
        ("U", REQ_FREQUENCY, h("02 10 61 37 31 0D"), ProtocolError, "group"),  # an answer to a 0x60 command
        ("U", REQ_FREQUENCY, h("02 10 80 39 30 0D"), ProtocolError, "response code 0"),
        ("U", REQ_FREQUENCY, h("02 10 81 07 33 39 31 0D"), ProtocolError, "escape"),  # invalid frame, then silence
        ("U", REQ_FREQUENCY, b"", ReplyTimeout, "before timeout"),
        ("U", REQ_FREQUENCY, FREQ_REPLY[:-1], ReplyTimeout, "before timeout"),  # no terminator
    ],
)
def test_errors(message: str, request_bytes: bytes, reply: bytes, error: type[Exception], text: str) -> None:
    t, drv = scripted((request_bytes, reply))
    with pytest.raises(error, match=text):
        drv.frequency_hz() if message == "U" else drv.query(message)
    assert bytes(t.written) == request_bytes


@pytest.mark.parametrize(
    "noise",
    [
        h("55 AA 0D"),  # garbage up to a CR
        h("02 99 13"),  # a false STX: the real one is the last before CR
        h("02 11 81 58 3E 3A 0D"),  # a valid frame from address 0x11: not ours
        h("02 10 81 07 0D"),  # a damaged frame start
    ],
)
def test_noise_and_foreign_frames_are_skipped(noise: bytes) -> None:
    assert scripted((REQ_FREQUENCY, noise + FREQ_REPLY))[1].frequency_hz() == 5319234.34


def test_info_and_registry() -> None:
    info = Stm2Smdp.info
    assert (info.protocol, info.default_baud, info.max_sensors) == ("stm2", 115200, 1)
    assert registry.driver_class("stm2") is Stm2Smdp
    assert registry.emulator_class("stm2") is Stm2SmdpEmulator


# -- emulator, byte level -----------------------------------------------------------------------


def test_emulator_power_fail_bit_until_acknowledged() -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    # "STM-2 V1.0" sums to 0x258; with 0x10 + 0x89 that is 0x2F1 → "?1"; after '?' 0x81 gives 0x2E9 → ">9"
    assert emu.handle(REQ_MODEL) == [h("02 10 89 53 54 4D 2D 32 20 56 31 2E 30 3F 31 0D")]
    assert emu.handle(REQ_ACK) == [OK]
    assert emu.handle(REQ_MODEL) == [h("02 10 81 53 54 4D 2D 32 20 56 31 2E 30 3E 39 0D")]


def test_emulator_low_level_ackpf() -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    assert emu.handle(h("02 10 60 37 30 0D")) == [h("02 10 61 37 31 0D")]  # 0x70 / 0x71
    assert emu.handle(REQ_ZERO) == [OK]


def test_emulator_split_batched_and_ignored_frames() -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    emu.handle(REQ_ACK)
    assert [r for byte in REQ_ZERO for r in emu.handle(bytes([byte]))] == [OK]
    assert emu.handle(REQ_ZERO + REQ_ZERO[:3]) == [OK]
    assert emu.handle(REQ_ZERO[3:]) == [OK]
    assert emu.handle(h("02 10 80 42 3D 33 0D")) == []  # bad checksum: no reply
    assert emu.handle(h("02 11 80 42 3D 33 0D")) == []  # address 0x11 (checksum right): not this unit
    assert emu.handle(h("02 10 80 07 39 3D 32 0D")) == []  # invalid escape
    assert emu.handle(h("02 10 70 38 30 0D")) == []  # unknown opcode 0x70 (checksum right): improper, ignored
    assert emu.handle(h("02 10 80 42") + REQ_ZERO) == [OK]  # an unfinished frame is abandoned at the next STX


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"Q", 0x82),
        (b"", 0x82),
        (b"E!", 0x83),
        (b"U?", 0x83),
        (b"E=0.1", 0x84),
        (b"F=inf", 0x84),
        (b"s", 0x81),
    ],
)
def test_emulator_response_codes(message: bytes, code: int) -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    emu.handle(REQ_ACK)
    (reply,) = emu.handle(encode_frame(0x10, 0x80, message))
    assert decode_frame(reply).command == code


def test_emulator_fault_frames_keep_framing() -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    assert emu.empty_reply(FREQ_REPLY) == OK
    for _ in range(50):
        bad = emu.corrupt(FREQ_REPLY)
        frame = decode_frame(bad)
        assert (frame.address, frame.command, frame.data) == (0x10, 0x81, b"5319234.34")
        assert not frame.checksum_ok


# -- fuzzing ------------------------------------------------------------------------------------

DRIVER_CALLS = [
    "read",
    "identify",
    "thickness_ang",
    "rate_a_per_s",
    "frequency_hz",
    "life_pct",
    "timer_s",
    "crystal_good",
    "check_crystal",
    "density_g_cm3",
    "z_factor",
    "tooling_pct",
    "mass_ug_cm2",
    "mass_rate_ug_cm2_s",
    "zero",
    "acknowledge_power_loss",
]

framed = st.builds(
    encode_frame,
    st.sampled_from([0x10, 0x10, 0x11]),
    st.integers(0, 255),
    st.one_of(st.binary(max_size=12), st.text("0123456789+-.: @!", max_size=12).map(str.encode)),
)
streams = st.lists(st.one_of(st.binary(max_size=16), framed), max_size=4).map(b"".join)


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(call=st.sampled_from(DRIVER_CALLS), raw=streams, with_film=st.booleans())
def test_driver_raises_only_its_own_errors(call: str, raw: bytes, with_film: bool) -> None:
    drv = Stm2Smdp(StreamTransport(incoming=raw), with_film=with_film)
    try:
        getattr(drv, call)()
    except InstrumentError:
        pass


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
def test_frame_parsers_raise_only_protocol_errors(raw: bytes) -> None:
    for parse in (decode_frame, unescape):
        try:
            parse(raw)
        except ProtocolError:
            pass


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=24), max_size=8))
def test_emulator_handle_never_raises(chunks: list[bytes]) -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    for chunk in chunks:
        for reply in emu.handle(chunk):
            assert decode_frame(reply).checksum_ok


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(message=st.binary(max_size=16))
def test_emulator_answers_every_wellformed_request(message: bytes) -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    (reply,) = emu.handle(encode_frame(0x10, 0x80, message))
    frame = decode_frame(reply)
    assert frame.checksum_ok and frame.command >> 4 == 8 and 1 <= frame.command & 0x07 <= 4


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=40))
def test_emulator_resyncs_after_any_garbage(garbage: bytes) -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    emu.handle(REQ_ACK)
    replies = emu.handle(garbage + REQ_FREQUENCY)
    assert replies and decode_frame(replies[-1]).data == b"5975830.23"


# -- driver ↔ emulator over a pty ---------------------------------------------------------------


class FilmSource:
    """A crystal with some film on it already, growing at a steady rate."""

    sensor_count = 1

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        return 5_900_000.0, 1.234, 2.5


def test_pty_identify_and_read() -> None:
    with pty_pair(Stm2SmdpEmulator(ConstantSource()), Stm2Smdp) as (srv, drv):
        assert drv.identify() == "STM-2 V1.0"
        assert drv.power_was_lost
        assert not srv.instrument.commands.power_lost
        assert drv.read().sensors[0].frequency_hz == 5975830.23
        assert drv.crystal_good()


def test_pty_film_values_zero_and_settings() -> None:
    with pty_pair(Stm2SmdpEmulator(FilmSource()), Stm2Smdp, with_film=True) as (srv, drv):
        (sensor,) = drv.read().sensors
        assert (sensor.frequency_hz, sensor.thickness_kang, sensor.rate_a_per_s) == (5_900_000.0, 1.234, 2.5)
        assert drv.mass_ug_cm2() == pytest.approx(1234 * 1.27 * 0.01, abs=1e-3)
        drv.zero()
        assert drv.thickness_ang() == 0
        drv.set_density_g_cm3(2.7)
        drv.set_z_factor(0.902)
        drv.set_tooling_pct(88.0)
        assert (drv.density_g_cm3(), drv.z_factor(), drv.tooling_pct()) == (2.7, 0.902, 88.0)
        assert srv.instrument.film.density_g_cm3 == 2.7
        with pytest.raises(CommandRejected, match="out of range"):
            drv.query("J=5")
        with pytest.raises(CommandRejected, match="illegal command"):
            drv.query("Q")
        with pytest.raises(CommandRejected, match="syntax"):
            drv.query("U?")


def test_pty_other_address() -> None:
    emu = Stm2SmdpEmulator(ConstantSource())
    emu.address = 0x42
    with pty_pair(emu, Stm2Smdp, address=0x42) as (_, drv):
        assert drv.identify() == "STM-2 V1.0"
    with pty_pair(emu, Stm2Smdp, timeout_s=0.2) as (_, drv), pytest.raises(ReplyTimeout):
        drv.identify()  # the unit at 0x42 ignores frames for 0x10


def test_pty_failed_crystal() -> None:
    with pty_pair(Stm2SmdpEmulator(ConstantSource(frequency_hz=0.0)), Stm2Smdp) as (_, drv):
        with pytest.raises(ValueUnavailable):
            drv.read()
        with pytest.raises(ValueUnavailable):
            drv.check_crystal()
