"""The loopback TCP endpoint of an emulator server, where there is no pty (Windows)."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time

from instruments.emulators.faults import Faults
from instruments.emulators.instrument import EmulatedInstrument
from instruments.emulators.server import EmulatorServer


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
