"""Sycon STM-100 / STM-2 (Sycon framing): byte tables, fuzzing, and driver ↔ emulator over a pty with faults."""

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
from instruments.emulators.sycon import Stm2SyconEmulator, Stm100Emulator
from instruments.sycon import Stm100, encode_command, encode_reply
from instruments.transport import MemoryTransport
from tests.instruments.protocol import expected_protocol, h
from tests.support.pty import pty_pair

pytestmark = pytest.mark.timeout(5)


# Requests: STX, LEN, DATA, sum(DATA) & 0xFF, worked out by hand (one letter: the checksum is the letter).
REQ_MODEL = h("02 01 40 40")
REQ_THICKNESS = h("02 01 53 53")
REQ_RATE = h("02 01 54 54")
REQ_FREQUENCY = h("02 01 55 55")
REQ_LIFE = h("02 01 56 56")
REQ_TIMER = h("02 01 57 57")
REQ_CRYSTAL = h("02 01 4D 4D")
REQ_ZERO = h("02 01 42 42")
REQ_ACK = h("02 01 4C 4C")
REQ_MASS = h("02 01 73 73")
REQ_MASS_RATE = h("02 01 74 74")
REQ_DENSITY = h("02 02 45 3F 84")  # 'E' + '?' = 0x84
REQ_Z = h("02 02 46 3F 85")
REQ_TOOLING = h("02 02 4A 3F 89")
OK = h("02 01 41 41")  # status 'A', no payload

# Replies: checksum over status + payload; "A5319234" sums to 0x1AC, so the checksum byte is 0xAC.
FREQ_5319234 = h("02 08 41 35 33 31 39 32 33 34 AC")

GETTERS: list[tuple[str, bytes, bytes, Any]] = [
    ("identify", REQ_MODEL, h("02 09 41 53 54 4D 31 30 30 43 35 3E"), "STM100C5"),
    ("thickness_ang", REQ_THICKNESS, h("02 09 41 2D 30 30 30 31 35 39 35 D2"), -1595),  # STM-100: "-0001595"
    ("thickness_ang", REQ_THICKNESS, h("02 06 41 2D 31 35 39 35 42"), -1595),  # STM-2: "-1595"
    ("rate_a_per_s", REQ_RATE, h("02 07 41 20 30 31 32 2E 34 56"), 12.4),  # " 012.4"
    ("rate_a_per_s", REQ_RATE, h("02 05 41 31 32 2E 34 06"), 12.4),  # "12.4"
    ("frequency_hz", REQ_FREQUENCY, FREQ_5319234, 5319234.0),
    ("frequency_hz", REQ_FREQUENCY, h("02 0B 41 35 33 31 39 32 33 34 2E 33 34 41"), 5319234.34),
    ("life_pct", REQ_LIFE, h("02 06 41 30 31 32 2E 34 36"), 12.4),  # "012.4"
    ("timer_s", REQ_TIMER, h("02 07 41 2B 31 32 3A 34 35 72"), 765),  # "+12:45"
    ("timer_s", REQ_TIMER, h("02 06 41 31 32 3A 34 35 47"), 765),  # "12:45"
    ("crystal_good", REQ_CRYSTAL, h("02 02 41 40 81"), True),
    ("crystal_good", REQ_CRYSTAL, h("02 02 41 21 62"), False),
    ("density_g_cm3", REQ_DENSITY, h("02 06 41 31 2E 32 33 30 35"), 1.23),
    ("z_factor", REQ_Z, h("02 06 41 31 2E 32 33 34 39"), 1.234),
    ("tooling_pct", REQ_TOOLING, h("02 05 41 38 30 2E 31 08"), 80.1),
    ("mass_ug_cm2", REQ_MASS, h("02 05 41 2D 31 2E 36 03"), -1.6),
    ("mass_rate_ug_cm2_s", REQ_MASS_RATE, h("02 05 41 32 33 2E 34 08"), 23.4),
]

SETTERS: list[tuple[str, tuple[float, ...], bytes]] = [
    ("zero", (), REQ_ZERO),
    ("acknowledge_power_loss", (), REQ_ACK),
    ("set_density_g_cm3", (1.23,), h("02 07 45 3D 31 2E 32 33 30 76")),  # "E=1.230" sums to 0x176
    ("set_density_g_cm3", (19.3,), h("02 07 45 3D 31 39 2E 33 30 7D")),  # "E=19.30"
    ("set_z_factor", (1.234,), h("02 07 46 3D 31 2E 32 33 34 7B")),
    ("set_tooling_pct", (80.1,), h("02 06 4A 3D 38 30 2E 31 4E")),
]


def scripted(*exchanges: tuple[bytes, bytes]) -> MemoryTransport:
    return MemoryTransport(exchanges=exchanges)


class StreamTransport(MemoryTransport):
    """Bytes already on the line stay there: lets fuzzing feed a raw stream the driver must read."""

    def reset_input_buffer(self) -> None:
        pass


# -- byte tables --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "request_bytes", "reply", "expected"), GETTERS)
def test_getter_bytes(method: str, request_bytes: bytes, reply: bytes, expected: Any) -> None:
    t = scripted((request_bytes, reply))
    value = getattr(Stm100(t), method)()
    assert bytes(t.written) == request_bytes
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("method", "args", "request_bytes"), SETTERS)
def test_setter_bytes(method: str, args: tuple[float, ...], request_bytes: bytes) -> None:
    t = scripted((request_bytes, OK))
    getattr(Stm100(t), method)(*args)
    assert bytes(t.written) == request_bytes


def test_encode_command_limits() -> None:
    assert encode_command(b"E=1.230") == h("02 07 45 3D 31 2E 32 33 30 76")
    with pytest.raises(ValueError):
        encode_command(b"")
    with pytest.raises(ValueError):
        encode_command(b"E=1.2345678")  # 11 bytes: more than a request may carry


def test_read_is_one_frequency_exchange() -> None:
    t = scripted((REQ_FREQUENCY, h("02 0B 41 35 33 31 39 32 33 34 2E 33 34 41")))
    reading = Stm100(t).read()
    assert bytes(t.written) == REQ_FREQUENCY
    (sensor,) = reading.sensors
    assert sensor.frequency_hz == 5319234.34
    assert math.isnan(sensor.rate_a_per_s) and math.isnan(sensor.thickness_kang)


def test_read_with_film_adds_thickness_and_rate() -> None:
    t = scripted(
        (REQ_FREQUENCY, FREQ_5319234),
        (REQ_THICKNESS, h("02 09 41 2D 30 30 30 31 35 39 35 D2")),
        (REQ_RATE, h("02 07 41 20 30 31 32 2E 34 56")),
    )
    (sensor,) = Stm100(t, with_film=True).read().sensors
    assert bytes(t.written) == REQ_FREQUENCY + REQ_THICKNESS + REQ_RATE
    assert (sensor.frequency_hz, sensor.thickness_kang, sensor.rate_a_per_s) == (5319234.0, -1.595, 12.4)


def test_power_lost_status_is_acknowledged_once_and_value_kept() -> None:
    t = scripted((REQ_FREQUENCY, h("02 08 42 35 33 31 39 32 33 34 AD")), (REQ_ACK, OK))  # 'B' status
    drv = Stm100(t)
    assert drv.frequency_hz() == 5319234.0
    assert bytes(t.written) == REQ_FREQUENCY + REQ_ACK
    assert drv.power_was_lost


def test_power_lost_ack_without_answer_still_returns_value() -> None:
    t = scripted((REQ_FREQUENCY, h("02 08 42 35 33 31 39 32 33 34 AD")), (REQ_ACK, b""))  # the ack is lost
    assert Stm100(t).frequency_hz() == 5319234.0
    assert bytes(t.written) == REQ_FREQUENCY + REQ_ACK


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (h("02 09 41 2D 2D 2D 2D 2D 2D 2D 2D A9"), ValueUnavailable, "no frequency"),  # "--------"
        (OK, ValueUnavailable, "empty reply"),
        (h("02 08 41 35 33 31 39 32 33 34 AD"), ProtocolError, "checksum"),  # 0xAC expected
        (h("02 01 46 46"), CommandRejected, "illegal command"),  # 'F'
        (h("02 01 49 49"), CommandRejected, "illegal data"),  # 'I'
        (h("02 01 4A 4A"), CommandRejected, "illegal modifier"),  # 'J'
        (h("02 01 5A 5A"), CommandRejected, "unknown status"),
        (h("02 05 41 35 33 78 39 5A"), ProtocolError, "not a number"),  # "53x9"
        (b"", ReplyTimeout, "expected"),
        (h("02 08 41 35 33"), ReplyTimeout, "expected"),  # cut short
    ],
)
def test_frequency_errors(reply: bytes, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        Stm100(scripted((REQ_FREQUENCY, reply))).frequency_hz()


@pytest.mark.parametrize(
    ("method", "request_bytes", "reply"),
    [
        ("thickness_ang", REQ_THICKNESS, h("02 05 41 31 32 2E 35 07")),  # "12.5" is not an integer
        ("crystal_good", REQ_CRYSTAL, h("02 02 41 3F 80")),  # "?" is neither '@' nor '!'
        ("timer_s", REQ_TIMER, h("02 05 41 31 32 34 35 13")),  # "1245" has no colon
        ("identify", REQ_MODEL, h("02 02 41 FF 40")),  # not ASCII
    ],
)
def test_unparsable_payloads_are_protocol_errors(method: str, request_bytes: bytes, reply: bytes) -> None:
    with pytest.raises(ProtocolError):
        getattr(Stm100(scripted((request_bytes, reply))), method)()


def test_failed_crystal_is_value_unavailable() -> None:
    with pytest.raises(ValueUnavailable, match="crystal failed"):
        Stm100(scripted((REQ_CRYSTAL, h("02 02 41 21 62")))).check_crystal()
    Stm100(scripted((REQ_CRYSTAL, h("02 02 41 40 81")))).check_crystal()


@pytest.mark.parametrize(
    "noise",
    [
        h("FF 13 00"),  # no STX at all
        h("02 00"),  # STX with an impossible length
        h("02 FF"),
        h("02 05"),  # STX whose length swallows the real frame start: checksum fails, scan resumes at the real STX
        h("02 02 02"),
    ],
)
def test_noise_before_reply_is_skipped(noise: bytes) -> None:
    assert Stm100(scripted((REQ_FREQUENCY, noise + FREQ_5319234))).frequency_hz() == 5319234.0


def test_endless_noise_gives_up() -> None:
    with pytest.raises(ProtocolError, match="no reply frame"):
        Stm100(scripted((REQ_FREQUENCY, b"\x55" * 1000))).frequency_hz()


def test_arguments_checked_before_sending() -> None:
    t = MemoryTransport()
    drv = Stm100(t)
    for method, value in [("set_density_g_cm3", 0.1), ("set_z_factor", 12.0), ("set_tooling_pct", 5.0)]:
        with pytest.raises(ValueError):
            getattr(drv, method)(value)
    assert not t.written
    with pytest.raises(ValueError):
        Stm100(t, sensors=(2,))


def test_info_and_registry() -> None:
    info = Stm100.info
    assert (info.protocol, info.default_baud, info.max_sensors) == ("stm100", 9600, 1)
    assert registry.driver_class("stm100") is Stm100
    assert registry.emulator_class("stm100") is Stm100Emulator


# -- emulator, byte level -----------------------------------------------------------------------


def test_emulator_reports_power_loss_until_acknowledged() -> None:
    emu = Stm100Emulator(ConstantSource())
    assert emu.handle(REQ_MODEL) == [h("02 09 42 53 54 4D 31 30 30 43 35 3F")]  # 'B' + "STM100C5"
    assert emu.handle(REQ_MODEL)[0][2:3] == b"B"
    assert emu.handle(REQ_ACK) == [OK]
    assert emu.handle(REQ_MODEL) == [h("02 09 41 53 54 4D 31 30 30 43 35 3E")]


def test_emulator_buffers_split_frames_and_answers_batches() -> None:
    emu = Stm100Emulator(ConstantSource())
    emu.handle(REQ_ACK)
    replies = [r for byte in REQ_MODEL for r in emu.handle(bytes([byte]))]
    assert replies == [h("02 09 41 53 54 4D 31 30 30 43 35 3E")]
    assert emu.handle(REQ_ZERO + REQ_MODEL + REQ_ZERO[:2]) == [OK, h("02 09 41 53 54 4D 31 30 30 43 35 3E")]
    assert emu.handle(REQ_ZERO[2:]) == [OK]


def test_emulator_ignores_bad_checksum_and_resyncs() -> None:
    emu = Stm100Emulator(ConstantSource())
    emu.handle(REQ_ACK)
    assert emu.handle(h("02 01 40 41")) == []  # bad checksum: a real unit stays silent
    assert emu.handle(h("55 02 00 AA") + REQ_ZERO) == [OK]
    assert emu.handle(h("02 07") + REQ_ZERO) == []  # a false frame start waits for 7 data bytes...
    assert emu.handle(h("00 00 00 00 00")) == [OK]  # ...fails its checksum, and the real request inside is found


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (b"Q", b"F"),  # not a command of this unit
        (b"s", b"F"),  # STM-2 only
        (b"E=0.1", b"H"),  # below the density range
        (b"E=abc", b"H"),
        (b"J=nan", b"H"),
        (b"E!", b"J"),  # neither '?' nor '='
        (b"U5", b"J"),  # 'U' takes no modifier
        (b"E=2.7", b"A"),
    ],
)
def test_emulator_error_statuses(message: bytes, status: bytes) -> None:
    emu = Stm100Emulator(ConstantSource())
    emu.handle(REQ_ACK)
    (reply,) = emu.handle(encode_command(message))
    assert reply[2:3] == status


def test_emulator_film_settings_and_formats() -> None:
    emu = Stm100Emulator(ConstantSource(5_975_830.23))
    emu.handle(REQ_ACK)
    assert emu.handle(encode_command(b"J = 80.1")) == [OK]
    assert emu.film.tooling_pct == 80.1
    assert emu.handle(REQ_TOOLING) == [encode_reply("A", b"80.1")]
    assert emu.handle(REQ_FREQUENCY) == [encode_reply("A", b"5975830")]
    assert emu.handle(REQ_THICKNESS) == [encode_reply("A", b" 0000000")]
    stm2 = Stm2SyconEmulator(ConstantSource(5_975_830.23))
    assert stm2.handle(REQ_FREQUENCY) == [encode_reply("B", b"5975830.23")]
    assert stm2.handle(REQ_MASS) == [encode_reply("B", b"0.000")]


def test_emulator_failed_crystal_shows_dashes() -> None:
    emu = Stm100Emulator(ConstantSource(frequency_hz=0.0))
    emu.handle(REQ_ACK)
    assert emu.handle(REQ_FREQUENCY) == [h("02 09 41 2D 2D 2D 2D 2D 2D 2D 2D A9")]
    assert emu.handle(REQ_CRYSTAL) == [h("02 02 41 21 62")]


def test_emulator_fault_frames_keep_framing() -> None:
    emu = Stm100Emulator(ConstantSource())
    assert emu.empty_reply(FREQ_5319234) == h("02 09 41 2D 2D 2D 2D 2D 2D 2D 2D A9")
    for _ in range(50):
        bad = emu.corrupt(FREQ_5319234)
        assert bad[:-1] == FREQ_5319234[:-1]
        assert bad[-1] not in (FREQ_5319234[-1], 0x02)


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

# well-framed replies with arbitrary status and payload reach the payload parsers, raw bytes the framing
framed = st.builds(
    encode_reply,
    st.sampled_from("ABFGHIJKZ@"),
    st.one_of(st.binary(max_size=12), st.text("0123456789+-.: @!-", max_size=12).map(str.encode)),
)
streams = st.lists(st.one_of(st.binary(max_size=16), framed), max_size=4).map(b"".join)


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(call=st.sampled_from(DRIVER_CALLS), raw=streams, with_film=st.booleans())
def test_driver_raises_only_its_own_errors(call: str, raw: bytes, with_film: bool) -> None:
    drv = Stm100(StreamTransport(incoming=raw), with_film=with_film)
    try:
        getattr(drv, call)()
    except InstrumentError:
        pass


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=24), max_size=8), stm2=st.booleans())
def test_emulator_handle_never_raises(chunks: list[bytes], stm2: bool) -> None:
    emu = (Stm2SyconEmulator if stm2 else Stm100Emulator)(ConstantSource())
    for chunk in chunks:
        for reply in emu.handle(chunk):
            assert reply[0] == 0x02 and reply[1] == len(reply) - 3 and sum(reply[2:-1]) & 0xFF == reply[-1]


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(message=st.binary(min_size=1, max_size=10))
def test_emulator_answers_every_wellformed_request(message: bytes) -> None:
    emu = Stm2SyconEmulator(ConstantSource())
    (reply,) = emu.handle(encode_command(message))
    assert reply[2:3] in (b"A", b"B", b"F", b"H", b"J")
    assert sum(reply[2:-1]) & 0xFF == reply[-1]


# fuzzing: 300 examples can outlast the 5 s guard on a loaded machine
@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=40).map(lambda b: b.replace(b"\x02", b"")))
def test_emulator_resyncs_after_garbage(garbage: bytes) -> None:
    emu = Stm100Emulator(ConstantSource())
    emu.handle(REQ_ACK)
    assert emu.handle(garbage + REQ_FREQUENCY) == [encode_reply("A", b"5975830")]


# -- driver ↔ emulator over a pty ---------------------------------------------------------------


class FilmSource:
    """A crystal with some film on it already, growing at a steady rate."""

    sensor_count = 1

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        return 5_900_000.0, 1.234, 2.5


def test_pty_identify_and_read() -> None:
    with pty_pair(Stm100Emulator(ConstantSource()), Stm100) as (srv, drv):
        assert drv.identify() == "STM100C5"
        assert drv.power_was_lost  # the emulator starts as just powered up...
        assert not srv.instrument.commands.power_lost  # ...and the driver's 'L' cleared it
        assert drv.read().sensors[0].frequency_hz == 5975830.0  # the STM-100 reports whole Hz
        assert drv.crystal_good()
        assert drv.life_pct() == pytest.approx(97.6)


def test_pty_stm2_formats_and_mass() -> None:
    with pty_pair(Stm2SyconEmulator(FilmSource()), Stm100, with_film=True) as (_, drv):
        assert drv.identify() == "STM-2 V1.0"
        (sensor,) = drv.read().sensors
        assert (sensor.frequency_hz, sensor.thickness_kang, sensor.rate_a_per_s) == (5_900_000.0, 1.234, 2.5)
        assert drv.mass_ug_cm2() == pytest.approx(1234 * 1.27 * 0.01, abs=1e-3)
        assert drv.mass_rate_ug_cm2_s() == pytest.approx(2.5 * 1.27 * 0.01, abs=1e-4)


def test_pty_zero_and_film_settings() -> None:
    with pty_pair(Stm100Emulator(FilmSource()), Stm100) as (srv, drv):
        assert drv.thickness_ang() == 1234
        assert drv.rate_a_per_s() == 2.5
        drv.zero()
        assert drv.thickness_ang() == 0
        assert drv.timer_s() == 0
        drv.set_density_g_cm3(19.3)
        drv.set_z_factor(0.381)
        drv.set_tooling_pct(112.5)
        assert (drv.density_g_cm3(), drv.z_factor(), drv.tooling_pct()) == (19.3, 0.381, 112.5)
        film = srv.instrument.film
        assert (film.density_g_cm3, film.z_ratio, film.tooling_pct) == (19.3, 0.381, 112.5)
        with pytest.raises(CommandRejected, match="illegal data"):
            drv.query("E=0.1")
        with pytest.raises(CommandRejected, match="illegal command"):
            drv.query("Q")
        with pytest.raises(CommandRejected, match="illegal modifier"):
            drv.query("E!")
        with pytest.raises(CommandRejected, match="illegal command"):
            drv.mass_ug_cm2()  # the STM-100 has no 's'
        assert drv.density_g_cm3() == 19.3  # the link is fine after rejections


def test_pty_failed_crystal() -> None:
    with pty_pair(Stm100Emulator(ConstantSource(frequency_hz=0.0)), Stm100) as (_, drv):
        with pytest.raises(ValueUnavailable):
            drv.read()
        assert not drv.crystal_good()
        with pytest.raises(ValueUnavailable):
            drv.check_crystal()


# -- shutter relay (issue 11, mismatch 8): STM-100/MF manual table 5.2, "A [@,!,?]" ---------------


def test_shutter_commands_as_exact_exchanges() -> None:
    # bytes written out by hand from the manual's framing: STX, LEN, data, sum(data) & 0xFF
    with expected_protocol(
        Stm100,
        [
            (h("02 02 41 21 62"), h("02 01 41 41")),  # A! → A: relay on
            (h("02 02 41 3F 80"), h("02 02 41 21 62")),  # A? → A! : on
            (h("02 02 41 40 81"), h("02 01 41 41")),  # A@ → A: relay off
            (h("02 02 41 3F 80"), h("02 02 41 40 81")),  # A? → A@ : off
        ],
    ) as drv:
        drv.set_shutter(True)
        assert drv.shutter_open()
        drv.set_shutter(False)
        assert not drv.shutter_open()


def test_emulator_has_the_shutter_commands_of_the_stm100() -> None:
    emu = Stm100Emulator(ConstantSource())
    emu.handle(REQ_ACK)
    assert emu.handle(h("02 02 41 3F 80")) == [h("02 02 41 40 81")]  # closed at power-up
    assert emu.handle(h("02 02 41 21 62")) == [h("02 01 41 41")]  # A! accepted (was F before)
    assert emu.handle(h("02 02 41 3F 80")) == [h("02 02 41 21 62")]
    assert emu.handle(h("02 02 41 40 81")) == [h("02 01 41 41")]
    assert emu.handle(h("02 02 41 3F 80")) == [h("02 02 41 40 81")]
    (bad,) = emu.handle(encode_command(b"A1"))
    assert bad[2:3] == b"J"  # an unknown modifier, not an unknown command


def test_shutter_over_a_pty() -> None:
    with pty_pair(Stm100Emulator(ConstantSource()), Stm100) as (srv, drv):
        drv.set_shutter(True)
        assert drv.shutter_open() and srv.instrument.commands.shutter_relay_on
        drv.set_shutter(False)
        assert not drv.shutter_open()
