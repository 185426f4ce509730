"""Serving an emulated instrument on a pseudo-terminal, with faults on demand.

An :class:`EmulatedInstrument` turns request bytes into reply bytes (or produces a stream on a
timer); an :class:`EmulatorServer` owns the endpoint and a thread, and applies the faults a real link
shows: corrupt checksums, line noise, dropped or empty replies, stalls, and the port disappearing.
The endpoint is a pty (:class:`PtyServer`) or, where there is none, loopback TCP (:class:`TcpServer`).
Emulators never import Qt or the application: the reactor arrives as a :class:`SignalSource`.

The parts live in modules of one job each; this module re-exports them, so
``from instruments.emulators.base import X`` keeps working:

- :mod:`instruments.emulators.instrument`: the signal source and the emulated-instrument base class;
- :mod:`instruments.emulators.faults`: the fault probabilities;
- :mod:`instruments.emulators.server`: the serving thread and loop, and the faults applied to replies;
- :mod:`instruments.emulators.pty_server`, :mod:`instruments.emulators.tcp_server`: the endpoints;
- :mod:`instruments.emulators.transport`: which endpoint, and :func:`serve`.
"""

from __future__ import annotations

from instruments.emulators.faults import Faults
from instruments.emulators.instrument import ConstantSource, EmulatedInstrument, FilmSettings, SignalSource
from instruments.emulators.pty_server import PtyServer
from instruments.emulators.server import EmulatorServer
from instruments.emulators.tcp_server import TcpServer
from instruments.emulators.transport import TRANSPORT_ENV, ServerTransport, default_transport, serve

__all__ = [
    "TRANSPORT_ENV",
    "ConstantSource",
    "EmulatedInstrument",
    "EmulatorServer",
    "Faults",
    "FilmSettings",
    "PtyServer",
    "ServerTransport",
    "SignalSource",
    "TcpServer",
    "default_transport",
    "serve",
]
