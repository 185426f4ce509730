"""File → Export report: pick a folder, write the report in the background, say where it went."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from qcm_app.app.controller import AppController
from qcm_app.domain.errors import UserInputError


class _Signals(QtCore.QObject):
    done = QtCore.Signal(str)
    failed = QtCore.Signal(str)


class _ReportJob(QtCore.QRunnable):
    """Analysis and figures take seconds on a long run: never on the GUI thread."""

    def __init__(self, source: Path, out_dir: Path, recipe: str | None, note: str, overwrite: bool) -> None:
        super().__init__()
        self.source, self.out_dir, self.recipe, self.note = source, out_dir, recipe, note
        self.overwrite = overwrite
        self.signals = _Signals()

    def run(self) -> None:
        from qcm_app.io.offline import analyze_file
        from qcm_app.report import write_report

        try:
            analyzed = analyze_file(self.source, self.recipe)
            files = write_report(analyzed, self.out_dir, note=self.note, overwrite=self.overwrite)
        except (UserInputError, OSError) as exc:
            self.signals.failed.emit(str(exc))
            return
        self.signals.done.emit(str(files.html))


def report_recipe_argument(controller: AppController) -> str | None:
    """The recipe the report is analysed with: the one chosen by file, else (None) the one
    embedded in the run file. An embedded recipe's source names the run, not a file or preset."""
    recipe = controller.recipe
    if recipe is None or not recipe.source:
        return None
    source = Path(recipe.source)
    if source.suffix.lower() == ".toml" and source.is_file():
        return str(source)
    return None


def export_report(parent: QtWidgets.QWidget, controller: AppController) -> None:
    source = controller.current_file
    if source is None or not source.exists():
        QtWidgets.QMessageBox.information(
            parent,
            "Export report",
            "Record a run or open one (File → Open run…) first: the report is written from the run file.",
        )
        return
    default = source.with_name(source.stem + "_report")
    folder = QtWidgets.QFileDialog.getSaveFileName(parent, "Report folder", str(default))[0]
    if not folder:
        return
    overwrite = False
    if Path(folder).exists() and any(Path(folder).iterdir()):
        answer = QtWidgets.QMessageBox.question(
            parent,
            "Export report",
            f"{folder} already holds files. Replace the report in it? (Only a folder "
            "holding a qcm-monitor report is ever replaced.)",
        )
        if answer != QtWidgets.QMessageBox.StandardButton.Yes:
            return
        overwrite = True
    recipe = report_recipe_argument(controller)
    job = _ReportJob(source, Path(folder), recipe, controller.settings.operator_note, overwrite)
    status = parent.statusBar() if isinstance(parent, QtWidgets.QMainWindow) else None
    if status is not None:
        status.showMessage(f"Writing the report of {source.name}…")
    job.signals.done.connect(lambda path: status.showMessage(f"Report written: {path}", 20000) if status else None)

    def failed(text: str) -> None:
        if status is not None:  # "Writing the report…" is no longer true
            status.showMessage(f"The report was not written: {text}", 20000)
        QtWidgets.QMessageBox.warning(parent, "Export report", text)

    job.signals.failed.connect(failed)
    # keep the signals alive until the job reports: an attribute of our own on the Qt widget, which
    # its class does not declare (as window._plot_job in plot_export)
    parent._report_job = job  # type: ignore[attr-defined]
    QtCore.QThreadPool.globalInstance().start(job)
