"""The report as one self-contained HTML file (figures inlined as SVG, styles inline, no script), so
it can be mailed, archived in a lab notebook or attached to a paper's supplement and still open
years later with nothing beside it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from qcm_app import __version__
from qcm_app.report.content import ReportContent
from qcm_app.report.cycle_table import table_header, table_rows
from qcm_app.report.figures import CAPTIONS
from qcm_app.report.plotting import FILL, STRONG
from qcm_app.report.reference import ReferenceComparison
from qcm_app.report.wording import DASH, fmt, summary_columns

#: above this many cycles the cycle table starts folded (still in the file, one click away)
OPEN_TABLE_MAX_CYCLES = 300

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #212121;
       max-width: 1180px; margin: 1.5em auto; padding: 0 1.2em; line-height: 1.4; font-size: 15px; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #CFD8DC; padding-bottom: 0.15em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
.sub { color: #546E7A; margin-top: 0; }
.headline { font-size: 1.05em; background: #F5F7F8; border-left: 4px solid #78909C; padding: 0.6em 0.9em; }
table { border-collapse: collapse; font-size: 13px; margin: 0.4em 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ECEFF1; vertical-align: top; text-align: left; }
th { background: #ECEFF1; font-weight: 600; }
table.meta th { background: none; white-space: nowrap; color: #455A64; }
table.cycles td, table.cycles th, table.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.cycles td:last-child, table.cycles th:last-child { text-align: left; }
tr.nucleation td { background: NUC_FILL; }
tr.anomaly td { background: ANO_FILL; }
span.tag { border-radius: 3px; padding: 0 5px; color: #fff; font-size: 12px; }
span.nucleation { background: NUC_STRONG; } span.steady { background: STEADY_STRONG; }
span.anomaly { background: ANO_STRONG; }
figure { margin: 1.2em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #37474F; max-width: 60em; }
details summary { cursor: pointer; color: #37474F; }
footer { margin-top: 2.5em; font-size: 12px; color: #78909C; }
@media print { body { max-width: none; font-size: 11px; } figure, table.summary { page-break-inside: avoid; }
               details > summary { display: none; } }
"""


def _style() -> str:
    light = {k: v + "66" for k, v in FILL.items()}  # the figures' fills, lighter behind table rows
    return (
        _CSS.replace("NUC_FILL", light["nucleation"])
        .replace("ANO_FILL", light["anomaly"])
        .replace("NUC_STRONG", STRONG["nucleation"])
        .replace("STEADY_STRONG", STRONG["steady"])
        .replace("ANO_STRONG", STRONG["anomaly"])
    )


def _page(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta name="generator" content="qcm-monitor {escape(__version__)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{_style()}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _tag(regime: str) -> str:
    return f'<span class="tag {escape(regime)}">{escape(regime)}</span>'


def report_html(content: ReportContent, svgs: Mapping[str, str], files: Sequence[str]) -> str:
    """The page for one run; ``svgs`` maps figure keys (see ``CAPTIONS``) to inline ``<svg>`` text."""
    body = [
        f"<h1>{escape(content.title)}</h1>",
        f'<p class="sub">{escape(content.run_name)} · generated {escape(content.generated)} by qcm-monitor '
        f"{escape(__version__)}</p>",
        f'<p class="headline">{escape(content.headline)}</p>',
    ]
    if content.note:
        body.append(f"<p><strong>Note:</strong> {escape(content.note)}</p>")
    body.append("<h2>Run</h2>")
    body.append('<table class="meta">')
    body += [f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in content.metadata]
    body.append("</table>")
    body.append("<h2>Summary per block</h2>")
    if content.blocks:
        cols = summary_columns()
        body.append('<table class="summary"><tr>' + "".join(f"<th>{escape(h)}</th>" for h, _ in cols) + "</tr>")
        for block in content.blocks:
            body.append("<tr>" + "".join(f"<td>{escape(str(f(block)))}</td>" for _, f in cols) + "</tr>")
        body.append("</table>")
        body.append(
            "<p>Regimes: "
            + " ".join(_tag(r) for r in ("nucleation", "steady", "anomaly"))
            + " — mass gains are per cycle in ng/cm²; GPC = steady mass per cycle / (10 × density).</p>"
        )
    else:
        body.append("<p>No deposition cycles were found, so there is nothing to summarise.</p>")
    if content.valves:
        body.append("<h2>Valves and recipe</h2>")
        body.append("<p>" + "<br>".join(escape(line.strip()) for line in content.valves) + "</p>")
    if content.reference is not None:
        body += reference_html(content.reference)
    body.append("<h2>Figures</h2>")
    for n, key in enumerate(("mass", "gains", "half", "zooms"), start=1):
        if key in svgs:
            body.append(
                f'<figure id="fig-{key}">{svgs[key]}'
                f"<figcaption><strong>Figure {n}.</strong> {escape(CAPTIONS[key])}</figcaption></figure>"
            )
    body.append("<h2>Cycles</h2>")
    if not content.cycles:
        body.append("<p>No cycles.</p>")
    folded = len(content.cycles) > OPEN_TABLE_MAX_CYCLES
    for block in content.blocks:
        header = table_header(block)
        body.append(f"<h3>{escape(block.name)}: cycles #{block.first_index}–{block.last_index}</h3>")
        body.append("<details open>" if not folded else "<details>")
        body.append(
            f"<summary>{block.cycles} cycles (Δm in ng/cm², times in s from the start of the run, Δd "
            "at the block's density)</summary>"
        )
        body.append('<table class="cycles"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>")
        rows = []
        for row in table_rows(content, block):
            regime = row[-1]
            cells = "".join(f"<td>{escape(v)}</td>" for v in row[:-1])
            rows.append(f'<tr class="{escape(regime)}">{cells}<td>{_tag(regime)}</td></tr>')
        body.append("\n".join(rows))
        body.append("</table></details>")
    body.append(
        "<footer>Files of this report: " + ", ".join(f'<a href="{quote(f)}">{escape(f)}</a>' for f in files) + ". "
        "cycles.csv holds every number above at full precision; summary.json the analysis as "
        "<code>qcm analyze --json</code> writes it.</footer>"
    )
    return _page(f"{content.title} — {content.run_name}", body)


def reference_html(ref: ReferenceComparison) -> list[str]:
    """Our ΔM of every step beside the tool's own table."""
    out = [
        "<h2>Beside the tool's own masses</h2>",
        f"<p>{escape(ref.summary())} (tool table: {escape(Path(ref.source).name)}).</p>",
        '<details><summary>Every step</summary><table class="cycles"><tr><th>tool step</th><th>precursor</th>'
        "<th>start (s)</th><th>tool ΔM (ng/cm²)</th><th>ours (ng/cm²)</th><th>ours − tool</th></tr>",
    ]
    for p in ref.pairs:
        ours = f"{p.ours_ng_cm2:.1f}" if math.isfinite(p.ours_ng_cm2) else "no pulse"
        diff = f"{p.difference_ng_cm2:+.1f}" if math.isfinite(p.ours_ng_cm2) else DASH
        out.append(
            f"<tr><td>{p.step}</td><td>{escape(p.precursor)}</td><td>{p.start_s:.1f}</td>"
            f"<td>{p.tool_ng_cm2:.0f}</td><td>{ours}</td><td>{diff}</td></tr>"
        )
    out.append("</table></details>")
    if ref.unmatched_ours:
        listed = ", ".join(f"{n} at {t:.1f} s" for t, n, _ in ref.unmatched_ours[:20])
        out.append(
            f"<p>Pulses of ours with no tool dose: {escape(listed)}{' …' if len(ref.unmatched_ours) > 20 else ''}.</p>"
        )
    return out


@dataclass(frozen=True)
class IndexRow:
    """One run on the comparison page."""

    name: str
    folder: str
    source: str
    cycles: int
    recipe: str
    block: str
    steady_ng_cm2: float
    std_ng_cm2: float
    gpc_ang: float
    density_g_cm3: float | None
    nucleation: str
    anomalous_cycles: int


def index_html(rows: Sequence[IndexRow], comparison_svg: str, generated: str) -> str:
    body = [
        "<h1>QCM mass-gain reports</h1>",
        f'<p class="sub">{len(rows)} runs · generated {escape(generated)} by qcm-monitor {escape(__version__)}</p>',
        "<h2>Runs</h2>",
        '<table class="runs"><tr><th>Run</th><th>Cycles</th><th>Recipe</th><th>Last block</th>'
        "<th>Steady Δm per cycle (ng/cm²)</th><th>GPC (Å/cycle)</th><th>Initiation</th>"
        "<th>Anomalous cycles</th><th>Source</th></tr>",
    ]
    for r in rows:
        steady = DASH if not math.isfinite(r.steady_ng_cm2) else f"{fmt(r.steady_ng_cm2)} ± {fmt(r.std_ng_cm2)}"
        gpc = fmt(r.gpc_ang, 2) + (f" at {r.density_g_cm3:g} g/cm³" if math.isfinite(r.gpc_ang) else "")
        body.append(
            f'<tr><td><a href="{quote(r.folder)}/report.html">{escape(r.name)}</a></td>'
            f'<td class="num">{r.cycles}</td><td>{escape(r.recipe or DASH)}</td><td>{escape(r.block)}</td>'
            f'<td class="num">{escape(steady)}</td><td class="num">{escape(gpc)}</td>'
            f'<td>{escape(r.nucleation)}</td><td class="num">{r.anomalous_cycles}</td>'
            f"<td>{escape(r.source)}</td></tr>"
        )
    body.append("</table>")
    body.append(
        f'<figure id="fig-compare">{comparison_svg}<figcaption><strong>Comparison.</strong> Left: steady '
        "mass gain per cycle of each run's last block, ± one standard deviation. Right: number of cycles "
        "in the initiation region (first block that has one).</figcaption></figure>"
    )
    body.append(
        "<footer>Each run's folder holds report.html, report.pdf, cycles.csv and summary.json; "
        "index.csv holds this table.</footer>"
    )
    return _page("QCM mass-gain reports", body)
