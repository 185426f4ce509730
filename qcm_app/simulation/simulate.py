"""A simulated instrument on a reactor: ``qcm simulate`` and the app's demo mode.

The emulator speaks the instrument's exact protocol, fed by the process model, so whatever connects to
it (the app's own driver, a lab's script, a vendor program under a serial bridge) exercises the real
wire format. It is served on a pseudo-terminal, or on a loopback TCP port where there is none
(Windows) or when asked for (``--transport tcp``, ``QCM_EMULATOR_TRANSPORT=tcp``); a client then opens
``socket://127.0.0.1:PORT`` through pyserial with the same driver.
"""

from __future__ import annotations

import random
from pathlib import Path

from instruments.emulators.base import EmulatorServer, Faults, ServerTransport, serve
from instruments.registry import driver_class, emulator_class, marker_emulator_class
from qcm_app.domain.recipes import Recipe
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, ReactorSource

#: ``qcm simulate`` runs the reactor in real time unless ``--speed`` says otherwise: a third-party
#: client then sees the instrument's own timing (an openQCM streams once per 1 s gate, not 10 times)
SIMULATE_SPEED = 1.0
#: the GUI's demo keeps its sped-up reactor, so that a recipe shows cycles within a minute
DEMO_SPEED = 10.0


def build_server(
    protocol: str,
    recipe: Recipe,
    *,
    speed: float = SIMULATE_SPEED,
    seed: int | None = None,
    sensors: int = 1,
    faults: Faults | None = None,
    link: str | Path | None = None,
    paced: bool = True,
    reactor: ReactorSettings | None = None,
    transport: ServerTransport | None = None,
    tcp_port: int = 0,
) -> EmulatorServer:
    """An emulator for ``protocol`` measuring a reactor that runs ``recipe`` ``speed`` times faster
    than real time; ``paced`` makes replies take as long as they would at the default baud.
    ``transport`` None means a pty where the OS has one (see :func:`~instruments.emulators.base.default_transport`)."""
    if seed is None:
        seed = random.randrange(1, 1_000_000)
    settings = reactor or ReactorSettings(seed=seed)
    model = ProcessModel(recipe, settings)
    source = ReactorSource(model, speed=speed, sensors=sensors)
    info = driver_class(protocol).info
    # a sped-up reactor is sampled more often, so the process clock still sees ~1 reading per second
    period = min(info.measurement_period_s, 1.0 / speed) if speed > 1 else info.measurement_period_s
    emulator = emulator_class(protocol)(source, seed=seed, measurement_period_s=period)
    baud = info.default_baud if paced else None
    return serve(emulator, transport=transport, faults=faults, link=link, seed=seed, baud=baud, tcp_port=tcp_port)


def build_marker_server(
    name: str,
    recipe: Recipe,
    *,
    speed: float = SIMULATE_SPEED,
    seed: int | None = None,
    link: str | Path | None = None,
    reactor: ReactorSettings | None = None,
    transport: ServerTransport | None = None,
    beside: EmulatorServer | None = None,
    frame_period_s: float = 0.05,
    wall_clock: bool = False,
) -> EmulatorServer:
    """The reactor's valve events (``qcm simulate --protocol valves``) on a pty (or loopback TCP
    where there is none): ``<t> <valve> <0|1>`` lines stamped with the reactor's process seconds
    (``wall_clock``: with the Unix time of each event), sent every ``frame_period_s``. With the same
    ``seed`` and ``speed`` as a QCM emulator it is the same reactor; ``beside`` that emulator's
    server it also runs on its clock, so each valve event happens when that instrument sees the pulse
    (the demo runs both)."""
    if seed is None:
        seed = random.randrange(1, 1_000_000)
    model = ProcessModel(recipe, reactor or ReactorSettings(seed=seed))
    source = ReactorSource(model, speed=speed)
    emulator = marker_emulator_class(name)(
        source, seed=seed, measurement_period_s=frame_period_s, wall_clock=wall_clock
    )
    if beside is not None:
        emulator.share_clock(beside.instrument)
    return serve(emulator, transport=transport, link=link, seed=seed)
