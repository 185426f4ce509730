"""A simulated instrument on a reactor: ``qcm simulate`` and the app's demo mode.

The emulator speaks the instrument's exact protocol on a pseudo-terminal, fed by the process
model, so whatever connects to it (the app's own driver, a lab's script, a vendor program under
a serial bridge) exercises the real wire format.
"""

from __future__ import annotations

import random
from pathlib import Path

from instruments.emulators.base import Faults, PtyServer
from instruments.registry import driver_class, emulator_class, marker_emulator_class
from qcm_app.reactor import ProcessModel, ReactorSettings, ReactorSource
from qcm_app.recipes import Recipe

DEFAULT_SPEED = 10.0


def build_server(protocol: str, recipe: Recipe, *, speed: float = DEFAULT_SPEED, seed: int | None = None,
                 sensors: int = 1, faults: Faults | None = None, link: str | Path | None = None,
                 paced: bool = True, reactor: ReactorSettings | None = None) -> PtyServer:
    """An emulator for ``protocol`` measuring a reactor that runs ``recipe`` ``speed`` times faster
    than real time; ``paced`` makes replies take as long as they would at the default baud."""
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
    return PtyServer(emulator, faults=faults, link=link, seed=seed, baud=baud)


def build_marker_server(name: str, recipe: Recipe, *, speed: float = DEFAULT_SPEED, seed: int | None = None,
                        link: str | Path | None = None, reactor: ReactorSettings | None = None) -> PtyServer:
    """The reactor's valve events (``qcm simulate --protocol valves``) on a pty: ``<t> <valve> <0|1>``
    lines stamped with the reactor's process seconds. With the same ``seed`` and ``speed`` as a QCM
    emulator it is the same reactor, so the markers match that emulator's pulses."""
    if seed is None:
        seed = random.randrange(1, 1_000_000)
    model = ProcessModel(recipe, reactor or ReactorSettings(seed=seed))
    source = ReactorSource(model, speed=speed)
    emulator = marker_emulator_class(name)(source, seed=seed)
    return PtyServer(emulator, link=link, seed=seed)
