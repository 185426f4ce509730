"""Driver tests as ordered (bytes sent, bytes answered) pairs, in the style of PyMeasure's
``expected_protocol``: the test fails on a write the script did not expect, on a reply the driver
left unread (or threw away with ``reset_input_buffer``), and on pairs never reached.

A pair whose sent bytes are ``b""`` is something the instrument sends unprompted (a streamed record):
it is delivered as soon as the pair before it is complete.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from instruments.base import Driver, ProtocolError, ReplyTimeout

D = TypeVar("D", bound=Driver)

Pair = tuple[bytes, bytes]


class ProtocolMismatch(AssertionError):
    """The driver did not follow the scripted exchange."""


class ScriptedTransport:
    """A :class:`~instruments.transport.Transport` that plays a script of (sent, answered) pairs."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        self._pairs: deque[Pair] = deque(pairs)
        self._written = bytearray()  # bytes of the current request written so far
        self._incoming = bytearray()
        self.timeout_s = 0.0
        self.closed = False
        self._deliver_unprompted()

    def _deliver_unprompted(self) -> None:
        while self._pairs and self._pairs[0][0] == b"":
            self._incoming += self._pairs.popleft()[1]

    def _unread(self, action: str) -> None:
        if self._incoming:
            raise ProtocolMismatch(f"{action} while reply bytes were left unread: {bytes(self._incoming)!r}")

    def write(self, data: bytes) -> None:
        self._unread(f"wrote {bytes(data)!r}")
        self._written += data
        if not self._pairs:
            raise ProtocolMismatch(f"unexpected write {bytes(self._written)!r}: the script is finished")
        expected = self._pairs[0][0]
        if not expected.startswith(bytes(self._written)):
            raise ProtocolMismatch(f"unexpected write {bytes(self._written)!r}, expected {expected!r}")
        if bytes(self._written) == expected:
            self._written.clear()
            self._incoming += self._pairs.popleft()[1]
            if not self._incoming:
                self._deliver_unprompted()

    def read(self, size: int) -> bytes:
        out = bytes(self._incoming[:size])
        del self._incoming[:size]
        if not self._incoming:
            self._deliver_unprompted()
        return out

    def read_exact(self, size: int) -> bytes:
        if len(self._incoming) < size:
            got = self.read(len(self._incoming))
            raise ReplyTimeout(f"expected {size} bytes, got {len(got)} {got[:20]!r}")
        return self.read(size)

    def read_until(self, terminator: bytes, max_size: int) -> bytes:
        idx = self._incoming.find(terminator, 0, max_size)
        if idx < 0:
            if len(self._incoming) >= max_size:
                raise ProtocolError(f"no {terminator!r} within {max_size} bytes")
            got = self.read(len(self._incoming))
            raise ReplyTimeout(f"no {terminator!r} before timeout, got {got[:20]!r}")
        return self.read(idx + len(terminator))

    def reset_input_buffer(self) -> None:
        self._unread("input buffer reset")

    def close(self) -> None:
        self.closed = True

    def check_done(self) -> None:
        """Every pair was exchanged and every answered byte read."""
        if self._written:
            raise ProtocolMismatch(f"incomplete write {bytes(self._written)!r}")
        self._unread("script ended")
        if self._pairs:
            raise ProtocolMismatch(f"{len(self._pairs)} pair(s) never exchanged, next {self._pairs[0]!r}")


@contextmanager
def expected_protocol(driver_class: type[D], pairs: Sequence[Pair], **options: Any) -> Iterator[D]:
    """A driver on a scripted transport; on leaving the block the whole script must have been played."""
    transport = ScriptedTransport(pairs)
    driver = driver_class(transport, **options)
    yield driver
    transport.check_done()


def h(text: str) -> bytes:
    """Bytes from the hex notation of the manuals: ``h("02 01 40 40")``."""
    return bytes.fromhex(text)
