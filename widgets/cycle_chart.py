"""Mass gain per cycle as bars coloured by regime, and the half-reaction breakdown of one cycle.

Both are passive: they are given cycles and labels and draw them; a click on a bar reports the
cycle's index through ``cycle_selected``. Error bars (±1σ) and the outline of revised cycles are
single persistent items updated with ``setData``/``setOpts``, as the bars are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from qcm_app.analysis import CycleResult

REGIME_COLOURS = {"nucleation": "#FB8C00", "steady": "#43A047", "anomaly": "#E53935"}
SELECTED_PEN = pg.mkPen("#000000", width=2)
REVISED_PEN = pg.mkPen("#6A1B9A", width=2, style=QtCore.Qt.PenStyle.DashLine)
REVISED_TIP = "revised after re-alignment"
ALL_BLOCKS = -1


class CycleAxisItem(pg.AxisItem):
    """Cycle numbers are whole: never a tick at 2.5."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        levels = super().tickValues(minVal, maxVal, size)
        out = []
        for spacing, values in levels:
            if spacing < 1:
                continue
            whole = sorted({float(round(v)) for v in values if abs(v - round(v)) < 1e-6})
            out.append((spacing, whole))
        if not out:  # zoomed in on a few cycles: every cycle gets its tick
            out = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return out

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [str(round(v)) for v in values]


def _num(value: float, fmt: str = "{:.1f}") -> str:
    return fmt.format(value) if math.isfinite(value) else "—"


class CycleChart(pg.PlotWidget):
    """Bars of Δm per cycle; the steady level of each block as a line with its ± band."""

    cycle_selected = QtCore.Signal(int)  # run-wide cycle index

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w", axisItems={"bottom": CycleAxisItem("bottom")})
        self.setLabel("left", "Δm per cycle (ng/cm²)")
        self.setLabel("bottom", "Cycle")
        self.showGrid(x=False, y=True, alpha=0.2)
        self.getAxis("left").setWidth(70)
        self.getAxis("left").enableAutoSIPrefix(False)
        self.getAxis("bottom").enableAutoSIPrefix(False)  # cycle 1000 is "1000", never "1 (x1000)"
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#9E9E9E", pen=pg.mkPen(None))
        self.addItem(self._bars)
        self._steady_lines: list[pg.PlotDataItem] = []
        self._indices = np.empty(0)
        self._selected = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(None), pen=SELECTED_PEN)
        self.addItem(self._selected)
        self._heights = np.empty(0)
        self._errors = pg.ErrorBarItem(
            x=np.empty(0), y=np.empty(0), height=np.empty(0), beam=0.25, pen=pg.mkPen("#424242", width=1)
        )
        self.addItem(self._errors)
        self._revised = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(None), pen=REVISED_PEN)
        self.addItem(self._revised)
        self._cycles: list[CycleResult] = []
        self._labels: list[str] = []
        self._block_spans: dict[int, tuple[str, int, int]] = {}
        self.block_shown = ALL_BLOCKS
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(self._hovered)
        key = " ".join(f"<span style='color:{c}'>■</span> {r}" for r, c in REGIME_COLOURS.items())
        self.setTitle(f"<span style='font-size:9pt'>Mass gain per cycle &nbsp; {key}</span>")

    def show_cycles(
        self, cycles: Sequence[CycleResult], labels: Sequence[str], steady: Sequence[tuple[int, int, float, float]] = ()
    ) -> None:
        """``steady``: (first index, last index, level, std) of each block's steady growth."""
        x = np.array([c.index for c in cycles], dtype=float)
        h = np.array([c.mass_gain_ng_cm2 for c in cycles], dtype=float)
        h = np.where(np.isfinite(h), h, 0.0)
        brushes = []
        for c, lab in zip(cycles, labels, strict=True):
            colour = QtGui.QColor(REGIME_COLOURS.get(lab, "#9E9E9E"))
            if c.revised:  # hollow-looking: a pale fill inside the dashed outline
                colour.setAlpha(70)
            brushes.append(pg.mkBrush(colour))
        width = 0.8 if x.size < 400 else 1.0
        self._bars.setOpts(x=x, height=h, width=width, brushes=brushes or None)
        self._indices, self._heights = x, h
        self._cycles, self._labels = list(cycles), list(labels)
        sigma = np.array([c.mass_gain_sigma_ng_cm2 for c in cycles], dtype=float)
        has_sigma = np.isfinite(sigma)
        self._errors.setData(x=x[has_sigma], y=h[has_sigma], height=2 * sigma[has_sigma], beam=width * 0.3)
        revised = np.array([c.revised for c in cycles], dtype=bool)
        self._revised.setOpts(x=x[revised], height=h[revised], width=width)
        spans: dict[int, tuple[str, int, int]] = {}
        for c in cycles:
            name, first, last = spans.get(c.block_index, (c.block_name, c.index, c.index))
            spans[c.block_index] = (name, min(first, c.index), max(last, c.index))
        self._block_spans = spans
        if self.block_shown != ALL_BLOCKS:
            self._range_to_block()
        while len(self._steady_lines) < 3 * len(steady):
            item = self.plot(pen=pg.mkPen("#1B5E20", width=1.5))
            self._steady_lines.append(item)
        for k, (first, last, level, std) in enumerate(steady):
            xs = np.array([first - 0.5, last + 0.5])
            for j, offset in enumerate((0.0, std, -std)):
                item = self._steady_lines[3 * k + j]
                item.setPen(
                    pg.mkPen(
                        "#1B5E20",
                        width=1.5 if j == 0 else 0.8,
                        style=QtCore.Qt.PenStyle.SolidLine if j == 0 else QtCore.Qt.PenStyle.DashLine,
                    )
                )
                if math.isfinite(level):
                    item.setData(xs, np.array([level + offset] * 2))
                else:
                    item.setData([], [])
        for item in self._steady_lines[3 * len(steady) :]:
            item.setData([], [])

    def blocks(self) -> dict[int, tuple[str, int, int]]:
        """Block index → (name, first cycle, last cycle) of the cycles shown."""
        return dict(self._block_spans)

    def show_block(self, block_index: int) -> None:
        """Scale to one block's bars (a 36 ng block beside a 500 ng one stays readable), or all."""
        self.block_shown = block_index
        vb = self.getPlotItem().vb
        if block_index == ALL_BLOCKS:
            vb.setAutoVisible(y=False)
            vb.enableAutoRange()
            return
        self._range_to_block()

    def _range_to_block(self) -> None:
        span = self._block_spans.get(self.block_shown)
        if span is None:
            return
        _name, first, last = span
        vb = self.getPlotItem().vb
        vb.setXRange(first - 0.6, last + 0.6, padding=0)
        mask = (self._indices >= first) & (self._indices <= last)
        heights = self._heights[mask]
        sigma = np.array([c.mass_gain_sigma_ng_cm2 for c in self._cycles], dtype=float)[mask]
        sigma = np.where(np.isfinite(sigma), sigma, 0.0)
        if heights.size:
            low = float(min(0.0, np.min(heights - sigma)))
            high = float(max(0.0, np.max(heights + sigma)))
            if high - low <= 0:
                high = low + 1.0
            vb.setYRange(low, high, padding=0.08)

    def tooltip_at(self, x: float) -> str:
        """What a bar says when the pointer rests on it."""
        if not self._indices.size:
            return ""
        k = int(np.argmin(np.abs(self._indices - x)))
        if abs(self._indices[k] - x) > 0.5:
            return ""
        c, label = self._cycles[k], self._labels[k] if k < len(self._labels) else ""
        sigma = f" ± {c.mass_gain_sigma_ng_cm2:.1f} (1σ)" if math.isfinite(c.mass_gain_sigma_ng_cm2) else ""
        text = (
            f"Cycle {c.index} ({c.block_name} {c.cycle_in_block}, {label}): "
            f"Δm = {_num(c.mass_gain_ng_cm2)}{sigma} ng/cm²"
        )
        if c.revised:
            text += f"; {REVISED_TIP}"
        return text

    def _hovered(self, pos: object) -> None:
        if not self._indices.size or not self.sceneBoundingRect().contains(pos):
            self.setToolTip("")
            return
        x = self.getPlotItem().vb.mapSceneToView(pos).x()
        self.setToolTip(self.tooltip_at(x))

    def select(self, index: int | None) -> None:
        if index is None or not self._indices.size:
            self._selected.setOpts(x=[], height=[])
            return
        k = np.flatnonzero(self._indices == index)
        if k.size:
            self._selected.setOpts(x=[index], height=[self._heights[k[0]]])

    def _clicked(self, event: object) -> None:
        if not self._indices.size:
            return
        pos = event.scenePos()  # type: ignore[attr-defined]
        if not self.sceneBoundingRect().contains(pos):
            return
        x = self.getPlotItem().vb.mapSceneToView(pos).x()
        k = int(np.argmin(np.abs(self._indices - x)))
        if abs(self._indices[k] - x) <= 1.0:
            self.cycle_selected.emit(int(self._indices[k]))


class BreakdownView(QtWidgets.QWidget):
    """Δm of each pulse of one cycle (the half-reactions) and the ratio Δm_A / Δm_cycle."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QtWidgets.QLabel("Half-reactions: click a cycle")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("left", "Δm (ng/cm²)")
        self.plot.showGrid(y=True, alpha=0.2)
        self.plot.getAxis("left").setWidth(60)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#5C6BC0")
        self.plot.addItem(self._bars)
        self._errors = pg.ErrorBarItem(
            x=np.empty(0), y=np.empty(0), height=np.empty(0), beam=0.2, pen=pg.mkPen("#424242", width=1)
        )
        self.plot.addItem(self._errors)
        self.plot.addLine(y=0, pen=pg.mkPen("#888"))
        layout.addWidget(self.plot, 1)

    def show_cycle(self, cycle: CycleResult | None, regime: str = "") -> None:
        if cycle is None:
            self.title.setText("Half-reactions: click a cycle")
            self._bars.setOpts(x=[], height=[])
            self._errors.setData(x=np.empty(0), y=np.empty(0), height=np.empty(0))
            self.plot.getAxis("bottom").setTicks([[]])  # no names left over from another recipe
            return
        steps = np.array([v if math.isfinite(v) else 0.0 for v in cycle.steps_ng_cm2])
        x = np.arange(steps.size, dtype=float)
        colours = ["#5C6BC0" if v >= 0 else "#8D6E63" for v in steps]
        self._bars.setOpts(x=x, height=steps, brushes=[pg.mkBrush(c) for c in colours])
        sigma = np.array([v if math.isfinite(v) else 0.0 for v in cycle.steps_sigma_ng_cm2][: steps.size])
        if sigma.size == steps.size and np.any(sigma > 0):
            self._errors.setData(x=x, y=steps, height=2 * sigma)
        else:
            self._errors.setData(x=np.empty(0), y=np.empty(0), height=np.empty(0))
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(float(i), name) for i, name in enumerate(cycle.step_names)]])
        ratio = cycle.ratio_a
        ratio_text = f"{ratio:.2f}" if math.isfinite(ratio) else "—"
        revised = f" — {REVISED_TIP}" if cycle.revised else ""
        self.title.setText(
            f"Cycle {cycle.index} ({cycle.block_name} {cycle.cycle_in_block}, {regime}): "
            f"Δm = {_num(cycle.mass_gain_ng_cm2)} ng/cm²; Δm_{cycle.step_names[0] if cycle.step_names else 'A'}"
            f"/Δm_cycle = {ratio_text}{revised}"
        )
