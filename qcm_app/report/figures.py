"""The report's figures, drawn with matplotlib's object API (no pyplot: no global figure state, no
display, the Agg canvas attached explicitly).

Each ``draw_*`` function fills a container it is given, a whole :class:`~matplotlib.figure.Figure`
for the HTML page or a :class:`~matplotlib.figure.SubFigure` of a PDF page, so one drawing serves
both. Long runs stay fast because nothing is drawn per sample or per cycle in Python: the mass trace
is reduced to min/max per bucket, cycle shading is one :class:`PolyCollection`, markers one scatter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from qcm_app.report.content import REGIMES, BlockSummary, ReportContent
from qcm_app.report.plotting import (
    EVENT_COLOUR,
    FILL,
    STEP_COLOURS,
    STRONG,
    TRACE,
    _block_panels,
    _cycle_xlim,
    _mark_blocks,
    _message,
    _positions,
    _readable_ylim,
    _regime_legend,
    _robust_ylim,
    _shade,
    _step_colours,
    polygons,
)
from qcm_app.report.trace import TRACE_BUCKETS, TimeAxis, minmax_downsample, regime_runs
from qcm_app.report.wording import fmt

#: block labels on the mass figure closer than this share of the time axis are not printed
LABEL_GAP = 0.06


def draw_mass_time(container: FigureBase, content: ReportContent) -> None:
    """The whole run: mass against time, cycles shaded by regime, blocks marked."""
    ax = container.add_subplot()
    t, m = content.time_s, content.mass_ng_cm2
    finite = np.isfinite(t)
    span = float(t[finite][-1] - t[finite][0]) if finite.sum() > 1 else 0.0
    axis = TimeAxis.for_span(span)
    tt, mm = minmax_downsample(t, m)
    starts, ends, codes = regime_runs(content)
    _shade(ax, starts, ends, codes, axis.scale)
    for lost, restored in content.gaps:
        ax.axvspan(lost / axis.scale, restored / axis.scale, color="0.6", alpha=0.35, lw=0, zorder=0)
    ax.plot(tt / axis.scale, mm, color=TRACE, lw=0.8, zorder=2)
    handles = _regime_legend(codes, patches=True)
    if len(content.blocks) > 1:
        x = np.array([b.start_s for b in content.blocks[1:]]) / axis.scale
        ax.vlines(x, 0, 1, transform=ax.get_xaxis_transform(), colors="0.2", linestyles=(0, (4, 3)), lw=0.9, zorder=3)
        handles.append(Line2D([], [], color="0.2", ls=(0, (4, 3)), lw=0.9, label="block start"))
    # a label per block, unless it would print over the previous one (short blocks side by side)
    t_span = (span or 1.0) / axis.scale
    last_x = -math.inf
    for b in content.blocks:
        x_label = b.start_s / axis.scale
        if x_label - last_x < LABEL_GAP * t_span:
            continue
        last_x = x_label
        ax.text(
            x_label,
            0.985,
            f" {b.name}",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=7.5,
            color="0.15",
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.8},
        )
    if content.gaps:
        handles.append(Patch(facecolor="0.6", alpha=0.35, label="no data (link gap)"))
    marks = [t for t, kind, _ in content.events if kind in ("marker", "note", "alarm", "crystal change")]
    if marks:
        ax.vlines(
            np.array(marks) / axis.scale,
            0,
            1,
            transform=ax.get_xaxis_transform(),
            colors=EVENT_COLOUR,
            linestyles=(0, (1, 2)),
            lw=1.0,
            zorder=3,
        )
        handles.append(Line2D([], [], color=EVENT_COLOUR, ls=(0, (1, 2)), lw=1.0, label="marker / alarm"))
    if tt.size:
        lo, hi = float(np.nanmin(tt)), float(np.nanmax(tt))
        ax.set_xlim(lo / axis.scale, hi / axis.scale if hi > lo else lo / axis.scale + 1)
    ax.set_xlabel(f"Time ({axis.unit})")
    ax.set_ylabel("Mass (ng/cm²)")
    if handles:
        container.legend(handles=handles, loc="outside upper right", ncols=len(handles), frameon=False)


def draw_cycle_gains(container: FigureBase, content: ReportContent) -> None:
    """Mass gain of every cycle, coloured by regime, with each block's steady level ± std."""
    if not content.cycles:
        _message(container, "No cycles found")
        return
    first = True
    for block, (ax,) in _block_panels(container, content):
        pos = _positions(content, block)
        x, y = content.index[pos], content.gain_ng_cm2[pos]
        codes = content.regime_code[pos]
        size = 14 if pos.size <= 300 else 5
        ax.scatter(x, y, s=size, c=[STRONG[REGIMES[c]] for c in codes], linewidths=0, zorder=3)
        for b in [block] if block is not None else content.blocks:
            _steady_band(ax, b, b.regime.steady_mass_ng_cm2, b.regime.steady_std_ng_cm2)
        if block is not None:
            ax.set_title(_panel_title(block), loc="left")
        _mark_blocks(ax, content, block)
        _cycle_xlim(ax, x)
        _readable_ylim(ax)
        ax.set_xlabel("Cycle #")
        if first:
            ax.set_ylabel("Mass gain per cycle (ng/cm²)")
            first = False
    handles = _regime_legend(content.regime_code, patches=False)
    handles.append(Patch(facecolor="0.5", alpha=0.25, edgecolor="0.3", label="steady mean ± std"))
    container.legend(handles=handles, loc="outside upper right", ncols=len(handles), frameon=False)


def _panel_title(block: BlockSummary) -> str:
    """Two short lines, so a narrow panel's title does not run into its neighbour's."""
    b = block.regime
    if b.has_steady:
        return f"{block.name}\nsteady {fmt(b.steady_mass_ng_cm2)} ± {fmt(b.steady_std_ng_cm2)} ng/cm²"
    return f"{block.name}\nno steady growth"


def _steady_band(ax, block: BlockSummary, level: float, std: float) -> None:
    b = block.regime
    if not b.has_steady or not math.isfinite(level):
        return
    x0 = block.first_index + (b.steady_first_cycle or 1) - 1.5
    x1 = block.last_index + 0.5
    std = std if math.isfinite(std) else 0.0
    ax.fill_between([x0, x1], level - std, level + std, color="0.5", alpha=0.25, lw=0, zorder=1)
    ax.hlines(level, x0, x1, colors="0.25", lw=1.0, zorder=2)


def draw_half_cycles(container: FigureBase, content: ReportContent) -> None:
    """Δm of each pulse per cycle as stacked bars (gains up, losses down), and Δm_A/Δm_cycle."""
    if not content.cycles:
        _message(container, "No cycles found")
        return
    colour_of = _step_colours(content)
    first = True
    for block, (ax_bar, ax_ratio) in _block_panels(container, content, rows=2):
        pos = _positions(content, block)
        x = content.index[pos].astype(float)
        steps = content.steps_matrix(pos)
        width = steps.shape[1]
        names = (
            content.cycles[pos[0]].step_names if block is not None else tuple(f"pulse {j + 1}" for j in range(width))
        )
        _stacked_bars(
            ax_bar,
            x,
            steps,
            [colour_of.get(n, STEP_COLOURS[j % len(STEP_COLOURS)]) for j, n in enumerate(names)],
            names,
        )
        ax_bar.axhline(0, color="0.3", lw=0.6)
        _readable_ylim(ax_bar)
        top = ax_bar.get_ylim()
        ax_bar.set_ylim(top[0], top[1] + 0.28 * (top[1] - top[0]))  # room for the legend
        ax_bar.legend(loc="upper right", ncols=min(width, 3), framealpha=0.9)
        ratio = np.array([content.cycles[k].ratio_a for k in pos], dtype=float)
        codes = content.regime_code[pos]
        ax_ratio.scatter(
            x, ratio, s=12 if pos.size <= 300 else 4, c=[STRONG[REGIMES[c]] for c in codes], linewidths=0, zorder=3
        )
        _robust_ylim(ax_ratio, ratio)
        blocks = [block] if block is not None else content.blocks
        for b in blocks:
            if math.isfinite(b.steady_ratio_a):
                x0 = b.first_index + (b.regime.steady_first_cycle or 1) - 1.5
                ax_ratio.hlines(
                    b.steady_ratio_a,
                    x0,
                    b.last_index + 0.5,
                    colors="0.25",
                    lw=1.0,
                    zorder=2,
                    label=f"steady mean {b.steady_ratio_a:.3f}" if block is not None else None,
                )
        if block is not None:
            ax_bar.set_title(block.name, loc="left")
            if math.isfinite(block.steady_ratio_a):
                ax_ratio.legend(loc="best", framealpha=0.9)
        for ax in (ax_bar, ax_ratio):
            _mark_blocks(ax, content, block)
            _cycle_xlim(ax, x)
        ax_ratio.set_xlabel("Cycle #")
        label_a = names[0] if block is not None and names else "A"
        ax_ratio.set_ylabel(f"Δm {label_a} / Δm cycle" if block is not None else "Δm_A / Δm_cycle")
        if first:
            ax_bar.set_ylabel("Δm per pulse (ng/cm²)")
            first = False


def _stacked_bars(ax, x: np.ndarray, steps: np.ndarray, colours: Sequence[str], names: Sequence[str]) -> None:
    """Bars of all cycles for each pulse as one collection: positive parts stack upwards from zero,
    negative parts downwards, so a mass-losing half-reaction shows as a bar below the axis."""
    v = np.where(np.isfinite(steps), steps, 0.0)
    pos = np.where(v > 0, v, 0.0)
    neg = np.where(v < 0, v, 0.0)
    top_pos = np.cumsum(pos, axis=1)
    top_neg = np.cumsum(neg, axis=1)
    bottom = np.where(v >= 0, top_pos - pos, top_neg - neg)
    top = np.where(v >= 0, top_pos, top_neg)
    dense = x.size > 400
    half = 0.4
    x0, x1 = x - half, x + half
    for j in range(steps.shape[1]):
        b, t = bottom[:, j], top[:, j]
        label = names[j] if j < len(names) else None
        if dense:  # bars would touch anyway: one outline per pulse instead of one rectangle per cycle
            ax.fill_between(x, b, t, step="mid", color=colours[j], lw=0, label=label)
            continue
        verts = np.stack(
            [np.column_stack((x0, b)), np.column_stack((x1, b)), np.column_stack((x1, t)), np.column_stack((x0, t))],
            axis=1,
        )
        ax.add_collection(polygons(verts, facecolors=colours[j], edgecolors="none", linewidths=0, label=label))
    lo = float(min(np.min(top_neg[:, -1]) if v.size else 0.0, 0.0))
    hi = float(max(np.max(top_pos[:, -1]) if v.size else 1.0, 0.0))
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)


def draw_zooms(container: FigureBase, content: ReportContent) -> None:
    """Side by side: mass over the first cycles of the block with an initiation region, and over a
    few steady cycles, each from the start of its window so both read as Δm (ng/cm²)."""
    if not content.cycles:
        _message(container, "No cycles found")
        return
    left, right = container.subplots(1, 2)
    init = next((b for b in content.blocks if b.regime.nucleation_kind != "none" and b.regime.nucleation_cycles), None)
    if init is not None:
        nuc = init.regime.nucleation_cycles
        shown = int(min(max(nuc + max(2, nuc // 4), 4), 30, init.cycles))
        _zoom(left, content, content.cycles_of(init)[:shown], colour_pulses=True)
        left.set_title(f"Initiation region of {init.name}\n{init.regime.nucleation_kind}, {nuc} cycles", loc="left")
    else:
        b = content.blocks[0]
        _zoom(left, content, content.cycles_of(b)[: min(8, b.cycles)], colour_pulses=True)
        left.set_title(f"First cycles of {b.name}\nno initiation region found", loc="left")
    steady_block = _steady_zoom_block(content, init)
    if steady_block is None:
        right.set_axis_off()
        right.text(
            0.5, 0.5, "No steady growth detected", ha="center", va="center", transform=right.transAxes, color="0.35"
        )
    else:
        pos = _steady_window(content, steady_block, 5)
        _zoom(right, content, pos, colour_pulses=True)
        regime = steady_block.regime
        right.set_title(
            f"Steady growth of {steady_block.name}\n{fmt(regime.steady_mass_ng_cm2)} ± "
            f"{fmt(regime.steady_std_ng_cm2)} ng/cm² per cycle",
            loc="left",
        )
    left.set_ylabel("Δm from window start (ng/cm²)")


def _steady_zoom_block(content: ReportContent, init: BlockSummary | None) -> BlockSummary | None:
    if init is not None and init.regime.has_steady:
        return init
    return next((b for b in reversed(content.blocks) if b.regime.has_steady), None)


def _steady_window(content: ReportContent, block: BlockSummary, count: int) -> np.ndarray:
    """``count`` consecutive steady cycles from the middle of the block's longest steady stretch."""
    pos = content.cycles_of(block)
    steady = content.regime_code[pos] == REGIMES.index("steady")
    best_start, best_len, k = 0, 0, 0
    while k < pos.size:
        if steady[k]:
            j = k
            while j + 1 < pos.size and steady[j + 1]:
                j += 1
            if j - k + 1 > best_len:
                best_start, best_len = k, j - k + 1
            k = j + 1
        else:
            k += 1
    n = min(count, best_len) if best_len else min(count, pos.size)
    mid = best_start + max(best_len - n, 0) // 2
    return pos[mid : mid + n]


def _zoom(ax, content: ReportContent, pos: np.ndarray, colour_pulses: bool) -> None:
    if pos.size == 0:
        return
    t0 = float(content.start_s[pos[0]])
    t1 = float(content.end_s[pos[-1]])
    margin = 0.06 * (t1 - t0)
    lo, hi = np.searchsorted(content.time_s, [t0 - margin, t1 + margin])
    t = content.time_s[lo:hi]
    m = content.mass_ng_cm2[lo:hi]
    # zero at the settled level just before the first pulse (the sample at the detected onset may
    # already be on the rise)
    before = m[(t >= t0 - 3.0) & (t < t0 - 0.3)]
    before = before[np.isfinite(before)]
    finite = m[np.isfinite(m)]
    base = float(np.median(before)) if before.size else (float(finite[0]) if finite.size else 0.0)
    tt, mm = minmax_downsample(t - t0, m - base, 1500)
    starts, ends, codes = regime_runs(content, pos)
    _shade(ax, starts - t0, ends - t0, codes, 1.0, alpha=0.45)
    bounds = np.append(content.start_s[pos], content.end_s[pos[-1]]) - t0
    ax.vlines(bounds, 0, 1, transform=ax.get_xaxis_transform(), colors="0.45", linestyles=":", lw=0.8, zorder=1)
    ax.plot(tt, mm, color=TRACE, lw=0.9, zorder=3)
    if colour_pulses:
        colour_of = _step_colours(content)
        by_name: dict[str, list[float]] = {}
        for k in pos:
            c = content.cycles[k]
            for name, tp in zip(c.step_names, c.pulse_times_s, strict=False):
                by_name.setdefault(name, []).append(tp - t0)
        for name, xs in by_name.items():
            ax.plot(
                xs,
                np.zeros(len(xs)),
                transform=ax.get_xaxis_transform(),
                marker="^",
                ms=4.5,
                ls="",
                color=colour_of.get(name, "0.3"),
                clip_on=False,
                zorder=4,
                label=name if name.startswith("pulse") else f"{name} pulse",
            )
    mids = (content.start_s[pos] + content.end_s[pos]) / 2 - t0
    show_every = max(1, math.ceil(pos.size / 15))
    for j, (xm, k) in enumerate(zip(mids, pos, strict=True)):
        if j % show_every == 0:
            ax.text(
                xm,
                0.985,
                str(content.cycles[k].index),
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=6.5,
                color="0.3",
            )
    ax.set_xlim(-margin, t1 - t0 + margin)
    ax.set_xlabel(f"Time from cycle #{content.cycles[pos[0]].index} start (s)")
    handles, _ = ax.get_legend_handles_labels()
    handles += _regime_legend(codes, patches=True)
    ax.legend(handles=handles, loc="lower right", framealpha=0.9)


@dataclass(frozen=True)
class RunPoint:
    """One run in the comparison figure."""

    name: str
    block: str
    steady_ng_cm2: float
    std_ng_cm2: float
    nucleation_cycles: int


def draw_comparison(container: FigureBase, runs: Sequence[RunPoint]) -> None:
    """Steady mass per cycle (± std) and initiation length, one position per run."""
    ax_m, ax_n = container.subplots(1, 2, width_ratios=[3, 2])
    x = np.arange(len(runs))
    y = np.array([r.steady_ng_cm2 for r in runs], dtype=float)
    e = np.array([r.std_ng_cm2 if math.isfinite(r.std_ng_cm2) else 0.0 for r in runs], dtype=float)
    ax_m.errorbar(x, y, yerr=e, fmt="o", color=STRONG["steady"], ecolor="0.3", capsize=3, ms=5)
    for k in np.flatnonzero(~np.isfinite(y)):
        ax_m.text(
            x[k],
            0.04,
            "no steady\ngrowth",
            transform=ax_m.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.45",
        )
    ax_m.set_ylabel("Steady mass per cycle (ng/cm²)")
    ax_m.set_title("Steady growth (last block of each run)", loc="left")
    ax_n.bar(x, [r.nucleation_cycles for r in runs], color=FILL["nucleation"], edgecolor=STRONG["nucleation"], lw=0.8)
    ax_n.set_ylabel("Initiation length (cycles)")
    ax_n.set_title("Initiation region", loc="left")
    for ax in (ax_m, ax_n):
        ax.set_xticks(
            x, [r.name for r in runs], rotation=30 if len(runs) > 3 else 0, ha="right" if len(runs) > 3 else "center"
        )
        ax.set_xlim(-0.6, len(runs) - 0.4)


#: what each figure shows, said once for the HTML page and the PDF
CAPTIONS = {
    "mass": (
        "Mass against time (Sauerbrey, primary sensor). Cycles are shaded by regime: orange = initiation "
        "(nucleation), green = steady growth, red = anomaly; dashed lines mark the start of each block. The "
        f"trace is drawn from the minimum and maximum of each of {TRACE_BUCKETS} time buckets, so every step "
        "and peak stays visible."
    ),
    "gains": (
        "Mass gain of every cycle, coloured by regime. Grey line and band: the block's steady mass gain per "
        "cycle ± one standard deviation, over the cycles it was computed from."
    ),
    "half": (
        "Half-cycle breakdown. Top: mass change of each pulse per cycle, stacked (a half-reaction that loses "
        "mass is drawn below zero). Bottom: the first pulse's share Δm_A/Δm_cycle, a hint at the reaction "
        "stoichiometry; line: its mean over steady cycles."
    ),
    "zooms": (
        "Left: the first cycles of the first block with an initiation region (of the first block when none "
        "has one). Right: a few consecutive steady cycles. Mass is zero just before each window's first "
        "pulse; dotted lines are cycle boundaries (numbers on top are cycle numbers), triangles the detected "
        "pulses."
    ),
}
