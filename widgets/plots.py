"""Frequency and mass against time, sharing the time axis.

Curves are created once and fed with ``setData`` from the window's timer; peak downsampling and
clip-to-view keep a day of history smooth. Regime shading is a handful of persistent region
items that are moved, not re-created.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

SENSOR_COLOURS = ("#1f5fbf", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#2c3e50")
REGIME_BRUSHES = {
    "nucleation": (255, 183, 77, 60),
    "steady": (102, 187, 106, 45),
    "anomaly": (229, 57, 53, 70),
}


class TimeAxisItem(pg.AxisItem):
    """Seconds shown as m:ss or h:mm:ss, which is how people read a run's clock."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for v in values:
            sign = "-" if v < 0 else ""
            v = abs(v)
            h, rem = divmod(round(v), 3600)
            m, s = divmod(rem, 60)
            out.append(f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}")
        return out


class FrequencyAxisItem(pg.AxisItem):
    """Full frequencies with thin-space thousands (5 975 830), not 5.97583e+06."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        decimals = max(0, min(3, -int(np.floor(np.log10(spacing))) if spacing > 0 else 0))
        return [f"{v:,.{decimals}f}".replace(",", "\u2009") for v in values]


class TimePlots(pg.GraphicsLayoutWidget):
    def __init__(self, sensors: int = 1, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.freq_plot = self.addPlot(row=0, col=0, axisItems={"bottom": TimeAxisItem("bottom"),
                                                               "left": FrequencyAxisItem("left")})
        self.mass_plot = self.addPlot(row=1, col=0, axisItems={"bottom": TimeAxisItem("bottom")})
        self.mass_plot.setXLink(self.freq_plot)
        self.freq_plot.setLabel("left", "Frequency", units="Hz")
        self.mass_plot.setLabel("left", "Areal mass (ng/cm²)")
        self.mass_plot.setLabel("bottom", "Run time (process clock)")
        self.freq_plot.getAxis("left").enableAutoSIPrefix(False)
        self.mass_plot.getAxis("left").enableAutoSIPrefix(False)
        for plot in (self.freq_plot, self.mass_plot):
            # no grid: its alpha-blended lines cost more to paint than a day of data (benchmarks/)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.getAxis("left").setWidth(96)
        self.freq_curves: list[pg.PlotDataItem] = []
        self.mass_curves: list[pg.PlotDataItem] = []
        self.set_sensor_count(sensors)
        self._regions: list[pg.LinearRegionItem] = []

    def set_sensor_count(self, sensors: int) -> None:
        for curve in self.freq_curves:
            self.freq_plot.removeItem(curve)
        for curve in self.mass_curves:
            self.mass_plot.removeItem(curve)
        self.freq_curves, self.mass_curves = [], []
        for s in range(sensors):
            # a 1-px cosmetic pen is several times cheaper to rasterise than a wider one
            pen = pg.mkPen(SENSOR_COLOURS[s % len(SENSOR_COLOURS)], width=1)
            name = f"S{s + 1}"
            for plot, store in ((self.freq_plot, self.freq_curves), (self.mass_plot, self.mass_curves)):
                curve = plot.plot(pen=pen, name=name)
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                curve.setSkipFiniteCheck(True)
                store.append(curve)

    def show_shift(self, shift: bool) -> None:
        """Label the upper plot as frequency or as frequency shift (several sensors)."""
        if shift != getattr(self, "_shift", False):
            self._shift = shift
            self.freq_plot.setLabel("left", "Frequency shift" if shift else "Frequency", units="Hz")

    def set_data(self, time_s: np.ndarray, frequency_hz: list[np.ndarray], mass_ng_cm2: list[np.ndarray]) -> None:
        """Point the persistent curves at the newest history (views, not copies)."""
        for curve, y in zip(self.freq_curves, frequency_hz, strict=False):
            curve.setData(time_s, y, connect="finite")
        for curve, y in zip(self.mass_curves, mass_ng_cm2, strict=False):
            curve.setData(time_s, y, connect="finite")

    def set_regions(self, regions: list[tuple[float, float, str]]) -> None:
        """Shade (start, end, regime) spans on the mass plot; items are reused."""
        while len(self._regions) < len(regions):
            item = pg.LinearRegionItem(movable=False)
            item.setZValue(-10)
            for line in item.lines:
                line.setPen(pg.mkPen(None))
            self.mass_plot.addItem(item, ignoreBounds=True)
            self._regions.append(item)
        for item, (start, end, regime) in zip(self._regions, regions, strict=False):
            item.setRegion((start, end))
            item.setBrush(pg.mkBrush(*REGIME_BRUSHES.get(regime, (180, 180, 180, 40))))
            item.setVisible(True)
        for item in self._regions[len(regions):]:
            item.setVisible(False)

    def mouseDoubleClickEvent(self, ev: QtGui.QMouseEvent) -> None:
        """Double-click returns to following the newest data."""
        self.freq_plot.enableAutoRange()
        self.mass_plot.enableAutoRange()
        super().mouseDoubleClickEvent(ev)
