"""Frequency and mass against time, sharing the time axis.

Curves are created once and fed with ``setData`` from the window's timer; peak downsampling and
clip-to-view keep a day of history smooth. Regime shading is a handful of persistent region
items that are moved, not re-created.

Following: the plots follow the newest data until the user zooms or pans (wheel, drag); then
``follow_changed(False)`` tells the window, which shows it on its Follow toggle. ``reset_view``
(and a new source) brings the whole run back and follows again.

Valve ticks: the tool's pulses as short vertical strokes along the bottom of the mass plot, one
row and one colour per precursor (the same colour for the same name in every run), with a legend.
One persistent curve per precursor draws all its pulses (``connect="pairs"``), so thousands cost
one item; the strokes keep their place at the bottom when the mass axis rescales.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from qcm_app.domain.events import RunEventKind
from qcm_app.domain.markers import ValvePulse

SENSOR_COLOURS = ("#1f5fbf", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#2c3e50")
REGIME_BRUSHES = {
    "nucleation": (255, 183, 77, 60),
    "steady": (102, 187, 106, 45),
    "anomaly": (229, 57, 53, 70),
}
#: the line colour of a run event of these kinds (any other: slate)
_EVENT_COLOURS: dict[str, str] = {
    RunEventKind.TARE: "#1565C0",
    RunEventKind.ALARM: "#C62828",
    RunEventKind.CRYSTAL_CHANGE: "#6A1B9A",
}
#: valve tick colours of common precursors (clear of the regime shading and the sensor curves)
PRECURSOR_COLOURS = {
    "TMA": "#6A1B9A",
    "H2O": "#00838F",
    "O3": "#283593",
    "O2": "#3949AB",
    "TiCl4": "#AD1457",
    "TDMAT": "#AD1457",
    "DEZ": "#4E342E",
    "ZnEt2": "#4E342E",
    "HfCl4": "#00695C",
    "TEMAH": "#00695C",
    "TEMAZ": "#5D4037",
    "ZrCl4": "#5D4037",
    "NH3": "#1565C0",
    "H2S": "#9E9D24",
    "EG": "#C2185B",
    "GL": "#C2185B",
    "LiHMDS": "#D84315",
    "LiOtBu": "#D84315",
    "glycerol": "#C2185B",
    "TMG": "#0277BD",
    "BDEAS": "#37474F",
}
#: any other name takes one of these, chosen by a hash of the name (stable across runs)
SPARE_COLOURS = ("#8E24AA", "#00897B", "#3949AB", "#6D4C41", "#D81B60", "#546E7A", "#7CB342", "#F4511E")
#: the tick rows: their height and step as fractions of the mass plot's height, from its bottom
TICK_ROW_HEIGHT = 0.06
TICK_ROW_STEP = 0.075
TICK_BOTTOM = 0.01


def precursor_colour(name: str) -> str:
    """The colour of a precursor's valve ticks: a fixed one for common names, else a stable pick."""
    for known, colour in PRECURSOR_COLOURS.items():
        if known.lower() == name.lower():
            return colour
    return SPARE_COLOURS[zlib.crc32(name.encode("utf-8")) % len(SPARE_COLOURS)]


class MassViewBox(pg.ViewBox):
    """The mass plot's view: while valve ticks are shown, auto-range keeps the data above a strip at
    the bottom (``foot_fraction`` of the height), so strokes and trace never cross."""

    foot_fraction = 0.0

    def childrenBounds(self, *args: object, **kwargs: object) -> list:
        bounds = super().childrenBounds(*args, **kwargs)
        y = bounds[1]
        if self.foot_fraction > 0 and y is not None:
            span = (y[1] - y[0]) or 1.0
            bounds[1] = [y[0] - span * self.foot_fraction / (1.0 - self.foot_fraction), y[1]]
        return bounds


class TimeAxisItem(pg.AxisItem):
    """Seconds shown as m:ss or h:mm:ss, which is how people read a run's clock; or, with a
    wall-clock origin, the time of day (HH:MM:SS) at which each sample was taken."""

    #: POSIX time of run time 0 and process seconds per wall second; None: run time
    wall_origin_s: float | None = None
    time_scale: float = 1.0

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.wall_origin_s is not None:
            scale_ = self.time_scale or 1.0
            return [datetime.fromtimestamp(self.wall_origin_s + v / scale_).strftime("%H:%M:%S") for v in values]
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
    follow_changed = QtCore.Signal(bool)

    def __init__(self, sensors: int = 1, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.crosshair_label = pg.LabelItem(justify="left", color="#333", size="9pt")
        self.addItem(self.crosshair_label, row=0, col=0)
        self.time_axes = (TimeAxisItem("bottom"), TimeAxisItem("bottom"))
        self.freq_plot = self.addPlot(
            row=1, col=0, axisItems={"bottom": self.time_axes[0], "left": FrequencyAxisItem("left")}
        )
        self.mass_plot = self.addPlot(row=2, col=0, viewBox=MassViewBox(), axisItems={"bottom": self.time_axes[1]})
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
        self._markers: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        #: per precursor: its tick curve, and its pulses' openings and closings (s) and its row
        self.valve_curves: dict[str, pg.PlotCurveItem] = {}
        self._valve_xy: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        self.valve_legend = pg.LegendItem(
            offset=(8, 8),
            brush=pg.mkBrush(255, 255, 255, 215),
            pen=pg.mkPen("#B0BEC5"),
            labelTextSize="9pt",
            labelTextColor="#263238",
            verSpacing=-4,
        )
        self.valve_legend.setParentItem(self.mass_plot.getViewBox())
        self.valve_legend.setVisible(False)
        self.mass_plot.getViewBox().sigRangeChanged.connect(self._place_valve_ticks)
        self.mass_plot.getViewBox().sigResized.connect(self._place_valve_ticks)
        self.following = True
        for plot in (self.freq_plot, self.mass_plot):
            plot.getViewBox().sigRangeChangedManually.connect(self._zoomed_by_user)
            # View All in the context menu follows again too
            plot.getViewBox().menu.viewAll.triggered.connect(self.reset_view)
        self._cross = []
        for plot in (self.freq_plot, self.mass_plot):
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen("#90A4AE", width=1, style=QtCore.Qt.PenStyle.DotLine)
            )
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._cross.append(line)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.crosshair_label.setText("Point at a plot to read time, frequency and mass")

    # -- following and the view -----------------------------------------------------------------

    def _zoomed_by_user(self, *_: object) -> None:
        if self.following:
            self.following = False
            self.follow_changed.emit(False)

    def set_following(self, on: bool) -> None:
        """Follow the newest data (auto-range) or keep the user's view."""
        changed = on != self.following
        self.following = on
        for plot in (self.freq_plot, self.mass_plot):
            if on:
                plot.enableAutoRange()
            else:
                plot.disableAutoRange()
        if changed:
            self.follow_changed.emit(on)

    def reset_view(self) -> None:
        """The whole run, following again (also for a new source)."""
        self.set_following(True)
        for line in self._cross:
            line.setVisible(False)
        self.crosshair_label.setText("Point at a plot to read time, frequency and mass")

    def set_wall_clock(self, origin_s: float | None, time_scale: float = 1.0) -> None:
        """Time of day on the time axis (origin: POSIX time of run time 0), or run time (None)."""
        for axis in self.time_axes:
            axis.wall_origin_s, axis.time_scale = origin_s, time_scale
            axis.picture = None
            axis.update()
        label = "Time of day (wall clock)" if origin_s is not None else "Run time (process clock)"
        self.mass_plot.setLabel("bottom", label)

    # -- markers --------------------------------------------------------------------------------

    def set_markers(self, markers: list[tuple[float, str, str]]) -> None:
        """Vertical lines at (time, kind, text) events; reused, never re-created per tick."""
        while len(self._markers) < len(markers):
            pair = []
            for plot in (self.freq_plot, self.mass_plot):
                line = pg.InfiniteLine(
                    angle=90, movable=False, pen=pg.mkPen("#37474F", width=1, style=QtCore.Qt.PenStyle.DashLine)
                )
                plot.addItem(line, ignoreBounds=True)
                pair.append(line)
            label = pg.InfLineLabel(
                pair[1], text="", position=0.95, anchor=(0, 0), color="#263238", fill=pg.mkBrush(255, 255, 255, 200)
            )
            pair[1].label = label
            self._markers.append((pair[0], pair[1]))
        for k, ((top, bottom), (t, kind, text)) in enumerate(zip(self._markers, markers, strict=False)):
            colour = _EVENT_COLOURS.get(kind, "#37474F")
            for line in (top, bottom):
                line.setPos(t)
                line.setPen(pg.mkPen(colour, width=1.5, style=QtCore.Qt.PenStyle.DashLine))
                line.setVisible(True)
                line.setToolTip(f"{kind}: {text}" if text else kind)
            short = "⚠ alarm" if kind == RunEventKind.ALARM else (f"{kind}: {text}"[:28] if text else kind)
            bottom.label.setText(short)  # the whole text is the line's tooltip
            bottom.label.setColor(colour)
            bottom.label.setPosition((0.95, 0.8, 0.65)[k % 3])  # neighbours do not print over each other
        for top, bottom in self._markers[len(markers) :]:
            top.setVisible(False)
            bottom.setVisible(False)

    def marker_times(self) -> list[float]:
        return [float(bottom.value()) for _, bottom in self._markers if bottom.isVisible()]

    # -- valve ticks ----------------------------------------------------------------------------

    def set_valve_pulses(self, pulses: Sequence[ValvePulse]) -> None:
        """The tool's pulses so far (all of them; the curves are reused, never re-created)."""
        by_name: dict[str, list[ValvePulse]] = {}
        for p in pulses:
            by_name.setdefault(p.precursor or p.channel, []).append(p)
        for row, (name, mine) in enumerate(by_name.items()):
            curve = self.valve_curves.get(name)
            if curve is None:
                pen = pg.mkPen(precursor_colour(name), width=2)
                curve = pg.PlotCurveItem(pen=pen, connect="pairs", skipFiniteCheck=True, name=name)
                curve.setZValue(-5)  # above the regime shading, below the mass curve
                self.mass_plot.getViewBox().addItem(curve, ignoreBounds=True)
                self.valve_curves[name] = curve
            if self._legend_label(curve) is None:
                self.valve_legend.addItem(curve, name)
            start = np.fromiter((p.time_s for p in mine), float, len(mine))
            end = start + np.fromiter((p.duration_s for p in mine), float, len(mine))
            self._valve_xy[name] = (start, end, row)
            curve.setVisible(True)
            curve.setToolTip(f"{name} valve: {len(mine)} pulses (from the tool)")
            label = self._legend_label(curve)
            if label is not None:
                label.setText(f"{name} valve · {len(mine)}")
        for name, curve in self.valve_curves.items():
            if name not in by_name:  # another run's precursor
                curve.setVisible(False)
                self._valve_xy.pop(name, None)
                if self._legend_label(curve) is not None:
                    self.valve_legend.removeItem(curve)
        self.valve_legend.setVisible(bool(by_name))
        view = self.mass_plot.getViewBox()
        foot = TICK_BOTTOM + len(by_name) * TICK_ROW_STEP + 0.01 if by_name else 0.0
        if foot != view.foot_fraction:
            view.foot_fraction = foot
            view.updateAutoRange()
        self._place_valve_ticks()

    def _legend_label(self, curve: pg.PlotCurveItem) -> pg.LabelItem | None:
        return next((label for sample, label in self.valve_legend.items if sample.item is curve), None)

    def _place_valve_ticks(self, *_: object) -> None:
        """Draw the strokes at the bottom of the mass plot, whatever its range: a stroke up at each
        opening and along the row's foot while the valve stays open. Only those in view, and one per
        pixel column (a day of pulses in 800 pixels would paint each column several times over)."""
        if not self._valve_xy:
            return
        view = self.mass_plot.getViewBox()
        (left, right), (low, high) = view.viewRange()
        span = (high - low) or 1.0
        pixel_s = (right - left) / max(view.width(), 1.0)
        for name, (start, end, row) in self._valve_xy.items():
            shown = slice(int(np.searchsorted(start, left - pixel_s)), int(np.searchsorted(start, right + pixel_s)))
            opened, closed = start[shown], end[shown]
            if pixel_s > 0 and opened.size > 1:
                column = np.floor((opened - left) / pixel_s)
                first = np.concatenate(([True], column[1:] != column[:-1]))
                opened, closed = opened[first], closed[first]
            x = np.column_stack((opened, opened, opened, closed)).ravel()
            height = np.tile(np.array([0.0, 1.0, 0.0, 0.0]), opened.size)
            y = low + span * (TICK_BOTTOM + row * TICK_ROW_STEP + height * TICK_ROW_HEIGHT)
            self.valve_curves[name].setData(x, y)

    def valve_tick_times(self, name: str) -> np.ndarray:
        """Opening times of one precursor's pulses (all of them; the drawing thins them to the pixels)."""
        return self._valve_xy[name][0] if name in self._valve_xy else np.empty(0)

    # -- crosshair ------------------------------------------------------------------------------

    def readout_at(self, x: float) -> str:
        """Time, frequency and mass of the primary sensor at run time ``x`` (nearest sample)."""
        if not self.freq_curves or self.freq_curves[0].xData is None or not len(self.freq_curves[0].xData):
            return ""
        t = np.asarray(self.freq_curves[0].xData)
        k = int(np.clip(np.searchsorted(t, x), 0, t.size - 1))
        if k > 0 and abs(t[k - 1] - x) < abs(t[k] - x):
            k -= 1
        f = float(np.asarray(self.freq_curves[0].yData)[k])
        m = float(np.asarray(self.mass_curves[0].yData)[k]) if self.mass_curves[0].yData is not None else math.nan
        when = self.time_axes[0].tickStrings([float(t[k])], 1.0, 1.0)[0]
        name = "Δf" if getattr(self, "_shift", False) else "f"
        return (f"t {when} ({t[k]:.1f} s) · {name} {f:,.2f} Hz · mass {m:,.1f} ng/cm²").replace(",", " ")

    def _mouse_moved(self, pos: QtCore.QPointF) -> None:
        for plot in (self.freq_plot, self.mass_plot):
            if plot.sceneBoundingRect().contains(pos):
                x = plot.getViewBox().mapSceneToView(pos).x()
                text = self.readout_at(x)
                for line in self._cross:
                    line.setPos(x)
                    line.setVisible(bool(text))
                if text:
                    self.crosshair_label.setText(text)
                return

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
        for item in self._regions[len(regions) :]:
            item.setVisible(False)

    def mouseDoubleClickEvent(self, ev: QtGui.QMouseEvent) -> None:
        """Double-click returns to following the newest data."""
        self.reset_view()
        super().mouseDoubleClickEvent(ev)
