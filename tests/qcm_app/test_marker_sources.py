"""Live valve markers: a growing tool log followed in chunks, an event line over TCP and over the
simulated tool's pty, and runs with an empty bottle or a tool departing from its recipe."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from instruments.valves import parse_event_line
from qcm_app.domain.markers import compare_with_recipe, counts_by_precursor, recipe_pulse_sequence
from qcm_app.domain.physics import sauerbrey_factor_ng_cm2_per_hz
from qcm_app.io.importers import load_run
from qcm_app.io.marker_sources import ClockAlignment, EventLineSource, LogFollower
from qcm_app.io.recipe_files import load_preset
from qcm_app.simulation.simulate import build_marker_server
from tests.support.marker_testdata import departed_run, empty_bottle_run, marker_run

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "boise-ald-2019-05-24"
DATALOG = DATA / "20190524_Run1_TMA-H2O-50cycles_TMA-10Pulses_TMA-H2O-20cycles_425C_GaPO4_DataLog.txt"
TIMEOUT_S = 60.0


def _wait(condition, timeout_s: float = TIMEOUT_S, step=None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_follower_gets_every_pulse_once_while_the_log_is_written_in_chunks_and_replaced(tmp_path):
    """A writer thread appends the real DataLog in random chunks (cutting lines anywhere), and halfway
    the tool rewrites the file under a new inode; the reader polling it sees each of the 150 pulses
    exactly once, at the same spacing as the offline import."""
    raw = DATALOG.read_bytes()
    log = tmp_path / "live_DataLog.txt"
    rng = random.Random(4)
    cuts = sorted(rng.sample(range(1, len(raw)), 400))
    half = cuts[200]
    done = threading.Event()
    # an ideal run clock: 100 s ahead of the tool's elapsed time of the last whole line written
    lock = threading.Lock()
    now = [0.0]

    def advance(upto: int) -> None:
        lines = raw[:upto].split(b"\n")[2:-1]
        if lines:
            now[0] = 100.0 + float(lines[-1].split(b"\t")[1])

    def write() -> None:
        with open(log, "wb") as fh:
            last = 0
            for c in cuts[:200]:
                with lock:
                    fh.write(raw[last:c])
                    fh.flush()
                    advance(c)
                last = c
                time.sleep(0.001)
        replacement = tmp_path / "copy.tmp"
        with open(replacement, "wb") as fh:  # the tool writes a fresh file (another inode) ...
            fh.write(raw[:half])
        with lock:
            os.replace(replacement, log)
        with open(log, "ab") as fh:  # ... and goes on appending to it
            last = half
            for c in [*cuts[201:], len(raw)]:
                with lock:
                    fh.write(raw[last:c])
                    fh.flush()
                    advance(c)
                last = c
                time.sleep(0.001)
        done.set()

    follower = LogFollower(log, run_clock=lambda: now[0], names={"Mod8/do1": "TMA", "Mod8/do2": "H2O"})
    got = []

    def poll() -> None:
        with lock:
            got.extend(follower.poll())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert _wait(lambda: done.is_set() and len(got) >= 150, step=poll)
    writer.join(TIMEOUT_S)
    poll()
    assert len(got) == 150
    assert counts_by_precursor(got) == {"TMA": 80, "H2O": 70}
    assert any("replaced" in w for w in follower.warnings)
    offline = load_run(DATALOG).valve_pulses  # its time starts at the first row, elapsed 0.569 s
    live = sorted(got, key=lambda p: p.time_s)
    np.testing.assert_allclose([p.time_s for p in live], [p.time_s + 100.569 for p in offline], atol=1e-6)
    np.testing.assert_allclose([p.duration_s for p in live], [p.duration_s for p in offline], atol=1e-6)
    assert [p.channel for p in live] == [p.channel for p in offline]
    assert follower.open_valves() == {}


def test_follower_waits_for_the_rest_of_a_cut_line(tmp_path):
    log = tmp_path / "log.tsv"
    log.write_text("Elapsed Time [s]\tTMA valve\n0.0\t0\n0.5\t1\n1.0\t1\n1.5\t0")
    follower = LogFollower(log, run_clock=lambda: 10.0)
    assert follower.poll() == []  # "1.5\t0" may still become "1.5\t0..." : not read yet
    assert follower.open_valves() == {"TMA valve": pytest.approx(10.0 - 1.0 + 0.25)}
    with open(log, "a") as fh:
        fh.write("\n2.0\t0\n")
    (pulse,) = follower.poll()
    assert pulse.precursor == "TMA" and pulse.duration_s == pytest.approx(1.0)


def test_clock_alignment_rules():
    now = [100.0]
    clock = ClockAlignment(lambda: now[0], run_start_epoch_s=1_700_000_000.0)
    assert clock.to_run(1_700_000_042.5) == pytest.approx(42.5)  # wall clock: by the stamps
    clock.observe(10.0)
    assert clock.to_run(8.0) == pytest.approx(98.0)  # elapsed: the first batch's newest marker is "now"
    now[0] = 103.0
    clock.observe(12.0)
    assert clock.to_run(12.0) == pytest.approx(102.0)  # arrived later: the offset holds
    now[0] = 103.5
    clock.observe(13.0)
    assert clock.to_run(13.0) == pytest.approx(103.0)  # 0.5 s sooner: latency jitter, still held
    assert clock.warnings == []
    now[0] = 104.0
    clock.observe(16.0)  # would be 2 s in the future: the first batch came late, corrected
    assert clock.offset_s == pytest.approx(88.0) and len(clock.warnings) == 1


def _serve_lines(
    chunks: list[bytes],
    connected: threading.Event,
    release: threading.Event,
) -> tuple[str, threading.Thread]:
    """A TCP peer that sends ``chunks`` once the client is ready (pyserial drops what came before)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run() -> None:
        conn, _ = server.accept()
        with conn:
            connected.wait(TIMEOUT_S)
            for chunk in chunks:
                conn.sendall(chunk)
                time.sleep(0.01)
            release.wait(TIMEOUT_S)
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}", thread


def test_event_line_over_tcp_with_split_and_bad_lines():
    # wall-clock stamps (Unix seconds): placed by the run's start time
    text = (
        b"1700000010.0 TMA 1\n1700000010.1 TMA 0\n# comment\n1700000030.0 H2O 1\nrubbish here\n"
        b"1700000030.2;H2O;0\n1700000050.0\tTMA\t1\n1700000050.1 TMA 0\n"
    )
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]  # lines arrive in pieces
    connected, release = threading.Event(), threading.Event()
    url, thread = _serve_lines(chunks, connected, release)
    source = EventLineSource(url, run_clock=lambda: 0.0, run_start_epoch_s=1_700_000_000.0)
    connected.set()
    got = []
    try:
        assert _wait(lambda: len(got) >= 3, step=lambda: got.extend(source.poll()))
    finally:
        release.set()
        thread.join(TIMEOUT_S)
    # the tool end hangs up: said once, no pulse invented, retried later
    assert _wait(lambda: not source.link_up, step=source.poll)
    source.close()
    assert source.pulses == got
    assert [(p.precursor, round(p.duration_s, 3)) for p in got] == [("TMA", 0.1), ("H2O", 0.2), ("TMA", 0.1)]
    assert [p.time_s for p in got] == pytest.approx([10.0, 30.0, 50.0])
    assert source.bad_lines == 1 and "rubbish" in source.warnings[0]
    assert "link lost" in source.warnings[1] and len(source.warnings) == 2
    with pytest.raises(ValueError):
        parse_event_line("1.0 TMA 2")


def test_simulated_tool_serves_the_reactors_valves_on_a_pty():
    recipe = load_preset("al2o3")
    speed = 200.0
    server = build_marker_server("valves", recipe, speed=speed, seed=5)
    start = time.monotonic()
    with server:
        # 50 process seconds are 0.25 s here: latency jitter of a loaded machine, not a clock error
        source = EventLineSource(server.port, run_clock=lambda: (time.monotonic() - start) * speed, max_latency_s=50.0)
        got = []
        try:
            assert _wait(lambda: len(got) >= 12, step=lambda: got.extend(source.poll()))
        finally:
            source.close()
    truth = marker_run(recipe, server_settings(5))[1].valve_pulses()[: len(got)]
    assert [p.precursor for p in got] == [p.precursor for p in truth]
    np.testing.assert_allclose([p.duration_s for p in got], [p.duration_s for p in truth], atol=2e-3)
    np.testing.assert_allclose(np.diff([p.time_s for p in got]), np.diff([p.time_s for p in truth]), atol=2e-3)


def server_settings(seed: int):
    from qcm_app.simulation.reactor import ReactorSettings

    return ReactorSettings(seed=seed)


def _step_masses(run, pulses) -> np.ndarray:
    """Mass change across each pulse, from the frequency alone: the settled level in the last 3 s
    before the valve opens against the last 3 s before the next pulse."""
    f = run.frequency_hz[:, 0]
    factor = sauerbrey_factor_ng_cm2_per_hz(run.metadata.start_frequency_hz[0])
    t = run.time_s
    starts = [p.time_s for p in pulses] + [t[-1]]
    out = []
    for a, b in itertools.pairwise(starts):
        before = np.nanmedian(f[(t > a - 3) & (t < a)])
        after = np.nanmedian(f[(t > b - 3) & (t < b)])
        out.append((before - after) * factor)
    return np.array(out)


def test_empty_bottle_trace_fires_the_valve_with_no_uptake():
    recipe = load_preset("al2o3")
    run, _model = empty_bottle_run(recipe, "TMA", first_pulse=21)
    tma = [i for i, p in enumerate(run.valve_pulses) if p.precursor == "TMA"]
    assert len(tma) == recipe.blocks[0].repeat  # the valve still fires every cycle
    masses = _step_masses(run, run.valve_pulses)
    before, after = masses[tma[:20]], masses[tma[20:]]
    assert np.all(before > 10) and np.all(np.abs(after) < 2)
    clean, _ = marker_run(recipe)
    assert np.all(_step_masses(clean, clean.valve_pulses)[tma] > 10)


def test_departed_run_markers_show_the_skip_and_the_pause():
    recipe = load_preset("al2o3")
    run, _model = departed_run(recipe, skipped_pulses=(11,), pauses=((20, 120.0),))
    expected = recipe_pulse_sequence(recipe)
    assert len(run.valve_pulses) == len(expected) - 1
    found = compare_with_recipe(run.valve_pulses, expected)
    assert [(d.pulse_index, d.expected, d.found) for d in found] == [(11, expected[10], "")]
    gaps = np.diff([p.time_s for p in run.valve_pulses])
    assert gaps.max() > 120 > np.median(gaps)  # the pause shows in the markers, not as a disagreement


def test_qcm_simulate_protocol_valves_serves_event_lines():
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qcm_app",
            "simulate",
            "--protocol",
            "valves",
            "--recipe",
            "al2o3",
            "--speed",
            "100",
            "--seed",
            "3",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), port or proc.stderr.read()
        start = time.monotonic()
        source = EventLineSource(port, run_clock=lambda: (time.monotonic() - start) * 100, max_latency_s=50.0)
        try:
            assert _wait(lambda: len(source.pulses) >= 4, step=source.poll)
        finally:
            source.close()
        assert [p.precursor for p in source.pulses[:4]] == ["TMA", "H2O", "TMA", "H2O"]
        # 0.1 s pulses; the simulated tool jitters each step by 0.02 s (1 sigma)
        assert all(0.02 <= p.duration_s <= 0.25 for p in source.pulses[:4])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_follower_reads_a_monitor_log_with_comment_header_and_ragged_rows():
    """The HZB log: 11 '#' lines, a header one field longer than its rows, shutters as 0/1 columns."""
    hzb = DATA.parent / "hzb-pvd-2021-08-24" / "PVDProcess.tsv"
    follower = LogFollower(hzb, run_clock=lambda: 0.0)
    live = {p.channel: p for p in follower.poll()}
    offline = {p.channel: p for p in load_run(hzb).valve_pulses}
    still_open = follower.open_valves()
    assert sorted([*live, *still_open]) == sorted(offline)
    assert live and still_open  # one shutter is still open when the log ends
    for name, p in live.items():
        assert p.duration_s == pytest.approx(offline[name].duration_s)
