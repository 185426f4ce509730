"""A port opened late delivers live data, never a backlog (issue 11, mismatch 6).

A real board's UART or USB CDC delivers nothing from before the port was opened, and what a client
left unread when it closed the port is gone. Clients (the official openQCM GUI among them) read the
first bytes after opening as live data. One test per protocol, on a pty and on the TCP fallback.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable

import pytest

from instruments.base import ReplyTimeout
from instruments.emulators.base import EmulatorServer, ServerTransport, serve
from instruments.registry import available_protocols, driver_class, emulator_class
from instruments.transport import Transport, open_transport

PERIOD_S = 0.05
BASE_HZ = 5_000_000.0
HZ_PER_S = 1000.0  # the crystal's frequency tells the emulator time it was measured at
STREAMING = ("line", "openqcm", "tm400")
REQUEST_REPLY = sorted(set(available_protocols()) - set(STREAMING))
TRANSPORTS = [ServerTransport.PTY, ServerTransport.TCP]
OPTIONS = {"openqcm": {"gate_s": PERIOD_S}, "line": {"max_gap_s": 1.0}}


class ClockSource:
    """A crystal whose frequency rises 1000 Hz per second of emulator time."""

    sensor_count = 1

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        return BASE_HZ + HZ_PER_S * elapsed_s, 0.0, 0.0


class Recording:
    """A transport that remembers what was written through it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data
        self.inner.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class RawClient:
    """A client that opens the port the way a Java or C program does: no flush on open (pyserial
    flushes the input when it opens a tty, which would hide a backlog)."""

    def __init__(self, port: str, timeout_s: float = 1.0) -> None:
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._fd = -1
        if port.startswith("socket://"):
            host, _, number = port.removeprefix("socket://").rpartition(":")
            self._sock = socket.create_connection((host, int(number)), timeout=timeout_s)
        else:
            self._fd = os.open(port, os.O_RDWR | os.O_NOCTTY)

    def _fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else self._fd

    def read(self, size: int) -> bytes:
        ready, _, _ = select.select([self._fileno()], [], [], self.timeout_s)
        if not ready:
            return b""
        return self._sock.recv(size) if self._sock is not None else os.read(self._fd, size)

    def read_exact(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            chunk = self.read(size - len(out))
            if not chunk:
                raise ReplyTimeout(f"expected {size} bytes, got {out!r}")
            out += chunk
        return out

    def read_until(self, terminator: bytes, max_size: int) -> bytes:
        out = b""
        while not out.endswith(terminator) and len(out) < max_size:
            out += self.read_exact(1)
        return out

    def write(self, data: bytes) -> None:
        if self._sock is not None:
            self._sock.sendall(data)
        else:
            os.write(self._fd, data)

    def reset_input_buffer(self) -> None:
        raise AssertionError("this client never flushes")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        elif self._fd >= 0:
            os.close(self._fd)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _server(protocol: str, transport: ServerTransport) -> EmulatorServer:
    emulator = emulator_class(protocol)(ClockSource(), measurement_period_s=PERIOD_S)
    return serve(emulator, transport=transport, baud=None).start()


def _driver(protocol: str, port: str, transport: Transport | None = None):
    info = driver_class(protocol).info
    return driver_class(protocol)(
        transport or open_transport(port, info.default_baud, timeout_s=1.0), **OPTIONS.get(protocol, {})
    )


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.value)
@pytest.mark.parametrize("protocol", STREAMING)
def test_streaming_port_opened_late_starts_with_a_live_record(protocol: str, transport: ServerTransport) -> None:
    server = _server(protocol, transport)
    try:
        if protocol == "tm400":  # logging is started by a client, which then leaves without stopping it
            first = _driver(protocol, server.port)
            first.identify()
            first.start()
            first.read()
            first.transport.close()
        emulator = server.instrument
        wait_for(lambda: emulator.elapsed_s() > 12 * PERIOD_S, "a dozen periods with nobody listening")
        opened_at_s = emulator.elapsed_s()
        client = RawClient(server.port)
        try:
            record = _driver(protocol, server.port, client).read()  # no start(), no flush
        finally:
            client.close()
        measured_at_s = (record.sensors[0].frequency_hz - BASE_HZ) / HZ_PER_S
        # a backlog would start with a record from the first periods after start-up
        assert measured_at_s >= opened_at_s - 1.5 * PERIOD_S, (measured_at_s, opened_at_s)
    finally:
        server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.value)
@pytest.mark.parametrize("protocol", REQUEST_REPLY)
def test_reply_left_unread_by_a_client_is_not_read_by_the_next(protocol: str, transport: ServerTransport) -> None:
    server = _server(protocol, transport)
    try:
        info = driver_class(protocol).info
        spy = Recording(open_transport(server.port, info.default_baud, timeout_s=1.0))
        first = _driver(protocol, server.port, spy)
        first.identify()  # learn this protocol's identify request...
        request = bytes(spy.written)
        sent_before = server.replies_sent
        spy.write(request)
        wait_for(lambda: server.replies_sent > sent_before, "the reply to the request left unread")
        spy.close()  # ...and leave with its reply unread
        wait_for(lambda: not getattr(server, "client_connected", False), "the server to see the client go")
        late = RawClient(server.port, timeout_s=0.3)
        try:
            assert late.read(64) == b"", "a stale reply was delivered to a client that asked nothing"
        finally:
            late.close()
        second = _driver(protocol, server.port)
        try:
            assert second.identify()
        finally:
            second.close()
    finally:
        server.stop()
