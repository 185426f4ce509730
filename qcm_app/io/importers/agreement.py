"""How well our Z-match thickness agrees with the thickness an instrument logged itself.

An instrument zeroes its thickness display at will (before a layer, sometimes mid-layer), so its
column is a saw-tooth: the comparison is made on increments within each stretch between zeroings,
where the instrument's value minus its value at the stretch's start must equal our Z-match
thickness from the frequency at the stretch's start to the current frequency.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from qcm_app.domain.physics import CrystalSettings, zmatch_thickness_ang
from qcm_app.io.runfile import RunData


def thickness_zeroings(thickness_ang: np.ndarray, min_drop_ang: float = 1.0, near_zero: float = 0.2) -> np.ndarray:
    """Indices where the instrument zeroed its thickness: a drop of more than ``min_drop_ang`` that
    lands within ``near_zero`` (a fraction) of the previous value's distance from zero."""
    t = np.asarray(thickness_ang, dtype=float)
    if t.size < 2:
        return np.empty(0, dtype=np.int64)
    before, after = t[:-1], t[1:]
    with np.errstate(invalid="ignore"):
        zeroed = (before - after > min_drop_ang) & (np.abs(after) < near_zero * np.abs(before))
    return np.flatnonzero(zeroed) + 1


@dataclass(frozen=True)
class Segment:
    first: int
    last: int
    #: instrument's increment over the segment (Å)
    instrument_ang: float
    #: our Z-match increment over the segment (Å)
    ours_ang: float
    max_abs_diff_ang: float

    @property
    def end_diff_pct(self) -> float:
        """Our increment relative to the instrument's, in % (positive when ours is larger)."""
        return (self.ours_ang - self.instrument_ang) / self.instrument_ang * 100.0 if self.instrument_ang else np.nan


@dataclass(frozen=True)
class Agreement:
    segments: tuple[Segment, ...]
    max_abs_diff_ang: float
    median_abs_diff_ang: float
    #: the largest |difference| as a % of the thickest segment
    max_abs_diff_pct: float


def compare_with_instrument(
    run: RunData, sensor: int = 0, crystal: CrystalSettings | None = None, min_segment_rows: int = 10
) -> Agreement:
    """Our Z-match (the run's density, Z-ratio, tooling) against the instrument's own thickness."""
    if run.instrument_thickness_ang is None:
        raise ValueError("the run has no instrument thickness to compare with")
    crystal = crystal or run.metadata.crystal
    freq = run.frequency_hz[:, sensor]
    inst = run.instrument_thickness_ang[:, sensor]
    meta = run.metadata
    bounds = [0, *thickness_zeroings(inst).tolist(), len(inst)]
    segments: list[Segment] = []
    diffs: list[np.ndarray] = []
    for first, end in pairwise(bounds):
        ok = np.flatnonzero(np.isfinite(freq[first:end]) & np.isfinite(inst[first:end])) + first
        if ok.size < min_segment_rows:
            continue
        ours = zmatch_thickness_ang(
            freq[ok], float(freq[ok[0]]), meta.density_g_cm3, meta.z_ratio, meta.tooling_pct, crystal
        )
        theirs = inst[ok] - inst[ok[0]]
        d = ours - theirs
        diffs.append(d)
        segments.append(Segment(int(ok[0]), int(ok[-1]), float(theirs[-1]), float(ours[-1]), float(np.abs(d).max())))
    if not diffs:
        raise ValueError("no stretch of the run has both frequency and instrument thickness")
    d = np.abs(np.concatenate(diffs))
    span = max(abs(s.instrument_ang) for s in segments)
    return Agreement(
        tuple(segments), float(d.max()), float(np.median(d)), float(d.max() / span * 100.0) if span else float("nan")
    )
