"""The report's words: numbers for people (a dash when unknown), what each block's regime means in
a line, the headline, and the run's metadata rows. HTML and PDF say the same because both read these.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from qcm_app import __version__
from qcm_app.analysis.regimes import BlockRegime
from qcm_app.io.importers import OWN_FORMAT  # our run file's "Source format"
from qcm_app.io.offline import AnalyzedRun

if TYPE_CHECKING:
    from qcm_app.report.content import BlockSummary

DASH = "—"


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
    return (
        f"{b.nucleation_kind}, {b.nucleation_cycles} cycle{'s' if b.nucleation_cycles != 1 else ''}"
        f"{ratio} (confidence {b.nucleation_confidence:.2f})"
    )


def steady_text(b: BlockRegime, first_index: int) -> str:
    if not b.has_steady:
        return "not reached"
    first = b.steady_first_cycle or 1
    return (
        f"{fmt(b.steady_mass_ng_cm2)} ± {fmt(b.steady_std_ng_cm2)} ng/cm² "
        f"({b.steady_cycles} cycles from #{first_index + first - 1}, cycle {first} of the block)"
    )


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
    return [(e.time_s, e.kind, e.text) for e in a.run.events if e.kind in REPORTED_EVENTS and math.isfinite(e.time_s)]


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
        return (
            "No deposition cycles were found in this run: no pulse pattern could be followed through "
            "the mass trace. The trace is shown below."
        )
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
        parts = [f"{name} {d:g} g/cm³ ({fmt(t)} Å)" if d else f"{name}: density not set" for name, d, t in per_block]
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
        (
            "Samples",
            f"{t.size} over {fmt_duration(duration)}" + (f" ({rate:.3g} per second)" if math.isfinite(rate) else ""),
        ),
        (
            "Crystal",
            f"{crystal.nominal_mhz:g} MHz nominal; quartz density {crystal.quartz_density_g_cm3:g} g/cm³, "
            f"shear modulus {crystal.quartz_shear_modulus_g_cm_s2:.4g} g/(cm·s²)",
        ),
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
        rows.append(
            (
                "Densities",
                ", ".join(
                    f"{s.name} {s.regime.density_g_cm3:g} g/cm³" if s.regime.density_g_cm3 else f"{s.name} not set"
                    for s in blocks
                ),
            )
        )
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
