"""The emulated instrument: what it measures (a :class:`SignalSource`) and how it turns request bytes
into reply bytes, or produces a stream on a timer (:class:`EmulatedInstrument`). Serving it is
:mod:`instruments.emulators.server`'s job. Emulators never import Qt or the application.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol


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
