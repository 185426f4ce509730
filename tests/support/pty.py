"""An emulator served on a real pseudo-terminal with its driver opened on it, the pair the driver
tests use to prove both sides speak the same bytes; and a loop that reads a few readings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from instruments.base import Driver, InstrumentError
from instruments.emulators.base import EmulatedInstrument, Faults, PtyServer
from instruments.transport import open_transport

D = TypeVar("D", bound=Driver)


@contextmanager
def pty_pair(
    emulator: EmulatedInstrument,
    driver_class: type[D],
    *,
    timeout_s: float = 0.3,
    faults: Faults | None = None,
    link: Path | None = None,
    **options: Any,
) -> Iterator[tuple[PtyServer, D]]:
    """Serve ``emulator`` unpaced on a pty and open ``driver_class`` on it at its default baud rate.

    Both are closed on leaving, the driver first (it may still write a stop command).
    """
    server = PtyServer(emulator, faults=faults, baud=None, link=link)
    server.start()
    try:
        driver = driver_class(
            open_transport(server.port, driver_class.info.default_baud, timeout_s=timeout_s), **options
        )
        try:
            yield server, driver
        finally:
            driver.close()
    finally:
        server.stop()


def read_some(
    driver: Driver, count: int, frequency_hz: float, tolerance_hz: float = 0.0
) -> tuple[int, list[InstrumentError]]:
    """Read ``count`` times: how many readings had the expected frequency, and the errors raised."""
    good, errors = 0, []
    for _ in range(count):
        try:
            assert driver.read().sensors[0].frequency_hz == pytest.approx(frequency_hz, abs=tolerance_hz)
            good += 1
        except InstrumentError as exc:
            errors.append(exc)
    return good, errors
