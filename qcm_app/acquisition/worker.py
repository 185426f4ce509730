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
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Slot

from instruments import base as ib
from qcm_app.acquisition.contract import Analyzer, AnalyzerFactory, ConnectionSpec, LinkStats, add_markers
from qcm_app.acquisition.worker_base import WorkerBase
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind, WorkerState
from qcm_app.domain.pipeline import Pipeline
from qcm_app.io.marker_sources import MarkerSource, MarkerSpec
from qcm_app.io.runfile import RunMetadata

__all__ = [
    "Analyzer",
    "AnalyzerFactory",
    "ConnectionSpec",
    "InstrumentWorker",
    "LinkStats",
    "WorkerBase",
    "add_markers",
]

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


class InstrumentWorker(WorkerBase):
    """Polls (or listens to) one instrument until stopped, surviving a flaky link."""

    def __init__(
        self,
        spec: ConnectionSpec,
        pipeline: Pipeline,
        analyzer: Analyzer | None = None,
        metadata: RunMetadata | None = None,
        opener: Callable[[ConnectionSpec], ib.Driver] | None = None,
        analyzer_factory: AnalyzerFactory | None = None,
        markers: MarkerSpec | None = None,
    ) -> None:
        super().__init__(pipeline, analyzer, metadata, analyzer_factory)
        self.spec = spec
        self._opener = opener or ConnectionSpec.open
        self.driver: ib.Driver | None = None
        self.stats = LinkStats(state=WorkerState.IDLE)
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
                source = self.marker_spec.open(
                    self._now_run_s,
                    run_start_epoch_s=epoch,
                    max_latency_s=MARKER_MAX_LATENCY_S * scale,
                    time_scale=scale,
                )
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
            for text in said[self._marker_warnings_said[k] :]:
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
            self._set_state(WorkerState.STOPPED)
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
                assert self.driver is not None  # _connect set it
                attempt = 0
                consecutive_timeouts = 0
                if period is None:  # a streaming instrument paces itself: its read() waits for the frame
                    info = self.driver.info
                    period = 0.0 if info.streaming else info.measurement_period_s
                if lost_at_run_s is not None:
                    now_s = self._now_run_s()
                    self.recording.mark(RunEventKind.LINK_RESTORED, now_s, f"gap {now_s - lost_at_run_s:.1f} s")
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
                    self._stop.wait(min(0.05 * 2**consecutive_timeouts, 1.0))
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
        self._set_state(WorkerState.CONNECTING if first else WorkerState.RECONNECTING, self.spec.port)
        try:
            driver = self._opener(self.spec)
        except ib.InstrumentError as exc:
            self._bump(last_error=str(exc))
            self._set_state(WorkerState.CONNECTING if first else WorkerState.RECONNECTING, str(exc))
            self._update_stats()
            return False
        try:
            ident = driver.identify()
            driver.start()
        except ib.InstrumentError as exc:
            driver.close()
            self._bump(last_error=f"no answer from the instrument: {exc}")
            self._set_state(WorkerState.CONNECTING if first else WorkerState.RECONNECTING, str(exc))
            self._update_stats()
            return False
        self.driver = driver
        self.metadata.instrument = driver.info.title
        self.metadata.firmware = ident
        self.metadata.port = self.spec.port
        self.metadata.protocol = self.spec.protocol
        self.metadata.sensors = self.spec.sensors
        self.identified.emit(ident)
        self._set_state(WorkerState.CONNECTED, f"{driver.info.title} ({ident}) on {self.spec.port}")
        self._update_stats()
        return True

    def _lose_link(self, reason: str, pending: list[ib.Reading]) -> float:
        """Keep what we had, mark the gap, and go back to connecting."""
        if pending:
            self._deliver(self.pipeline.process_readings(pending))
            pending.clear()
        lost_at = self._now_run_s()
        self.recording.mark(RunEventKind.LINK_LOST, lost_at, reason)
        self._close_driver()
        self._bump(gaps=self.stats.gaps + 1, last_error=reason)
        self._set_state(WorkerState.LOST, reason)
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
        if len(self._times) >= 2 and self.state is WorkerState.CONNECTED:
            span = self._times[-1] - self._times[0]
            if span > 0 and time.monotonic() - self._times[-1] < 2.0:
                rate = (len(self._times) - 1) / span
        self.stats = replace(self.stats, state=self.state, sample_rate_hz=rate)
        self.stats_updated.emit(self.stats)
