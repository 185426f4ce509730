"""The main window's layout kept between launches, and closing it without losing data: samples
held only in memory are saved or discarded explicitly, a recording is stopped only when asked."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from qcm_app.app.settings import WindowLayout, load_window_layout, save_window_layout
from widgets.window_banners import BannersMixin


class ClosingMixin(BannersMixin):
    """The layout's and closing's part of :class:`widgets.main_window.MainWindow`."""

    side_split: QtWidgets.QSplitter
    main_split: QtWidgets.QSplitter
    bottom_split: QtWidgets.QSplitter
    wall_clock_action: QtGui.QAction
    _timer: QtCore.QTimer

    # -- layout -------------------------------------------------------------------------------------

    def save_layout(self) -> None:
        splits = (self.side_split, self.main_split, self.bottom_split)
        save_window_layout(
            WindowLayout(
                self.saveGeometry(),
                self.saveState(),
                {split.objectName(): split.saveState() for split in splits},
                self.wall_clock_action.isChecked(),
            )
        )

    def restore_layout(self) -> None:
        splits = (self.side_split, self.main_split, self.bottom_split)
        layout = load_window_layout(tuple(split.objectName() for split in splits))
        if layout.geometry is not None:
            self.restoreGeometry(layout.geometry)
        if layout.state is not None:
            self.restoreState(layout.state)
        for split in splits:
            if split.objectName() in layout.splitters:
                split.restoreState(layout.splitters[split.objectName()])
        self.wall_clock_action.setChecked(layout.wall_clock)

    # -- closing ----------------------------------------------------------------------------------

    #: the answers of the close dialogs (the button texts)
    SAVE, DISCARD, STOP_AND_QUIT, CANCEL = "Save…", "Discard them", "Stop recording and quit", "Cancel"

    def ask(self, title: str, text: str, buttons: list[str]) -> str:
        """A question with these buttons; the text of the one pressed (Cancel when the box is closed)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, text, parent=self)
        pressed: dict[QtWidgets.QAbstractButton, str] = {
            box.addButton(
                b,
                QtWidgets.QMessageBox.ButtonRole.RejectRole
                if b == self.CANCEL
                else QtWidgets.QMessageBox.ButtonRole.AcceptRole,
            ): b
            for b in buttons
        }
        box.exec()
        return pressed.get(box.clickedButton(), self.CANCEL)

    def pick_folder(self, title: str) -> str:
        return QtWidgets.QFileDialog.getExistingDirectory(self, title, str(self.controller.settings.runs_folder))

    def close_without_asking(self) -> None:
        """Close for a signal or $QCM_QUIT_AFTER_S (nobody to ask): samples only in memory are saved in the
        runs folder, else the temporary folder, rather than lost."""
        self._force_close = True
        self.close()

    def _may_close(self) -> bool:
        """Ask before anything would be lost or stopped: samples only in memory (save where, or
        discard explicitly), or a recording in progress (Ctrl+Q included: it closes the window)."""
        c = self.controller
        if c.unsaved_rows:
            while True:
                answer = self.ask(
                    "Quit",
                    f"{c.unsaved_rows} samples are only in memory: the disk refused "
                    "them. Save them in another folder before quitting, or discard them?",
                    [self.SAVE, self.DISCARD, self.CANCEL],
                )
                if answer == self.DISCARD:
                    c.discard_unsaved()
                    return True
                if answer != self.SAVE:
                    return False
                folder = self.pick_folder("Save the samples held in memory in")
                if not folder:
                    continue
                c.save_unsaved(folder)
                if not c.unsaved_rows:
                    return True
        if c.recording_active:
            name = c.recording_path.name if c.recording_path else "the run file"
            return (
                self.ask(
                    "Quit",
                    f"Recording to {name}. Stop the recording and quit? Everything recorded so far is in the file.",
                    [self.STOP_AND_QUIT, self.CANCEL],
                )
                == self.STOP_AND_QUIT
            )
        return True

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        # a hidden window has nobody to answer (a script, a test closing it): as if closed by a signal
        asking = self.isVisible() and not getattr(self, "_force_close", False)
        if asking and not self._may_close():
            event.ignore()
            return
        self.save_layout()
        self._timer.stop()
        self.controller.stop()
        if self.controller.unsaved_rows:  # closing without asking: never lose them
            import logging
            import tempfile

            for folder in (self.controller.settings.runs_folder, Path(tempfile.gettempdir())):
                saved = self.controller.save_unsaved(folder)
                if saved:
                    logging.getLogger(__name__).warning(
                        "samples held in memory saved to %s", ", ".join(map(str, saved))
                    )
                if not self.controller.unsaved_rows:
                    break
        super().closeEvent(event)
