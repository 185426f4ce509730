"""The transport seam: the only place a port name becomes an open byte stream.

Drivers receive a :class:`Transport`; tests hand them a scripted one, the app a pyserial one
(``serial_for_url`` also understands ``loop://`` and ``spy://``). pyserial's exceptions are
translated here so that drivers only ever see :mod:`instruments.base` errors.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import Protocol

import serial

from instruments import base

try:  # POSIX: tcflush and friends raise termios.error, not OSError, on a dead pty
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, TypeError, termios.error)
except ImportError:  # pragma: no cover - Windows
    _PORT_ERRORS = (serial.SerialException, OSError, TypeError)
#: opening also refuses a malformed URL or setting with ValueError
_OPEN_ERRORS: tuple[type[BaseException], ...] = (*_PORT_ERRORS, ValueError)


class Transport(Protocol):
    """A byte stream with timeouts."""

    def write(self, data: bytes) -> None: ...

    def read(self, size: int) -> bytes:
        """Return up to ``size`` bytes, fewer only if the timeout ran out."""
        ...

    def read_exact(self, size: int) -> bytes:
        """Return exactly ``size`` bytes or raise :class:`~instruments.base.ReplyTimeout`."""
        ...

    def read_until(self, terminator: bytes, max_size: int) -> bytes:
        """Return bytes up to and including ``terminator``; raise ReplyTimeout if it never came."""
        ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...

    @property
    def timeout_s(self) -> float: ...


class SerialTransport:
    """pyserial behind the seam; every pyserial failure becomes LinkLost or ReplyTimeout."""

    def __init__(self, url: str, baudrate: int, timeout_s: float = 0.5) -> None:
        self.url = url
        self._timeout_s = timeout_s
        try:
            self._port = serial.serial_for_url(
                url, baudrate=baudrate, timeout=timeout_s, write_timeout=max(timeout_s, 1.0), exclusive=None
            )
        except _OPEN_ERRORS as exc:
            raise base.LinkLost(f"cannot open {url}: {_one_line(exc)}") from None

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except _PORT_ERRORS as exc:
            raise base.LinkLost(f"{self.url}: write failed: {_one_line(exc)}") from None

    def read(self, size: int) -> bytes:
        try:
            return bytes(self._port.read(size))
        except _PORT_ERRORS as exc:  # TypeError: pyserial's fd was closed under it
            raise base.LinkLost(f"{self.url}: read failed: {_one_line(exc)}") from None

    def read_exact(self, size: int) -> bytes:
        deadline = time.monotonic() + self._timeout_s
        chunks: list[bytes] = []
        missing = size
        while missing > 0:
            chunk = self.read(missing)
            if chunk:
                chunks.append(chunk)
                missing -= len(chunk)
            elif time.monotonic() >= deadline:
                got = b"".join(chunks)
                raise base.ReplyTimeout(f"{self.url}: expected {size} bytes, got {len(got)} {got[:20]!r}")
        return b"".join(chunks)

    def read_until(self, terminator: bytes, max_size: int) -> bytes:
        deadline = time.monotonic() + self._timeout_s
        buf = bytearray()
        while True:
            try:
                chunk = self._port.read_until(terminator, max_size - len(buf))
            except _PORT_ERRORS as exc:
                raise base.LinkLost(f"{self.url}: read failed: {_one_line(exc)}") from None
            buf += chunk
            if buf.endswith(terminator):
                return bytes(buf)
            if len(buf) >= max_size:
                raise base.ProtocolError(f"{self.url}: no {terminator!r} within {max_size} bytes")
            if time.monotonic() >= deadline:
                raise base.ReplyTimeout(f"{self.url}: no {terminator!r} before timeout, got {bytes(buf[:20])!r}")

    def reset_input_buffer(self) -> None:
        try:
            self._port.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise base.LinkLost(f"{self.url}: {_one_line(exc)}") from None

    def close(self) -> None:
        try:
            self._port.close()
        except _PORT_ERRORS:
            pass


def open_transport(url: str, baudrate: int, timeout_s: float = 0.5) -> SerialTransport:
    """Open a real port, a pty path or any pyserial URL (``loop://``, ``spy://``, ``socket://``)."""
    return SerialTransport(url, baudrate, timeout_s)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class ScriptMismatch(AssertionError):
    """A driver wrote something other than the next scripted request: the test's failure, not a link fault."""


class MemoryTransport:
    """An in-memory transport: scripted exchanges in, written bytes recorded.

    Used by byte-table tests, fuzzing and the parse-throughput benchmark. ``exchanges`` are
    (bytes sent, bytes answered) pairs played in order: a write that is not the next request raises
    :class:`ScriptMismatch`, so a driver that reorders, repeats or adds a command is caught.
    Without exchanges every write is only recorded; ``incoming`` (or :meth:`feed`) is a raw stream.
    """

    def __init__(
        self, incoming: bytes = b"", timeout_s: float = 0.0, exchanges: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        self._incoming = bytearray(incoming)
        self.written = bytearray()
        self._exchanges: deque[tuple[bytes, bytes]] = deque(exchanges)
        self._scripted = bool(self._exchanges)
        self._request = bytearray()  # the part of the next request written so far
        self._timeout_s = timeout_s
        self.closed = False

    def expect(self, sent: bytes, answered: bytes) -> None:
        """Append one exchange to the script."""
        self._exchanges.append((sent, answered))
        self._scripted = True

    @property
    def remaining(self) -> int:
        """Scripted exchanges not reached yet."""
        return len(self._exchanges)

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    def feed(self, data: bytes) -> None:
        self._incoming += data

    def write(self, data: bytes) -> None:
        if self.closed:
            raise base.LinkLost("memory transport closed")
        self.written += data
        if not self._scripted:
            return
        self._request += data
        if not self._exchanges:
            raise ScriptMismatch(f"unexpected write {bytes(self._request)!r}: the script is finished")
        sent, answered = self._exchanges[0]
        if not sent.startswith(bytes(self._request)):
            raise ScriptMismatch(f"unexpected write {bytes(self._request)!r}, expected {sent!r}")
        if len(self._request) == len(sent):
            self._request.clear()
            self._exchanges.popleft()
            self._incoming += answered

    def read(self, size: int) -> bytes:
        if self.closed:
            raise base.LinkLost("memory transport closed")
        out = bytes(self._incoming[:size])
        del self._incoming[:size]
        return out

    def read_exact(self, size: int) -> bytes:
        if len(self._incoming) < size:
            got = self.read(len(self._incoming))
            raise base.ReplyTimeout(f"expected {size} bytes, got {len(got)} {got[:20]!r}")
        return self.read(size)

    def read_until(self, terminator: bytes, max_size: int) -> bytes:
        idx = self._incoming.find(terminator, 0, max_size)
        if idx < 0:
            if len(self._incoming) >= max_size:
                raise base.ProtocolError(f"no {terminator!r} within {max_size} bytes")
            got = self.read(len(self._incoming))
            raise base.ReplyTimeout(f"no {terminator!r} before timeout, got {got[:20]!r}")
        return self.read(idx + len(terminator))

    def reset_input_buffer(self) -> None:
        self._incoming.clear()

    def close(self) -> None:
        self.closed = True
