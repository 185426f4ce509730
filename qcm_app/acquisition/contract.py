"""What the acquisition workers and their users agree on: how to reach an instrument
(:class:`ConnectionSpec`), the link's counters (:class:`LinkStats`), and the analysis a worker feeds
(:class:`Analyzer`). Everything that crosses from the worker's thread to the GUI is a frozen
dataclass (or a tuple of them): ``SampleChunk``, ``AnalysisUpdate``, ``LinkStats``, ``ValvePulse``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from instruments import base as ib
from instruments.registry import driver_class
from instruments.transport import open_transport
from qcm_app.analysis.result import AnalysisUpdate
from qcm_app.domain.events import WorkerState
from qcm_app.domain.markers import ValvePulse, analysis_markers
from qcm_app.domain.recipes import Recipe


@dataclass(frozen=True)
class ConnectionSpec:
    protocol: str
    port: str
    baud: int | None = None
    sensors: tuple[int, ...] = (1,)
    #: None: the instrument's own measurement period; 0: as fast as the link allows
    poll_interval_s: float | None = None
    timeout_s: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> ib.Driver:
        """Open the port and build the driver (raises InstrumentError subclasses only)."""
        cls = driver_class(self.protocol)
        transport = open_transport(self.port, self.baud or cls.info.default_baud, self.timeout_s)
        try:
            return cls(transport, sensors=self.sensors, **self.options)
        except Exception:
            transport.close()
            raise


@dataclass(frozen=True)
class LinkStats:
    """The link's counters, sent to the GUI every ``STATS_INTERVAL_S`` (``stats_updated``)."""

    state: WorkerState
    readings: int = 0
    sample_rate_hz: float = 0.0
    checksum_errors: int = 0
    rejected: int = 0
    timeouts: int = 0
    unavailable: int = 0
    reconnects: int = 0
    gaps: int = 0
    last_error: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", WorkerState(self.state))  # a word that is no state is refused


class Analyzer(Protocol):
    """Consumes the primary sensor's run mass; returns what the view should get, or None when
    nothing changed (:class:`qcm_app.analysis.engine.LiveAnalysis` is the one implementation)."""

    def feed(self, time_s: np.ndarray, mass_ng_cm2: np.ndarray) -> AnalysisUpdate | None: ...

    def finish(self) -> AnalysisUpdate | None: ...

    def add_markers(self, pulses: Sequence[ValvePulse]) -> None:
        """The tool's valve pulses, the cycle timeline from the next feed/finish on."""


def add_markers(analyzer: Analyzer, pulses: Sequence[ValvePulse]) -> None:
    """The pulses that time cycles (those of a known precursor) to the analysis."""
    markers = analysis_markers(pulses)
    if markers:
        analyzer.add_markers(markers)


#: builds a fresh analyzer for a recipe (None: infer the pattern)
AnalyzerFactory = Callable[[Recipe | None], Analyzer]
