"""Our per-step masses beside the tool's own (its ``*_Doses-DeltaM.txt``), for the report.

Each of our pulses is paired with the tool's dose that starts nearest to it (within
``MATCH_TOLERANCE_S``); the report lists both ΔM and their difference, and says which doses found
no partner on either side. The tool's times are its elapsed seconds; the run's time axis starts at
the log's first row, whose elapsed time the LabVIEW importer records as ``TIME_ORIGIN_KEY``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcm_app.domain.errors import UserInputError
from qcm_app.io.importers.labview import TIME_ORIGIN_KEY, DoseTable, is_dose_table, load_doses, sibling
from qcm_app.io.offline import AnalyzedRun

#: a tool dose and one of our pulses are the same step when they start this close (s)
MATCH_TOLERANCE_S = 3.0


@dataclass(frozen=True)
class StepPair:
    step: int  # the tool's recipe step number
    precursor: str
    start_s: float  # on the run's clock
    tool_ng_cm2: float
    ours_ng_cm2: float  # NaN when we have no pulse there

    @property
    def difference_ng_cm2(self) -> float:
        return self.ours_ng_cm2 - self.tool_ng_cm2


@dataclass(frozen=True)
class ReferenceComparison:
    source: str
    pairs: tuple[StepPair, ...]
    #: our pulses with no tool dose near them: (start s, step name, ΔM)
    unmatched_ours: tuple[tuple[float, str, float], ...]

    @property
    def matched(self) -> tuple[StepPair, ...]:
        return tuple(p for p in self.pairs if math.isfinite(p.ours_ng_cm2))

    def summary(self) -> str:
        m = self.matched
        if not m:
            return f"none of the tool's {len(self.pairs)} doses matched a pulse of ours"
        diff = np.array([p.difference_ng_cm2 for p in m])
        worst = diff[np.argmax(np.abs(diff))]
        text = (
            f"{len(m)} of the tool's {len(self.pairs)} doses matched; ours − tool: median "
            f"{np.median(diff):+.1f}, median |Δ| {np.median(np.abs(diff)):.1f}, worst {worst:+.1f} ng/cm²"
        )
        if self.unmatched_ours:
            text += f"; {len(self.unmatched_ours)} pulses of ours have no tool dose"
        return text

    def to_json(self) -> dict:
        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "source": self.source,
            "summary": self.summary(),
            "steps": [
                {
                    "step": p.step,
                    "precursor": p.precursor,
                    "start_s": num(p.start_s),
                    "tool_ng_cm2": num(p.tool_ng_cm2),
                    "ours_ng_cm2": num(p.ours_ng_cm2),
                }
                for p in self.pairs
            ],
            "unmatched_ours": [
                {"start_s": num(t), "step": n, "ours_ng_cm2": num(m)} for t, n, m in self.unmatched_ours
            ],
        }


def find_reference(analyzed: AnalyzedRun, given: str | Path | None) -> DoseTable | None:
    """The dose table given (``--reference``), else the one beside the tool's DataLog, else none."""
    if given is not None:
        path = Path(given)
        if path.exists() and not is_dose_table(path):
            raise UserInputError(
                "not a tool dose table (expected the header 'Recipe Step #, Precursor #, "
                "Precursor Name, ...' of a *_Doses-DeltaM.txt)",
                path,
                1,
            )
        return load_doses(path)
    source = analyzed.run.source
    beside = sibling(source, "Doses-DeltaM") if source else None
    return load_doses(beside) if beside is not None else None


def compare(analyzed: AnalyzedRun, doses: DoseTable) -> ReferenceComparison:
    try:
        origin = float(analyzed.run.metadata.extra.get(TIME_ORIGIN_KEY, "0") or 0)
    except ValueError:
        origin = 0.0
    ours: list[tuple[float, str, float]] = []
    for c in analyzed.result.cycles:
        for t, name, m in zip(c.pulse_times_s, c.step_names, c.steps_ng_cm2, strict=False):
            ours.append((float(t), name, float(m)))
    ours.sort()
    times = np.array([o[0] for o in ours])
    used = np.zeros(len(ours), dtype=bool)
    pairs: list[StepPair] = []
    for d in doses.pulses:
        start = d.pulse_start_s - origin
        ours_m = math.nan
        if times.size:
            k = int(np.searchsorted(times, start))
            near = [
                j
                for j in (k - 1, k)
                if 0 <= j < times.size and not used[j] and abs(times[j] - start) <= MATCH_TOLERANCE_S
            ]
            if near:
                j = min(near, key=lambda j: abs(times[j] - start))
                used[j] = True
                ours_m = ours[j][2]
        pairs.append(StepPair(d.step, d.precursor, start, d.delta_ng_cm2, ours_m))
    unmatched = tuple(o for o, u in zip(ours, used.tolist(), strict=True) if not u)
    return ReferenceComparison(str(doses.path), tuple(pairs), unmatched)
