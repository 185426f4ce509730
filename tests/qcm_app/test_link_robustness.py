"""A flaky link: the worker survives bad frames, stalls and a vanished port; the run file keeps
every sample it had and marks the gap; 'no value' is kept apart from 'link lost'."""

from __future__ import annotations

import time

import numpy as np
import pytest

from instruments.emulators.base import ConstantSource, Faults, PtyServer
from instruments.emulators.sqm160 import Sqm160Emulator
from instruments.emulators.sycon import Stm100Emulator
from instruments.registry import available_protocols
from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.controller import AppController, AppSettings
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import read_run


@pytest.fixture
def controller(tmp_path):
    c = AppController(AppSettings(runs_folder=tmp_path))
    yield c
    c.stop()


def _connect(
    controller: AppController, server: PtyServer, protocol: str = "sqm160", timeout_s: float = 0.3, **spec
) -> None:
    controller.connect_instrument(
        ConnectionSpec(protocol=protocol, port=server.port, poll_interval_s=0.02, timeout_s=timeout_s, **spec)
    )


def test_port_vanishes_and_returns_recording_continues_with_a_gap(qtbot, controller, tmp_path) -> None:
    server = PtyServer(Sqm160Emulator(ConstantSource()), link=tmp_path / "ttyQCM", baud=None).start()
    try:
        # a vanished port fails at once (EIO), not by timeouts; a long reply timeout keeps a machine too
        # busy to answer for a while from counting as more lost links (it made this test flaky)
        _connect(controller, server, timeout_s=3.0)
        path = controller.start_recording(tmp_path / "run.csv")
        qtbot.waitUntil(lambda: controller.session.buffer.total > 40, timeout=10_000)
        server.disappear()
        qtbot.waitUntil(lambda: controller.worker.state in ("lost", "reconnecting"), timeout=10_000)
        seen_lost = time.monotonic()  # the gap began before this (the run clock is the monotonic clock here)
        before_gap = controller.session.buffer.total
        # a reconnection attempt has failed (the port is still gone): nothing may have been invented
        qtbot.waitUntil(lambda: controller.worker.state == "reconnecting", timeout=10_000)
        assert controller.session.buffer.total == before_gap  # nothing invented during the gap
        back_at = time.monotonic()  # ... and ends after this
        server.reappear()  # on a new pty; the stable link follows it (the kernel may reuse the number)
        qtbot.waitUntil(lambda: controller.worker.state == "connected", timeout=10_000)
        qtbot.waitUntil(lambda: controller.session.buffer.total > before_gap + 40, timeout=10_000)
        assert controller.stats.gaps == 1 and controller.stats.reconnects == 1
        controller.stop()  # closes the run file
        run = read_run(path)
        gaps = run.gaps()
        assert len(gaps) == 1 and gaps[0][1] - gaps[0][0] >= back_at - seen_lost - 0.01
        # every sample the session saw is in the file, in order, none lost or duplicated
        assert run.time_s.size == controller.session.buffer.total
        assert np.array_equal(np.round(run.time_s, 4), np.round(controller.session.buffer.view("time_s"), 4))
        lost_at, restored_at = gaps[0]
        assert not np.any((run.time_s > lost_at) & (run.time_s < restored_at))
    finally:
        server.stop()


def test_crc_storm_stall_and_garbage_leave_the_worker_alive(qtbot, controller) -> None:
    server = PtyServer(Sqm160Emulator(ConstantSource()), baud=None).start()
    try:
        _connect(controller, server)
        qtbot.waitUntil(lambda: controller.session.buffer.total > 10, timeout=10_000)
        server.faults = Faults(corrupt_checksum=0.6)
        qtbot.waitUntil(lambda: controller.stats.checksum_errors > 10, timeout=10_000)
        server.faults = Faults(noise_bytes=0.6)
        qtbot.wait(500)
        server.faults = Faults()
        server.stall_for(1.5)
        qtbot.waitUntil(lambda: controller.stats.timeouts >= 2, timeout=10_000)
        n = controller.session.buffer.total
        qtbot.waitUntil(lambda: controller.session.buffer.total > n + 20, timeout=10_000)
        assert controller.worker.state == "connected"
        assert controller.stats.gaps == 0  # a short stall is not a lost link
        assert controller._thread.isRunning()
    finally:
        server.stop()


def test_value_unavailable_is_not_a_lost_link(qtbot, controller) -> None:
    server = PtyServer(Stm100Emulator(ConstantSource()), faults=Faults(empty_reply=0.5), baud=None).start()
    try:
        _connect(controller, server, protocol="stm100")
        qtbot.waitUntil(lambda: controller.stats is not None and controller.stats.unavailable > 5, timeout=10_000)
        qtbot.waitUntil(lambda: controller.session.buffer.total > 5, timeout=10_000)
        assert controller.stats.gaps == 0 and controller.worker.state == "connected"
    finally:
        server.stop()


def test_a_missing_port_keeps_trying_without_crashing(qtbot, controller, tmp_path) -> None:
    controller.connect_instrument(ConnectionSpec(protocol="sqm160", port=str(tmp_path / "nothing-here")))
    qtbot.waitUntil(lambda: controller.stats is not None and "cannot open" in controller.stats.last_error, timeout=5000)
    assert controller.worker.state in ("connecting", "reconnecting")
    assert controller._thread.isRunning()


@pytest.mark.parametrize("protocol", sorted(available_protocols()))
def test_every_protocol_streams_from_its_emulator(qtbot, controller, protocol) -> None:
    controller.start_demo(load_preset("al2o3"), speed=10.0, protocol=protocol)
    qtbot.waitUntil(lambda: controller.session.buffer.total > 10, timeout=15_000)
    r = controller.session.readouts()
    assert 5.9e6 < r.frequency_hz < 6.0e6
    assert controller.worker.state == "connected"


def test_two_sensors_are_shown_and_recorded_side_by_side(qtbot, controller, tmp_path) -> None:
    controller.start_demo(load_preset("al2o3"), speed=20.0, protocol="sqc310", sensors=2)
    path = controller.start_recording(tmp_path / "two.csv")
    qtbot.waitUntil(lambda: controller.session.buffer.total > 30, timeout=15_000)
    controller.stop()
    run = read_run(path)
    assert run.sensors == 2
    assert run.metadata.sensors == (1, 2)
    f = run.frequency_hz
    assert np.all(np.abs(f[:, 0] - f[:, 1]) > 500)  # the reference crystal sits elsewhere
    header = path.read_text().split("\n")
    assert any(line.startswith("Time (s),Frequency S1 (Hz),Mass S1 (ng/cm2)") for line in header)
