"""Without a usable display the app says so in one line and exits 2, instead of Qt's abort (signal 6)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QLibraryInfo

from qcm_app.app.hooks import QUIT_AFTER_ENV
from widgets.display import debian_package, display_problem, parse_ldd_missing, x_server_problem

ROOT = Path(__file__).resolve().parents[2]
QCM = Path(sys.executable).with_name("qcm")


def _scrubbed_env(**extra: str) -> dict[str, str]:
    """This process' environment without anything that tells Qt where to draw."""
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "QT_QPA_PLATFORM_PLUGIN_PATH", "XDG_SESSION_TYPE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def _start(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # $QCM_QUIT_AFTER_S: if the check let the app start after all, it ends (with status 0) instead of hanging
    return subprocess.run(
        command, cwd=ROOT, env={**env, QUIT_AFTER_ENV: "5"}, capture_output=True, text=True, timeout=100
    )


@pytest.mark.parametrize("command", [[sys.executable, "main.py"], [str(QCM)]], ids=["main.py", "qcm"])
def test_without_a_display_one_line_of_advice_and_status_2(command: list[str]) -> None:
    proc = _start(command, _scrubbed_env())
    assert proc.returncode == 2, proc.stderr  # Qt alone: -6 (SIGABRT)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "DISPLAY" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]
    assert proc.stdout == ""


def test_a_broken_xcb_plugin_is_named_with_what_to_do(tmp_path: Path) -> None:
    # a copy of the real plugin away from Qt's lib folder: its own Qt libraries cannot be found
    plugins = tmp_path / "platforms"
    plugins.mkdir()
    real = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    shutil.copy(real, plugins / "libqxcb.so")
    proc = _start([sys.executable, "main.py"], _scrubbed_env(DISPLAY=":0", QT_QPA_PLATFORM_PLUGIN_PATH=str(plugins)))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "libQt6XcbQpa.so.6" in lines[0] and "reinstall PySide6-Essentials" in lines[0]


def test_missing_system_libraries_are_all_named_with_their_packages(tmp_path: Path) -> None:
    # the real plugin, with two of the X libraries it needs renamed to ones no system has (same
    # length, so the ELF stays valid); Qt's own libraries are found through LD_LIBRARY_PATH
    qt = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    plugin = (qt / "platforms" / "libqxcb.so").read_bytes()
    renames = {b"libxcb-icccm.so.4\0": b"libqcm-absnt.so.4\0", b"libxcb-keysyms.so.1\0": b"libqcm-absent2.so.1\0"}
    for old, new in renames.items():
        assert plugin.count(old) == 1 and len(old) == len(new)
        plugin = plugin.replace(old, new)
    (tmp_path / "platforms").mkdir()
    (tmp_path / "platforms" / "libqxcb.so").write_bytes(plugin)
    qt_libs = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.LibrariesPath))
    proc = _start(
        [sys.executable, "main.py"],
        _scrubbed_env(
            DISPLAY=":0", QT_QPA_PLATFORM_PLUGIN_PATH=str(tmp_path / "platforms"), LD_LIBRARY_PATH=str(qt_libs)
        ),
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    # both named (Qt names only the first it trips on), with Debian's package names for them
    assert "libqcm-absnt.so.4" in lines[0] and "libqcm-absent2.so.1" in lines[0]
    assert "apt-get install" in lines[0] and "libqcm-absnt4" in lines[0] and "libqcm-absent2-1" in lines[0]
    assert "QT_QPA_PLATFORM=offscreen" in lines[0]


def test_every_missing_library_is_listed_once_not_only_the_first() -> None:
    # what ldd printed for the xcb plugin of PySide6 6.11 on a Debian 12 machine without two packages
    ldd = """\
\tlinux-vdso.so.1 (0x00007ffd4b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f3c5a000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f3c59ff0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3c59c00000)
"""
    assert parse_ldd_missing(ldd) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libpng16.so.16", "libpng16-16"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libz.so.1", "zlib1g"),
    ],
)
def test_libraries_map_to_debian_packages(soname: str, package: str) -> None:
    assert debian_package(soname) == package


def test_what_the_user_chose_is_respected() -> None:
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert display_problem({}, platform="win32") is None
    assert display_problem({}, platform="darwin") is None
    assert "DISPLAY" in display_problem({})
    assert "DISPLAY is not set" in display_problem({"QT_QPA_PLATFORM": "xcb"})


def test_a_display_with_no_x_server_is_named() -> None:
    listening = {line.split()[-1] for line in Path("/proc/net/unix").read_text().splitlines()[1:] if line.split()}
    number = next(
        n
        for n in range(700, 800)
        if f"@/tmp/.X11-unix/X{n}" not in listening and not Path(f"/tmp/.X11-unix/X{n}").exists()
    )
    problem = x_server_problem(f":{number}")
    assert problem is not None and f"DISPLAY=:{number}" in problem
    # something listening where an X server would: the check lets Qt try
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(f"\0/tmp/.X11-unix/X{number}")
        server.listen(1)
        assert x_server_problem(f":{number}") is None
        assert x_server_problem(f"unix:{number}.0") is None
