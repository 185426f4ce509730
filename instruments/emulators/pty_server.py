"""The pseudo-terminal endpoint of an emulator server (POSIX)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
from pathlib import Path

from instruments.emulators.faults import Faults
from instruments.emulators.instrument import EmulatedInstrument
from instruments.emulators.server import EmulatorServer

log = logging.getLogger(__name__)


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
