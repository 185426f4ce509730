"""Valve pulses as run-file event lines, so a recorded or converted run keeps its tool's timeline:
``# Valve: 299.7505 s (TMA; Mod8/do1; 1.000 s)``."""

from __future__ import annotations

from collections.abc import Iterable

from qcm_app.domain.events import RunEventKind
from qcm_app.domain.markers import ValvePulse, sorted_pulses
from qcm_app.io.runfile import RunEvent

VALVE_EVENT = RunEventKind.VALVE


def valve_events(pulses: Iterable[ValvePulse]) -> list[RunEvent]:
    """Run-file event lines for the pulses: ``# Valve: 299.7505 s (TMA; Mod8/do1; 1.000 s)``."""
    return [RunEvent(p.time_s, VALVE_EVENT, f"{p.precursor or '-'}; {p.channel}; {p.duration_s:.3f} s") for p in pulses]


def pulses_from_events(events: Iterable[RunEvent]) -> tuple[ValvePulse, ...]:
    """The pulses written by :func:`valve_events` (malformed lines are skipped)."""
    out: list[ValvePulse] = []
    for e in events:
        if e.kind is not VALVE_EVENT:
            continue
        parts = [p.strip() for p in e.text.split(";")]
        if len(parts) != 3 or not parts[2].endswith(" s"):
            continue
        try:
            duration = float(parts[2][:-2])
        except ValueError:
            continue
        out.append(ValvePulse(float(e.time_s), duration, parts[1], "" if parts[0] == "-" else parts[0]))
    return sorted_pulses(out)
