"""The expected_protocol helper fails where PyMeasure's does: an unexpected write, a reply left
unread, and a script not played to the end."""

from __future__ import annotations

import pytest

from instruments.openqcm import OpenQcm
from instruments.sqm160 import Sqm160
from tests.instruments.protocol import ProtocolMismatch, expected_protocol


def test_a_played_script_passes() -> None:
    with expected_protocol(Sqm160, [(b"!#@O7", b"!0AMON Ver 4.13Uw")]) as drv:
        assert drv.identify() == "MON Ver 4.13"


def test_an_unexpected_write_fails() -> None:
    with (
        pytest.raises(ProtocolMismatch, match="unexpected write"),
        expected_protocol(Sqm160, [(b"!#JO8", b"!%A6v\x86")]) as drv,
    ):
        drv.identify()


def test_a_reply_left_unread_fails() -> None:
    # the reply announces 2 more bytes than it has room for: the driver reads less than was sent
    with (
        pytest.raises(ProtocolMismatch, match="left unread"),
        expected_protocol(Sqm160, [(b"!#@O7", b"!0AMON Ver 4.13Uw" + b"\x00\x00")]) as drv,
    ):
        drv.identify()


def test_pairs_never_exchanged_fail() -> None:
    with (
        pytest.raises(ProtocolMismatch, match="never exchanged"),
        expected_protocol(Sqm160, [(b"!#@O7", b"!0AMON Ver 4.13Uw"), (b"!#JO8", b"!%A6v\x86")]) as drv,
    ):
        drv.identify()


def test_unprompted_records_are_delivered_in_order() -> None:
    records = [(b"", b"RAWMONITOR5975830_253\xff"), (b"", b"RAWMONITOR5975831_252\xff")]
    with expected_protocol(OpenQcm, records) as drv:
        assert [drv.read().sensors[0].frequency_hz for _ in range(2)] == [5975830.0, 5975831.0]
