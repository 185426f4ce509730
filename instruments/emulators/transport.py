"""Which endpoint serves an emulator: a pty where the OS has one, else loopback TCP (or as forced)."""

from __future__ import annotations

import enum
import os
from pathlib import Path

from instruments.emulators.faults import Faults
from instruments.emulators.instrument import EmulatedInstrument
from instruments.emulators.pty_server import PtyServer
from instruments.emulators.server import EmulatorServer
from instruments.emulators.tcp_server import TcpServer

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
