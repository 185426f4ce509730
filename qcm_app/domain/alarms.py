"""Alarms a bench monitor raises: target reached, crystal nearly spent, rate or mass per cycle out
of band, link lost, and — with the tool's valve markers — a pulse that brought no uptake. Pure
logic (no Qt): the window shows and sounds them, the controller writes them to the run file.

Each alarm is raised once when its condition becomes true and may be raised again only after
the condition went away, so a persistent state never floods the run file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from qcm_app.domain.events import RunEventKind

#: the run-file events the window adds (marker, target, alarm, crystal change, tare) are declared
#: with every other kind in :mod:`qcm_app.domain.events`
EventKind = RunEventKind


class AlarmKind(Enum):
    TARGET_REACHED = "target reached"
    CRYSTAL_LIFE_LOW = "crystal life low"
    RATE_OUT_OF_BAND = "rate out of band"
    CYCLE_MASS_OUT_OF_BAND = "mass per cycle out of band"
    LINK_LOST = "link lost"
    NO_UPTAKE = "no uptake"


#: how the analysis words a valve pulse that brought nothing ("TMA pulse of cycle 37: no uptake ...")
NO_UPTAKE_MARK = ": no uptake"


def uptake_alarms(notes: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(which pulse, the whole text) for each "no uptake" alarm among the analysis' notes."""
    return [(note.split(NO_UPTAKE_MARK, 1)[0], note) for note in notes if NO_UPTAKE_MARK in note]


@dataclass(frozen=True)
class AlarmSettings:
    """Thresholds; a NaN bound is off."""

    crystal_life_min_pct: float = 10.0
    rate_min_ng_cm2_s: float = math.nan
    rate_max_ng_cm2_s: float = math.nan
    cycle_mass_min_ng_cm2: float = math.nan
    cycle_mass_max_ng_cm2: float = math.nan


@dataclass(frozen=True)
class Alarm:
    kind: AlarmKind
    text: str


@dataclass(frozen=True)
class AlarmInputs:
    """What the monitor looks at, read from the session at one refresh."""

    target_reached: bool = False
    progress_text: str = ""
    life_pct: float = math.nan
    rate_ng_cm2_s: float = math.nan
    last_cycle_index: int | None = None
    last_cycle_gain_ng_cm2: float = math.nan
    link_lost: bool = False
    link_detail: str = ""
    #: the analysis' notes, which carry its "no uptake" alarms when the valves are known
    analysis_notes: tuple[str, ...] = ()


def _outside(value: float, low: float, high: float) -> bool:
    if not math.isfinite(value):
        return False
    return (math.isfinite(low) and value < low) or (math.isfinite(high) and value > high)


def _band(low: float, high: float, unit: str) -> str:
    if math.isfinite(low) and math.isfinite(high):
        return f"outside {low:g} to {high:g} {unit}"
    return f"above {high:g} {unit}" if math.isfinite(high) else f"below {low:g} {unit}"


class AlarmMonitor:
    def __init__(self, settings: AlarmSettings | None = None) -> None:
        self.settings = settings or AlarmSettings()
        #: alarms whose condition holds now (raised and not yet gone)
        self.active: dict[AlarmKind, Alarm] = {}
        self._checked_cycle: int | None = None
        #: the pulses already alarmed for no uptake (a re-measured cycle words it anew: not twice)
        self._no_uptake: set[str] = set()

    def reset(self) -> None:
        """A new source: nothing is active."""
        self.active.clear()
        self._checked_cycle = None
        self._no_uptake.clear()

    def check(self, x: AlarmInputs) -> list[Alarm]:
        """Alarms newly raised by this state (the ones to show, sound and log)."""
        s = self.settings
        conditions: dict[AlarmKind, str | None] = {
            AlarmKind.TARGET_REACHED: f"Target reached: {x.progress_text}" if x.target_reached else None,
            AlarmKind.CRYSTAL_LIFE_LOW: (
                f"Crystal life {x.life_pct:.1f} % (below {s.crystal_life_min_pct:g} %): change the crystal soon"
            )
            if math.isfinite(x.life_pct) and x.life_pct < s.crystal_life_min_pct
            else None,
            AlarmKind.RATE_OUT_OF_BAND: (
                f"Mass rate {x.rate_ng_cm2_s:+.2f} ng/cm²/s "
                f"{_band(s.rate_min_ng_cm2_s, s.rate_max_ng_cm2_s, 'ng/cm²/s')}"
            )
            if _outside(x.rate_ng_cm2_s, s.rate_min_ng_cm2_s, s.rate_max_ng_cm2_s)
            else None,
            AlarmKind.LINK_LOST: f"Link lost: {x.link_detail}" if x.link_lost else None,
        }
        raised = []
        for kind, text in conditions.items():
            if text is None:
                self.active.pop(kind, None)
            elif kind not in self.active:
                alarm = Alarm(kind, text)
                self.active[kind] = alarm
                raised.append(alarm)
        # mass per cycle: judged once per new cycle, so each out-of-band cycle is one alarm
        if x.last_cycle_index is not None and x.last_cycle_index != self._checked_cycle:
            self._checked_cycle = x.last_cycle_index
            if _outside(x.last_cycle_gain_ng_cm2, s.cycle_mass_min_ng_cm2, s.cycle_mass_max_ng_cm2):
                alarm = Alarm(
                    AlarmKind.CYCLE_MASS_OUT_OF_BAND,
                    f"Cycle {x.last_cycle_index}: Δm {x.last_cycle_gain_ng_cm2:.1f} ng/cm² "
                    f"{_band(s.cycle_mass_min_ng_cm2, s.cycle_mass_max_ng_cm2, 'ng/cm²')}",
                )
                self.active[AlarmKind.CYCLE_MASS_OUT_OF_BAND] = alarm
                raised.append(alarm)
            else:
                self.active.pop(AlarmKind.CYCLE_MASS_OUT_OF_BAND, None)
        # no uptake: each pulse the analysis names is one alarm, raised once
        for pulse, text in uptake_alarms(x.analysis_notes):
            if pulse not in self._no_uptake:
                self._no_uptake.add(pulse)
                alarm = Alarm(AlarmKind.NO_UPTAKE, text)
                self.active[AlarmKind.NO_UPTAKE] = alarm
                raised.append(alarm)
        return raised
