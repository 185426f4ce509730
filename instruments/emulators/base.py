"""Serving an emulated instrument on a pseudo-terminal, with faults on demand.

An :class:`EmulatedInstrument` turns request bytes into reply bytes (or produces a stream on a
timer); an :class:`EmulatorServer` owns the endpoint and a thread, and applies the faults a real link
shows: corrupt checksums, line noise, dropped or empty replies, stalls, and the port disappearing.
The endpoint is a pty (:class:`PtyServer`) or, where there is none, loopback TCP (:class:`TcpServer`).
Emulators never import Qt or the application: the reactor arrives as a :class:`SignalSource`.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import random
import select
import socket
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class SignalSource(Protocol):
    """What an emulator measures: the simulated reactor, or anything else with this shape."""

    sensor_count: int

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ since start, rate Å/s) of a sensor (0-based) at emulator time."""
        ...


class ConstantSource:
    """A quiet crystal (tests and the 'no reactor' case): fixed frequency, no film."""

    def __init__(self, frequency_hz: float = 5_975_830.23, sensors: int = 1) -> None:
        self.frequency_hz = frequency_hz
        self.sensor_count = sensors

    def sensor_state(
        self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float, tooling_pct: float
    ) -> tuple[float, float, float]:
        return self.frequency_hz - 1000.0 * sensor, 0.0, 0.0


@dataclass
class Faults:
    """Fault probabilities per reply/frame; change them at any time (e.g. from a test)."""

    corrupt_checksum: float = 0.0
    noise_bytes: float = 0.0
    drop_reply: float = 0.0
    empty_reply: float = 0.0
    #: every reply is held back this long (a stalled device); 0 = off
    stall_s: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """``"corrupt=0.1,noise=0.05,drop=0.02,empty=0.02,stall=3"`` (the CLI's --faults)."""
        names = {
            "corrupt": "corrupt_checksum",
            "noise": "noise_bytes",
            "drop": "drop_reply",
            "empty": "empty_reply",
            "stall": "stall_s",
        }
        out = cls()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, value = part.partition("=")
            if key not in names:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(names)}")
            try:
                setattr(out, names[key], float(value))
            except ValueError:
                raise ValueError(f"fault {key!r} needs a number, got {value!r}") from None
        return out


@dataclass
class FilmSettings:
    """The film parameters an instrument holds (set over the wire on some models)."""

    name: str = "LIGL"
    density_g_cm3: float = 1.27
    z_ratio: float = 1.0
    tooling_pct: float = 100.0


class EmulatedInstrument(ABC):
    """One instrument's behaviour; the server handles the pty, timing and faults."""

    #: seconds between streamed frames (None for instruments that only answer)
    stream_period_s: float | None = None

    def __init__(self, source: SignalSource, *, seed: int = 0, measurement_period_s: float = 0.1) -> None:
        self.source = source
        self.rng = random.Random(seed)
        self.film = FilmSettings()
        self.measurement_period_s = measurement_period_s
        self._t0 = time.monotonic()
        self._zero_kang = [0.0] * max(source.sensor_count, 1)
        self._cache: dict[int, tuple[int, tuple[float, float, float]]] = {}
        self._lock = threading.Lock()
        #: request bytes not yet consumed (frames may arrive split, several at once, or in noise)
        self._buf = bytearray()

    def _skip_to(self, sync: bytes) -> bool:
        """Drop line noise before the next sync byte; False (buffer emptied) when there is none."""
        start = self._buf.find(sync)
        if start < 0:
            self._buf.clear()
            return False
        del self._buf[:start]
        return True

    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    def share_clock(self, other: EmulatedInstrument) -> None:
        """Run on ``other``'s clock: two emulators of one reactor (an instrument and the tool's valve
        line) then see each pulse at the same moment."""
        self._t0 = other._t0

    def measure(self, sensor: int) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ, rate Å/s) of a sensor (0-based), refreshed once per
        measurement period like a real unit (polling faster returns the same values)."""
        with self._lock:
            k = int(self.elapsed_s() / self.measurement_period_s) if self.measurement_period_s > 0 else -1
            hit = self._cache.get(sensor)
            if hit is not None and hit[0] == k and k >= 0:
                return hit[1]
            t = k * self.measurement_period_s if k >= 0 else self.elapsed_s()
            f, thick, rate = self.source.sensor_state(
                t, sensor, self.film.density_g_cm3, self.film.z_ratio, self.film.tooling_pct
            )
            value = (f, thick - self._zero_kang[sensor], rate)
            self._cache[sensor] = (k, value)
            return value

    def zero_thickness(self) -> None:
        for s in range(len(self._zero_kang)):
            _, thick, _ = self.measure(s)
            self._zero_kang[s] += thick
        self._cache.clear()

    @abstractmethod
    def handle(self, data: bytes) -> list[bytes]:
        """Consume request bytes (possibly partial frames); return complete replies to send."""

    def stream_frame(self) -> bytes | None:
        """The next streamed frame, for instruments with a ``stream_period_s``."""
        return None

    def client_opened(self) -> None:  # noqa: B027 - a hook most instruments need not override
        """A client opened the port: a stream starts from now (nothing from before is sent)."""

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with its checksum broken (default: last byte changed)."""
        if not frame:
            return frame
        return frame[:-1] + bytes([(frame[-1] + 1 + self.rng.randrange(200)) % 256 or 1])

    def empty_reply(self, frame: bytes) -> bytes:
        """What the instrument sends when it has no value (protocol-specific); default: nothing."""
        return b""


#: forces how emulators are served: "pty" or "tcp" (default: a pty where ``os.openpty`` exists)
TRANSPORT_ENV = "QCM_EMULATOR_TRANSPORT"


class ServerTransport(enum.Enum):
    """How an emulated instrument is offered to clients."""

    PTY = "pty"
    TCP = "tcp"


def default_transport() -> ServerTransport:
    """The pty where the OS has one (POSIX), else loopback TCP (Windows); ``QCM_EMULATOR_TRANSPORT``
    forces either, so the TCP path is exercised on Linux too."""
    forced = os.environ.get(TRANSPORT_ENV, "").strip().lower()
    if forced:
        try:
            return ServerTransport(forced)
        except ValueError:
            raise ValueError(f"{TRANSPORT_ENV}={forced!r}: use 'pty' or 'tcp'") from None
    return ServerTransport.PTY if hasattr(os, "openpty") else ServerTransport.TCP


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


class PtyServer(EmulatorServer):
    """Serves an :class:`EmulatedInstrument` on a pty (POSIX).

    The server does not keep the pty's slave side open itself: the master then reports a hang-up
    while no client has the port open, which is how the server knows nobody is listening.
    ``link`` gives a stable path (a symlink to the current pty) that survives
    :meth:`disappear` / :meth:`reappear`, like ``/dev/serial/by-id`` for a re-plugged USB unit.
    """

    def __init__(
        self,
        instrument: EmulatedInstrument,
        faults: Faults | None = None,
        link: str | Path | None = None,
        seed: int = 0,
        baud: int | None = None,
        latency_s: float = 0.002,
    ) -> None:
        super().__init__(instrument, faults=faults, seed=seed, baud=baud, latency_s=latency_s)
        self.link = Path(link) if link else None
        self._master = -1
        self.slave_path = ""
        self._fd_lock = threading.Lock()

    @property
    def port(self) -> str:
        """What a client should open: the stable link if any, else the pty path."""
        return str(self.link) if self.link else self.slave_path

    def _open_endpoint(self) -> None:
        import tty  # POSIX only

        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: binary frames pass unchanged
        tty.setraw(master)
        os.set_blocking(master, False)
        path = os.ttyname(slave)
        os.close(slave)  # the settings stay with the pty; a client's open is now visible as "no hang-up"
        with self._fd_lock:
            self._master = master
            self.slave_path = path
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.slave_path)
            tmp.replace(self.link)

    def _close_endpoint(self, final: bool = True) -> None:
        with self._fd_lock:
            if self._master >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._master)
            self._master = -1
        if final and self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def _poll(self, timeout_s: float) -> tuple[bool, bytes]:
        # the lock is held while polling and reading so that disappear() cannot close the fd under
        # us: its number could be reused at once (by the new pty or by a client's open)
        with self._fd_lock:
            master = self._master
            if master >= 0:
                hung_up, data = self._poll_master(master, timeout_s)
        if master < 0:
            self._stop.wait(0.02)
            return False, b""
        if hung_up:
            self._stop.wait(0.02)  # a hang-up polls as ready at once: do not spin
            return False, b""
        return True, data

    @staticmethod
    def _poll_master(master: int, timeout_s: float) -> tuple[bool, bytes]:
        """(nobody has the slave open, bytes read). With no slave open, the master polls readable
        and a read fails with EIO (or reads end-of-file); select, not poll: macOS cannot poll ttys."""
        try:
            ready, _, _ = select.select([master], [], [], timeout_s)
        except (OSError, ValueError):
            return True, b""
        if not ready:
            return False, b""
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            return False, b""
        except OSError:
            return True, b""
        return not data, data

    def _discard_pending(self) -> None:
        import termios

        with self._fd_lock:
            master, path = self._master, self.slave_path
            if master < 0:
                return
            # What the client left unread sits in two places: bytes still on the master's side
            # (TCOFLUSH on the master), and bytes already moved to the slave's input queue, which only
            # a flush through the slave reaches; opening it briefly is what a tty driver's close does.
            # Requests are left alone: a new client may already have opened the port and written one.
            with contextlib.suppress(OSError, termios.error):
                termios.tcflush(master, termios.TCOFLUSH)
            try:
                slave = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError:
                return
            try:
                termios.tcflush(slave, termios.TCIFLUSH)
            except (OSError, termios.error):
                pass
            finally:
                os.close(slave)

    def _write(self, data: bytes) -> None:
        with self._fd_lock:
            master = self._master
        if master < 0:
            return
        view = memoryview(data)
        deadline = time.monotonic() + 0.5
        while view and time.monotonic() < deadline:
            try:
                n = os.write(master, view)
                view = view[n:]
            except BlockingIOError:
                time.sleep(0.002)  # the client is not reading: the pty buffer is full
            except OSError as exc:
                if exc.errno not in (errno.EIO, errno.EBADF):
                    log.warning("emulator write failed: %s", exc)
                return


class TcpServer(EmulatorServer):
    """Serves an :class:`EmulatedInstrument` on a loopback TCP port, one client at a time.

    The fallback where there is no pty (Windows): clients connect through pyserial's
    ``socket://127.0.0.1:PORT``, so the app's driver code is the same. Only 127.0.0.1 is bound: the
    emulator is never reachable from the network. A second client is refused while one is connected,
    as a serial port opened exclusively would be.
    """

    HOST = "127.0.0.1"

    def __init__(
        self,
        instrument: EmulatedInstrument,
        faults: Faults | None = None,
        seed: int = 0,
        baud: int | None = None,
        latency_s: float = 0.002,
        tcp_port: int = 0,
    ) -> None:
        super().__init__(instrument, faults=faults, seed=seed, baud=baud, latency_s=latency_s)
        self.tcp_port = tcp_port
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._sock_lock = threading.Lock()

    @property
    def port(self) -> str:
        return f"socket://{self.HOST}:{self.tcp_port}"

    def _open_endpoint(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if os.name != "nt":  # on Windows SO_REUSEADDR would let another program take the port too
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.HOST, self.tcp_port))
        except OSError:
            listener.close()
            raise
        listener.listen(1)
        listener.setblocking(False)
        with self._sock_lock:
            self._listener = listener
            self.tcp_port = listener.getsockname()[1]

    def _close_endpoint(self, final: bool = True) -> None:
        with self._sock_lock:
            for sock in (self._conn, self._listener):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            self._conn = self._listener = None

    def _drop_client(self) -> None:
        with self._sock_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def _poll(self, timeout_s: float) -> tuple[bool, bytes]:
        with self._sock_lock:  # held while waiting, so disappear() cannot close a socket under select
            listener, conn = self._listener, self._conn
            ready: list[socket.socket] = []
            if listener is not None:
                watched = [listener] if conn is None else [listener, conn]
                try:
                    ready, _, _ = select.select(watched, [], [], timeout_s)
                except (OSError, ValueError):
                    ready = []
        if listener is None:
            self._stop.wait(0.02)
            return False, b""
        data = b""
        if conn is not None and conn in ready:
            try:
                data = conn.recv(4096)
            except BlockingIOError:
                data = b""
            except OSError:
                data = b""
            if not data and conn is not None and self._closed_by_peer(conn):  # the client closed its end
                self._drop_client()
                conn = None
        if listener in ready:
            try:
                new, _ = listener.accept()
            except OSError:
                new = None
            if new is not None:
                if conn is not None and self._closed_by_peer(conn):
                    self._drop_client()
                    conn = None
                if conn is None:
                    new.setblocking(False)
                    new.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    with self._sock_lock:
                        self._conn = conn = new
                else:
                    new.close()  # the port is busy
        return conn is not None, data

    @staticmethod
    def _closed_by_peer(conn: socket.socket) -> bool:
        """Whether the client went away (its close may not have been seen by select yet)."""
        try:
            return conn.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _discard_pending(self) -> None:
        """Nothing to do: a closed connection takes its unread bytes with it."""

    def _write(self, data: bytes) -> None:
        with self._sock_lock:
            conn = self._conn
        if conn is None:
            return
        view = memoryview(data)
        deadline = time.monotonic() + 0.5
        while view and time.monotonic() < deadline:
            try:
                view = view[conn.send(view) :]
            except BlockingIOError:
                time.sleep(0.002)
            except OSError:
                self._drop_client()
                return


def serve(
    instrument: EmulatedInstrument,
    *,
    transport: ServerTransport | None = None,
    faults: Faults | None = None,
    link: str | Path | None = None,
    seed: int = 0,
    baud: int | None = None,
    tcp_port: int = 0,
) -> EmulatorServer:
    """A server for ``instrument`` on a pty, or on loopback TCP where there is no pty (or when forced)."""
    transport = transport or default_transport()
    if transport is ServerTransport.TCP:
        if link is not None:
            raise ValueError("a stable link needs a pty; over TCP the port number is already stable")
        return TcpServer(instrument, faults=faults, seed=seed, baud=baud, tcp_port=tcp_port)
    if not hasattr(os, "openpty"):
        raise ValueError("this system has no pseudo-terminals; serve over TCP instead")
    return PtyServer(instrument, faults=faults, link=link, seed=seed, baud=baud)
