"""The demo's instruments: a simulated reactor measured by a simulated instrument (served on a pty,
or loopback TCP where there is none, and reached through the real driver), and the same reactor's
valves served as a tool's event line, read as any marker source is."""

from __future__ import annotations

import random
from dataclasses import dataclass

from instruments.emulators.base import EmulatorServer
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.domain.recipes import Recipe
from qcm_app.io.marker_sources import MarkerKind, MarkerSpec
from qcm_app.simulation.simulate import build_marker_server, build_server

#: the demo tool sends its valve events this often (a real one at the edge)
DEMO_MARKER_FRAME_S = 0.01


@dataclass
class DemoServers:
    """The running emulators of one demo, and how to reach them."""

    instrument: EmulatorServer
    #: the reactor's valve-event line (None: the markers come from elsewhere)
    valves: EmulatorServer | None
    markers: MarkerSpec
    connection: ConnectionSpec


def start_demo_servers(
    recipe: Recipe, speed: float, protocol: str, sensors: int, markers: MarkerSpec | None = None
) -> DemoServers:
    """Start the simulated instrument (a second sensor is a reference crystal that sees drift and
    transients but no film) and, unless ``markers`` names another source, the valve-event line of
    the same reactor."""
    seed = random.randrange(1, 1_000_000)  # one reactor: the instrument and the valves share it
    instrument = build_server(protocol, recipe, speed=speed, sensors=sensors, seed=seed).start()
    valves = None
    if markers is None:
        # the simulated tool runs on this PC: its wall-clock stamps place each pulse exactly
        valves = build_marker_server(
            "valves",
            recipe,
            speed=speed,
            seed=seed,
            beside=instrument,
            frame_period_s=DEMO_MARKER_FRAME_S,
            wall_clock=True,
        ).start()
        port = valves.port
        markers = MarkerSpec(MarkerKind.TCP if port.startswith("socket://") else MarkerKind.SERIAL, port)
    connection = ConnectionSpec(
        protocol=protocol,
        port=instrument.port,
        sensors=tuple(range(1, sensors + 1)),
        poll_interval_s=instrument.instrument.measurement_period_s,
    )
    return DemoServers(instrument, valves, markers, connection)
