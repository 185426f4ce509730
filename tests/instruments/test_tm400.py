"""TM-400 driver: the manual's frame vectors, byte tables, fuzzing, and the emulator over a pty.

Checksums in the tables were worked out by hand (0xFF minus the low byte of CODE + LEN + DATA), so a
checksum that skipped LEN or summed the address would fail here.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import instruments.emulators.tm400 as emulator_module
from instruments.base import (
    CommandRejected,
    InstrumentError,
    ProtocolError,
    ReplyTimeout,
    ValueUnavailable,
)
from instruments.emulators.base import ConstantSource
from instruments.emulators.tm400 import Tm400Emulator
from instruments.tm400 import (
    BINARY_FIELDS,
    STRING_FIELDS,
    Tm400,
    checksum,
    decode_status,
    encode_frame,
    mask_bytes,
    pack_record,
    record_size,
    sensor_mask,
    unpack_record,
)
from instruments.transport import MemoryTransport
from tests.instruments.protocol import h
from tests.support.pty import pty_pair, read_some

# (address, code, data) -> frame, as printed in the manual
MANUAL_FRAMES = [
    ((1, 4, b""), h("FF FE 01 04 00 FB")),  # send status
    ((1, 5, h("F8 01")), h("FF FE 01 05 02 F8 01 FF")),  # string logging: rate, thickness, frequency of 1 & 2
    ((1, 5, h("00 00")), h("FF FE 01 05 02 00 00 F8")),  # stop logging
]

STATUS_REQUEST = h("FF FE 01 04 00 FB")
START_SENSOR_1 = h("FF FE 01 06 02 38 04 BB")  # 06+02+38+04 = 44 -> BB
START_SENSOR_2 = h("FF FE 01 06 02 C0 09 2E")  # 06+02+C0+09 = D1 -> 2E
STOP_BINARY = h("FF FE 01 06 02 00 00 F7")  # 06+02 = 08 -> F7
# film 1, active sensor 1, health 97 and failed, shutters closed, display 0, address 1, 6 MHz, simulate
STATUS_REPLY = h("FF FE 01 04 0A 01 01 61 FF 00 00 01 03 10 00 7B")
# sensor 1: rate 12 Å/s, thickness 1234 Å, period 0x20000000, mass 00 0A FA 4C (the manual's example)
RECORD = h("FF FE 01 06 0E 00 00 0C 00 04 D2 20 00 00 00 00 0A FA 4C 99")
RECORD_FREQUENCY_HZ = 3.221e15 / 0x20000000  # 5 999 580.03 Hz
# rate -10 Å/s, thickness -1 Å, same period, no mass
NEGATIVE_RECORD = h("FF FE 01 06 0E FF FF F6 FF FF FF 20 00 00 00 00 00 00 00 DA")
FAILED_RECORD = h("FF FE 01 06 0E") + bytes(14) + h("EB")  # period 0: crystal failed
REFUSED_BAD_DATA = h("FF FE 01 84 01 03 77")  # status refused: 84+01+03 = 88 -> 77


@pytest.mark.parametrize(("fields", "frame"), MANUAL_FRAMES)
def test_frames_match_the_manual(fields: tuple[int, int, bytes], frame: bytes) -> None:
    assert encode_frame(*fields) == frame


def test_checksum_sums_the_length_but_not_the_address() -> None:
    assert checksum(5, h("F8 01")) == 0xFF
    assert 0xFF - ((5 + 0xF8 + 0x01) & 0xFF) == 0x01  # what leaving LEN out would give: not the manual's
    assert encode_frame(7, 4) == h("FF FE 07 04 00 FB")


def test_manual_string_mask_selects_rate_thickness_frequency_of_both_sensors() -> None:
    mask = 0xF8 | 0x01 << 8
    names = [STRING_FIELDS[bit][0] for bit in sorted(STRING_FIELDS) if mask >> bit & 1]
    assert names == ["s1_rate", "s1_thickness", "s1_frequency", "s2_rate", "s2_thickness", "s2_frequency"]


def test_sensor_masks_select_rate_thickness_period_and_mass() -> None:
    assert mask_bytes(sensor_mask(1)) == h("38 04") and mask_bytes(sensor_mask(2)) == h("C0 09")
    assert record_size(sensor_mask(1)) == record_size(sensor_mask(2)) == 3 + 3 + 4 + 4


def test_manual_mass_example() -> None:
    values = unpack_record(1 << 10, h("00 0A FA 4C"))
    assert values["s1_mass"] * 0.137 == pytest.approx(98_562.7, abs=0.05)


def _driver(
    incoming: bytes = b"", exchanges: tuple[tuple[bytes, bytes], ...] = (), **options: int
) -> tuple[Tm400, MemoryTransport]:
    t = MemoryTransport(incoming, exchanges=exchanges)
    return Tm400(t, **options), t


@pytest.mark.parametrize(("sensors", "frame"), [((1,), START_SENSOR_1), ((2,), START_SENSOR_2)])
def test_start_sends_the_binary_logging_command(sensors: tuple[int, ...], frame: bytes) -> None:
    t = MemoryTransport()
    Tm400(t, sensors=sensors).start()
    assert bytes(t.written) == frame


def test_stop_sends_the_zero_mask() -> None:
    drv, t = _driver()
    drv.stop()
    assert bytes(t.written) == STOP_BINARY


def test_status_and_identify() -> None:
    drv, t = _driver(exchanges=((STATUS_REQUEST, STATUS_REPLY),) * 3)  # status, identify, health: one each
    status = drv.status()
    assert bytes(t.written) == STATUS_REQUEST
    assert (status.active_film, status.active_sensor, status.health) == (1, 1, (97, 255))
    assert status.crystal_mhz == 6.0 and status.simulate and status.address == 1 and not status.failures
    assert drv.identify() == "TM-400 at address 1, 6 MHz crystal, film 1, sensor 1 health 97 %, simulate mode"
    assert drv.crystal_health_pct() == 97.0


def test_failed_sensor_health_is_value_unavailable() -> None:
    drv, _ = _driver(exchanges=((STATUS_REQUEST, STATUS_REPLY),) * 2, sensors=(2,))
    with pytest.raises(ValueUnavailable, match="failed"):
        drv.crystal_health_pct()
    assert "sensor 2 failed" in drv.identify()


def test_address_is_framed_but_not_summed() -> None:
    reply = h("FF FE 05 04 0A 01 01 61 FF 00 00 05 03 10 00 77")  # I/O address 5: sum +4 -> 77
    drv, t = _driver(exchanges=((h("FF FE 05 04 00 FB"), reply),), address=5)
    assert drv.status().address == 5
    assert bytes(t.written) == h("FF FE 05 04 00 FB")


def test_record_is_converted() -> None:
    drv, t = _driver(RECORD)
    sensor = drv.read().sensors[0]
    assert sensor.frequency_hz == pytest.approx(RECORD_FREQUENCY_HZ)
    assert sensor.rate_a_per_s == 12.0
    assert sensor.thickness_kang == pytest.approx(1.234)
    assert sensor.mass_ug_cm2 == pytest.approx(98.5627, abs=1e-4)
    assert t.written == b""


def test_negative_rate_and_thickness_are_twos_complement() -> None:
    drv, _ = _driver(NEGATIVE_RECORD)
    sensor = drv.read().sensors[0]
    assert (sensor.rate_a_per_s, sensor.thickness_kang) == (-10.0, pytest.approx(-0.001))


def test_zero_period_is_a_failed_crystal() -> None:
    drv, _ = _driver(FAILED_RECORD)
    with pytest.raises(ValueUnavailable, match="crystal"):
        drv.read()


def test_bad_checksum_drops_the_frame_and_the_next_one_is_read() -> None:
    bad = RECORD[:-1] + bytes([RECORD[-1] ^ 0x10])
    drv, _ = _driver(bad + RECORD)
    with pytest.raises(ProtocolError, match="checksum"):
        drv.read()
    assert drv.read().sensors[0].frequency_hz == pytest.approx(RECORD_FREQUENCY_HZ)


def test_noise_and_false_syncs_are_skipped() -> None:
    # FF FE followed by address 0 is no header; the real sync hides in the bytes it seemed to cover
    drv, _ = _driver(b"\x00\x13\xff\xfe\x00\xff" + RECORD)
    assert drv.read().sensors[0].rate_a_per_s == 12.0


def test_status_reply_in_the_stream_is_passed_over() -> None:
    drv, _ = _driver(STATUS_REPLY + RECORD)
    assert drv.read().sensors[0].thickness_kang == pytest.approx(1.234)


def test_refusal_is_command_rejected() -> None:
    drv, _ = _driver(exchanges=((STATUS_REQUEST, REFUSED_BAD_DATA),))
    with pytest.raises(CommandRejected, match="bad data"):
        drv.identify()


def test_frame_from_another_address_is_a_protocol_error() -> None:
    other = h("FF FE 02 06 0E 00 00 0C 00 04 D2 20 00 00 00 00 0A FA 4C 99")
    drv, _ = _driver(other)
    with pytest.raises(ProtocolError, match="address 2"):
        drv.read()


def test_silence_is_a_timeout_and_stop_survives_a_dead_link() -> None:
    drv, t = _driver()
    with pytest.raises(ReplyTimeout):
        drv.read()
    t.close()
    drv.stop()  # must not raise


@pytest.mark.parametrize("options", [{"sensors": (1, 2)}, {"sensors": (3,)}, {"address": 0}, {"address": 33}])
def test_bad_configuration_is_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        Tm400(MemoryTransport(), **options)


# -- emulator, byte for byte ---------------------------------------------------------------------


def test_emulator_answers_status_like_the_table() -> None:
    emu = Tm400Emulator(ConstantSource())
    (reply,) = emu.handle(STATUS_REQUEST)
    assert reply[:5] == h("FF FE 01 04 0A") and reply[-1] == checksum(4, reply[5:-1])
    status = decode_status(reply[5:-1])
    assert status.health == (97, 255) and status.crystal_mhz == 6.0


def test_emulator_streams_only_between_start_and_stop() -> None:
    emu = Tm400Emulator(ConstantSource())
    assert emu.stream_frame() is None
    assert emu.handle(START_SENSOR_1) == []  # logging is not acknowledged
    drv, _ = _driver(emu.stream_frame() or b"")
    assert drv.read().sensors[0].frequency_hz == pytest.approx(5_975_830.23, abs=0.05)
    assert emu.handle(STOP_BINARY) == []
    assert emu.stream_frame() is None


def test_emulator_follows_the_manual_string_logging_example() -> None:
    emu = Tm400Emulator(ConstantSource())
    assert emu.handle(h("FF FE 01 05 02 F8 01 FF")) == []
    frame = emu.stream_frame()
    assert frame is not None and frame[:5] == h("FF FE 01 05 2A")  # 2 x (5 + 5 + 11) characters
    data = frame[5:-1]
    assert frame[-1] == checksum(5, data)
    assert float(data[10:21]) == pytest.approx(5_975_830.23)
    assert emu.handle(h("FF FE 01 05 02 00 00 F8")) == []
    assert emu.stream_frame() is None


@pytest.mark.parametrize(
    ("request_bytes", "reply"),
    [
        (h("FF FE 01 04 00 FA"), h("FF FE 01 84 01 01 79")),  # bad checksum: 84+01+01 = 86 -> 79
        (h("FF FE 01 09 00 F6"), h("FF FE 01 89 01 02 73")),  # unknown code 9: 89+01+02 = 8C -> 73
        (h("FF FE 01 06 01 01 F7"), h("FF FE 01 86 01 03 75")),  # one-byte mask: 86+01+03 = 8A -> 75
        (h("FF FE 01 04 01 00 FA"), REFUSED_BAD_DATA),  # status with data
        (h("FF FE 02 04 00 FB"), b""),  # another unit's address: silence
    ],
)
def test_emulator_refuses_like_the_instrument(request_bytes: bytes, reply: bytes) -> None:
    assert b"".join(Tm400Emulator(ConstantSource()).handle(request_bytes)) == reply


def test_emulator_reassembles_split_commands() -> None:
    emu = Tm400Emulator(ConstantSource())
    assert emu.handle(STATUS_REQUEST[:1]) == []
    assert emu.handle(STATUS_REQUEST[1:4]) == []
    assert len(emu.handle(STATUS_REQUEST[4:])) == 1


def test_emulator_drops_a_stale_partial_command(monkeypatch: pytest.MonkeyPatch) -> None:
    emu = Tm400Emulator(ConstantSource())
    assert emu.handle(h("FF FE 01 04 F0")) == []  # promises 240 data bytes that never come
    monkeypatch.setattr(emulator_module, "FRAME_GAP_S", -1.0)  # any pause is longer than the gap
    assert len(emu.handle(STATUS_REQUEST)) == 1


@pytest.mark.parametrize("seed", range(20))
def test_corrupted_frames_keep_their_framing_but_fail(seed: int) -> None:
    emu = Tm400Emulator(ConstantSource(), seed=seed)
    emu.handle(START_SENSOR_1)
    frame = emu.stream_frame() or b""
    bad = emu.corrupt(frame)
    assert bad[:5] == frame[:5] and len(bad) == len(frame) and bad != frame
    with pytest.raises(ProtocolError):
        _driver(bad)[0].read()


def test_empty_replies_are_failed_crystals() -> None:
    emu = Tm400Emulator(ConstantSource())
    (status,) = emu.handle(STATUS_REQUEST)
    assert decode_status(emu.empty_reply(status)[5:-1]).health == (255, 255)
    emu.handle(START_SENSOR_1)
    with pytest.raises(ValueUnavailable):
        _driver(emu.empty_reply(emu.stream_frame() or b""))[0].read()


# -- fuzzing -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_stream_only_raises_driver_errors(data: bytes) -> None:
    drv, _ = _driver(data)
    for _ in range(4):
        try:
            drv.read()
        except InstrumentError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([(1,), (2,)]))
def test_fuzzed_status_replies_only_raise_driver_errors(data: bytes, sensors: tuple[int, ...]) -> None:
    drv, _ = _driver(exchanges=((STATUS_REQUEST, data),), sensors=sensors)
    try:
        drv.identify()
    except InstrumentError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, (1 << 12) - 1), st.binary(max_size=60))
def test_fuzzed_record_and_status_payloads(mask: int, data: bytes) -> None:
    try:
        unpack_record(mask, data)
    except ProtocolError:
        pass
    try:
        decode_status(data).failure_names()
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(1, (1 << 12) - 1), st.data())
def test_records_round_trip(mask: int, data: st.DataObject) -> None:
    values = {}
    for bit, (name, size, signed) in BINARY_FIELDS.items():
        if mask >> bit & 1:
            bits = 8 * size
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            values[name] = data.draw(st.integers(lo, hi))
    packed = pack_record(mask, values)
    assert len(packed) == record_size(mask)
    assert unpack_record(mask, packed) == values


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_requests_never_break_the_emulator(data: bytes) -> None:
    emu = Tm400Emulator(ConstantSource())
    for reply in emu.handle(data):
        assert reply[:2] == b"\xff\xfe" and reply[4] == len(reply) - 6
        assert reply[-1] == checksum(reply[3], reply[5:-1])
    emu.stream_frame()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=8))
def test_well_framed_unknown_requests_get_well_framed_answers(code: int, data: bytes) -> None:
    emu = Tm400Emulator(ConstantSource())
    for reply in emu.handle(encode_frame(1, code, data)):
        assert reply[:3] == h("FF FE 01") and reply[-1] == checksum(reply[3], reply[5:-1])
    frame = emu.stream_frame()
    if emu.logging is None:
        assert frame is None
    else:
        assert frame is not None and frame[3] == emu.logging[0] and frame[-1] == checksum(frame[3], frame[5:-1])


# -- emulator and driver over a real pty ---------------------------------------------------------

PERIOD_S = 0.02


def test_emulator_and_driver_over_a_real_pty() -> None:
    with pty_pair(Tm400Emulator(ConstantSource(), measurement_period_s=PERIOD_S), Tm400) as (server, drv):
        assert drv.identify().startswith("TM-400 at address 1, 6 MHz crystal")
        drv.start()
        times = [drv.read().time_s for _ in range(6)]
        assert times == sorted(times) and times[-1] - times[0] < 1.0
        assert read_some(drv, 5, 5_975_830.23, tolerance_hz=0.05) == (5, [])
        drv.stop()
        deadline = time.monotonic() + 10.0  # generous: the machine may be busy
        while server.instrument.logging is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.instrument.logging is None
        with pytest.raises(ReplyTimeout):
            for _ in range(5):  # whatever was already in flight, then silence
                drv.read()
