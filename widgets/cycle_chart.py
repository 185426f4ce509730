"""Mass gain per cycle as bars coloured by regime, and the half-reaction breakdown of one cycle.

Both are passive: they are given cycles and labels and draw them; a click on a bar reports the
cycle's index through ``cycle_selected``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from qcm_app.segmenter import CycleResult

REGIME_COLOURS = {"nucleation": "#FB8C00", "steady": "#43A047", "anomaly": "#E53935"}
SELECTED_PEN = pg.mkPen("#000000", width=2)


class CycleChart(pg.PlotWidget):
    """Bars of Δm per cycle; the steady level of each block as a line with its ± band."""

    cycle_selected = QtCore.Signal(int)  # run-wide cycle index

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self.setLabel("left", "Δm per cycle (ng/cm²)")
        self.setLabel("bottom", "Cycle")
        self.showGrid(x=False, y=True, alpha=0.2)
        self.getAxis("left").setWidth(70)
        self.getAxis("left").enableAutoSIPrefix(False)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#9E9E9E", pen=pg.mkPen(None))
        self.addItem(self._bars)
        self._steady_lines: list[pg.PlotDataItem] = []
        self._indices = np.empty(0)
        self._selected = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(None), pen=SELECTED_PEN)
        self.addItem(self._selected)
        self._heights = np.empty(0)
        self.scene().sigMouseClicked.connect(self._clicked)
        key = " ".join(f"<span style='color:{c}'>■</span> {r}" for r, c in REGIME_COLOURS.items())
        self.setTitle(f"<span style='font-size:9pt'>Mass gain per cycle &nbsp; {key}</span>")

    def show_cycles(self, cycles: Sequence[CycleResult], labels: Sequence[str],
                    steady: Sequence[tuple[int, int, float, float]] = ()) -> None:
        """``steady``: (first index, last index, level, std) of each block's steady growth."""
        x = np.array([c.index for c in cycles], dtype=float)
        h = np.array([c.mass_gain_ng_cm2 for c in cycles], dtype=float)
        h = np.where(np.isfinite(h), h, 0.0)
        brushes = [pg.mkBrush(REGIME_COLOURS.get(lab, "#9E9E9E")) for lab in labels]
        width = 0.8 if x.size < 400 else 1.0
        self._bars.setOpts(x=x, height=h, width=width, brushes=brushes or None)
        self._indices, self._heights = x, h
        while len(self._steady_lines) < 3 * len(steady):
            item = self.plot(pen=pg.mkPen("#1B5E20", width=1.5))
            self._steady_lines.append(item)
        for k, (first, last, level, std) in enumerate(steady):
            xs = np.array([first - 0.5, last + 0.5])
            for j, offset in enumerate((0.0, std, -std)):
                item = self._steady_lines[3 * k + j]
                item.setPen(pg.mkPen("#1B5E20", width=1.5 if j == 0 else 0.8,
                                     style=QtCore.Qt.PenStyle.SolidLine if j == 0 else QtCore.Qt.PenStyle.DashLine))
                if math.isfinite(level):
                    item.setData(xs, np.array([level + offset] * 2))
                else:
                    item.setData([], [])
        for item in self._steady_lines[3 * len(steady):]:
            item.setData([], [])

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
        self.plot.addLine(y=0, pen=pg.mkPen("#888"))
        layout.addWidget(self.plot, 1)

    def show_cycle(self, cycle: CycleResult | None, regime: str = "") -> None:
        if cycle is None:
            self.title.setText("Half-reactions: click a cycle")
            self._bars.setOpts(x=[], height=[])
            return
        steps = np.array([v if math.isfinite(v) else 0.0 for v in cycle.steps_ng_cm2])
        x = np.arange(steps.size, dtype=float)
        colours = ["#5C6BC0" if v >= 0 else "#8D6E63" for v in steps]
        self._bars.setOpts(x=x, height=steps, brushes=[pg.mkBrush(c) for c in colours])
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(float(i), name) for i, name in enumerate(cycle.step_names)]])
        ratio = cycle.ratio_a
        ratio_text = f"{ratio:.2f}" if math.isfinite(ratio) else "—"
        self.title.setText(
            f"Cycle {cycle.index} ({cycle.block_name} {cycle.cycle_in_block}, {regime}): "
            f"Δm = {cycle.mass_gain_ng_cm2:.1f} ng/cm²; Δm_{cycle.step_names[0] if cycle.step_names else 'A'}"
            f"/Δm_cycle = {ratio_text}")
