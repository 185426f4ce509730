"""The application's controller: starts and stops acquisition (live, demo or replay), owns the
worker thread and the in-process demo emulators (the instrument and the tool's valve-event line),
and routes worker signals into the :class:`~qcm_app.app.session.LiveSession`. Widgets bind their
buttons to its slots and read the session from a timer; nothing here is a widget.

Its parts live beside it: the demo's emulators (:mod:`~qcm_app.app.demo`), a new run file's header
(:mod:`~qcm_app.app.run_header`), and recording and recovery (:mod:`~qcm_app.app.recordings`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from instruments.base import Driver
from instruments.emulators.base import EmulatorServer
from qcm_app.acquisition.recording import Recording
from qcm_app.acquisition.replay import ReplayCommand, ReplayWorker
from qcm_app.acquisition.worker import ConnectionSpec, InstrumentWorker, LinkStats, WorkerBase
from qcm_app.analysis import AnalysisUpdate, LiveAnalysis
from qcm_app.app.demo import start_demo_servers
from qcm_app.app.recordings import RunFileCommands
from qcm_app.app.run_header import film_for, recorded_speed_note, run_metadata
from qcm_app.app.session import LiveSession, Progress
from qcm_app.app.settings import AppSettings
from qcm_app.domain.alarms import Alarm, AlarmInputs, AlarmKind, AlarmMonitor, EventKind
from qcm_app.domain.events import LINK_DOWN_STATES, WorkerState
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.pipeline import Pipeline, SampleChunk
from qcm_app.domain.recipes import Recipe
from qcm_app.io.marker_sources import MarkerSpec
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunData, RunMetadata

__all__ = ["AppController", "AppSettings", "recorded_speed_note"]  # AppSettings: kept importable from here

log = logging.getLogger(__name__)


class AppController(QObject, RunFileCommands):
    state_changed = Signal(str, str)
    stats_changed = Signal(object)
    recording_changed = Signal(object)
    warning_raised = Signal(str)
    identified = Signal(str)
    source_changed = Signal(str)  # a one-line description of what is being shown
    analysis_changed = Signal()
    replay_position_changed = Signal(float, float)  # run time now, duration
    replay_loaded = Signal(object)  # RunData
    recording_failed = Signal(str)

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.session = LiveSession(1, crystal=self.settings.crystal)
        self.recipe: Recipe | None = None
        self.worker: WorkerBase | None = None
        self._thread: QThread | None = None
        self.demo_server: EmulatorServer | None = None
        #: the demo reactor's valve-event line (the tool's side of a marker source)
        self.marker_server: EmulatorServer | None = None
        #: where the running acquisition takes its valve markers from (None: no markers)
        self.marker_spec: MarkerSpec | None = None
        self.description = ""
        self.is_demo = False
        self.is_replay = False
        #: the run file behind what is shown (a replayed file or the last recording), for reports
        self.current_file: Path | None = None
        self.time_scale = 1.0
        #: densities the user typed, by block name (they win over the recipe's)
        self.densities: dict[str, float] = {}
        self.target_cycles: int | None = None
        self.target_thickness_ang: float | None = None
        self.alarms = AlarmMonitor(self.settings.alarms)
        self.link_state: WorkerState | str = WorkerState.IDLE
        self.link_detail = ""
        self.state_changed.connect(self._remember_state)
        #: (run time s, kind, text) of the events of what is shown: markers, notes, tares, alarms
        self.events: list[tuple[float, str, str]] = []
        self._wall_origin_s: float | None = None
        self._wall_scale = 1.0
        #: recordings of stopped workers whose samples are only in memory (the disk refused them), with
        #: their header: kept until saved elsewhere or discarded on purpose
        self._unsaved: list[tuple[Recording, Callable[[], RunMetadata]]] = []

    # -- starting sources ---------------------------------------------------------------------

    def start_demo(
        self,
        recipe: Recipe | None = None,
        speed: float | None = None,
        protocol: str | None = None,
        sensors: int = 1,
        markers: MarkerSpec | None = None,
    ) -> None:
        """Simulated instrument on a simulated reactor, reached through the real driver over a pty.
        A second sensor is a reference crystal that sees drift and transients but no film. The same
        reactor's valves are served as a tool's event line, read as any marker source is (unless
        ``markers`` names another source)."""
        self.stop(reason="the source changed (the demo started)")
        self.is_replay = False
        recipe = recipe or load_preset()
        speed = speed or self.settings.demo_speed
        protocol = protocol or self.settings.demo_protocol
        demo = start_demo_servers(recipe, speed, protocol, sensors, markers)
        self.demo_server, self.marker_server = demo.instrument, demo.valves
        self.is_demo = True
        self._start_instrument(
            demo.connection,
            recipe,
            time_scale=speed,
            description=f"Demo: {recipe.name} at {speed:g}× (simulated {protocol} on "
            f"{demo.instrument.port}; valves: {demo.markers.describe()})",
            markers=demo.markers,
        )

    def open_run(self, path: str | Path, speed: float = 100.0, recipe: Recipe | None = None) -> None:
        """Replay a recorded run or vendor log through the live pipeline (its embedded recipe,
        unless one is given)."""
        self.stop(reason="the source changed (a run was opened for replay)")
        self.is_demo = False
        self.is_replay = True
        self.time_scale = 1.0
        self.recipe = recipe
        self.current_file = Path(path)
        worker = ReplayWorker(path, self._make_analyzer, recipe, speed)
        worker.loaded.connect(self._on_replay_loaded)
        worker.session_reset.connect(self._on_session_reset)
        worker.position_changed.connect(self.replay_position_changed)
        self._launch(worker, 1, f"Replay: {Path(path).name}")

    def _on_replay_loaded(self, run: RunData) -> None:
        worker = self.worker
        self.session = LiveSession(run.sensors, crystal=run.metadata.crystal)
        if isinstance(worker, ReplayWorker):
            self.recipe = worker.recipe
        note = recorded_speed_note(run.metadata)
        if note and note not in self.description:
            self.description += f" — {note}"
        self.events = [(e.time_s, e.kind, e.text) for e in run.events if math.isfinite(e.time_s)]
        self._wall_scale = run.metadata.time_scale if run.metadata.time_scale > 0 else 1.0
        try:
            self._wall_origin_s = datetime.fromisoformat(run.metadata.start_time).timestamp()
        except (TypeError, ValueError):
            self._wall_origin_s = None
        self.source_changed.emit(self.description)
        self.replay_loaded.emit(run)

    def _on_session_reset(self) -> None:
        self.session.clear()
        self.analysis_changed.emit()

    def replay_command(self, command: ReplayCommand, *args: object) -> None:
        """Speed, pause, seek or jump to the end of the replay (nothing when no replay runs)."""
        if isinstance(self.worker, ReplayWorker):
            self.worker.command(command, *args)

    def connect_instrument(
        self,
        spec: ConnectionSpec,
        recipe: Recipe | None = None,
        opener: Callable[[ConnectionSpec], Driver] | None = None,
        time_scale: float = 1.0,
        markers: MarkerSpec | None = None,
    ) -> None:
        """Acquire from an instrument; ``opener`` replaces opening the port (scripts, benchmarks).
        ``time_scale`` is 1 for a real instrument; a sped-up simulator's speed otherwise, so the
        analysis sees process seconds and the run file says it was not real time. ``markers``: the
        tool's valve markers beside it (a log file or an event line)."""
        self.stop(reason=f"the source changed (connecting to {spec.port})")
        self.is_demo = False
        self.is_replay = False
        description = f"{spec.protocol} on {spec.port}"
        if time_scale != 1.0:
            description += f" at {time_scale:g}× (a sped-up simulator: process seconds, not real ones)"
        if markers is not None:
            description += f"; valves: {markers.describe()}"
        self._start_instrument(
            spec, recipe, time_scale=time_scale, description=description, opener=opener, markers=markers
        )

    def set_markers(self, markers: MarkerSpec | None) -> None:
        """Follow another valve marker source in the running acquisition (None: stop following)."""
        self.marker_spec = markers
        if isinstance(self.worker, InstrumentWorker):
            self.worker.set_markers(markers)

    def disconnect_source(self) -> None:
        """The user's Disconnect (not ``disconnect``, which is QObject's): acquisition stops and nothing
        is shown as running any more (choosing a recipe afterwards does not bring the demo back)."""
        self.stop()
        self.is_demo = False
        self.is_replay = False
        self.description = ""
        self.state_changed.emit(WorkerState.IDLE.value, "")
        self.source_changed.emit("")

    def _start_instrument(
        self,
        spec: ConnectionSpec,
        recipe: Recipe | None,
        time_scale: float,
        description: str,
        opener: Callable[[ConnectionSpec], Driver] | None = None,
        markers: MarkerSpec | None = None,
    ) -> None:
        self.recipe = recipe
        self.marker_spec = markers
        sensors = len(spec.sensors)
        film = film_for(self.settings.film, recipe, self.densities)
        pipeline = Pipeline(sensors=sensors, crystal=self.settings.crystal, film=film, time_scale=time_scale)
        meta = run_metadata(self.settings.operator_note, recipe, self.densities)
        if self.is_demo:
            meta.extra["Simulated"] = f"yes: demo reactor at {time_scale:g}x"
        elif time_scale != 1.0:
            meta.extra["Sped up"] = (
                f"yes: {time_scale:g}x set when connecting (a simulator; a real instrument runs at 1x)"
            )
        worker = InstrumentWorker(
            spec,
            pipeline,
            analyzer=self._make_analyzer(recipe),
            metadata=meta,
            analyzer_factory=self._make_analyzer,
            opener=opener,
            markers=markers,
        )
        self.time_scale = time_scale
        self._launch(worker, sensors, description)

    def _make_analyzer(self, recipe: Recipe | None) -> LiveAnalysis:
        return LiveAnalysis(recipe, densities=self.densities)

    def _launch(self, worker: InstrumentWorker | ReplayWorker, sensors: int, description: str) -> None:
        self.session = LiveSession(sensors, crystal=self.settings.crystal)
        self.alarms = AlarmMonitor(self.settings.alarms)
        self.events = []
        self._wall_origin_s = None
        thread = QThread()
        thread.setObjectName("acquisition")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        worker.samples_acquired.connect(self._on_chunk)
        worker.analysis_updated.connect(self._on_analysis)
        worker.analysis_reset.connect(self._on_analysis_reset)
        worker.stats_updated.connect(self.stats_changed)
        worker.state_changed.connect(self.state_changed)
        worker.recording_changed.connect(self._on_recording_changed)
        worker.warning_raised.connect(self.warning_raised)
        worker.recording_failed.connect(self.recording_failed)
        worker.identified.connect(self.identified)
        worker.valve_pulses_received.connect(self._on_valve_pulses)
        self.worker, self._thread = worker, thread
        self.description = description
        self.source_changed.emit(description)
        thread.start()

    # -- commands -----------------------------------------------------------------------------

    def stop(self, reason: str | None = None) -> None:
        """Stop acquisition (closing the run file) and the demo emulator. A recording that was on is
        said to be off (``recording_changed(None)``, and with ``reason`` a warning naming its file);
        samples the disk refused stay here (:attr:`unsaved_rows`) until saved or discarded."""
        worker = self.worker
        recording = worker.recording.path if worker is not None and worker.recording.active else None
        if worker is not None:
            worker.request_stop()
        if self._thread is not None:
            self._thread.quit()
            if not self._thread.wait(5000):
                log.error("acquisition thread did not stop in time")
            self._thread = None
        self.worker = None
        for server in (self.demo_server, self.marker_server):
            if server is not None:
                server.stop()
        self.demo_server = self.marker_server = None
        if worker is not None and worker.recording.memory_rows:
            self._unsaved.append((worker.recording, worker.run_metadata))
        if recording is not None:
            self.recording_changed.emit(None)
            if reason:
                self.warning_raised.emit(
                    f"Recording stopped: {reason}. The run so far is in {recording}; press Record to start a new run."
                )

    def tare(self) -> None:
        if self.worker is not None:
            self.worker.tare()
            self._note_event(EventKind.TARE.value, "mass set to zero")

    def _now_s(self) -> float:
        t = self.session.buffer.view("time_s")
        return float(t[-1]) if t.size else 0.0

    def _note_event(self, kind: str, text: str) -> tuple[float, str, str]:
        event = (self._now_s(), kind, text)
        self.events.append(event)
        return event

    def log_event(self, kind: EventKind, text: str = "") -> tuple[float, str, str]:
        """An event of the run now: kept for the view and written to the run file when recording."""
        if self.worker is not None and not self.is_replay:
            self.worker.mark_event(kind.value, text)
        return self._note_event(kind.value, text)

    def add_marker(self, note: str = "") -> tuple[float, str, str]:
        """The user's marker (with an optional note) at the newest sample."""
        return self.log_event(EventKind.MARKER, note)

    def new_crystal(self) -> None:
        """Crystal changed: the reading now is the new mass zero and 100 % life, and the run file says so."""
        if self.worker is None or self.is_replay:
            return
        f = self.session.readouts(0).frequency_hz
        if math.isfinite(f):
            self.session.crystal = replace(self.session.crystal, fresh_frequency_hz=f)
            self.session.reference_frequency_hz[:] = math.nan
        self.worker.new_crystal()
        text = f"new crystal at {f:.3f} Hz" if math.isfinite(f) else "new crystal"
        self._note_event(EventKind.CRYSTAL_CHANGE.value, text)

    def _remember_state(self, state: str, detail: str) -> None:
        self.link_state, self.link_detail = state, detail

    def check_alarms(self) -> list[Alarm]:
        """Alarms newly raised by the current state; each is written to the run file. A replay
        raises none: the run is over, and its own alarms are among its events."""
        if self.worker is None or self.is_replay:
            return []
        progress = self.progress()
        target_set = bool(progress.target_cycles or progress.target_thickness_ang)
        reached = target_set and progress.cycles_done > 0 and progress.remaining_process_s == 0
        r = self.session.readouts(0)
        last = self.session.cycles[-1] if self.session.cycles else None
        inputs = AlarmInputs(
            target_reached=reached,
            progress_text=progress.text(),
            life_pct=r.life_pct,
            rate_ng_cm2_s=r.mass_rate_ng_cm2_s,
            last_cycle_index=last.index if last is not None else None,
            last_cycle_gain_ng_cm2=last.mass_gain_ng_cm2 if last is not None else math.nan,
            link_lost=self.link_state in LINK_DOWN_STATES and not self.is_replay,
            link_detail=self.link_detail,
            analysis_notes=tuple(self.session.regimes.notes) if self.session.regimes else (),
        )
        raised = self.alarms.check(inputs)
        for alarm in raised:
            if alarm.kind is AlarmKind.LINK_LOST:  # the worker writes link lost/restored itself
                self._note_event(AlarmKind.LINK_LOST.value, self.link_detail)
            else:
                self.log_event(EventKind.ALARM, alarm.text)
        return raised

    def set_operator_note(self, note: str) -> None:
        """The note for this run's header (asked when recording starts)."""
        self.settings = replace(self.settings, operator_note=note)
        if self.worker is not None:
            self.worker.set_operator_note(note)

    def wall_clock_origin_s(self) -> float | None:
        """POSIX time of run time 0: when a live run's first sample came, or a file's start time."""
        return self._wall_origin_s

    def wall_clock_scale(self) -> float:
        """Process seconds per wall second of what is shown (a replayed file's own time scale)."""
        return self._wall_scale if self.is_replay else (self.time_scale or 1.0)

    def apply_settings(self, settings: AppSettings) -> None:
        """New settings: the operator note reaches the running worker now, the rest at the next start."""
        self.settings = settings
        if self.worker is not None:
            self.worker.set_operator_note(settings.operator_note)

    def zero_instrument(self) -> None:
        if isinstance(self.worker, InstrumentWorker):
            self.worker.zero_instrument()

    # -- worker signals -----------------------------------------------------------------------

    def _on_recording_changed(self, path: object) -> None:
        if path is not None:
            self.current_file = Path(str(path))
        self.recording_changed.emit(path)

    def _on_chunk(self, chunk: SampleChunk) -> None:
        if self._wall_origin_s is None and len(chunk) and not self.is_replay:
            self._wall_origin_s = time.time() - float(chunk.time_s[-1]) / (self.time_scale or 1.0)
        self.session.add_chunk(chunk)

    def _on_valve_pulses(self, pulses: tuple[ValvePulse, ...]) -> None:
        self.session.add_valve_pulses(pulses)

    def _on_analysis(self, update: AnalysisUpdate) -> None:
        self.session.add_analysis(update)
        self.analysis_changed.emit()

    def _on_analysis_reset(self, update: AnalysisUpdate | None) -> None:
        self.session.reset_analysis()
        if update is not None:
            self.session.add_analysis(update)
        self.analysis_changed.emit()

    # -- analysis settings --------------------------------------------------------------------

    def set_recipe(self, recipe: Recipe | None) -> None:
        """The demo restarts on the new recipe (the simulated reactor runs it), which stops a recording
        visibly; a live run is analysed again from its start with the new recipe, and a recording goes
        on with a ``# Recipe changed`` line. After Disconnect nothing restarts."""
        if self.is_demo and self.worker is not None and recipe is not None:
            recording = self.recording_path if self.recording_active else None
            self.start_demo(recipe)
            if recording is not None:  # a new reactor starts from zero: the old run file cannot go on
                self.warning_raised.emit(
                    f"Recording stopped: the demo restarted with the recipe {recipe.name}. "
                    f"The run so far is in {recording}; press Record to start a new run."
                )
            return
        self.recipe = recipe
        if self.worker is not None:
            self.worker.set_recipe(recipe)

    def set_density(self, block_name: str, density_g_cm3: float) -> None:
        self.densities[block_name] = density_g_cm3
        if self.worker is not None:
            self.worker.set_density(block_name, density_g_cm3)

    def set_target(self, cycles: int | None = None, thickness_ang: float | None = None) -> None:
        self.target_cycles = cycles or None
        self.target_thickness_ang = thickness_ang or None

    def progress(self) -> Progress:
        """Cycle counter and ETA (no ETA when replaying: the run is already over)."""
        scale = math.inf if self.is_replay or self.worker is None else self.time_scale  # nothing runs: no ETA
        return self.session.progress(self.recipe, self.target_cycles, self.target_thickness_ang, scale)

    @property
    def stats(self) -> LinkStats | None:
        w = self.worker
        return getattr(w, "stats", None)
