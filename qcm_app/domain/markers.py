"""Valve pulses as the tool logged them: the pulse timeline the analysis takes instead of guessing.

A tool that logs its own valve outputs tells exactly when each precursor was dosed. Importers turn
0/1 columns into :class:`ValvePulse` lists with :func:`pulses_from_digital`; live sources produce the
same objects from text events. Which precursor a channel doses is not always written in the log, so
:func:`name_channels` matches channels to precursors from (in this order) the user's ``--valve``
option, the header names, a reference table of the tool's doses, and the recipe's pulse order.

Pure module: numpy only, no Qt, no files.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qcm_app.domain.errors import UserInputError


@dataclass(frozen=True)
class ValvePulse:
    time_s: float  # valve opened, on the run's time axis (same clock as RunData.time_s)
    duration_s: float  # how long it stayed open (s)
    channel: str  # the log's column / signal name, e.g. "Mod8/do1"
    precursor: str  # matched precursor or recipe step name, e.g. "TMA"; "" when unknown


#: names a valve column may carry in its header (a precursor's name is matched case-insensitively)
COMMON_PRECURSORS = (
    "TMA",
    "H2O",
    "O3",
    "TiCl4",
    "TDMAT",
    "DEZ",
    "ZnEt2",
    "HfCl4",
    "TEMAH",
    "TEMAZ",
    "ZrCl4",
    "MoF6",
    "H2S",
    "NH3",
    "EG",
    "GL",
    "LiHMDS",
    "LiOtBu",
    "TMG",
    "BDEAS",
    "Ar",
    "N2",
    "O2",
)


def pulses_from_digital(
    time_s: np.ndarray,
    values01: np.ndarray,
    channel: str,
    precursor: str = "",
) -> list[ValvePulse]:
    """Rising edges of a sampled 0/1 signal.

    The valve opened somewhere between the last sample at 0 and the first at 1: the midpoint is the
    unbiased estimate (error ≤ half a sample period); after a gap in the data (a step longer than twice
    the typical one) the first sample at 1 is used instead, as the midpoint would be a guess. The same
    rule gives the closing time, so the duration is the time between the two midpoints. A pulse still
    open at the end lasts to the last sample. NaN samples count as closed.
    """
    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values01, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("time and values must be 1-D arrays of the same length")
    if t.size == 0:
        return []
    on = np.where(np.isfinite(v), v > 0.5, False)
    step = np.diff(on.astype(np.int8))
    rises = np.flatnonzero(step == 1) + 1
    falls = np.flatnonzero(step == -1) + 1
    if on[0]:
        rises = np.concatenate(([0], rises))
    dt = np.diff(t)
    typical = float(np.median(dt)) if dt.size else 0.0

    def edge(i: int) -> float:
        if i == 0:
            return float(t[0])
        gap = t[i] - t[i - 1]
        return float(t[i]) if typical <= 0 or gap > 2.0 * typical else float(0.5 * (t[i] + t[i - 1]))

    out: list[ValvePulse] = []
    for r in rises.tolist():
        later = falls[falls > r]
        start = edge(r)
        end = edge(int(later[0])) if later.size else float(t[-1])
        out.append(ValvePulse(time_s=start, duration_s=max(end - start, 0.0), channel=channel, precursor=precursor))
    return out


def is_digital(values: np.ndarray) -> bool:
    """Only 0 and 1 (NaN allowed), and at least one of each: a valve or shutter signal."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return False
    return bool(np.all((v == 0) | (v == 1)))


def parse_valve_options(specs: Iterable[str]) -> dict[str, str]:
    """``["TMA=Mod8/do1", "H2O=Mod8/do2"]`` → ``{"Mod8/do1": "TMA", ...}`` (channel → precursor)."""
    out: dict[str, str] = {}
    for spec in specs:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, channel = part.partition("=")
            if not sep or not name.strip() or not channel.strip():
                raise UserInputError(f"--valve: expected PRECURSOR=COLUMN such as TMA=Mod8/do1, not {part!r}")
            out[channel.strip()] = name.strip()
    return out


def precursor_in_name(name: str, known: Sequence[str] = ()) -> str:
    """A precursor written into a column's name ("TMA valve", "H2O pulse"), or ``""``."""
    candidates = sorted({*known, *COMMON_PRECURSORS}, key=len, reverse=True)
    for c in candidates:
        if c and re.search(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", name, re.I):
            return c
    return ""


def name_channels(
    pulses: Sequence[ValvePulse],
    *,
    valve_map: Mapping[str, str] | None = None,
    reference_starts: Sequence[tuple[float, str]] = (),
    recipe_pulse_names: Sequence[str] = (),
    tolerance_s: float = 1.0,
) -> tuple[list[ValvePulse], list[str]]:
    """Give every channel a precursor; returns (pulses renamed, notes saying how).

    Per channel, the first rule that decides wins: ``valve_map`` (channel → name, the user's option);
    a name the pulses already carry (from the header); ``reference_starts`` — (start s, name) of the
    tool's own dose table — by majority of the pulses starting within ``tolerance_s`` of a listed
    dose; the recipe's sequence of pulse names, by majority over the pulses' positions when the counts
    agree, else channels in the order they first fire take names in the order the recipe first uses
    them.
    """
    valve_map = dict(valve_map or {})
    channels = list(dict.fromkeys(p.channel for p in sorted(pulses, key=lambda p: p.time_s)))
    names: dict[str, str] = {}
    notes: list[str] = []
    unknown_map = [c for c in valve_map if c not in channels]
    if unknown_map:
        raise UserInputError(
            f"--valve names {', '.join(map(repr, unknown_map))}, but the valve signals are "
            f"{', '.join(map(repr, channels)) or 'none'}"
        )
    for c in channels:
        if c in valve_map:
            names[c] = valve_map[c]
            continue
        given = Counter(p.precursor for p in pulses if p.channel == c and p.precursor)
        if given:
            names[c] = given.most_common(1)[0][0]
    if reference_starts:
        ref_t = np.array([t for t, _ in reference_starts], dtype=float)
        ref_n = [n for _, n in reference_starts]
        order = np.argsort(ref_t)
        ref_t = ref_t[order]
        ref_n = [ref_n[i] for i in order.tolist()]
        for c in channels:
            if c in names:
                continue
            votes: Counter[str] = Counter()
            for p in pulses:
                if p.channel != c:
                    continue
                k = int(np.searchsorted(ref_t, p.time_s))
                near = [j for j in (k - 1, k) if 0 <= j < ref_t.size and abs(ref_t[j] - p.time_s) <= tolerance_s]
                if near:
                    j = min(near, key=lambda j: abs(ref_t[j] - p.time_s))
                    votes[ref_n[j]] += 1
            if votes:
                names[c] = votes.most_common(1)[0][0]
                notes.append(f"valve {c!r} is {names[c]} (matched to the tool's dose table)")
    if recipe_pulse_names and any(c not in names for c in channels):
        ordered = sorted(pulses, key=lambda p: p.time_s)
        if len(ordered) == len(recipe_pulse_names):
            for c in channels:
                if c in names:
                    continue
                votes = Counter(n for p, n in zip(ordered, recipe_pulse_names, strict=True) if p.channel == c)
                names[c] = votes.most_common(1)[0][0]
                notes.append(f"valve {c!r} is {names[c]} (by the recipe's pulse order)")
        else:
            free = [n for n in dict.fromkeys(recipe_pulse_names) if n not in names.values()]
            for c in channels:
                if c not in names and free:
                    names[c] = free.pop(0)
                    notes.append(
                        f"valve {c!r} is {names[c]} (first to fire; the recipe has "
                        f"{len(recipe_pulse_names)} pulses, the valves {len(ordered)})"
                    )
    renamed = [replace(p, precursor=names.get(p.channel, p.precursor)) for p in pulses]
    return renamed, notes


def counts_by_precursor(pulses: Iterable[ValvePulse]) -> dict[str, int]:
    """``{"TMA": 80, "H2O": 70}``; unnamed pulses count under their channel."""
    out: Counter[str] = Counter(p.precursor or p.channel for p in pulses)
    return dict(out)


def sorted_pulses(pulses: Iterable[ValvePulse]) -> tuple[ValvePulse, ...]:
    return tuple(sorted(pulses, key=lambda p: (p.time_s, p.channel)))


def analysis_markers(pulses: Iterable[ValvePulse]) -> tuple[ValvePulse, ...]:
    """The pulses the analysis takes as its timeline: those dosing a known precursor. A channel with
    no name (a shutter, an output nobody named) is shown and recorded, but times no cycle."""
    return tuple(p for p in pulses if p.precursor)


def shift_pulses(pulses: Iterable[ValvePulse], offset_s: float) -> tuple[ValvePulse, ...]:
    """The same pulses on a clock that starts ``offset_s`` later (importers zero time at the first row)."""
    if not math.isfinite(offset_s) or offset_s == 0:
        return tuple(pulses)
    return tuple(replace(p, time_s=p.time_s - offset_s) for p in pulses)


# --- cycles from the pulses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PulseCycle:
    """One cycle as the valves show it: its pulses in order; ``block`` counts from 1."""

    block: int
    cycle_in_block: int
    pulses: tuple[ValvePulse, ...]

    @property
    def start_s(self) -> float:
        return self.pulses[0].time_s

    @property
    def pattern(self) -> tuple[str, ...]:
        return tuple(p.precursor or p.channel for p in self.pulses)


def group_cycles(pulses: Sequence[ValvePulse], pause_factor: float = 3.0) -> list[PulseCycle]:
    """Cycles and blocks from the valves alone (no recipe): a cycle starts at each pulse of the run's
    first precursor; a new block starts where the cycle's precursors change or after a pause longer
    than ``pause_factor`` times the median cycle period. Shutters and other non-dosing channels
    should be left out by the caller."""
    ordered = sorted(pulses, key=lambda p: p.time_s)
    if not ordered:
        return []
    lead = ordered[0].precursor or ordered[0].channel
    raw: list[list[ValvePulse]] = []
    for p in ordered:
        if (p.precursor or p.channel) == lead or not raw:
            raw.append([p])
        else:
            raw[-1].append(p)
    starts = np.array([c[0].time_s for c in raw])
    period = float(np.median(np.diff(starts))) if starts.size > 1 else math.inf
    out: list[PulseCycle] = []
    block, k = 0, 0
    for i, c in enumerate(raw):
        pattern = tuple(p.precursor or p.channel for p in c)
        new_block = i == 0 or pattern != out[-1].pattern or starts[i] - starts[i - 1] > pause_factor * period
        if new_block:
            block, k = block + 1, 0
        k += 1
        out.append(PulseCycle(block, k, tuple(c)))
    return out


# --- recipe vs markers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """Where the valves and the recipe part ways, for the report (the valves win)."""

    pulse_index: int  # position in the recipe's pulse sequence (from 1)
    time_s: float  # when, on the run's clock (NaN when the valves ran out)
    expected: str  # the recipe's pulse name there ("" when the valves have extra pulses)
    found: str  # the valves' precursor there ("" when the valve did not fire)

    def message(self) -> str:
        at = f" at {self.time_s:.1f} s" if math.isfinite(self.time_s) else ""
        if not self.found:
            nxt = (
                f" (before the valve at {self.time_s:.1f} s)"
                if math.isfinite(self.time_s)
                else " (after the last valve)"
            )
            return f"pulse {self.pulse_index}: the recipe expects {self.expected}, no valve fired{nxt}"
        if not self.expected:
            return f"pulse {self.pulse_index}: {self.found} fired{at}, beyond the recipe's end"
        return f"pulse {self.pulse_index}: the recipe expects {self.expected}, the valve was {self.found}{at}"


def compare_with_recipe(pulses: Sequence[ValvePulse], recipe_pulse_names: Sequence[str]) -> list[Disagreement]:
    """Align the valves' precursor sequence with the recipe's (edit distance): skipped, extra or
    swapped pulses. Pauses are not disagreements (the markers carry the real times)."""
    found = [p.precursor or p.channel for p in sorted(pulses, key=lambda p: p.time_s)]
    times = [p.time_s for p in sorted(pulses, key=lambda p: p.time_s)]
    expected = list(recipe_pulse_names)
    n, m = len(expected), len(found)
    if n * m > 4_000_000:
        raise UserInputError(f"too many pulses to compare with the recipe ({m} valves, {n} in the recipe)")
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        row, prev = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (expected[i - 1] != found[j - 1]), prev[j] + 1, row[j - 1] + 1)
    out: list[Disagreement] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (expected[i - 1] != found[j - 1]):
            if expected[i - 1] != found[j - 1]:
                out.append(Disagreement(i, times[j - 1], expected[i - 1], found[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            at = times[j] if j < m else math.nan
            out.append(Disagreement(i, at, expected[i - 1], ""))
            i -= 1
        else:
            out.append(Disagreement(i + 1, times[j - 1], "", found[j - 1]))
            j -= 1
    out.reverse()
    return out


def valves_vs_recipe_text(pulses: Sequence[ValvePulse], recipe: object, limit: int = 5) -> list[str]:
    """Lines for a person: the valve counts, and where the recipe and the valves disagree."""
    if not pulses:
        return []
    counts = ", ".join(f"{n} {k}" for k, n in counts_by_precursor(pulses).items())
    lines = [f"valves: {len(pulses)} pulses from the log ({counts})"]
    if recipe is None:
        return lines
    expected = recipe_pulse_sequence(recipe)
    found = compare_with_recipe(pulses, expected)
    if not found:
        lines.append(f"recipe and valves agree on all {len(expected)} pulses")
        return lines
    lines.append(f"recipe and valves disagree at {len(found)} of {len(expected)} pulses (the valves win):")
    lines += [f"  {d.message()}" for d in found[:limit]]
    if len(found) > limit:
        lines.append(f"  ... and {len(found) - limit} more")
    return lines


def recipe_pulse_sequence(recipe: object) -> list[str]:
    """The pulse names of a :class:`~qcm_app.domain.recipes.Recipe` in run order (waits add none)."""
    names: list[str] = []
    for block in getattr(recipe, "blocks", ()):
        one = [s.name for s in block.steps if s.is_pulse]
        names.extend(one * block.repeat)
    return names
