"""No pty, no problem (issue 14, item 2): where ``os.openpty`` is missing (Windows) the demo and
``qcm simulate`` serve the same emulator, faults included, on a loopback TCP port, and the app
connects through the same driver with pyserial's ``socket://127.0.0.1:PORT``. The path is forced
here (no openpty, or ``QCM_EMULATOR_TRANSPORT=tcp``) so that Linux runs exercise it too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from instruments.base import LinkLost, ProtocolError, ReplyTimeout
from instruments.emulators.base import (
    TRANSPORT_ENV,
    ConstantSource,
    Faults,
    PtyServer,
    ServerTransport,
    TcpServer,
    default_transport,
    serve,
)
from instruments.emulators.sqm160 import Sqm160Emulator
from instruments.ports import describe_port
from instruments.sqm160 import Sqm160
from instruments.transport import open_transport

ROOT = Path(__file__).resolve().parents[2]
FREQUENCY_HZ = 5_975_830.0


def test_default_transport_is_tcp_without_openpty_or_when_forced(monkeypatch) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    assert default_transport() is ServerTransport.PTY
    monkeypatch.setenv(TRANSPORT_ENV, "tcp")
    assert default_transport() is ServerTransport.TCP
    monkeypatch.setenv(TRANSPORT_ENV, "pty")
    assert default_transport() is ServerTransport.PTY
    monkeypatch.setenv(TRANSPORT_ENV, "usb")
    with pytest.raises(ValueError, match=TRANSPORT_ENV):
        default_transport()
    monkeypatch.delenv(TRANSPORT_ENV)
    monkeypatch.delattr(os, "openpty")  # what Windows looks like
    assert default_transport() is ServerTransport.TCP
    assert isinstance(serve(Sqm160Emulator(ConstantSource())), TcpServer)
    with pytest.raises(ValueError, match="no pseudo-terminals"):
        serve(Sqm160Emulator(ConstantSource()), transport=ServerTransport.PTY)


def test_tcp_server_listens_on_loopback_only_and_the_driver_reads_through_socket_url() -> None:
    with TcpServer(Sqm160Emulator(ConstantSource(FREQUENCY_HZ)), baud=None) as server:
        assert server.port == f"socket://127.0.0.1:{server.tcp_port}" and server.tcp_port > 0
        assert server._listener.getsockname()[0] == "127.0.0.1"
        drv = Sqm160(open_transport(server.port, 19200, timeout_s=1.0))
        try:
            assert drv.identify() == "MON Ver 4.13"
            assert drv.read().sensors[0].frequency_hz == pytest.approx(FREQUENCY_HZ)
        finally:
            drv.close()


def test_faults_are_injected_over_tcp_too() -> None:
    with TcpServer(
        Sqm160Emulator(ConstantSource(FREQUENCY_HZ)), faults=Faults(corrupt_checksum=1.0), baud=None
    ) as server:
        drv = Sqm160(open_transport(server.port, 19200, timeout_s=0.3))
        try:
            with pytest.raises((ProtocolError, ReplyTimeout)):
                drv.frequency_hz(1)
            server.faults = Faults()
            assert drv.frequency_hz(1) == pytest.approx(FREQUENCY_HZ)
        finally:
            drv.close()


def test_tcp_device_vanishes_and_comes_back_on_the_same_port() -> None:
    with TcpServer(Sqm160Emulator(ConstantSource(FREQUENCY_HZ)), baud=None) as server:
        url = server.port
        drv = Sqm160(open_transport(url, 19200, timeout_s=0.3))
        drv.identify()
        server.disappear()
        with pytest.raises((LinkLost, ReplyTimeout)):
            for _ in range(10):
                drv.identify()
        drv.close()
        server.reappear()
        assert server.port == url
        again = Sqm160(open_transport(url, 19200, timeout_s=1.0))
        try:
            assert again.identify() == "MON Ver 4.13"
        finally:
            again.close()


def test_a_second_tcp_client_is_refused_while_one_is_connected() -> None:
    with TcpServer(Sqm160Emulator(ConstantSource(FREQUENCY_HZ)), baud=None) as server:
        drv = Sqm160(open_transport(server.port, 19200, timeout_s=1.0))
        try:
            drv.identify()
            with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=2.0) as intruder:
                intruder.settimeout(5.0)
                assert intruder.recv(16) == b""  # closed by the server
            assert drv.identify() == "MON Ver 4.13"  # the first client keeps the port
        finally:
            drv.close()


def _serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qcm_app", "simulate", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        pytest.fail(proc.stderr.read())
    return proc, line


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


@pytest.mark.parametrize("how", ["option", "environment"])
def test_simulate_over_tcp_answers_a_real_driver(how: str) -> None:
    args, env = (["--transport", "tcp"], None) if how == "option" else ([], {TRANSPORT_ENV: "tcp"})
    proc, url = _serve("--protocol", "sqm160", "--seed", "3", "--faults", "noise=0.0", *args, env=env)
    try:
        assert url.startswith("socket://127.0.0.1:")
        drv = Sqm160(open_transport(url, 19200, timeout_s=1.5))
        try:
            assert drv.identify() == "MON Ver 4.13"
            assert 5.9e6 < drv.frequency_hz(1) < 6.0e6
        finally:
            drv.close()
    finally:
        _stop(proc)


def test_simulate_on_a_busy_tcp_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "qcm_app", "simulate", "--transport", "tcp", "--tcp-port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in proc.stderr


def test_demo_without_openpty_runs_over_tcp(qtbot, tmp_path, monkeypatch) -> None:
    from qcm_app.app.controller import AppController, AppSettings
    from qcm_app.app.session import column
    from qcm_app.io.recipe_files import load_preset

    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    monkeypatch.delattr(os, "openpty")  # the demo on Windows
    controller = AppController(AppSettings(runs_folder=tmp_path / "runs", demo_speed=20.0))
    try:
        controller.start_demo(load_preset("al2o3"))
        assert isinstance(controller.demo_server, TcpServer)
        assert controller.worker.spec.port.startswith("socket://127.0.0.1:")
        qtbot.waitUntil(lambda: len(controller.session.buffer) > 10, timeout=20_000)
        assert controller.session.buffer.view(column("frequency_hz", 0))[-1] > 5.9e6
    finally:
        controller.stop()


# -- port names: COMn, spaces, non-ASCII ----------------------------------------------------------


@pytest.mark.parametrize("name", ["COM3", "COM12", r"\\.\COM15"])
def test_windows_port_names_are_taken_as_given(name: str) -> None:
    assert describe_port(name).device == name
    with pytest.raises(LinkLost, match=name.replace("\\", "\\\\").replace(".", r"\.")):
        open_transport(name, 19200, timeout_s=0.1)  # no such port here: a one-line LinkLost, no traceback


def test_port_paths_with_spaces_and_non_ascii_work(tmp_path: Path) -> None:
    folder = tmp_path / "Labor Geräte" / "QCM µ-Kammer 2"
    folder.mkdir(parents=True)
    link = folder / "tty SQM-160 ü"
    with PtyServer(Sqm160Emulator(ConstantSource(FREQUENCY_HZ)), link=link, baud=None) as server:
        assert server.port == str(link)
        assert describe_port(str(link)).description.startswith("link to /dev/")
        drv = Sqm160(open_transport(str(link), 19200, timeout_s=1.0))
        try:
            assert drv.frequency_hz(1) == pytest.approx(FREQUENCY_HZ)
        finally:
            drv.close()


def test_simulate_link_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    link = tmp_path / "mes ports" / "QCM é 1"
    link.parent.mkdir()
    proc, port = _serve("--protocol", "sqm160", "--unpaced", "--link", str(link))
    try:
        assert port == str(link)
        deadline = time.monotonic() + 10
        while not link.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        drv = Sqm160(open_transport(port, 19200, timeout_s=1.0))
        try:
            assert drv.identify() == "MON Ver 4.13"
        finally:
            drv.close()
    finally:
        _stop(proc)
