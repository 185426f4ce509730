"""What the live and the replay worker share: the signals to the GUI, the queue of commands, the
recording, and the hand-off from the pipeline to the run file, the analysis and the view.

The signals carry frozen dataclasses (named at each signal); ``Signal(object)`` is only Qt's view
of them. ``state_changed`` carries a :class:`WorkerState`, which Qt delivers as its text.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from qcm_app.acquisition.contract import Analyzer, AnalyzerFactory, add_markers
from qcm_app.acquisition.recording import Recording
from qcm_app.acquisition.ringbuffer import GrowingColumns
from qcm_app.analysis.result import AnalysisUpdate
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind, WorkerState
from qcm_app.domain.markers import ValvePulse, sorted_pulses
from qcm_app.domain.pipeline import Pipeline, SampleChunk, block_density_after
from qcm_app.domain.recipes import Recipe
from qcm_app.io.runfile import RunMetadata
from qcm_app.io.valve_lines import valve_events

log = logging.getLogger(__name__)


class WorkerBase(QObject):
    """Signals, commands, recording and the pipeline hand-off shared by live and replay workers."""

    #: SampleChunk (frozen): the pipeline's newest samples, every sensor
    samples_acquired = Signal(object)
    #: AnalysisUpdate (frozen): new and revised cycles, and the regimes now
    analysis_updated = Signal(object)
    #: AnalysisUpdate | None: the whole analysis again (recipe changed); None: the analyzer has none
    analysis_reset = Signal(object)
    #: LinkStats (frozen)
    stats_updated = Signal(object)
    #: (WorkerState, detail): Qt delivers the state as its text; ``WorkerState(text)`` turns it back
    state_changed = Signal(str, str)
    #: the instrument's identification
    identified = Signal(str)
    #: Path | None: the run file written now (None: not recording)
    recording_changed = Signal(object)
    warning_raised = Signal(str)
    #: the disk refused: samples wait in memory for another folder
    recording_failed = Signal(str)
    #: tuple[ValvePulse, ...] (frozen) in time order, on the run's clock
    valve_pulses_received = Signal(object)
    finished = Signal()

    def __init__(
        self,
        pipeline: Pipeline,
        analyzer: Analyzer | None = None,
        metadata: RunMetadata | None = None,
        analyzer_factory: AnalyzerFactory | None = None,
    ) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.analyzer = analyzer
        self.analyzer_factory = analyzer_factory
        self.metadata = metadata or RunMetadata()
        #: the primary sensor's run mass since the start, so the analysis can be re-run
        self.history = GrowingColumns(("time_s", "run_mass_ng_cm2"))
        self.recording = Recording(self._warn, self.recording_failed.emit)
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._last_frequency: list[float] = [math.nan] * pipeline.sensors
        self.state = WorkerState.IDLE
        #: every valve pulse of the run so far (a new recipe re-analyses with them)
        self.valve_pulses: list[ValvePulse] = []

    # -- thread-safe commands ---------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    def tare(self) -> None:
        self._commands.put(self._do_tare)

    def start_recording(self, path: str | Path) -> None:
        self._commands.put(lambda: self._do_start_recording(Path(path)))

    def stop_recording(self) -> None:
        self._commands.put(self._do_stop_recording)

    def resume_recording(self, path: str | Path) -> None:
        """Continue an interrupted run file: its earlier samples come back into view and analysis,
        new ones are appended after an explicit gap, on the run's own clock and mass zero."""
        self._commands.put(lambda: self._do_resume(Path(path)))

    def relocate_recording(self, folder_or_path: str | Path) -> None:
        """Save an in-memory recording (after a write failure) to a new place and continue there."""
        self._commands.put(lambda: self._do_relocate(Path(folder_or_path)))

    def set_operator_note(self, note: str) -> None:
        self._commands.put(lambda: setattr(self.metadata, "operator_note", note))

    def set_recipe(self, recipe: Recipe | None) -> None:
        """Analyse with another recipe: the run so far is analysed again from its start."""
        self._commands.put(lambda: self._do_set_recipe(recipe))

    def set_density(self, block_name: str, density_g_cm3: float) -> None:
        self._commands.put(lambda: self._do_set_density(block_name, density_g_cm3))

    def mark_event(self, kind: RunEventKind | str, text: str = "") -> None:
        """An event line in the run file (marker, note, alarm, crystal change) at the run time now.
        A kind given as text must be a :class:`RunEventKind`'s (``ValueError`` otherwise)."""
        event = RunEventKind(kind)
        self._commands.put(lambda: self.recording.mark(event, self._now_run_s(), text))

    def new_crystal(self) -> None:
        """The crystal was changed and reads now: its frequency is the new mass zero, and the run file
        says so (the analysis keeps its own reference, so no cycle sees the swap as growth)."""

        def do() -> None:
            freq = " ".join(f"{f:.3f}" for f in self._last_frequency)
            self.pipeline.tare(self._last_frequency)
            self.recording.mark(RunEventKind.CRYSTAL_CHANGE, self._now_run_s(), f"new crystal at {freq} Hz; life reset")

        self._commands.put(do)

    # -- worker-side --------------------------------------------------------------------------

    def _run_commands(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                cmd()
            except Exception as exc:  # a command must never kill acquisition
                log.exception("command failed")
                self._warn(f"command failed: {exc}")

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warning_raised.emit(text)

    def _set_state(self, state: WorkerState | str, detail: str = "") -> None:
        """Say the new state (text must be a :class:`WorkerState`'s: ``ValueError`` otherwise)."""
        self.state = WorkerState(state)
        self.state_changed.emit(self.state, detail)

    def _deliver(self, chunk: SampleChunk) -> None:
        """Pipeline output → run file → analysis → view."""
        if not len(chunk):
            return
        self._last_frequency = [float(v) for v in chunk.frequency_hz[-1]]
        self.recording.write(chunk, self._run_metadata)
        self.samples_acquired.emit(chunk)
        self.history.append({"time_s": chunk.time_s, "run_mass_ng_cm2": chunk.run_mass_ng_cm2[:, 0]})
        if self.analyzer is not None:
            update = self.analyzer.feed(chunk.time_s, chunk.run_mass_ng_cm2[:, 0])
            if update is not None:
                self._follow_block_density(update)
                self.analysis_updated.emit(update)

    def _deliver_pulses(self, pulses: Sequence[ValvePulse], record: bool = True) -> None:
        """Valve pulses → run file → analysis (at its next feed) → view."""
        if not pulses:
            return
        ordered = sorted_pulses(pulses)
        self.valve_pulses.extend(ordered)
        if record:
            for event in valve_events(ordered):
                self.recording.mark(RunEventKind(event.kind), event.time_s, event.text)
        if self.analyzer is not None:
            add_markers(self.analyzer, ordered)
        self.valve_pulses_received.emit(ordered)

    def _follow_block_density(self, update: AnalysisUpdate) -> None:
        """The thickness column grows at the density of the block being deposited."""
        cycles = update.new_cycles
        if not cycles:
            return
        last = cycles[-1]
        density = block_density_after(
            getattr(self.analyzer, "recipe", None),
            getattr(self.analyzer, "densities", {}),
            last.block_index,
            last.cycle_in_block,
        )
        if density:
            self.pipeline.converter.set_density(density)

    def _finish_analysis(self) -> None:
        """End of data: the last cycle counts if its final purge was seen (as offline)."""
        if self.analyzer is not None:
            update = self.analyzer.finish()
            if update is not None:
                self.analysis_updated.emit(update)

    def _do_set_recipe(self, recipe: Recipe | None) -> None:
        if self.analyzer_factory is None:
            return
        self.analyzer = self.analyzer_factory(recipe)
        self.metadata.recipe_name = recipe.name if recipe else ""
        self.metadata.recipe_file = recipe.source if recipe else ""
        self.metadata.recipe_text = recipe.text if recipe else ""
        self.recording.mark(RunEventKind.RECIPE_CHANGED, self._now_run_s(), recipe.name if recipe else "none")
        add_markers(self.analyzer, self.valve_pulses)
        self.analyzer.feed(self.history.view("time_s"), self.history.view("run_mass_ng_cm2"))
        self.analysis_reset.emit(getattr(self.analyzer, "full_update", lambda: None)())

    def _do_set_density(self, block_name: str, density_g_cm3: float) -> None:
        setter = getattr(self.analyzer, "set_density", None)
        if setter is not None:
            self.analysis_updated.emit(setter(block_name, density_g_cm3))

    def run_metadata(self) -> RunMetadata:
        """The header a run file of this worker gets (also for samples saved after it stopped)."""
        return self._run_metadata()

    def _run_metadata(self) -> RunMetadata:
        conv = self.pipeline.converter
        return replace(
            self.metadata,
            start_time=self.metadata.start_time or RunMetadata.now_iso(),
            start_frequency_hz=tuple(float(f) for f in conv.start_frequency_hz),
            crystal=conv.crystal,
            density_g_cm3=conv.film.density_g_cm3,
            z_ratio=conv.film.z_ratio,
            tooling_pct=conv.film.tooling_pct,
            time_scale=self.pipeline.clock.time_scale,
        )

    def _now_run_s(self) -> float:
        origin = self.pipeline.clock.origin_s
        if origin is None:
            return 0.0
        return (time.monotonic() - origin) * self.pipeline.clock.time_scale

    def _do_tare(self) -> None:
        self.pipeline.tare(self._last_frequency)
        freq = " ".join(f"{f:.3f}" for f in self._last_frequency)
        self.recording.mark(RunEventKind.TARE, self._now_run_s(), f"mass zero at {freq} Hz")

    def _do_start_recording(self, path: Path) -> None:
        self.recording.start(path)
        self.recording_changed.emit(self.recording.path)

    def _do_stop_recording(self) -> None:
        path = self.recording.path
        self.recording.stop()
        self.recording_changed.emit(None)
        if path is not None:
            log.info("recording closed: %s", path)

    def _do_resume(self, path: Path) -> None:
        from qcm_app.io.runfile import read_run

        try:
            run = read_run(path)
        except UserInputError as exc:
            self._warn(f"cannot continue the run: {exc}")
            return
        meta = run.metadata
        scale = self.pipeline.clock.time_scale
        if len(meta.start_frequency_hz) == self.pipeline.sensors:
            self.pipeline.converter.set_start(meta.start_frequency_hz)
        last_s = float(run.time_s[-1]) if run.time_s.size else 0.0
        try:
            elapsed_s = (datetime.now().astimezone() - datetime.fromisoformat(meta.start_time)).total_seconds() * scale
        except (ValueError, TypeError):
            elapsed_s = last_s
        now_s = max(elapsed_s, last_s + 1.0)
        self.pipeline.clock.origin_s = time.monotonic() - now_s / scale
        if run.time_s.size and run.sensors == self.pipeline.sensors:
            self._deliver_pulses(run.valve_pulses, record=False)  # the timeline first, then the samples
            self._deliver(self.pipeline.process_arrays(run.time_s, run.frequency_hz))  # not recorded again
        keep = ("instrument", "firmware", "port", "protocol")
        for name in keep:  # the connection is today's; the rest describes the run
            setattr(meta, name, getattr(self.metadata, name) or getattr(meta, name))
        self.metadata = meta
        self.recording.resume(path, "continuing after an interruption")
        self.recording.mark(RunEventKind.LINK_LOST, last_s, "the recording was interrupted (the program ended)")
        self.recording.mark(RunEventKind.LINK_RESTORED, now_s, f"gap {now_s - last_s:.1f} s")
        self.recording_changed.emit(self.recording.path)

    def _do_relocate(self, target: Path) -> None:
        self.recording.relocate(target, self._run_metadata)
        self.recording_changed.emit(self.recording.path)
