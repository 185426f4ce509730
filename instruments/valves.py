"""Valve events as text lines, ``<t> <valve> <0|1>``: what a tool's PLC or a small serial/TCP bridge
prints when a valve opens or closes. Parsing only (no Qt, no clock): the marker source in
``qcm_app.io.marker_sources`` turns the events into pulses on the run's clock.

``t`` is seconds, on the tool's own clock (elapsed seconds, or Unix time when it is that large);
the valve is a name without blanks (``TMA``, ``Mod8/do1``); ``1`` opened it, ``0`` closed it.
Fields are separated by blanks, tabs, commas or semicolons; ``#`` starts a comment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class ValveEvent:
    time_s: float
    valve: str
    is_open: bool


def parse_event_line(line: str) -> ValveEvent | None:
    """One event, or ``None`` for a blank or comment line; a malformed line raises ``ValueError``."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    fields = _SPLIT.split(text)
    if len(fields) != 3:
        raise ValueError(f"expected '<t> <valve> <0|1>', found {line.strip()[:40]!r}")
    t_text, valve, state = fields
    try:
        t = float(t_text)
    except ValueError:
        raise ValueError(f"expected a time in seconds, found {t_text[:20]!r}") from None
    if not math.isfinite(t):
        raise ValueError(f"expected a finite time, found {t_text[:20]!r}")
    if state not in ("0", "1"):
        raise ValueError(f"expected the state 0 or 1, found {state[:10]!r}")
    return ValveEvent(t, valve, state == "1")


def format_event_line(event: ValveEvent) -> str:
    return f"{event.time_s:.3f} {event.valve} {int(event.is_open)}\n"
