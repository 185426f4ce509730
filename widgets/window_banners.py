"""The main window's banners: alarms (shown until dismissed, and sounded), a write failure (choose
another folder), and interrupted recordings found at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtWidgets

from qcm_app.domain.alarms import Alarm, AlarmKind
from widgets.window_actions import ActionsMixin


class BannersMixin(ActionsMixin):
    """The banners' part of :class:`widgets.main_window.MainWindow`."""

    sound: Callable[[], None]

    def show_write_failure(self, text: str) -> None:
        self.banners.show_banner(
            "write", text[:1].upper() + text[1:], [("Choose folder…", self.choose_save_folder)], kind="error"
        )

    def choose_save_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Save the run in", str(self.controller.settings.runs_folder)
        )
        if folder:
            self.controller.relocate_recording(folder)

    def offer_recovery(self, runs: list[Path]) -> None:
        """Interrupted recordings found at start-up: continue one, replay it, or leave it."""
        for run in runs:

            def go_on(run: Path = run) -> None:
                self.banners.remove(f"recover:{run}")
                self.controller.continue_run(run)

            def replay(run: Path = run) -> None:
                self.banners.remove(f"recover:{run}")
                self.controller.forget_interrupted(run)
                self.open_run(str(run))

            def leave(run: Path = run) -> None:
                self.controller.forget_interrupted(run)
                self.banners.remove(f"recover:{run}")

            banner = self.banners.show_banner(
                f"recover:{run}",
                f"The recording {run.name} was interrupted (the program ended while writing "
                f"it). Its data up to the last second is safe.",
                [("Continue recording", go_on), ("Open for replay", replay), ("Leave it", leave)],
                kind="info",
            )
            banner.buttons["Dismiss"].hide()

    def show_alarm(self, alarm: Alarm) -> None:
        """Visible (a banner that stays until dismissed) and audible (the system bell)."""
        if alarm.kind is AlarmKind.TARGET_REACHED:
            banner = self.banners.show_banner("target", f"✔ {alarm.text}", kind="success")
            font = banner.label.font()
            font.setPointSizeF(font.pointSizeF() * 1.5)
            font.setBold(True)
            banner.label.setFont(font)
        else:
            self.banners.show_banner(f"alarm:{alarm.kind.name}", f"⚠ Alarm: {alarm.text}", kind="error")
        self.sound()
