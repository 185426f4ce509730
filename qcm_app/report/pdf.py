"""The report as a multi-page A4 PDF: a title page with the run's metadata and the per-block summary,
two pages of figures, then the table of every cycle over as many pages as it needs.

Pages are matplotlib figures written through ``PdfPages``, so the figures stay vector graphics
with embedded TrueType text. The cycle table is one line of text per row, set in Courier, one of
the fonts every PDF viewer has built in: matplotlib then writes each row as a single string instead
of placing and embedding every glyph, which is what keeps a day-long run's 45 pages of table at
about a second rather than ten. The rows are ASCII, which those fonts cover.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure, FigureBase
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.text import Text

from qcm_app import __version__
from qcm_app.report import figures
from qcm_app.report.content import REGIMES, ReportContent
from qcm_app.report.cycle_table import table_header, table_rows
from qcm_app.report.figures import CAPTIONS
from qcm_app.report.plotting import FILL, new_figure, polygons
from qcm_app.report.wording import summary_columns

# fontTools logs every subsetting step at INFO (~300 lines per PDF); only its warnings matter here
logging.getLogger("fontTools").setLevel(logging.WARNING)

A4_IN = (8.27, 11.69)
MARGIN_IN = 0.6
BODY_PT = 8.5
TABLE_PT = 8.0
#: width of an average character in units of the font size (DejaVu Sans / DejaVu Sans Mono)
SANS_EM = 0.55
MONO_EM = 0.602
#: blocks per column group of the transposed summary table on the title page
SUMMARY_BLOCKS_PER_TABLE = 3


class _Flow:
    """Top-to-bottom text layout over as many pages as the content needs (positions in inches)."""

    def __init__(self, pdf: PdfPages, content: ReportContent) -> None:
        self.pdf = pdf
        self.content = content
        self.page: Figure | None = None
        self.y = 0.0
        self.pages = 0

    @property
    def width(self) -> float:
        return A4_IN[0] - 2 * MARGIN_IN

    def new_page(self) -> Figure:
        self.finish()
        self.page = new_figure(*A4_IN, layout=None)
        self.pages += 1
        _furniture(self.page, self.content, self.pdf.get_pagecount() + 1)
        self.y = MARGIN_IN
        return self.page

    def finish(self) -> None:
        if self.page is not None:
            self.pdf.savefig(self.page)
            self.page = None

    def room(self, height: float) -> None:
        if self.page is None or self.y + height > A4_IN[1] - MARGIN_IN:
            self.new_page()

    def text(self, x: float, text: str, size: float = BODY_PT, **kw: Any) -> None:
        assert self.page is not None
        self.page.text(x / A4_IN[0], 1 - self.y / A4_IN[1], text, fontsize=size, va="top", ha="left", **kw)

    def paragraph(self, text: str, size: float = BODY_PT, gap: float = 0.08, **kw: Any) -> None:
        lines = textwrap.wrap(text, _chars(self.width, size)) or [""]
        height = len(lines) * _line(size)
        self.room(height)
        self.text(MARGIN_IN, "\n".join(lines), size, linespacing=1.3, **kw)
        self.y += height + gap

    def grid(
        self,
        header: Sequence[str] | None,
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        size: float = BODY_PT,
        bold_first: bool = False,
    ) -> None:
        """A table whose cells wrap inside their column; the header repeats on every page it spans."""
        lh = _line(size)

        def wrap(cells: Sequence[str]) -> tuple[list[list[str]], float]:
            wrapped = [textwrap.wrap(c, _chars(w - 0.08, size)) or [""] for c, w in zip(cells, widths, strict=True)]
            return wrapped, max(len(w) for w in wrapped) * lh + 0.06

        def draw(wrapped: list[list[str]], height: float, header_row: bool) -> None:
            x = MARGIN_IN
            for j, (lines, w) in enumerate(zip(wrapped, widths, strict=True)):
                first = bold_first and j == 0
                self.text(
                    x,
                    "\n".join(lines),
                    size,
                    linespacing=1.3,
                    fontweight="bold" if header_row or first else "normal",
                    color="#37474F" if first else "#212121",
                )
                x += w
            self.y += height
            assert self.page is not None
            self.page.add_artist(
                _hline(
                    MARGIN_IN,
                    MARGIN_IN + sum(widths),
                    1 - (self.y - 0.03) / A4_IN[1],
                    "#90A4AE" if header_row else "#E0E0E0",
                )
            )

        head = wrap(header) if header is not None else None
        for k, row in enumerate(rows):
            cells, height = wrap(row)
            before = self.pages
            self.room(height + (head[1] if head is not None and k == 0 else 0.0))
            if head is not None and (k == 0 or self.pages != before):
                draw(*head, header_row=True)
            draw(cells, height, header_row=False)
        self.y += 0.12


def _hline(x0: float, x1: float, y: float, colour: str) -> Line2D:
    return Line2D([x0 / A4_IN[0], x1 / A4_IN[0]], [y, y], lw=0.5, color=colour)


def _chars(width_in: float, size: float, em: float = SANS_EM) -> int:
    return max(8, int(width_in * 72 / (em * size)))


def _line(size: float) -> float:
    return size * 1.3 / 72


def _furniture(page: FigureBase, content: ReportContent, number: int) -> None:
    """Running header and page number."""
    page.text(
        MARGIN_IN / A4_IN[0],
        1 - 0.35 / A4_IN[1],
        f"{content.title} — {content.run_name}",
        fontsize=7,
        color="#78909C",
        va="bottom",
    )
    page.text(1 - MARGIN_IN / A4_IN[0], 0.3 / A4_IN[1], f"page {number}", fontsize=7, color="#78909C", ha="right")


def write_pdf(path: Path, content: ReportContent) -> int:
    """Write the PDF; returns its page count."""
    metadata = {
        "Title": f"{content.title} — {content.run_name}",
        "Creator": f"qcm-monitor {__version__}",
        "Subject": "QCM mass gain per deposition cycle",
    }
    # the file is ours to close, so a disk that refuses the last bytes leaves no open handle behind
    with open(path, "wb") as fh, PdfPages(fh, metadata=metadata) as pdf:
        flow = _Flow(pdf, content)
        _title_pages(flow, content)
        flow.finish()
        if content.cycles:
            _figure_page(pdf, content, [("mass", figures.draw_mass_time, 1), ("gains", figures.draw_cycle_gains, 2)])
            _figure_page(pdf, content, [("half", figures.draw_half_cycles, 3), ("zooms", figures.draw_zooms, 4)])
            _cycle_table_pages(pdf, content)
        else:
            _figure_page(pdf, content, [("mass", figures.draw_mass_time, 1)])
        return pdf.get_pagecount()


def _title_pages(flow: _Flow, content: ReportContent) -> None:
    flow.new_page()
    flow.paragraph(content.title, size=16, gap=0.04, fontweight="bold")
    flow.paragraph(f"{content.run_name} · generated {content.generated}", size=9, color="#546E7A", gap=0.18)
    flow.paragraph(content.headline, size=9.5, gap=0.14)
    if content.note:
        flow.paragraph(f"Note: {content.note}", size=9, gap=0.14)
    flow.paragraph("Run", size=11.5, fontweight="bold", gap=0.06)
    flow.grid(None, content.metadata, [1.55, flow.width - 1.55], size=BODY_PT, bold_first=True)
    flow.paragraph("Summary per block", size=11.5, fontweight="bold", gap=0.06)
    if not content.blocks:
        flow.paragraph("No deposition cycles were found, so there is nothing to summarise.")
        return
    cols = summary_columns()
    for k in range(0, len(content.blocks), SUMMARY_BLOCKS_PER_TABLE):
        group = content.blocks[k : k + SUMMARY_BLOCKS_PER_TABLE]
        label_w = 1.55
        w = (flow.width - label_w) / max(len(group), 2)
        rows = [[heading, *(str(f(b)) for b in group)] for heading, f in cols[1:]]
        flow.grid([cols[0][0], *(b.name for b in group)], rows, [label_w, *([w] * len(group))], bold_first=True)
    flow.paragraph(
        "Mass gains are per cycle in ng/cm²; GPC = steady mass per cycle / (10 × density). Regime "
        "colours in every figure and table: orange = initiation (nucleation), green = steady growth, "
        "red = anomaly.",
        size=7.5,
        color="#546E7A",
    )


def _figure_page(
    pdf: PdfPages, content: ReportContent, items: Sequence[tuple[str, Callable[[FigureBase, ReportContent], None], int]]
) -> None:
    """Figures stacked on one A4 page, each with its caption under it."""
    page = new_figure(*A4_IN)
    engine = page.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # new_figure's default layout
    engine.set(w_pad=0.04, h_pad=0.04)
    heights: list[float] = [0.45]
    for _ in items:
        heights += [4.85 if len(items) > 1 else 6.0, 0.62]
    heights.append(A4_IN[1] - sum(heights))
    grid = page.subfigures(
        len(heights),
        3,
        height_ratios=heights,
        width_ratios=[MARGIN_IN - 0.15, A4_IN[0] - 2 * MARGIN_IN + 0.3, MARGIN_IN - 0.15],
        squeeze=False,
    )
    for j, (key, draw, number) in enumerate(items):
        draw(grid[1 + 2 * j, 1], content)
        cap = grid[2 + 2 * j, 1]
        text = "\n".join(textwrap.wrap(f"Figure {number}. {CAPTIONS[key]}", _chars(A4_IN[0] - 2 * MARGIN_IN, 7.5)))
        cap.text(0.02, 0.92, text, fontsize=7.5, va="top", ha="left", color="#37474F", linespacing=1.25)
    _furniture(page, content, pdf.get_pagecount() + 1)
    pdf.savefig(page)


def _cycle_table_pages(pdf: PdfPages, content: ReportContent) -> None:
    """Every cycle, block by block, as fixed-width rows (one text object per row)."""
    usable_w = A4_IN[0] - 2 * MARGIN_IN
    for block in content.blocks:
        header = table_header(block)
        rows = table_rows(content, block)
        widths = (
            [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
            if rows
            else [len(h) for h in header]
        )
        total_chars = sum(widths) + 2 * (len(widths) - 1)
        size = min(TABLE_PT, usable_w * 72 / (MONO_EM * total_chars))
        line = size * 1.45 / 72
        top = MARGIN_IN + 0.55
        per_page = int((A4_IN[1] - MARGIN_IN - 0.2 - top) / line)
        head = _mono_row(header, widths)
        regimes = [r[-1] for r in rows]  # the regime is the last column
        for first in range(0, max(len(rows), 1), per_page):
            page = new_figure(*A4_IN, layout=None)
            _furniture(page, content, pdf.get_pagecount() + 1)
            title = f"Cycles of {block.name} (#{block.first_index}–{block.last_index})"
            if first:
                title += ", continued"
            page.text(
                MARGIN_IN / A4_IN[0],
                1 - (MARGIN_IN + 0.05) / A4_IN[1],
                title,
                fontsize=10.5,
                fontweight="bold",
                va="top",
            )
            page.text(
                MARGIN_IN / A4_IN[0],
                1 - (MARGIN_IN + 0.3) / A4_IN[1],
                "Δm in ng/cm², times in s from the start of the run, Δd at the block's density",
                fontsize=7,
                color="#546E7A",
                va="top",
            )
            chunk = rows[first : first + per_page]
            _tint_rows(page, regimes[first : first + per_page], top + line, line, usable_w)
            x = MARGIN_IN / A4_IN[0]
            page.text(
                x,
                1 - top / A4_IN[1],
                head,
                fontsize=size,
                family="DejaVu Sans Mono",
                fontweight="bold",
                va="top",
                ha="left",
            )
            ys = [1 - (top + k * line) / A4_IN[1] for k in range(1, len(chunk) + 1)]
            page.add_artist(_CoreFontRows(page, x, ys, [_mono_row(r, widths).replace("−", "-") for r in chunk], size))
            pdf.savefig(page)


class _CoreFontRows(Artist):
    """Lines of text in the viewer's built-in Courier (not embedded, no per-glyph layout); ASCII only."""

    def __init__(self, page: Figure, x: float, ys: Sequence[float], lines: Sequence[str], size: float) -> None:
        super().__init__()
        self.set_figure(page)
        self.texts = [
            Text(
                x,
                y,
                line,
                family="Courier",
                fontweight="medium",
                fontsize=size,
                va="top",
                ha="left",
                transform=page.transFigure,
            )
            for y, line in zip(ys, lines, strict=True)
        ]
        for t in self.texts:
            t.set_figure(page)

    def draw(self, renderer: RendererBase) -> None:
        # the PDF backend reads this setting while it measures and writes each text
        with matplotlib.rc_context({"pdf.use14corefonts": True}):
            for t in self.texts:
                t.draw(renderer)


def _mono_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Numbers right-aligned in their column, the last (regime) column left-aligned."""
    parts = [c.rjust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
    return "  ".join([*parts, cells[-1].ljust(widths[-1])])


def _tint_rows(page: Figure, regimes: Sequence[str], top_in: float, line_in: float, width_in: float) -> None:
    """Background of nucleation and anomaly rows in the figures' fill colours (one collection)."""
    k = np.array([i for i, r in enumerate(regimes) if r != "steady"], dtype=int)
    if not k.size:
        return
    y_top = 1 - (top_in + k * line_in - 0.2 * line_in) / A4_IN[1]
    y_bot = y_top - line_in / A4_IN[1]
    x0, x1 = (MARGIN_IN - 0.03) / A4_IN[0], (MARGIN_IN + width_in) / A4_IN[0]
    verts = np.stack(
        [
            np.column_stack((np.full(k.size, x0), y_bot)),
            np.column_stack((np.full(k.size, x1), y_bot)),
            np.column_stack((np.full(k.size, x1), y_top)),
            np.column_stack((np.full(k.size, x0), y_top)),
        ],
        axis=1,
    )
    colours = [FILL[regimes[i]] if regimes[i] in REGIMES else "white" for i in k]
    page.add_artist(
        polygons(verts, facecolors=colours, edgecolors="none", alpha=0.45, transform=page.transFigure, zorder=0)
    )
