"""The controller's run files: recording, what the disk refused (samples held in memory until saved
elsewhere or discarded), and runs a dead process left open (found, continued or left).

:class:`RunFileCommands` is a part of :class:`~qcm_app.app.controller.AppController`, kept apart
because it is a job of its own; it uses the controller's worker, settings and sources.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.marker_sources import parse_marker_spec
from qcm_app.io.runfile import default_run_name, forget_interrupted, interrupted_runs, read_header_only

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from qcm_app.acquisition.recording import Recording
    from qcm_app.acquisition.worker import WorkerBase
    from qcm_app.app.settings import AppSettings
    from qcm_app.domain.recipes import Recipe
    from qcm_app.io.marker_sources import MarkerSpec
    from qcm_app.io.runfile import RunMetadata


class RunFileCommands:
    """Recording and recovery commands of the controller (a mixin: the state is the controller's)."""

    if TYPE_CHECKING:  # what these commands use of the controller
        worker: WorkerBase | None
        settings: AppSettings
        recipe: Recipe | None
        current_file: Path | None
        warning_raised: SignalInstance
        #: recordings of stopped workers whose samples are only in memory, with their header
        _unsaved: list[tuple[Recording, Callable[[], RunMetadata]]]

        def stop(self, reason: str | None = None) -> None: ...

        def start_demo(
            self,
            recipe: Recipe | None = None,
            speed: float | None = None,
            protocol: str | None = None,
            sensors: int = 1,
            markers: MarkerSpec | None = None,
        ) -> None: ...

        def connect_instrument(
            self, spec: ConnectionSpec, recipe: Recipe | None = None, *, markers: MarkerSpec | None = None
        ) -> None: ...

    @property
    def recording_active(self) -> bool:
        return self.worker is not None and self.worker.recording.active

    @property
    def recording_path(self) -> Path | None:
        return self.worker.recording.path if self.worker is not None else None

    @property
    def unsaved_rows(self) -> int:
        """Samples held only in memory, by the running worker and by stopped ones."""
        running = self.worker.recording.memory_rows if self.worker is not None else 0
        return running + sum(rec.memory_rows for rec, _ in self._unsaved)

    def save_unsaved(self, folder: str | Path) -> list[Path]:
        """Stop, then write every in-memory recording into ``folder`` (on a worker thread; the GUI
        waits, it is quitting). Returns the files written; what could not be saved stays held."""
        self.stop()
        saved: list[Path] = []

        def save() -> None:
            for rec, metadata in list(self._unsaved):
                rec.relocate(Path(folder), metadata)
                if not rec.memory_rows:
                    if rec.path is not None:
                        saved.append(rec.path)
                    rec.stop()
                    self._unsaved.remove((rec, metadata))

        thread = threading.Thread(target=save, name="save-unsaved")
        thread.start()
        thread.join()
        return saved

    def discard_unsaved(self) -> int:
        """Drop the samples held in memory, because the user chose to; returns how many."""
        self.stop()
        rows = sum(rec.discard() for rec, _ in self._unsaved)
        self._unsaved.clear()
        return rows

    def default_recording_path(self) -> Path:
        """A new time-stamped file in the runs folder, named after the recipe."""
        return self.settings.runs_folder / default_run_name(self.recipe.name if self.recipe else "")

    def start_recording(self, path: str | Path | None = None) -> Path:
        """Start a run file; by default a new time-stamped file in the runs folder."""
        if self.worker is None:
            raise RuntimeError("nothing to record: no instrument connected")
        if path is None:
            path = self.default_recording_path()
        self.worker.start_recording(path)
        self.current_file = Path(path)
        return Path(path)

    def stop_recording(self) -> None:
        if self.worker is not None:
            self.worker.stop_recording()

    def interrupted_runs(self) -> list[Path]:
        """Recordings in the runs folder that a dead process left open."""
        return interrupted_runs(self.settings.runs_folder)

    def continue_run(self, path: str | Path) -> None:
        """Reconnect to what recorded an interrupted run (the same port, or the demo) and append."""
        path = Path(path)
        meta, _ = read_header_only(path)
        recipe = None
        if meta.recipe_text.strip():
            recipe = parse_recipe(meta.recipe_text, source=meta.recipe_file or f"{path} (embedded)")
        sensors = len(meta.sensors)
        if "Simulated" in meta.extra or not meta.port:
            self.start_demo(recipe, speed=meta.time_scale or None, protocol=meta.protocol or None, sensors=sensors)
        else:
            markers = None
            if meta.extra.get("Valve markers"):
                try:
                    markers = parse_marker_spec(
                        meta.extra["Valve markers"],
                        [meta.extra["Valve names"]] if meta.extra.get("Valve names") else (),
                    )
                except UserInputError as exc:
                    self.warning_raised.emit(f"{path.name}: its valve markers are not followed again: {exc.detail}")
            self.connect_instrument(
                ConnectionSpec(protocol=meta.protocol, port=meta.port, sensors=tuple(meta.sensors)),
                recipe,
                markers=markers,
            )
        assert self.worker is not None
        self.worker.resume_recording(path)
        self.current_file = path

    def forget_interrupted(self, path: str | Path) -> None:
        forget_interrupted(path)

    def relocate_recording(self, folder: str | Path) -> None:
        if self.worker is not None:
            self.worker.relocate_recording(folder)
