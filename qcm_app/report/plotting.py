"""What the report's figures share: the colours (the HTML tables use the same), the style, a figure
on the Agg canvas and its inline SVG text, regime shading and legends, one panel per block, and axis
limits that keep small numbers readable. Matplotlib's object API only: no pyplot, no global figure
state, no display.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure, FigureBase
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from qcm_app.report.content import REGIMES, BlockSummary, ReportContent

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: light fills for shaded regions, strong colours for markers; the HTML tables use the same
FILL = {"nucleation": "#FFB74D", "steady": "#A5D6A7", "anomaly": "#EF9A9A"}
STRONG = {"nucleation": "#EF6C00", "steady": "#2E7D32", "anomaly": "#C62828"}
#: pulse colours, chosen away from the regime colours
STEP_COLOURS = ("#1565C0", "#6A1B9A", "#00838F", "#8D6E63", "#546E7A", "#AD1457", "#9E9D24", "#283593")
TRACE = "#263238"
EVENT_COLOUR = "#6A1B9A"
#: the narrowest mass axis (ng/cm²) of the per-cycle figures
MIN_MASS_SPAN_NG_CM2 = 4.0
#: at most this many blocks get a panel each; more share one panel
MAX_BLOCK_PANELS = 4

STYLE: dict[RcKeyType, Any] = {
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E0E0E0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "pdf.fonttype": 42,  # TrueType in the PDF: journals ask for it and the text stays editable
    "svg.fonttype": "none",  # SVG text as text: smaller, searchable, selectable
    "figure.dpi": 100,
}


def new_figure(
    width_in: float, height_in: float, layout: Literal["constrained", "compressed", "tight"] | None = "constrained"
) -> Figure:
    """A figure on the Agg canvas (no pyplot involved, so no global figure registry or backend switch)."""
    fig = Figure(figsize=(width_in, height_in), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def svg_text(fig: Figure, salt: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog; stable ids per ``salt``
    so several figures on one page never share an id)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.id": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    # matplotlib names every group figure_1, axes_1, ... in each SVG; nothing refers to those names
    # (markers and clip paths are salted <path>/<clipPath> ids), and on one page they would repeat
    return re.sub(r'<g id="[^"]*"', "<g", text[text.index("<svg") :])


def _shade(ax, starts: np.ndarray, ends: np.ndarray, codes: np.ndarray, scale: float, alpha: float = 0.55) -> None:
    """Full-height bands in one collection (x in data units, y in axes units)."""
    if not starts.size:
        return
    x0, x1 = starts / scale, ends / scale
    verts = np.stack(
        [
            np.column_stack((x0, np.zeros_like(x0))),
            np.column_stack((x1, np.zeros_like(x0))),
            np.column_stack((x1, np.ones_like(x0))),
            np.column_stack((x0, np.ones_like(x0))),
        ],
        axis=1,
    )
    colours = [FILL[REGIMES[c]] for c in codes]
    coll = polygons(
        verts,
        facecolors=colours,
        edgecolors="none",
        linewidths=0,
        alpha=alpha,
        transform=ax.get_xaxis_transform(),
        zorder=0,
        antialiaseds=False,
    )
    ax.add_collection(coll, autolim=False)


def polygons(verts: np.ndarray, **kw: Any) -> PolyCollection:
    """One collection of the polygons in an (N, M, 2) array of vertices."""
    # matplotlib's stub asks for a Sequence of polygons, but an (N, M, 2) array is documented and
    # takes PolyCollection's fast path (no copy per polygon)
    return PolyCollection(verts, **kw)  # type: ignore[arg-type]


def _regime_legend(present: Iterable[int], patches: bool) -> list[Artist]:
    out: list[Artist] = []
    for code in sorted(set(int(c) for c in present)):
        name = REGIMES[code]
        if patches:
            out.append(Patch(facecolor=FILL[name], alpha=0.8, label=name))
        else:
            out.append(Line2D([], [], ls="", marker="o", ms=4.5, color=STRONG[name], label=name))
    return out


def _message(container: FigureBase, text: str) -> None:
    ax = container.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35", wrap=True)


def _block_panels(
    container: FigureBase, content: ReportContent, rows: int = 1
) -> list[tuple[BlockSummary | None, list]]:
    """One column of axes per block (widths follow the cycle counts, with a floor so a short
    block stays readable), or one shared column when there are many blocks."""
    blocks = content.blocks
    groups: list[BlockSummary | None] = list(blocks) if len(blocks) <= MAX_BLOCK_PANELS else [None]
    counts = [b.cycles if b is not None else len(content.cycles) for b in groups]
    widths = [max(c, 0.3 * max(counts)) for c in counts]
    gs = container.add_gridspec(rows, len(groups), width_ratios=widths)
    out = []
    for j, b in enumerate(groups):
        out.append((b, [container.add_subplot(gs[i, j]) for i in range(rows)]))
    return out


def _mark_blocks(ax, content: ReportContent, block: BlockSummary | None) -> None:
    """On a panel shared by many blocks, a dashed line where each block after the first starts."""
    if block is None and len(content.blocks) > 1:
        ax.vlines(
            [b.first_index - 0.5 for b in content.blocks[1:]],
            0,
            1,
            transform=ax.get_xaxis_transform(),
            colors="0.2",
            linestyles=(0, (4, 3)),
            lw=0.8,
            zorder=2,
        )


def _positions(content: ReportContent, block: BlockSummary | None) -> np.ndarray:
    return np.arange(len(content.cycles)) if block is None else content.cycles_of(block)


def _cycle_xlim(ax, index: np.ndarray) -> None:
    if index.size:
        pad = max(0.6, 0.01 * (index[-1] - index[0]))
        ax.set_xlim(index[0] - pad, index[-1] + pad)


def _step_colours(content: ReportContent) -> dict[str, str]:
    out: dict[str, str] = {}
    for b in content.blocks:
        for n in b.step_names:
            if n not in out:
                out[n] = STEP_COLOURS[len(out) % len(STEP_COLOURS)]
    return out


def _readable_ylim(ax, minimum_span: float = MIN_MASS_SPAN_NG_CM2) -> None:
    """A mass axis never narrower than a couple of ng/cm² (about the QCM's noise): zero or flat gains
    then read as zero, not as a ±0.04 scale that makes nothing look like something."""
    lo, hi = ax.get_ylim()
    if hi - lo < minimum_span:
        middle = (lo + hi) / 2
        ax.set_ylim(middle - minimum_span / 2, middle + minimum_span / 2)


def _robust_ylim(ax, values: np.ndarray) -> None:
    """Limits from the 2nd–98th percentiles, so one wild ratio (a cycle with almost no gain) does not
    flatten the rest."""
    v = values[np.isfinite(values)]
    if v.size < 2:
        return
    lo, hi = np.percentile(v, [2, 98])
    lo, hi = min(lo, float(np.median(v))), max(hi, float(np.median(v)))
    pad = max(0.3 * (hi - lo), 0.02 * max(abs(hi), abs(lo), 1e-3))
    ax.set_ylim(lo - pad, hi + pad)
