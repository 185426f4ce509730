"""Putting a tool's valve markers on the run's clock, and pairing valve edges into pulses.

Clocks. The tool stamps its markers on its own clock; the run has its own (seconds since the run
started). :class:`ClockAlignment` maps one onto the other:

- stamps that are wall-clock time (Unix seconds, or a log's date-and-time column) are placed by
  the wall clock: ``t_run = (t_stamp - run_start_epoch) * time_scale`` (the tool PC and this one
  must agree, e.g. by NTP — the same PC, or a share from a synchronised one; ``time_scale`` is 1
  but for a sped-up simulator, whose run clock counts process seconds);
- stamps that are elapsed seconds of the tool's own are placed by the first marker: the newest
  marker of the first batch is "now" (``offset = arrival_run_s - t_stamp``; a log that already ran
  before we started maps its newest line to the present). The offset then stays fixed, so the
  pulses keep the tool's exact spacing (the latency of that first batch is a constant bias,
  typically below one poll). Only a marker that would lie in the future by more than
  ``max_latency_s`` (the first batch came late) lowers it, with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from qcm_app.domain.markers import ValvePulse, precursor_in_name

#: stamps beyond this are Unix seconds, below it elapsed seconds (1973-03-03 vs ~3 years of run)
EPOCH_THRESHOLD_S = 1e8


@dataclass
class ClockAlignment:
    """Tool stamps → run seconds; see the module docstring for the rule."""

    run_clock: Callable[[], float]
    run_start_epoch_s: float | None = None
    offset_s: float | None = None
    max_latency_s: float = 1.0
    warnings: list[str] = field(default_factory=list)
    #: run seconds per wall second (a sped-up simulator's speed; 1 for a real instrument)
    time_scale: float = 1.0

    def observe(self, newest_stamp_s: float, arrival_run_s: float | None = None) -> None:
        """A batch of markers arrived; its newest stamp bounds the offset (call before ``to_run``)."""
        if newest_stamp_s > EPOCH_THRESHOLD_S and self.run_start_epoch_s is not None:
            return
        arrival = self.run_clock() if arrival_run_s is None else arrival_run_s
        offset = arrival - newest_stamp_s
        if self.offset_s is None:
            self.offset_s = offset
        elif offset < self.offset_s - self.max_latency_s:
            self.warnings.append(
                f"valve clock: markers arrived {self.offset_s - offset:.2f} s sooner than the "
                f"first ones; the clock offset is corrected from there"
            )
            self.offset_s = offset

    def to_run(self, stamp_s: float, arrival_run_s: float | None = None) -> float:
        if stamp_s > EPOCH_THRESHOLD_S and self.run_start_epoch_s is not None:
            return (stamp_s - self.run_start_epoch_s) * self.time_scale
        if self.offset_s is None:
            self.observe(stamp_s, arrival_run_s)
        assert self.offset_s is not None
        return stamp_s + self.offset_s

    def pulse_to_run(self, pulse: ValvePulse) -> ValvePulse:
        """A pulse in the tool's stamps → on the run's clock (its duration too: a sped-up run's
        wall-clock second is ``time_scale`` run seconds)."""
        start = self.to_run(pulse.time_s)
        return replace(pulse, time_s=start, duration_s=self.to_run(pulse.time_s + pulse.duration_s) - start)


@dataclass
class EdgeTracker:
    """Valve openings and closings → complete pulses, each once; names matched to precursors.

    Works on the tool's own stamps, so a pulse read again (a replaced log) is recognised whatever
    the clock alignment did meanwhile."""

    names: dict[str, str] = field(default_factory=dict)
    open: dict[str, float] = field(default_factory=dict)
    pulses: list[ValvePulse] = field(default_factory=list)
    _seen: set[tuple[str, float]] = field(default_factory=set)

    def event(self, time_s: float, valve: str, is_open: bool) -> ValvePulse | None:
        if is_open:
            self.open.setdefault(valve, time_s)
            return None
        start = self.open.pop(valve, None)
        if start is None:
            return None  # closing a valve we never saw open (we joined mid-pulse): no start, no pulse
        key = (valve, round(start, 3))
        if key in self._seen:
            return None
        self._seen.add(key)
        precursor = self.names.get(valve) or precursor_in_name(valve)
        pulse = ValvePulse(start, max(time_s - start, 0.0), valve, precursor)
        self.pulses.append(pulse)
        return pulse
