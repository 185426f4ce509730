"""Serving an emulated instrument on a pseudo-terminal, with faults on demand.

An :class:`EmulatedInstrument` turns request bytes into reply bytes (or produces a stream on a
timer); :class:`PtyServer` owns the pty and a thread, and applies the faults a real link shows:
corrupt checksums, line noise, dropped or empty replies, stalls, and the port disappearing.
Emulators never import Qt or the application: the reactor arrives as a :class:`SignalSource`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import select
import threading
import time
import tty
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class SignalSource(Protocol):
    """What an emulator measures: the simulated reactor, or anything else with this shape."""

    sensor_count: int

    def sensor_state(self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float,
                     tooling_pct: float) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ since start, rate Å/s) of a sensor (0-based) at emulator time."""
        ...


class ConstantSource:
    """A quiet crystal (tests and the 'no reactor' case): fixed frequency, no film."""

    def __init__(self, frequency_hz: float = 5_975_830.23, sensors: int = 1) -> None:
        self.frequency_hz = frequency_hz
        self.sensor_count = sensors

    def sensor_state(self, elapsed_s: float, sensor: int, density_g_cm3: float, z_ratio: float,
                     tooling_pct: float) -> tuple[float, float, float]:
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
        names = {"corrupt": "corrupt_checksum", "noise": "noise_bytes", "drop": "drop_reply",
                 "empty": "empty_reply", "stall": "stall_s"}
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

    def measure(self, sensor: int) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ, rate Å/s) of a sensor (0-based), refreshed once per
        measurement period like a real unit (polling faster returns the same values)."""
        with self._lock:
            k = int(self.elapsed_s() / self.measurement_period_s) if self.measurement_period_s > 0 else -1
            hit = self._cache.get(sensor)
            if hit is not None and hit[0] == k and k >= 0:
                return hit[1]
            t = k * self.measurement_period_s if k >= 0 else self.elapsed_s()
            f, thick, rate = self.source.sensor_state(t, sensor, self.film.density_g_cm3, self.film.z_ratio,
                                                      self.film.tooling_pct)
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

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with its checksum broken (default: last byte changed)."""
        if not frame:
            return frame
        return frame[:-1] + bytes([(frame[-1] + 1 + self.rng.randrange(200)) % 256 or 1])

    def empty_reply(self, frame: bytes) -> bytes:
        """What the instrument sends when it has no value (protocol-specific); default: nothing."""
        return b""


class PtyServer:
    """Serves an :class:`EmulatedInstrument` on a pty until stopped.

    ``link`` gives a stable path (a symlink to the current pty) that survives
    :meth:`disappear` / :meth:`reappear`, like ``/dev/serial/by-id`` for a re-plugged USB unit.
    """

    def __init__(self, instrument: EmulatedInstrument, faults: Faults | None = None,
                 link: str | Path | None = None, seed: int = 0, baud: int | None = None,
                 latency_s: float = 0.002) -> None:
        self.instrument = instrument
        #: pace replies as a real serial line at this baud rate would (None: as fast as the pty goes)
        self.baud = baud
        self.latency_s = latency_s
        self.faults = faults or Faults()
        self.link = Path(link) if link else None
        self._rng = random.Random(seed)
        self._master = -1
        self._slave = -1
        self.slave_path = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd_lock = threading.Lock()
        self.replies_sent = 0
        self.requests_seen = 0
        self._stalled_until = 0.0

    @property
    def port(self) -> str:
        """What a client should open: the stable link if any, else the pty path."""
        return str(self.link) if self.link else self.slave_path

    def start(self) -> PtyServer:
        self._open_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"emulator-{type(self.instrument).__name__}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self._close_pty()
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def stall_for(self, seconds: float) -> None:
        """The device goes silent for a while (it neither answers nor streams), then resumes."""
        self._stalled_until = time.monotonic() + seconds

    def disappear(self) -> None:
        """The device vanishes: the pty closes, a client's next read or write fails."""
        self._close_pty()

    def reappear(self) -> None:
        """The device comes back (on a new pty; the link, if any, follows it)."""
        self._open_pty()

    def __enter__(self) -> PtyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: binary frames pass unchanged
        tty.setraw(master)
        os.set_blocking(master, False)
        with self._fd_lock:
            self._master, self._slave = master, slave
            self.slave_path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.slave_path)
            tmp.replace(self.link)

    def _close_pty(self) -> None:
        with self._fd_lock:
            for fd in (self._master, self._slave):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = -1

    def _run(self) -> None:
        period = self.instrument.stream_period_s
        next_frame = time.monotonic() + (period or 0.0)
        while not self._stop.is_set():
            with self._fd_lock:
                master = self._master
            if master < 0:
                time.sleep(0.02)
                continue
            timeout = 0.05
            if period:
                timeout = max(0.0, min(timeout, next_frame - time.monotonic()))
            try:
                ready, _, _ = select.select([master], [], [], timeout)
            except (OSError, ValueError):
                continue
            if ready:
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    data = b""
                except OSError:
                    data = b""
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
                time.sleep(0.002)  # nobody reading: the pty buffer is full
            except OSError as exc:
                if exc.errno not in (errno.EIO, errno.EBADF):
                    log.warning("emulator write failed: %s", exc)
                return
