"""The table of every cycle: ``cycles.csv`` at full precision with units in the column names, and the
same rows as strings for the HTML and PDF tables.
"""

from __future__ import annotations

import csv
import io
import math

from qcm_app.report.content import BlockSummary, ReportContent, _padded
from qcm_app.report.wording import fmt


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
    header = [
        "index",
        "block",
        "cycle_in_block",
        "start (s)",
        "end (s)",
        "mass gain (ng/cm2)",
        "sigma mass gain (ng/cm2)",
        *step_cols,
        *sigma_cols,
        "ratio A/cycle",
        "regime",
        "thickness gain (A)",
        "density (g/cm3)",
        "pulses observed",
        "revised",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    thickness = content.thickness_gain_ang
    for k, (c, label) in enumerate(zip(content.cycles, content.labels, strict=True)):
        steps = [_csv_num(v) for v in _padded(c.steps_ng_cm2, width)]
        if named is None:
            steps.append(";".join(c.step_names))
        sigmas = [_csv_num(v) for v in _padded(c.steps_sigma_ng_cm2, width)]
        w.writerow(
            [
                c.index,
                c.block_name,
                c.cycle_in_block,
                _csv_num(c.start_s),
                _csv_num(c.end_s),
                _csv_num(c.mass_gain_ng_cm2),
                _csv_num(c.mass_gain_sigma_ng_cm2),
                *steps,
                *sigmas,
                _csv_num(c.ratio_a),
                label,
                _csv_num(float(thickness[k])),
                _csv_num(float(content.density_g_cm3[k])),
                sum(c.pulses_observed),
                int(c.revised),
            ]
        )
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
        rows.append(
            [
                str(c.index),
                str(c.cycle_in_block),
                fmt(c.start_s),
                fmt(c.end_s),
                *(fmt(v) for v in _padded(c.steps_ng_cm2, len(block.step_names))),
                fmt(c.ratio_a, 3),
                fmt(c.mass_gain_ng_cm2),
                fmt(float(thickness[k]), 2),
                content.labels[k],
            ]
        )
    return rows


def table_header(block: BlockSummary) -> list[str]:
    first = block.step_names[0] if block.step_names else "A"
    # the ratio is a share of the cycle's mass, next to the masses it divides, away from Δd (Å)
    return [
        "#",
        "in block",
        "start (s)",
        "end (s)",
        *(f"Δm {n}" for n in block.step_names),
        f"{first} share",
        "Δm cycle",
        "Δd (Å)",
        "regime",
    ]
