"""Serving an :class:`~instruments.emulators.instrument.EmulatedInstrument` until stopped: the thread,
the serving loop, and the faults applied to each reply. The endpoint is a subclass's job
(:class:`~instruments.emulators.pty_server.PtyServer`, :class:`~instruments.emulators.tcp_server.TcpServer`).
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod

from instruments.emulators.faults import Faults
from instruments.emulators.instrument import EmulatedInstrument


class EmulatorServer(ABC):
    """Serves an :class:`EmulatedInstrument` until stopped; a subclass supplies the endpoint.

    Like a real port, the endpoint delivers nothing from before a client opened it: streamed frames
    are not produced while no client is connected, and whatever was still queued for a client that
    left is discarded (a UART or USB CDC does not buffer readings for a host that is not there).
    """

    def __init__(
        self,
        instrument: EmulatedInstrument,
        faults: Faults | None = None,
        seed: int = 0,
        baud: int | None = None,
        latency_s: float = 0.002,
    ) -> None:
        self.instrument = instrument
        #: pace replies as a real serial line at this baud rate would (None: as fast as the link goes)
        self.baud = baud
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.replies_sent = 0
        self.requests_seen = 0
        #: stream periods that passed with no client connected (their frames were never made)
        self.frames_skipped = 0
        #: times a client connected
        self.connections = 0
        self._stalled_until = 0.0
        self._client = False

    @property
    @abstractmethod
    def port(self) -> str:
        """What a client should open (a pty path, a stable link, or a pyserial URL)."""

    @property
    def client_connected(self) -> bool:
        """Whether a client has the port open now."""
        return self._client

    def start(self) -> EmulatorServer:
        self._open_endpoint()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"emulator-{type(self.instrument).__name__}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._close_endpoint()

    def stall_for(self, seconds: float) -> None:
        """The device goes silent for a while (it neither answers nor streams), then resumes."""
        self._stalled_until = time.monotonic() + seconds

    def disappear(self) -> None:
        """The device vanishes: the port closes, a client's next read or write fails."""
        self._close_endpoint(final=False)

    def reappear(self) -> None:
        """The device comes back (a pty on a new path, which the link follows; TCP on the same port)."""
        self._open_endpoint()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what an endpoint provides ------------------------------------------------------------

    @abstractmethod
    def _open_endpoint(self) -> None: ...

    @abstractmethod
    def _close_endpoint(self, final: bool = True) -> None: ...

    @abstractmethod
    def _poll(self, timeout_s: float) -> tuple[bool, bytes]:
        """Wait up to ``timeout_s`` for request bytes; return (a client is connected, bytes read)."""

    @abstractmethod
    def _discard_pending(self) -> None:
        """Drop bytes queued towards a client that is gone."""

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        period = self.instrument.stream_period_s
        next_frame = time.monotonic() + (period or 0.0)
        while not self._stop.is_set():
            timeout = 0.05
            if period and self._client:
                timeout = max(0.0, min(timeout, next_frame - time.monotonic()))
            connected, data = self._poll(timeout)
            if connected != self._client:
                if connected:
                    self._client = True
                    self.connections += 1
                    self.instrument.client_opened()
                    # the first frame comes one period after the port was opened, freshly measured
                    next_frame = time.monotonic() + (period or 0.0)
                else:
                    # what the client left unread is gone before anyone can see it has left
                    self._discard_pending()
                    self._client = False
            if not connected:
                if period and time.monotonic() >= next_frame:
                    missed = int((time.monotonic() - next_frame) / period) + 1
                    self.frames_skipped += missed
                    next_frame += missed * period
                continue
            if data:
                self.requests_seen += 1
                replies = self.instrument.handle(data)
                if replies and self.baud:
                    size = len(data) + sum(len(r) for r in replies)
                    self._stop.wait(size * 10.0 / self.baud + self.latency_s)
                for reply in replies:
                    self._send(reply)
            if period and time.monotonic() >= next_frame:
                next_frame += period
                if next_frame < time.monotonic():  # fell behind (stall): do not burst
                    next_frame = time.monotonic() + period
                frame = self.instrument.stream_frame()
                if frame:
                    self._send(frame)

    def _send(self, frame: bytes) -> None:
        f = self.faults
        r = self._rng.random
        if time.monotonic() < self._stalled_until:
            return
        if f.stall_s > 0:
            self._stop.wait(f.stall_s)
        if f.drop_reply and r() < f.drop_reply:
            return
        if f.empty_reply and r() < f.empty_reply:
            frame = self.instrument.empty_reply(frame)
        elif f.corrupt_checksum and r() < f.corrupt_checksum:
            frame = self.instrument.corrupt(frame)
        if f.noise_bytes and r() < f.noise_bytes:
            noise = bytes(self._rng.randrange(256) for _ in range(self._rng.randrange(1, 12)))
            frame = noise + frame if r() < 0.5 else frame + noise
        if frame:
            self._write(frame)
            self.replies_sent += 1
