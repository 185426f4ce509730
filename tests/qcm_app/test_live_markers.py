"""Valve markers live: the worker follows a tool log written in chunks (in its own thread, on the run's
clock), every pulse reaches the view, the analysis and the run file, the file gives them back, and a
replay hands them on as its clock passes them, as `qcm analyze` uses them."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from instruments.emulators.base import ConstantSource, PtyServer
from instruments.emulators.sqm160 import Sqm160Emulator
from qcm_app.acquisition import worker as acquisition
from qcm_app.acquisition.replay import ReplayCommand
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.cli import main as qcm_main
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.pipeline import Pipeline
from qcm_app.io import marker_sources
from qcm_app.io.importers import load_run
from qcm_app.io.marker_sources import LogFollower, MarkerKind, MarkerSpec, parse_marker_spec
from qcm_app.io.offline import analyze_file
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, RunWriter, read_run
from qcm_app.io.valve_lines import valve_events
from tests.support.marker_testdata import marker_run
from tests.support.testset import same_result


@pytest.fixture
def controller(tmp_path):
    c = AppController(AppSettings(runs_folder=tmp_path))
    yield c
    c.stop()


def _stamp(epoch_s: float) -> str:
    """The LabVIEW tool's wall clock, ``HH:MM:SS.mmm MM/DD/YYYY`` (local time)."""
    moment = datetime.fromtimestamp(epoch_s)
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d} {moment:%m/%d/%Y}"


def test_worker_follows_a_tool_log_written_in_chunks(qtbot, controller, tmp_path, monkeypatch) -> None:
    """The tool writes its log at 2 Hz in pieces cut mid-row, with a damaged row and an argon valve
    that never opens; the worker (never the GUI thread) reads it, and each pulse reaches the view,
    the analysis and the run file once, at its wall-clock time on the run's clock."""
    polled_in: set[str] = set()
    real_poll = LogFollower.poll

    def poll(self: LogFollower) -> list[ValvePulse]:
        polled_in.add(threading.current_thread().name)
        return real_poll(self)

    monkeypatch.setattr(LogFollower, "poll", poll)
    server = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    log = tmp_path / "Run1_DataLog.txt"
    try:
        controller.connect_instrument(ConnectionSpec("sqm160", server.port, poll_interval_s=0.02), load_preset("al2o3"))
        qtbot.waitUntil(lambda: controller.session.buffer.total > 5, timeout=10_000)
        warnings: list[str] = []
        controller.warning_raised.connect(warnings.append)
        # Instrument → Valve markers… while running (the log does not exist yet), then Record
        controller.set_markers(parse_marker_spec(str(log), ["TMA=Mod8/do1", "H2O=Mod8/do2"]))
        run_file = controller.start_recording(tmp_path / "run.csv")
        qtbot.waitUntil(run_file.exists, timeout=10_000)
        base = controller.wall_clock_origin_s() + 2.0  # the tool's clock: 2 s after the run began
        opened = {10: "TMA", 25: "H2O", 40: "TMA", 55: "H2O", 70: "TMA", 85: "H2O"}  # row → open for that row
        lines = ["ALD tool DataLog", "Timestamp\tMod8/do1\tMod8/do2\tAr valve\tMod7/do0"]
        row_line: dict[int, int] = {}
        for k in range(100):
            row_line[k] = len(lines)
            tma, h2o = int(opened.get(k) == "TMA"), int(opened.get(k) == "H2O")
            lines.append(f"{_stamp(base + 0.5 * k)}\t{tma}\t{h2o}\t0\t0")
            if k == 60:
                lines.append("11:2")  # a damaged row
        text = "\n".join(lines) + "\n"
        starts = np.cumsum([0] + [len(line) + 1 for line in lines])
        # each piece ends in the middle of the row after the one that closes a pulse
        cuts = [0, *(int(starts[row_line[k + 2]]) + 7 for k in opened), len(text)]
        with open(log, "w", encoding="latin-1") as fh:
            for i, (a, b) in enumerate(itertools.pairwise(cuts)):
                fh.write(text[a:b])
                fh.flush()
                if i < len(opened):  # the pulse this piece closes is seen before the next piece
                    qtbot.waitUntil(lambda i=i: len(controller.session.valve_pulses) == i + 1, timeout=10_000)
        qtbot.waitUntil(lambda: len(controller.session.valve_pulses) == len(opened), timeout=10_000)
        pulses = controller.session.valve_pulses
        assert [p.precursor for p in pulses] == list(opened.values())
        epoch = controller.worker.marker_source.clock.run_start_epoch_s
        expected = [base + 0.5 * k - 0.25 - epoch for k in opened]  # halfway between the rows
        np.testing.assert_allclose([p.time_s for p in pulses], expected, atol=2e-3)
        assert all(p.duration_s == pytest.approx(0.5, abs=2e-3) for p in pulses)
        assert controller.worker.analyzer.markers == tuple(pulses)
        assert polled_in and "MainThread" not in polled_in
        damaged = f"line {lines.index('11:2') + 1}:"
        qtbot.waitUntil(
            lambda: any(damaged in w for w in warnings) and any("'Ar valve'" in w for w in warnings), timeout=10_000
        )
        assert len([w for w in warnings if "Run1_DataLog" in w]) == 3  # not there yet; bad row; stuck valve
        assert all("\n" not in w for w in warnings)
        controller.stop()
        recorded = read_run(run_file)
        np.testing.assert_allclose([p.time_s for p in recorded.valve_pulses], [p.time_s for p in pulses], atol=1e-4)
        assert [(p.channel, p.precursor) for p in recorded.valve_pulses] == [(p.channel, p.precursor) for p in pulses]
        assert recorded.metadata.extra["Valve markers"] == str(log)
        assert recorded.metadata.extra["Valve names"] == "TMA=Mod8/do1, H2O=Mod8/do2"
    finally:
        server.stop()


def test_follower_says_a_bad_row_and_a_stuck_valve_once_and_keeps_the_timeline(tmp_path) -> None:
    rows = ["Elapsed Time [s]\tTMA valve\tH2O valve\tO3 valve"]
    for k in range(80):
        rows.append(f"{0.5 * k:.1f}\t{int(k % 20 == 5)}\t{int(k % 20 == 15)}\t0")
        if k in (30, 50):
            rows.append(f"{0.5 * k + 0.2:.1f}\tx\t0\t0")  # a valve cell that is no 0/1
    log = tmp_path / "log.tsv"
    log.write_text("\n".join(rows) + "\n")
    follower = LogFollower(log, run_clock=lambda: 100.0)
    pulses = follower.poll()
    assert [p.precursor for p in pulses] == ["TMA", "H2O"] * 4
    assert np.diff([p.time_s for p in pulses]) == pytest.approx([5.0] * 7)
    assert follower.bad_rows == 2
    bad = [w for w in follower.warnings if "'x'" in w]
    stuck = [w for w in follower.warnings if "O3 valve" in w]
    assert len(bad) == 1 and len(stuck) == 1 and len(follower.warnings) == 2
    assert "not 0 or 1" in bad[0] and "unchanged" in stuck[0] and "\n" not in "".join(follower.warnings)


def test_run_file_keeps_valve_pulses(tmp_path) -> None:
    pipe = Pipeline(1)
    t = np.arange(0.0, 60.0, 0.5) + 10.0
    chunk = pipe.process_arrays(t, np.full((t.size, 1), 5.98e6) - t[:, None] * 0.01)
    path = tmp_path / "run.csv"
    writer = RunWriter.create(path, RunMetadata(start_frequency_hz=(5.98e6,)), in_progress_marker=False)
    pulses = (
        ValvePulse(15.25, 0.1, "Mod8/do1", "TMA"),
        ValvePulse(30.5, 0.25, "Mod8/do2", ""),
        ValvePulse(45.75, 0.1, "TMA valve", "TMA"),
    )
    writer.write(chunk)
    for event in valve_events(pulses):
        writer.mark(event.kind, event.time_s, event.text)
    writer.mark("valve", 50.0, "TMA; no duration")  # damaged by hand
    writer.mark("marker", 20.0, "check")
    writer.close()
    raw = read_run(path)
    assert raw.valve_pulses == pulses
    assert [e.kind for e in raw.events] == ["marker"]
    assert len(raw.warnings) == 1 and "1 valve lines" in raw.warnings[0]
    imported = load_run(path)  # time from the first row, pulses with it
    assert [p.time_s for p in imported.valve_pulses] == pytest.approx([5.25, 20.5, 35.75])


def _recorded_marker_run(path: Path) -> tuple[Path, tuple[ValvePulse, ...]]:
    """A 2 Hz Al2O3 run with its valves, written as the recorder writes one."""
    recipe = load_preset("al2o3")
    run, _ = marker_run(recipe)
    pipe = Pipeline(1)
    chunk = pipe.process_arrays(run.time_s, run.frequency_hz)
    meta = RunMetadata(
        start_time=RunMetadata.now_iso(),
        recipe_name=recipe.name,
        recipe_text=recipe.text,
        start_frequency_hz=tuple(pipe.converter.start_frequency_hz),
    )
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(chunk)
    for event in valve_events(run.valve_pulses):
        writer.mark(event.kind, event.time_s, event.text)
    writer.close()
    return path, run.valve_pulses


def test_replay_hands_the_pulses_on_as_its_clock_passes_them(qtbot, controller, tmp_path) -> None:
    path, pulses = _recorded_marker_run(tmp_path / "run.csv")
    batches: list[tuple[ValvePulse, ...]] = []
    controller.open_run(path, speed=1000.0)
    controller.worker.valve_pulses_received.connect(batches.append)
    qtbot.waitUntil(lambda: len(batches) >= 2, timeout=20_000)
    controller.replay_command(ReplayCommand.JUMP_TO_END)
    qtbot.waitUntil(lambda: controller.link_state == "finished", timeout=20_000)  # the GUI saw it: all before it too
    qtbot.waitUntil(lambda: len(controller.session.valve_pulses) == len(pulses), timeout=10_000)
    firsts = [b[0].time_s for b in batches]
    assert firsts == sorted(firsts) and len(batches) >= 2  # in pieces, in order, not all at the start
    np.testing.assert_allclose(
        [p.time_s for p in controller.session.valve_pulses], [p.time_s for p in pulses], atol=1e-4
    )
    offline = analyze_file(path)
    assert [p.time_s for p in controller.worker.analyzer.markers] == [p.time_s for p in offline.run.valve_pulses]
    assert same_result(offline.result, controller.worker.analyzer.result())
    assert len(offline.result.cycles) == load_preset("al2o3").total_cycles


def test_wall_clock_stamps_follow_a_sped_up_run_clock() -> None:
    """A simulator at 20x counts process seconds: a wall-clock stamp 3 s after the run began is 60 s in."""
    clock = marker_sources.ClockAlignment(lambda: 0.0, run_start_epoch_s=1_700_000_000.0, time_scale=20.0)
    assert clock.to_run(1_700_000_003.0) == pytest.approx(60.0)
    pulse = clock.pulse_to_run(ValvePulse(1_700_000_003.0, 0.1, "LiOtBu", "LiOtBu"))  # a 2 s pulse, sped up
    assert (pulse.time_s, pulse.duration_s) == (pytest.approx(60.0), pytest.approx(2.0))
    assert clock.offset_s is None  # the elapsed-seconds rule was not needed


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("/tmp/x_DataLog.txt", MarkerKind.LOG, "/tmp/x_DataLog.txt"),
        ("serial:/dev/ttyUSB1", MarkerKind.SERIAL, "/dev/ttyUSB1"),
        ("serial:COM4", MarkerKind.SERIAL, "COM4"),
        ("tcp:192.168.1.20:5020", MarkerKind.TCP, "192.168.1.20:5020"),
        ("socket://localhost:7000", MarkerKind.TCP, "localhost:7000"),
    ],
)
def test_marker_specs_as_the_user_writes_them(text: str, kind: MarkerKind, target: str) -> None:
    spec = parse_marker_spec(text, ["TMA=Mod8/do1"])
    assert (spec.kind, spec.target, spec.names) == (kind, target, (("Mod8/do1", "TMA"),))
    assert parse_marker_spec(spec.text(), [spec.names_text()]) == spec
    if kind is MarkerKind.TCP:
        assert spec.url == f"socket://{target}"


@pytest.mark.parametrize(
    "argv",
    [
        ["--markers", "tcp:nohost"],
        ["--markers", "serial:"],
        ["--markers", "/no/such/folder/log.txt"],
        ["--valve", "TMA=do1"],
        ["--markers", "serial:COM4", "--valve", "TMA"],
    ],
)
def test_bad_markers_options_are_one_line(argv: list[str], capsys) -> None:
    assert qcm_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qcm: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_port_that_is_not_there_yet_is_said_once_and_tried_again(qtbot, controller, monkeypatch) -> None:
    server = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    warnings: list[str] = []
    controller.warning_raised.connect(warnings.append)
    attempts: list[str] = []
    real_open = MarkerSpec.open

    def open_counted(self: MarkerSpec, *args: object, **kwargs: object) -> marker_sources.MarkerSource:
        attempts.append(self.target)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(MarkerSpec, "open", open_counted)
    monkeypatch.setattr(acquisition, "MARKER_RETRY_S", 0.05)
    try:
        controller.connect_instrument(
            ConnectionSpec("sqm160", server.port, poll_interval_s=0.02),
            markers=MarkerSpec(MarkerKind.SERIAL, "/dev/no-such-tty"),
        )
        qtbot.waitUntil(lambda: len(attempts) >= 3, timeout=10_000)
        said = [w for w in warnings if "valve markers" in w]
        assert len(said) == 1 and "/dev/no-such-tty" in said[0] and "again" in said[0]
        assert controller.session.buffer.total > 0  # the instrument goes on meanwhile
    finally:
        controller.stop()
        server.stop()
    with pytest.raises(UserInputError):
        parse_marker_spec("")
