"""`qcm simulate` serves a pty that any client following the manual can use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from instruments.registry import available_protocols, driver_class
from instruments.sqm160 import Sqm160, crc14
from instruments.transport import open_transport

ROOT = Path(__file__).resolve().parents[2]


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qcm_app", "simulate", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        pytest.fail(proc.stderr.read())
    return proc, line


def _frame(message: bytes) -> bytes:
    body = bytes([len(message) + 34]) + message
    return b"!" + body + bytes(crc14(body))


def _ask(port: serial.Serial, message: bytes) -> bytes:
    """A bare-bones client written from the manual: frame, send, read header then the declared length."""
    port.write(_frame(message))
    assert port.read(1) == b"!"
    length = port.read(1)[0] - 35
    rest = port.read(length + 2)
    body, crc = bytes([length + 35]) + rest[:-2], rest[-2:]
    assert tuple(crc) == crc14(body), "reply CRC"
    assert rest[:1] in (b"A", b"B"), rest
    return rest[1:-2]


def test_a_separate_client_reads_frequency_rate_thickness_and_life() -> None:
    proc, path = _serve("--protocol", "sqm160", "--speed", "20", "--seed", "4")
    try:
        assert path.startswith("/dev/pts/")
        with serial.Serial(path, 19200, timeout=2) as port:
            assert _ask(port, b"@") == b"MON Ver 4.13"
            freq = float(_ask(port, b"P1"))
            rate = float(_ask(port, b"L1"))
            thick = float(_ask(port, b"N1"))
            life = float(_ask(port, b"R1"))
        assert 5.9e6 < freq < 6.0e6 and 0 < life <= 100
        assert -1000 < rate < 1000 and -1 < thick < 10
        # and our own driver, as a second client
        drv = Sqm160(open_transport(path, 19200, timeout_s=1.0))
        assert drv.frequency_hz(1) == pytest.approx(freq, abs=500)
        drv.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


@pytest.mark.parametrize("protocol", sorted(set(available_protocols()) - {"sqm160"}))
def test_every_protocol_is_served(protocol: str) -> None:
    proc, path = _serve("--protocol", protocol, "--speed", "20", "--unpaced")
    try:
        info = driver_class(protocol).info
        drv = driver_class(protocol)(open_transport(path, info.default_baud, timeout_s=1.5))
        try:
            drv.identify()
            drv.start()
            assert 5.9e6 < drv.read().sensors[0].frequency_hz < 6.0e6
        finally:
            drv.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_faults_on_demand_by_signal(tmp_path) -> None:
    link = tmp_path / "ttyQCM"
    proc, path = _serve("--protocol", "sqm160", "--unpaced", "--link", str(link))
    try:
        assert path == str(link)
        drv = Sqm160(open_transport(path, 19200, timeout_s=0.5))
        drv.identify()
        proc.send_signal(signal.SIGUSR1)  # unplug
        deadline = time.monotonic() + 5
        while os.path.exists(os.path.realpath(link)) and time.monotonic() < deadline:
            time.sleep(0.05)
        drv.close()
        proc.send_signal(signal.SIGUSR1)  # plug back in: the link follows the new pty
        deadline = time.monotonic() + 5
        while not os.path.exists(os.path.realpath(link)) and time.monotonic() < deadline:
            time.sleep(0.05)
        drv = Sqm160(open_transport(path, 19200, timeout_s=0.5))
        assert drv.identify() == "MON Ver 4.13"
        drv.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_bad_options_are_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qcm_app", "simulate", "--faults", "sparks=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "unknown fault" in proc.stderr


def test_simulate_runs_in_real_time_unless_sped_up() -> None:
    # issue 11: at the old default (10×) an openQCM streamed ten records a second, not one per 1 s gate
    from instruments.openqcm import OpenQcm

    proc, path = _serve("--protocol", "openqcm", "--unpaced")
    try:
        drv = OpenQcm(open_transport(path, 115200, timeout_s=3.0), gate_s=1.0)
        try:
            drv.read()  # the first record comes at any point of a gate
            times = [drv.read().time_s for _ in range(3)]
        finally:
            drv.close()
        assert (times[-1] - times[0]) / 2 > 0.6  # one record per second of the board's gate
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    from qcm_app.app.cli import build_parser

    assert build_parser().parse_args(["simulate", "--speed", "10"]).speed == 10.0
