"""File → Export plot: the time plots and the cycle chart as one PNG or SVG.

Qt paints only on the GUI thread, so the picture is rendered there; the bytes are written in a
pool thread, and an existing file is replaced only after the user said so in the save dialog.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph.exporters as pg_exporters
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from qcm_app.io.fileio import atomic_write_bytes


class _Signals(QtCore.QObject):
    done = QtCore.Signal(str)
    failed = QtCore.Signal(str)


class _WriteJob(QtCore.QRunnable):
    def __init__(self, path: Path, data: bytes) -> None:
        super().__init__()
        self.path, self.data = path, data
        self.signals = _Signals()

    def run(self) -> None:
        try:
            atomic_write_bytes(self.path, self.data)
        except OSError as exc:
            self.signals.failed.emit(f"cannot write {self.path}: {exc.strerror or exc}")
            return
        self.signals.done.emit(str(self.path))


def render_plots(window: QtWidgets.QMainWindow, suffix: str) -> bytes:
    """The window's plots as PNG or SVG bytes."""
    scene_item = window.plots.ci  # type: ignore[attr-defined]
    if suffix == ".svg":
        return _svg_of(window.plots)  # type: ignore[attr-defined]
    image = pg_exporters.ImageExporter(scene_item).export(toBytes=True)
    chart = window.cycle_chart.grab().toImage()  # type: ignore[attr-defined]
    width = max(image.width(), chart.width())
    both = QtGui.QImage(width, image.height() + chart.height(), QtGui.QImage.Format.Format_ARGB32)
    both.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(both)
    painter.drawImage(0, 0, image)
    painter.drawImage(0, image.height(), chart)
    painter.end()
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    # PySide6's stub types the format as bytes, but save() refuses b"PNG" (ValueError) and takes "PNG"
    both.save(buffer, "PNG")  # type: ignore[call-overload]
    return bytes(buffer.data().data())


def _svg_of(view: QtWidgets.QGraphicsView) -> bytes:
    """What the view shows, painted into an SVG generator (vector curves and text). The view's
    own area, not the scene's: infinite marker lines make the scene's bounds meaningless."""
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    generator = QtSvg.QSvgGenerator()
    generator.setOutputDevice(buffer)
    size = view.viewport().size()
    generator.setSize(size)
    generator.setViewBox(QtCore.QRect(0, 0, size.width(), size.height()))
    generator.setTitle("qcm-monitor plots")
    generator.setResolution(view.logicalDpiX())  # fonts and pens at the size the screen shows them
    painter = QtGui.QPainter(generator)
    view.render(painter, QtCore.QRectF(0, 0, size.width(), size.height()), view.viewport().rect())
    painter.end()
    return bytes(buffer.data().data())


def export_plots(window: QtWidgets.QMainWindow, path: Path) -> _WriteJob | None:
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        window.statusBar().showMessage(f"{path.name}: choose a .png or .svg file name", 15000)
        return None
    job = _WriteJob(path, render_plots(window, suffix))
    status = window.statusBar()
    job.signals.done.connect(lambda p: status.showMessage(f"Plot written: {p}", 20000))
    job.signals.failed.connect(lambda text: status.showMessage(text, 20000))
    window._plot_job = job  # type: ignore[attr-defined]  # the signals live until the job reports
    status.showMessage(f"Writing {path.name}…")
    QtCore.QThreadPool.globalInstance().start(job)
    return job
