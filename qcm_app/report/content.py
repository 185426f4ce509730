"""What a report says, worked out once from an analysed run.

The HTML page, the PDF and ``cycles.csv`` all read the same :class:`ReportContent`, so the three can
never disagree about a number; this module draws nothing and knows no file format except the CSV
(which is only rows of the same numbers).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from qcm_app import __version__
from qcm_app.analysis import CycleResult
from qcm_app.analysis.regimes import BlockRegime
from qcm_app.domain.markers import valves_vs_recipe_text
from qcm_app.domain.physics import thickness_ang_from_mass
from qcm_app.io.offline import AnalyzedRun
from qcm_app.report.reference import ReferenceComparison

#: the regimes a cycle can be in; arrays of cycles carry an index into this tuple
REGIMES = ("nucleation", "steady", "anomaly")
#: written by our own run-file importer as the "Source format"
OWN_FORMAT = "qcm-monitor run file"
DASH = "—"


@dataclass(frozen=True)
class BlockSummary:
    """One recipe block (or inferred block) as the summary table shows it."""

    regime: BlockRegime
    step_names: tuple[str, ...]
    first_index: int
    last_index: int
    start_s: float
    end_s: float
    #: mean Δm of each pulse over the block's steady cycles (NaN without steady growth)
    steady_steps_ng_cm2: tuple[float, ...]
    steady_ratio_a: float
    total_mass_ng_cm2: float
    total_thickness_ang: float

    @property
    def name(self) -> str:
        return self.regime.block_name

    @property
    def cycles(self) -> int:
        return self.last_index - self.first_index + 1


@dataclass
class ReportContent:
    """Everything the report states about one run; arrays are per sample or per cycle."""

    title: str
    run_name: str
    source: str
    generated: str
    note: str
    metadata: list[tuple[str, str]]
    headline: str
    blocks: list[BlockSummary]
    cycles: list[CycleResult]
    labels: list[str]
    time_s: np.ndarray
    mass_ng_cm2: np.ndarray
    gaps: list[tuple[float, float]]
    json: dict[str, Any]
    # per-cycle arrays (same order as ``cycles``)
    index: np.ndarray = field(repr=False)
    block_index: np.ndarray = field(repr=False)
    start_s: np.ndarray = field(repr=False)
    end_s: np.ndarray = field(repr=False)
    gain_ng_cm2: np.ndarray = field(repr=False)
    regime_code: np.ndarray = field(repr=False)
    density_g_cm3: np.ndarray = field(repr=False)
    #: our per-step masses beside the tool's own table, when there is one
    reference: ReferenceComparison | None = None
    #: the valve pulses the log carries, and where they and the recipe disagree (lines for a person)
    valves: list[str] = field(default_factory=list)
    #: (time s, kind, text) of the operator's and the monitor's events: markers, notes, alarms, tares
    events: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def thickness_gain_ang(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.gain_ng_cm2 / (10.0 * self.density_g_cm3)

    def steps_matrix(self, positions: np.ndarray) -> np.ndarray:
        """Δm of each pulse (columns, recipe order) of the cycles at ``positions``, NaN-padded."""
        width = max((len(self.cycles[k].steps_ng_cm2) for k in positions), default=0)
        return np.array([_padded(self.cycles[k].steps_ng_cm2, width) for k in positions], dtype=float).reshape(
            len(positions), width)

    def cycles_of(self, block: BlockSummary) -> np.ndarray:
        """Positions (into the per-cycle arrays) of a block's cycles."""
        return np.flatnonzero(self.block_index == block.regime.block_index)


def build_content(analyzed: AnalyzedRun, note: str = "", generated: str | None = None) -> ReportContent:
    res = analyzed.result
    cycles = list(res.cycles)
    labels = [res.regime_of(c) for c in cycles]
    regime_blocks = {b.block_index: b for b in res.regimes.blocks}
    density_of = {k: (b.density_g_cm3 or math.nan) for k, b in regime_blocks.items()}
    n = len(cycles)
    arrays = dict(
        index=np.fromiter((c.index for c in cycles), dtype=int, count=n),
        block_index=np.fromiter((c.block_index for c in cycles), dtype=int, count=n),
        start_s=np.fromiter((c.start_s for c in cycles), dtype=float, count=n),
        end_s=np.fromiter((c.end_s for c in cycles), dtype=float, count=n),
        gain_ng_cm2=np.fromiter((c.mass_gain_ng_cm2 for c in cycles), dtype=float, count=n),
        regime_code=np.fromiter((REGIMES.index(lab) if lab in REGIMES else 0 for lab in labels), dtype=int, count=n),
        density_g_cm3=np.fromiter((density_of.get(c.block_index, math.nan) for c in cycles), dtype=float, count=n),
    )
    blocks = [_block_summary(b, [c for c in cycles if c.block_index == b.block_index],
                             [lab for c, lab in zip(cycles, labels, strict=True) if c.block_index == b.block_index])
              for b in res.regimes.blocks]
    blocks = [b for b in blocks if b is not None]
    generated = generated or datetime.now().astimezone().isoformat(timespec="seconds")
    source = analyzed.run.source or res.source
    run_name = Path(source).name if source else "run"
    recipe = analyzed.recipe
    title = f"QCM mass-gain report: {recipe.name}" if recipe else "QCM mass-gain report"
    content = ReportContent(
        title=title, run_name=run_name, source=source, generated=generated, note=note,
        metadata=_metadata(analyzed, blocks, note, generated),
        headline=_headline(blocks, n) + _stopped_early(recipe.total_cycles if recipe else 0, n),
        blocks=blocks, cycles=cycles, labels=labels,
        time_s=np.asarray(analyzed.time_s, dtype=float), mass_ng_cm2=np.asarray(analyzed.mass_ng_cm2, dtype=float),
        gaps=analyzed.run.gaps(), json=res.to_json_dict(),
        valves=valves_vs_recipe_text(analyzed.run.valve_pulses, recipe, limit=50), events=run_events(analyzed),
        **arrays)
    return content


def _block_summary(b: BlockRegime, cycles: list[CycleResult], labels: list[str]) -> BlockSummary | None:
    if not cycles:
        return None
    steady = [c for c, lab in zip(cycles, labels, strict=True) if lab == "steady"]
    width = max(len(c.steps_ng_cm2) for c in cycles)
    if steady:
        steps = np.array([_padded(c.steps_ng_cm2, width) for c in steady], dtype=float)
        with np.errstate(invalid="ignore"):
            step_means = tuple(float(v) for v in _nanmean(steps))
        ratio = _nanmean(np.array([c.ratio_a for c in steady], dtype=float).reshape(-1, 1))[0]
    else:
        step_means, ratio = tuple(math.nan for _ in range(width)), math.nan
    total = float(np.nansum([c.mass_gain_ng_cm2 for c in cycles]))
    thickness = float(thickness_ang_from_mass(total, b.density_g_cm3)) if b.density_g_cm3 else math.nan
    return BlockSummary(regime=b, step_names=cycles[0].step_names, first_index=cycles[0].index,
                        last_index=cycles[-1].index, start_s=cycles[0].start_s, end_s=cycles[-1].end_s,
                        steady_steps_ng_cm2=step_means, steady_ratio_a=float(ratio),
                        total_mass_ng_cm2=total, total_thickness_ang=thickness)


def _padded(values: Sequence[float], width: int) -> list[float]:
    return list(values) + [math.nan] * (width - len(values))


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN, NaN (without a warning) where a column has no number."""
    ok = np.isfinite(a)
    count = ok.sum(axis=0)
    total = np.where(ok, a, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), math.nan)


# --- words -------------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    """A number for people: fixed decimals, a dash when unknown."""
    if value is None or not math.isfinite(value):
        return DASH
    text = f"{value:.{digits}f}".replace("-", "−")
    return f"{text} {unit}".rstrip()


def fmt_thickness(ang: float) -> str:
    if not math.isfinite(ang):
        return DASH
    if abs(ang) >= 10_000:
        return f"{ang / 10_000:.3g} µm"
    if abs(ang) >= 100:
        return f"{ang / 10:.4g} nm"
    return f"{ang:.3g} Å"


def fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return DASH
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.1f} min"
    h, m = divmod(round(minutes), 60)
    return f"{h} h {m:02d} min"


def cycle_span(first: int, last: int) -> str:
    return f"#{first}" if first == last else f"#{first}–{last}"


def initiation_text(b: BlockRegime) -> str:
    if b.nucleation_kind == "none" or b.nucleation_cycles == 0:
        return "none detected" if b.has_steady else "undecided (no steady growth yet)"
    ratio = f"; first cycle {b.nucleation_gain_ratio:.2f}× steady" if math.isfinite(b.nucleation_gain_ratio) else ""
    return (f"{b.nucleation_kind}, {b.nucleation_cycles} cycle{'s' if b.nucleation_cycles != 1 else ''}"
            f"{ratio} (confidence {b.nucleation_confidence:.2f})")


def steady_text(b: BlockRegime, first_index: int) -> str:
    if not b.has_steady:
        return "not reached"
    first = b.steady_first_cycle or 1
    return (f"{fmt(b.steady_mass_ng_cm2)} ± {fmt(b.steady_std_ng_cm2)} ng/cm² "
            f"({b.steady_cycles} cycles from #{first_index + first - 1}, cycle {first} of the block)")


def gpc_text(b: BlockRegime) -> str:
    if not b.density_g_cm3:
        return f"{DASH} (no density)"
    if not math.isfinite(b.gpc_ang):
        return f"{DASH} at {b.density_g_cm3:g} g/cm³"
    return f"{b.gpc_ang:.2f} Å/cycle at {b.density_g_cm3:g} g/cm³"


def anomalies_text(b: BlockRegime) -> str:
    if not b.anomalies:
        return "none"
    parts = []
    for a in b.anomalies:
        dev = f" {a.deviation * 100:+.0f} %".replace("-", "−") if math.isfinite(a.deviation) else ""
        parts.append(cycle_span(b.first_index + a.first_cycle - 1, b.first_index + a.last_cycle - 1) + dev)
    return ", ".join(parts)


def steps_text(block: BlockSummary) -> str:
    if not any(math.isfinite(v) for v in block.steady_steps_ng_cm2):
        return DASH
    return ", ".join(f"{name} {fmt(v)}" for name, v in zip(block.step_names, block.steady_steps_ng_cm2, strict=False))


#: (heading, function of a block) for the per-block summary table, shared by HTML and PDF
def summary_columns() -> list[tuple[str, Any]]:
    return [
        ("Block", lambda s: s.name),
        ("Cycles", lambda s: f"{s.cycles} ({cycle_span(s.first_index, s.last_index)})"),
        ("Initiation", lambda s: initiation_text(s.regime)),
        ("Steady Δm per cycle", lambda s: steady_text(s.regime, s.first_index)),
        ("Steady Δm per pulse (ng/cm²)", steps_text),
        ("Δm_A / Δm_cycle", lambda s: fmt(s.steady_ratio_a, 3)),
        ("GPC", lambda s: gpc_text(s.regime)),
        ("Total mass", lambda s: fmt(s.total_mass_ng_cm2, 0, "ng/cm²")),
        ("Total thickness", lambda s: fmt_thickness(s.total_thickness_ang)),
        ("Anomalies", lambda s: anomalies_text(s.regime)),
    ]


#: run-file events the report lists (link gaps have their own row and shading)
REPORTED_EVENTS = ("marker", "note", "alarm", "crystal change", "tare", "target", "recipe")
EVENTS_LISTED_MAX = 12


def run_events(a: AnalyzedRun) -> list[tuple[float, str, str]]:
    return [(e.time_s, e.kind, e.text) for e in a.run.events
            if e.kind in REPORTED_EVENTS and math.isfinite(e.time_s)]


def _events_row(events: list[tuple[float, str, str]]) -> str:
    parts = [f"{fmt_duration(t)} {kind}" + (f": {text}" if text else "") for t, kind, text in events]
    shown = "; ".join(parts[:EVENTS_LISTED_MAX])
    if len(parts) > EVENTS_LISTED_MAX:
        shown += f"; … and {len(parts) - EVENTS_LISTED_MAX} more in the run file"
    return shown


def _stopped_early(planned_cycles: int, n_cycles: int) -> str:
    """A run that ended before its recipe did says so, in the first lines a reader sees."""
    if planned_cycles and 0 < n_cycles < planned_cycles:
        return f" The run stopped at cycle {n_cycles} of {planned_cycles}."
    return ""


def _headline(blocks: list[BlockSummary], n_cycles: int) -> str:
    if n_cycles == 0:
        return ("No deposition cycles were found in this run: no pulse pattern could be followed through "
                "the mass trace. The trace is shown below.")
    text = f"{n_cycles} cycle{'s' if n_cycles != 1 else ''} in {len(blocks)} block{'s' if len(blocks) != 1 else ''}."
    for s in blocks:
        b = s.regime
        if not b.has_steady:
            text += f" {s.name}: no steady growth detected over {s.cycles} cycles."
            continue
        text += f" {s.name}: steady {fmt(b.steady_mass_ng_cm2)} ± {fmt(b.steady_std_ng_cm2)} ng/cm² per cycle"
        if math.isfinite(b.gpc_ang):
            text += f" ({b.gpc_ang:.2f} Å/cycle at {b.density_g_cm3:g} g/cm³)"
        if b.nucleation_kind != "none" and b.nucleation_cycles:
            text += f" after {b.nucleation_kind} initiation over {b.nucleation_cycles} cycles"
        if b.anomalies:
            k = sum(a.last_cycle - a.first_cycle + 1 for a in b.anomalies)
            text += f"; {k} anomalous cycle{'s' if k != 1 else ''}"
        text += "."
    return text


def _film_settings(meta: Any, blocks: list[BlockSummary]) -> str:
    """Thickness is per block at each block's density; the file's single density is only what its
    own thickness column used."""
    tail = f"Z-ratio {meta.z_ratio:g}, tooling {meta.tooling_pct:g} %"
    per_block = [(s.name, s.regime.density_g_cm3, s.total_thickness_ang) for s in blocks]
    if any(d for _, d, _ in per_block):
        parts = [f"{name} {d:g} g/cm³ ({fmt(t)} Å)" if d else f"{name}: density not set"
                 for name, d, t in per_block]
        text = "per block: " + "; ".join(parts)
        if math.isfinite(meta.density_g_cm3):
            text += f" (the file's thickness column used {meta.density_g_cm3:g} g/cm³)"
        return f"{text}; {tail}"
    density = f"{meta.density_g_cm3:g} g/cm³" if math.isfinite(meta.density_g_cm3) else "not given"
    return f"density {density}; {tail}"


def _metadata(a: AnalyzedRun, blocks: list[BlockSummary], note: str, generated: str) -> list[tuple[str, str]]:
    run, meta = a.run, a.run.metadata
    t = np.asarray(a.time_s, dtype=float)
    duration = float(t[-1] - t[0]) if t.size > 1 else 0.0
    rate = (t.size - 1) / duration if duration > 0 else math.nan
    crystal = meta.crystal
    z_cgs = math.sqrt(crystal.quartz_density_g_cm3 * crystal.quartz_shear_modulus_g_cm_s2)
    f0_used = math.sqrt(z_cgs * 1e9 / (2.0 * a.factor_ng_cm2_per_hz)) if a.factor_ng_cm2_per_hz > 0 else math.nan
    fmt_format = meta.extra.get("Source format", DASH)
    rows: list[tuple[str, str]] = [
        ("Source file", run.source or DASH),
        ("Format", fmt_format),
        ("Instrument", meta.instrument or DASH),
        ("Firmware", meta.firmware or DASH),
        ("Start time", meta.start_time or DASH),
        ("Samples", f"{t.size} over {fmt_duration(duration)}"
                    + (f" ({rate:.3g} per second)" if math.isfinite(rate) else "")),
        ("Crystal", f"{crystal.nominal_mhz:g} MHz nominal; quartz density {crystal.quartz_density_g_cm3:g} g/cm³, "
                    f"shear modulus {crystal.quartz_shear_modulus_g_cm_s2:.4g} g/(cm·s²)"),
        ("Start frequency", f"{a.start_frequency_hz:.3f} Hz (primary sensor)"),
        ("Sauerbrey factor", f"{a.factor_ng_cm2_per_hz:.4f} ng/cm² per Hz (f0 = {f0_used:.0f} Hz)"),
        ("Film settings", _film_settings(meta, blocks)),
    ]
    if a.recipe is not None:
        rows.append(("Recipe", a.recipe.name + (f" ({a.recipe.source})" if a.recipe.source else "")))
        for block in a.recipe.blocks:
            steps = ", ".join(f"{s.name} {s.duration_s:g} s" for s in block.steps)
            rows.append((f"Block {block.name}", f"{block.repeat} cycles of {steps}"))
    else:
        rows.append(("Recipe", "none: the cycle pattern was inferred from the data"))
    if blocks:
        rows.append(("Densities", ", ".join(
            f"{s.name} {s.regime.density_g_cm3:g} g/cm³" if s.regime.density_g_cm3 else f"{s.name} not set"
            for s in blocks)))
    rows.append(("Operator note", meta.operator_note or DASH))
    if note:
        rows.append(("Report note", note))
    events = run_events(a)
    if events:
        rows.append((f"Events ({len(events)})", _events_row(events)))
    gaps = run.gaps()
    if gaps:
        lost = sum(b - a_ for a_, b in gaps)
        rows.append(("Link gaps", f"{len(gaps)} ({fmt_duration(lost)} without data)"))
    if run.warnings:
        rows.append(("Import warnings", "; ".join(run.warnings)))
    for key, value in meta.extra.items():
        if key != "Source format":
            rows.append((key, value))
    if fmt_format == OWN_FORMAT:
        rows.append(("Recorded with", f"qcm-monitor {meta.app_version}"))
    rows.append(("Report", f"qcm-monitor {__version__}, {generated}"))
    return rows


# --- the cycle table ---------------------------------------------------------------------------

def uniform_step_names(content: ReportContent) -> tuple[str, ...] | None:
    """The step names when every cycle has the same distinct ones (then columns can be named after
    them); None when blocks differ or a name repeats within a cycle (supercycles)."""
    names = {c.step_names for c in content.cycles}
    if len(names) != 1:
        return None
    only = next(iter(names))
    return only if len(set(only)) == len(only) else None


def cycles_csv(content: ReportContent) -> str:
    """``cycles.csv``: one row per cycle, units in the column names, full precision, blank if unknown."""
    named = uniform_step_names(content)
    width = max((len(c.steps_ng_cm2) for c in content.cycles), default=0)
    if named is not None:
        step_cols = [f"dm {name} (ng/cm2)" for name in named]
    else:
        step_cols = [f"dm step {k + 1} (ng/cm2)" for k in range(width)] + ["step names"]
    sigma_cols = [c.replace("dm ", "sigma dm ", 1) for c in step_cols if c.startswith("dm ")]
    header = ["index", "block", "cycle_in_block", "start (s)", "end (s)", "mass gain (ng/cm2)",
              "sigma mass gain (ng/cm2)", *step_cols, *sigma_cols,
              "ratio A/cycle", "regime", "thickness gain (A)", "density (g/cm3)", "pulses observed", "revised"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    thickness = content.thickness_gain_ang
    for k, (c, label) in enumerate(zip(content.cycles, content.labels, strict=True)):
        steps = [_csv_num(v) for v in _padded(c.steps_ng_cm2, width)]
        if named is None:
            steps.append(";".join(c.step_names))
        sigmas = [_csv_num(v) for v in _padded(c.steps_sigma_ng_cm2, width)]
        w.writerow([c.index, c.block_name, c.cycle_in_block, _csv_num(c.start_s), _csv_num(c.end_s),
                    _csv_num(c.mass_gain_ng_cm2), _csv_num(c.mass_gain_sigma_ng_cm2), *steps, *sigmas,
                    _csv_num(c.ratio_a), label, _csv_num(float(thickness[k])),
                    _csv_num(float(content.density_g_cm3[k])), sum(c.pulses_observed), int(c.revised)])
    return buf.getvalue()


def _csv_num(v: float) -> str:
    """The same rounding as summary.json (6 decimals), empty for unknown."""
    if v is None or not math.isfinite(v):
        return ""
    return repr(round(float(v), 6))


def table_rows(content: ReportContent, block: BlockSummary) -> list[list[str]]:
    """A block's cycles as strings for the HTML and PDF tables (columns: see :func:`table_header`)."""
    rows = []
    thickness = content.thickness_gain_ang
    for k in content.cycles_of(block):
        c = content.cycles[k]
        rows.append([str(c.index), str(c.cycle_in_block), fmt(c.start_s), fmt(c.end_s),
                     *(fmt(v) for v in _padded(c.steps_ng_cm2, len(block.step_names))),
                     fmt(c.ratio_a, 3), fmt(c.mass_gain_ng_cm2), fmt(float(thickness[k]), 2), content.labels[k]])
    return rows


def table_header(block: BlockSummary) -> list[str]:
    first = block.step_names[0] if block.step_names else "A"
    # the ratio is a share of the cycle's mass, next to the masses it divides, away from Δd (Å)
    return ["#", "in block", "start (s)", "end (s)", *(f"Δm {n}" for n in block.step_names),
            f"{first} share", "Δm cycle", "Δd (Å)", "regime"]
