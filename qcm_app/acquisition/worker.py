"""The acquisition worker: the only code that touches the serial port and the run file.

A :class:`InstrumentWorker` lives in its own ``QThread``. Commands arrive through thread-safe
methods (a queue of callables run between polls); data leaves as Qt signals carrying numpy
chunks and small frozen dataclasses. The worker never touches a widget and the view never
blocks on I/O. Link trouble is handled here: bad frames are dropped and counted, timeouts are
retried with backoff, a vanished port is re-opened until it returns, and the run file gets an
explicit gap marker and continues.

The tool's valve markers (a log file followed as it grows, or an event line) are polled here too,
between readings, on the run's clock; each pulse goes to the run file, the analysis and the view.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from instruments import base as ib
from instruments.registry import driver_class
from instruments.transport import open_transport
from qcm_app.acquisition.recording import Recording
from qcm_app.acquisition.ringbuffer import GrowingColumns
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse, analysis_markers, sorted_pulses
from qcm_app.domain.pipeline import Pipeline, SampleChunk, block_density_after
from qcm_app.domain.recipes import Recipe
from qcm_app.io.marker_sources import MarkerSource, MarkerSpec
from qcm_app.io.runfile import RunMetadata
from qcm_app.io.valve_lines import valve_events

log = logging.getLogger(__name__)

EMIT_INTERVAL_S = 0.05
STATS_INTERVAL_S = 0.5
#: consecutive timeouts after which the port is closed and re-opened
TIMEOUTS_BEFORE_REOPEN = 8
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
#: a marker source that cannot be opened (a port not there yet) is tried again this often
MARKER_RETRY_S = 2.0
#: host seconds a marker may arrive late before the clock offset is corrected (times the time scale)
MARKER_MAX_LATENCY_S = 1.0


@dataclass(frozen=True)
class ConnectionSpec:
    protocol: str
    port: str
    baud: int | None = None
    sensors: tuple[int, ...] = (1,)
    #: None: the instrument's own measurement period; 0: as fast as the link allows
    poll_interval_s: float | None = None
    timeout_s: float = 0.5
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> ib.Driver:
        """Open the port and build the driver (raises InstrumentError subclasses only)."""
        cls = driver_class(self.protocol)
        transport = open_transport(self.port, self.baud or cls.info.default_baud, self.timeout_s)
        try:
            return cls(transport, sensors=self.sensors, **self.options)
        except Exception:
            transport.close()
            raise


@dataclass(frozen=True)
class LinkStats:
    state: str
    readings: int = 0
    sample_rate_hz: float = 0.0
    checksum_errors: int = 0
    rejected: int = 0
    timeouts: int = 0
    unavailable: int = 0
    reconnects: int = 0
    gaps: int = 0
    last_error: str = ""


class Analyzer(Protocol):
    """Consumes the primary sensor's run mass; returns whatever the view should get (or None)."""

    def feed(self, time_s: Any, mass_ng_cm2: Any) -> Any: ...

    def finish(self) -> Any: ...

    def add_markers(self, pulses: Sequence[ValvePulse]) -> None:
        """The tool's valve pulses, the cycle timeline from the next feed/finish on."""


def add_markers(analyzer: Analyzer, pulses: Sequence[ValvePulse]) -> None:
    """The pulses that time cycles (those of a known precursor) to the analysis."""
    markers = analysis_markers(pulses)
    if markers:
        analyzer.add_markers(markers)


#: builds a fresh analyzer for a recipe (None: infer the pattern)
AnalyzerFactory = Callable[[Recipe | None], Analyzer]


class WorkerBase(QObject):
    """Signals, commands, recording and the pipeline hand-off shared by live and replay workers."""

    samples_acquired = Signal(object)  # SampleChunk
    analysis_updated = Signal(object)  # whatever the analyzer returns
    analysis_reset = Signal(object)  # the whole analysis again (recipe changed)
    stats_updated = Signal(object)  # LinkStats
    state_changed = Signal(str, str)  # state, detail
    identified = Signal(str)
    recording_changed = Signal(object)  # Path or None
    warning_raised = Signal(str)
    recording_failed = Signal(str)  # the disk refused: samples wait in memory for another folder
    valve_pulses_received = Signal(object)  # tuple[ValvePulse, ...] in time order, on the run's clock
    finished = Signal()

    def __init__(self, pipeline: Pipeline, analyzer: Analyzer | None = None,
                 metadata: RunMetadata | None = None, analyzer_factory: AnalyzerFactory | None = None) -> None:
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
        self.state = "idle"
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

    def mark_event(self, kind: str, text: str = "") -> None:
        """An event line in the run file (marker, note, alarm, crystal change) at the run time now."""
        self._commands.put(lambda: self.recording.mark(kind, self._now_run_s(), text))

    def new_crystal(self) -> None:
        """The crystal was changed and reads now: its frequency is the new mass zero, and the run file
        says so (the analysis keeps its own reference, so no cycle sees the swap as growth)."""
        def do() -> None:
            freq = " ".join(f"{f:.3f}" for f in self._last_frequency)
            self.pipeline.tare(self._last_frequency)
            self.recording.mark("crystal change", self._now_run_s(), f"new crystal at {freq} Hz; life reset")
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

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self.state_changed.emit(state, detail)

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
                self.recording.mark(event.kind, event.time_s, event.text)
        if self.analyzer is not None:
            add_markers(self.analyzer, ordered)
        self.valve_pulses_received.emit(ordered)

    def _follow_block_density(self, update: Any) -> None:
        """The thickness column grows at the density of the block being deposited."""
        cycles = getattr(update, "new_cycles", ())
        if not cycles:
            return
        last = cycles[-1]
        density = block_density_after(getattr(self.analyzer, "recipe", None),
                                      getattr(self.analyzer, "densities", {}), last.block_index,
                                      last.cycle_in_block)
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
        self.recording.mark("recipe changed", self._now_run_s(), recipe.name if recipe else "none")
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
        return replace(self.metadata, start_time=self.metadata.start_time or RunMetadata.now_iso(),
                       start_frequency_hz=tuple(float(f) for f in conv.start_frequency_hz),
                       crystal=conv.crystal, density_g_cm3=conv.film.density_g_cm3,
                       z_ratio=conv.film.z_ratio, tooling_pct=conv.film.tooling_pct,
                       time_scale=self.pipeline.clock.time_scale)

    def _now_run_s(self) -> float:
        origin = self.pipeline.clock.origin_s
        if origin is None:
            return 0.0
        return (time.monotonic() - origin) * self.pipeline.clock.time_scale

    def _do_tare(self) -> None:
        self.pipeline.tare(self._last_frequency)
        freq = " ".join(f"{f:.3f}" for f in self._last_frequency)
        self.recording.mark("tare", self._now_run_s(), f"mass zero at {freq} Hz")

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
        self.recording.mark("link lost", last_s, "the recording was interrupted (the program ended)")
        self.recording.mark("link restored", now_s, f"gap {now_s - last_s:.1f} s")
        self.recording_changed.emit(self.recording.path)

    def _do_relocate(self, target: Path) -> None:
        self.recording.relocate(target, self._run_metadata)
        self.recording_changed.emit(self.recording.path)


class InstrumentWorker(WorkerBase):
    """Polls (or listens to) one instrument until stopped, surviving a flaky link."""

    def __init__(self, spec: ConnectionSpec, pipeline: Pipeline, analyzer: Analyzer | None = None,
                 metadata: RunMetadata | None = None,
                 opener: Callable[[ConnectionSpec], ib.Driver] | None = None,
                 analyzer_factory: AnalyzerFactory | None = None, markers: MarkerSpec | None = None) -> None:
        super().__init__(pipeline, analyzer, metadata, analyzer_factory)
        self.spec = spec
        self._opener = opener or ConnectionSpec.open
        self.driver: ib.Driver | None = None
        self.stats = LinkStats(state="idle")
        self._times: deque[float] = deque(maxlen=200)
        #: where the tool's valve markers come from (None: no markers); the source is opened here
        self.marker_spec = markers
        self.marker_source: MarkerSource | None = None
        self._next_marker_poll = 0.0
        self._marker_retry_at = 0.0
        self._marker_open_failed = False
        #: the source's and its clock's warnings already passed on
        self._marker_warnings_said = [0, 0]

    def set_markers(self, spec: MarkerSpec | None) -> None:
        """Follow another valve marker source from now on (None: none); pulses so far are kept."""
        self._commands.put(lambda: self._do_set_markers(spec))

    def _do_set_markers(self, spec: MarkerSpec | None) -> None:
        self._close_markers()
        self.marker_spec = spec
        self._marker_retry_at = 0.0
        self._marker_open_failed = False
        self._note_markers()

    def _note_markers(self) -> None:
        """The header says where the valve markers came from (a continued run follows them again)."""
        extra = self.metadata.extra
        extra.pop("Valve markers", None)
        extra.pop("Valve names", None)
        if self.marker_spec is not None:
            extra["Valve markers"] = self.marker_spec.text()
            if self.marker_spec.names:
                extra["Valve names"] = self.marker_spec.names_text()

    def _close_markers(self) -> None:
        if self.marker_source is not None:
            self.marker_source.close()
            self.marker_source = None

    def _poll_markers(self) -> None:
        """Read the tool's valve markers (at most every ``poll_interval_s`` of the spec). Nothing
        before the first sample: the run's clock, on which the pulses are placed, starts there."""
        if self.marker_spec is None or self.pipeline.clock.origin_s is None:
            return
        now = time.monotonic()
        if now < self._next_marker_poll:
            return
        self._next_marker_poll = now + self.marker_spec.poll_interval_s
        source = self.marker_source
        if source is None:
            if now < self._marker_retry_at:
                return
            scale = self.pipeline.clock.time_scale
            epoch = time.time() - (now - self.pipeline.clock.origin_s)  # the wall clock at run time 0
            try:
                source = self.marker_spec.open(self._now_run_s, run_start_epoch_s=epoch,
                                               max_latency_s=MARKER_MAX_LATENCY_S * scale, time_scale=scale)
            except UserInputError as exc:
                self._marker_retry_at = now + MARKER_RETRY_S
                if not self._marker_open_failed:
                    self._marker_open_failed = True
                    self._warn(f"valve markers: {exc.detail}; trying again every {MARKER_RETRY_S:g} s")
                return
            if self._marker_open_failed:
                self._warn(f"valve markers: {self.marker_spec.describe()} open")
            self._marker_open_failed = False
            self.marker_source = source
            self._marker_warnings_said = [0, 0]
        pulses = source.poll()
        for k, said in enumerate((source.warnings, source.clock.warnings)):
            for text in said[self._marker_warnings_said[k]:]:
                self._warn(text)
            self._marker_warnings_said[k] = len(said)
        self._deliver_pulses(pulses)

    def zero_instrument(self) -> None:
        self._commands.put(self._do_zero)

    def _do_zero(self) -> None:
        if self.driver is not None:
            try:
                self.driver.zero()
            except ib.InstrumentError as exc:
                self._warn(str(exc))

    @Slot()
    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # last line of defence: keep the data, tell the user
            log.exception("acquisition stopped by an unexpected error")
            self._warn(f"acquisition stopped: {type(exc).__name__}: {exc}")
        finally:
            self._close_driver()
            self._close_markers()
            self._finish_analysis()
            self.recording.stop()
            self._set_state("stopped")
            self._update_stats()
            self.finished.emit()

    def _loop(self) -> None:
        pending: list[ib.Reading] = []
        last_emit = last_stats = time.monotonic()
        consecutive_timeouts = 0
        lost_at_run_s: float | None = None
        attempt = 0
        period = self.spec.poll_interval_s
        next_poll = time.monotonic()
        self._note_markers()
        while not self._stop.is_set():
            self._run_commands()
            self._poll_markers()
            if self.driver is None:
                if not self._connect(first=lost_at_run_s is None and attempt == 0):
                    attempt += 1
                    self._stop.wait(RECONNECT_BACKOFF_S[min(attempt - 1, len(RECONNECT_BACKOFF_S) - 1)])
                    continue
                attempt = 0
                consecutive_timeouts = 0
                if period is None:  # a streaming instrument paces itself: its read() waits for the frame
                    info = self.driver.info
                    period = 0.0 if info.streaming else info.measurement_period_s
                if lost_at_run_s is not None:
                    now_s = self._now_run_s()
                    self.recording.mark("link restored", now_s, f"gap {now_s - lost_at_run_s:.1f} s")
                    self._bump(reconnects=self.stats.reconnects + 1)
                    lost_at_run_s = None
            try:
                reading = self.driver.read()
                pending.append(reading)
                self._times.append(reading.time_s)
                consecutive_timeouts = 0
                self._bump(readings=self.stats.readings + 1)
            except ib.CommandRejected as exc:
                self._bump(rejected=self.stats.rejected + 1, last_error=str(exc))
            except ib.ProtocolError as exc:
                self._bump(checksum_errors=self.stats.checksum_errors + 1, last_error=str(exc))
            except ib.ValueUnavailable as exc:
                self._bump(unavailable=self.stats.unavailable + 1, last_error=str(exc))
            except ib.ReplyTimeout as exc:
                consecutive_timeouts += 1
                self._bump(timeouts=self.stats.timeouts + 1, last_error=str(exc))
                if consecutive_timeouts >= TIMEOUTS_BEFORE_REOPEN:
                    lost_at_run_s = self._lose_link(f"no reply {consecutive_timeouts} times: {exc}", pending)
                else:
                    self._stop.wait(min(0.05 * 2 ** consecutive_timeouts, 1.0))
            except ib.LinkLost as exc:
                lost_at_run_s = self._lose_link(str(exc), pending)
            now = time.monotonic()
            if pending and now - last_emit >= EMIT_INTERVAL_S:
                self._deliver(self.pipeline.process_readings(pending))
                pending = []
                last_emit = now
            if now - last_stats >= STATS_INTERVAL_S:
                self._update_stats()
                last_stats = now
                self.recording.flush_if_due()
            if period:
                next_poll += period
                wait = next_poll - time.monotonic()
                if wait > 0:
                    self._idle(wait)
                elif wait < -period:
                    next_poll = time.monotonic()  # fell behind (slow link): do not burst
        if pending:
            self._deliver(self.pipeline.process_readings(pending))

    def _idle(self, seconds: float) -> None:
        """Wait until the next reading is due, reading the valve markers meanwhile: the latency of
        their first batch is the clock offset's bias."""
        if self.marker_spec is None:
            self._stop.wait(seconds)
            return
        end = time.monotonic() + seconds
        while not self._stop.is_set():
            self._poll_markers()
            left = end - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, self.marker_spec.poll_interval_s))

    def _connect(self, first: bool) -> bool:
        self._set_state("connecting" if first else "reconnecting", self.spec.port)
        try:
            driver = self._opener(self.spec)
        except ib.InstrumentError as exc:
            self._bump(last_error=str(exc))
            self._set_state("connecting" if first else "reconnecting", str(exc))
            self._update_stats()
            return False
        try:
            ident = driver.identify()
            driver.start()
        except ib.InstrumentError as exc:
            driver.close()
            self._bump(last_error=f"no answer from the instrument: {exc}")
            self._set_state("connecting" if first else "reconnecting", str(exc))
            self._update_stats()
            return False
        self.driver = driver
        self.metadata.instrument = driver.info.title
        self.metadata.firmware = ident
        self.metadata.port = self.spec.port
        self.metadata.protocol = self.spec.protocol
        self.metadata.sensors = self.spec.sensors
        self.identified.emit(ident)
        self._set_state("connected", f"{driver.info.title} ({ident}) on {self.spec.port}")
        self._update_stats()
        return True

    def _lose_link(self, reason: str, pending: list[ib.Reading]) -> float:
        """Keep what we had, mark the gap, and go back to connecting."""
        if pending:
            self._deliver(self.pipeline.process_readings(pending))
            pending.clear()
        lost_at = self._now_run_s()
        self.recording.mark("link lost", lost_at, reason)
        self._close_driver()
        self._bump(gaps=self.stats.gaps + 1, last_error=reason)
        self._set_state("lost", reason)
        self._update_stats()
        return lost_at

    def _close_driver(self) -> None:
        if self.driver is not None:
            try:
                self.driver.close()
            except ib.InstrumentError:
                pass
            self.driver = None

    def _bump(self, **changes: Any) -> None:
        self.stats = replace(self.stats, **changes)

    def _update_stats(self) -> None:
        rate = 0.0
        if len(self._times) >= 2 and self.state == "connected":
            span = self._times[-1] - self._times[0]
            if span > 0 and time.monotonic() - self._times[-1] < 2.0:
                rate = (len(self._times) - 1) / span
        self.stats = replace(self.stats, state=self.state, sample_rate_hz=rate)
        self.stats_updated.emit(self.stats)
