"""Every driver against its emulator over a real pty, with the faults a real link shows:
a checksum storm, line noise, empty ('no value') replies, a stall, and the port vanishing.
One test per fault, run for every protocol, so they all meet the same bar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from instruments.base import (
    Driver,
    LinkLost,
    ProtocolError,
    ReplyTimeout,
    ValueUnavailable,
)
from instruments.emulators.base import ConstantSource, EmulatedInstrument, Faults, PtyServer
from instruments.registry import available_protocols, driver_class, emulator_class
from instruments.transport import open_transport
from tests.support.pty import pty_pair, read_some

FREQUENCY_HZ = 5_975_830.0
PERIOD_S = 0.03  # streaming instruments: a frame every 30 ms keeps the tests short
PROTOCOLS = sorted(available_protocols())
#: driver options that make slow-gated instruments wait for as long as their (fast) emulator takes
FAST = {"openqcm": {"gate_s": PERIOD_S}, "line": {"max_gap_s": 0.3}}


@contextmanager
def served(protocol: str, link: Path | None = None) -> Iterator[tuple[PtyServer, Driver]]:
    """The protocol's emulator and driver on a pty, the driver identified and started."""
    emulator = emulator_class(protocol)(ConstantSource(FREQUENCY_HZ), measurement_period_s=PERIOD_S)
    with pty_pair(emulator, driver_class(protocol), link=link, **FAST.get(protocol, {})) as (server, driver):
        driver.identify()
        driver.start()
        yield server, driver


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_checksum_storm_drops_frames_but_readings_get_through(protocol: str) -> None:
    with served(protocol) as (server, driver):
        server.faults = Faults(corrupt_checksum=0.5)
        good, errors = read_some(driver, 50, FREQUENCY_HZ, tolerance_hz=1.0)
        assert good >= 5
        assert sum(isinstance(e, ProtocolError | ReplyTimeout) for e in errors) >= 5


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_line_noise_only_raises_driver_errors(protocol: str) -> None:
    with served(protocol) as (server, driver):
        server.faults = Faults(noise_bytes=0.5)
        good, _ = read_some(driver, 40, FREQUENCY_HZ, tolerance_hz=1.0)
        assert good >= 5


@pytest.mark.parametrize(
    "protocol", [p for p in PROTOCOLS if emulator_class(p).empty_reply is not EmulatedInstrument.empty_reply]
)
def test_empty_replies_are_value_unavailable_not_a_lost_link(protocol: str) -> None:
    with served(protocol) as (server, driver):
        server.faults = Faults(empty_reply=1.0)
        with pytest.raises(ValueUnavailable):
            for _ in range(5):
                driver.read()
        server.faults = Faults()
        good, _ = read_some(driver, 10, FREQUENCY_HZ, tolerance_hz=1.0)
        assert good >= 5


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stall_times_out_then_recovers(protocol: str) -> None:
    with served(protocol) as (server, driver):
        driver.read()
        server.stall_for(1.0)
        started = time.monotonic()
        with pytest.raises(ReplyTimeout):
            for _ in range(20):
                driver.read()
        while True:
            try:
                assert driver.read().sensors[0].frequency_hz == pytest.approx(FREQUENCY_HZ, abs=1.0)
                break
            except (ReplyTimeout, ProtocolError):
                assert time.monotonic() - started < 4.0, "no recovery after the stall"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_vanished_port_is_link_lost_and_the_link_follows_it_back(protocol: str, tmp_path: Path) -> None:
    with served(protocol, link=tmp_path / "tty") as (server, driver):
        driver.read()
        server.disappear()
        with pytest.raises(LinkLost):
            for _ in range(10):
                driver.read()
        server.reappear()
        info = driver_class(protocol).info
        again = driver_class(protocol)(
            open_transport(server.port, info.default_baud, timeout_s=0.3), **FAST.get(protocol, {})
        )
        try:
            again.identify()
            again.start()
            good, _ = read_some(again, 5, FREQUENCY_HZ, tolerance_hz=1.0)
            assert good >= 3
        finally:
            again.close()
