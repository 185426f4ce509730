"""Replaying a recorded run (ours or a vendor log) through exactly the live pipeline.

The :class:`ReplayWorker` replaces the instrument: it loads the file in its own thread, then
hands the samples to the same pipeline, analysis and signals as live acquisition, paced at
1× to 1000× or delivered at once (seek forward, jump to end). Seeking backwards starts the
analysis again from the beginning, so the cycles and flags are always those of an unbroken
pass, which is what ``qcm analyze`` computes. The run's valve pulses (recorded live, or a tool
log's valve columns) reach the analysis and the view as the replay clock passes them, named
exactly as ``qcm analyze`` names them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal, Slot

from qcm_app.acquisition.worker import AnalyzerFactory, LinkStats, WorkerBase
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import WorkerState
from qcm_app.domain.pipeline import Pipeline
from qcm_app.domain.recipes import Recipe
from qcm_app.domain.textenum import TextEnum
from qcm_app.io.runfile import RunData, RunMetadata

log = logging.getLogger(__name__)

TICK_S = 0.03
#: samples handed to the pipeline at once when catching up (seek, jump to end)
CATCH_UP_CHUNK = 200_000
SPEEDS = (1.0, 10.0, 100.0, 1000.0)


class ReplayCommand(TextEnum):
    """What the view asks of a replay (:meth:`ReplayWorker.command`)."""

    SET_SPEED = "set_speed"  # (speed: float) run seconds per wall second
    SET_PAUSED = "set_paused"  # (paused: bool)
    SEEK = "seek"  # (time_s: float) a run time; backwards starts the analysis over
    JUMP_TO_END = "jump_to_end"  # ()


class ReplayWorker(WorkerBase):
    loaded = Signal(object)  # RunData (without the big arrays' copies: the same object)
    position_changed = Signal(float, float)  # run time now, run duration
    session_reset = Signal()  # the view must forget what it has (a seek backwards)

    def __init__(
        self, path: str | Path, analyzer_factory: AnalyzerFactory, recipe: Recipe | None = None, speed: float = 100.0
    ) -> None:
        # the pipeline is rebuilt once the file's sensors are known
        super().__init__(Pipeline(1), None, RunMetadata(), analyzer_factory)
        self.path = Path(path)
        self.recipe_override = recipe
        self.recipe: Recipe | None = None
        self.speed = speed
        self.paused = False
        self.run_data: RunData | None = None
        self._seek_to: float | None = None
        self.stats = LinkStats(state=WorkerState.IDLE)

    # -- thread-safe commands -------------------------------------------------------------------

    def set_speed(self, speed: float) -> None:
        self._commands.put(lambda: setattr(self, "speed", max(float(speed), 0.01)))

    def set_paused(self, paused: bool) -> None:
        self._commands.put(lambda: setattr(self, "paused", bool(paused)))

    def seek(self, time_s: float) -> None:
        self._commands.put(lambda: setattr(self, "_seek_to", float(time_s)))

    def jump_to_end(self) -> None:
        self.seek(math.inf)

    def command(self, command: ReplayCommand, *args: object) -> None:
        """One of the commands above by its name (``ReplayCommand("seek")`` raises for a typo)."""
        handlers: dict[ReplayCommand, Callable[..., None]] = {
            ReplayCommand.SET_SPEED: self.set_speed,
            ReplayCommand.SET_PAUSED: self.set_paused,
            ReplayCommand.SEEK: self.seek,
            ReplayCommand.JUMP_TO_END: self.jump_to_end,
        }
        handlers[ReplayCommand(command)](*args)

    # -- worker ---------------------------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        try:
            self._set_state(WorkerState.LOADING, str(self.path))
            try:
                run = self._load()
            except UserInputError as exc:
                self._warn(str(exc))
                self._set_state(WorkerState.ERROR, str(exc))
                return
            self._play(run)
        except Exception as exc:  # keep the app alive and say what happened
            log.exception("replay stopped by an unexpected error")
            self._warn(f"replay stopped: {type(exc).__name__}: {exc}")
        finally:
            self._set_state(WorkerState.STOPPED)
            self.finished.emit()

    def _load(self) -> RunData:
        from qcm_app.io.importers import load_run
        from qcm_app.io.offline import name_valves, recipe_for

        run = load_run(self.path)
        self.recipe = self.recipe_override or recipe_for(run, None)
        name_valves(run, self.recipe)
        self.run_data = run
        self.metadata = run.metadata
        self.pipeline = self._new_pipeline(run)
        self.analyzer = self.analyzer_factory(self.recipe) if self.analyzer_factory else None
        for warning in run.warnings:
            self._warn(f"{self.path.name}: {warning}")
        self.loaded.emit(run)
        return run

    @staticmethod
    def _new_pipeline(run: RunData) -> Pipeline:
        from qcm_app.domain.pipeline import FilmSettings

        meta = run.metadata
        density = meta.density_g_cm3 if math.isfinite(meta.density_g_cm3) else 1.0
        pipe = Pipeline(
            sensors=run.sensors, crystal=meta.crystal, film=FilmSettings(density, meta.z_ratio, meta.tooling_pct)
        )
        starts = list(meta.start_frequency_hz[: run.sensors])
        if len(starts) == run.sensors and all(math.isfinite(f) for f in starts):
            pipe.converter.set_start(starts)
        return pipe

    def _play(self, run: RunData) -> None:
        t = run.time_s
        f = run.frequency_hz
        n = t.size
        duration = float(t[-1]) if n else 0.0
        pulses = run.valve_pulses
        pulse_times = np.array([p.time_s for p in pulses])
        pos = pulse_pos = 0
        play_t = float(t[0]) if n else 0.0
        finished = False
        self._set_state(WorkerState.REPLAYING, f"{self.path.name}: {n} samples, {duration / 3600:.2f} h")
        last_tick = time.monotonic()
        last_position = 0.0
        while not self._stop.is_set():
            self._run_commands()
            now = time.monotonic()
            dt = now - last_tick
            last_tick = now
            if self._seek_to is not None:
                target = min(self._seek_to, duration)
                self._seek_to = None
                if target < play_t:  # backwards: start over so the analysis sees an unbroken pass
                    self._restart(run)
                    pos, pulse_pos, finished = 0, 0, False
                play_t = target
            elif not self.paused and not finished:
                play_t += dt * self.speed
            end = int(np.searchsorted(t, play_t, side="right"))
            # the valves that fired by now, before the samples that show their uptake (all at the end)
            pulse_end = pulse_times.size if end >= n else int(np.searchsorted(pulse_times, play_t, side="right"))
            if pulse_end > pulse_pos:
                self._deliver_pulses(pulses[pulse_pos:pulse_end], record=False)
                pulse_pos = pulse_end
            while pos < end:
                stop = min(end, pos + CATCH_UP_CHUNK)
                self._deliver(self.pipeline.process_arrays(t[pos:stop], f[pos:stop]))
                pos = stop
            if pos >= n and not finished:
                finished = True
                self._finish_analysis()
                self._set_state(WorkerState.FINISHED, f"{self.path.name}: end of the run")
            if now - last_position >= 0.1 or finished:
                self.position_changed.emit(min(play_t, duration), duration)
                last_position = now
            self._stop.wait(TICK_S)

    def _restart(self, run: RunData) -> None:
        self.pipeline = self._new_pipeline(run)
        self.analyzer = self.analyzer_factory(self.recipe) if self.analyzer_factory else None
        self.history = type(self.history)(self.history.columns)
        self.valve_pulses = []
        self.session_reset.emit()
        self._set_state(WorkerState.REPLAYING, f"{self.path.name}: from the start")

    def _do_set_recipe(self, recipe: Recipe | None) -> None:
        self.recipe = recipe
        super()._do_set_recipe(recipe)
