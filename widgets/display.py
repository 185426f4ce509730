"""Can Qt open a window here? Asked before the QApplication exists, because Qt's own answer to a
missing display or a missing xcb library is to abort the process (signal 6) after a message that
names only one of the libraries it needs.

Only Linux is checked: Windows and macOS use Qt's native platform plugins, which PySide6 ships
with everything they need.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

OFFSCREEN_HINT = "or run without a window with QT_QPA_PLATFORM=offscreen"
#: libraries that come with PySide6 itself: when one is missing the wheel is broken, not the system
BUNDLED_PREFIXES = ("libQt6", "libpyside6", "libshiboken6", "libicu")
#: sonames whose Debian package breaks the naming rule in debian_package()
DEBIAN_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLdispatch.so.0": "libglvnd0",
    "libz.so.1": "zlib1g",
    "libgcc_s.so.1": "libgcc-s1",
    "libbrotlicommon.so.1": "libbrotli1",
}


def display_problem(environ: Mapping[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """One line saying why no window can open and what to do, or None when nothing stands in the way."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        # the user chose: only the X11 plugin is checked (offscreen, wayland, vnc... are theirs to judge)
        if chosen.split(";")[0].split(":")[0] != "xcb":
            return None
    elif not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            return None  # Qt takes its Wayland plugin
        return (
            f"no display (neither DISPLAY nor WAYLAND_DISPLAY is set): start it in a desktop session, {OFFSCREEN_HINT}"
        )
    elif env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return None
    if not env.get("DISPLAY"):
        return f"QT_QPA_PLATFORM=xcb but DISPLAY is not set: start it in a desktop session, {OFFSCREEN_HINT}"
    return xcb_library_problem(_platform_plugin_dir(env) / "libqxcb.so") or x_server_problem(env["DISPLAY"])


def xcb_library_problem(plugin: Path) -> str | None:
    """What Qt's X11 (xcb) plugin lacks, with the packages to install, or None."""
    if not plugin.is_file():
        return f"Qt's X11 platform plugin {plugin} is missing: reinstall PySide6-Essentials, {OFFSCREEN_HINT}"
    missing = missing_libraries(plugin)
    if not missing:
        return None
    bundled = [name for name in missing if name.startswith(BUNDLED_PREFIXES)]
    if bundled:
        return (
            f"Qt's X11 platform plugin cannot load its own libraries ({', '.join(bundled)}): "
            f"reinstall PySide6-Essentials, {OFFSCREEN_HINT}"
        )
    packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
    return (
        f"Qt's X11 platform plugin needs {', '.join(missing)}, not installed here: install them "
        f"(Debian/Ubuntu: sudo apt-get install {packages}), {OFFSCREEN_HINT}"
    )


def missing_libraries(shared_object: Path) -> list[str]:
    """The libraries the dynamic loader cannot find for this file (all of them at once, unlike Qt,
    which stops at the first); empty when ldd is not there to ask."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(shared_object)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_ldd_missing(out)


def parse_ldd_missing(ldd_output: str) -> list[str]:
    """``libfoo.so.1 => not found`` lines, each library once, in ldd's order."""
    found = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(found))


def debian_package(soname: str) -> str:
    """Debian's library package for a soname: ``libxcb-icccm.so.4`` → ``libxcb-icccm4``; a name that
    ends in a digit takes a hyphen (``libxkbcommon-x11.so.0`` → ``libxkbcommon-x11-0``)."""
    if soname in DEBIAN_EXCEPTIONS:
        return DEBIAN_EXCEPTIONS[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    if not version:
        return name
    major = version.split(".")[0]
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def x_server_problem(display: str) -> str | None:
    """None if something listens where DISPLAY points (so Qt can at least try to connect)."""
    match = re.fullmatch(r"(?P<host>[^:]*):(?P<number>\d+)(\.\d+)?", display)
    if match is None:
        return None  # a form we do not know (e.g. a launchd socket path): let Qt try
    host, number = match["host"], int(match["number"])
    if host in ("", "unix"):
        for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(address)
                    return None
                except OSError:
                    continue
    else:
        try:
            with socket.create_connection((host, 6000 + number), timeout=3):
                return None
        except OSError:
            pass
    return f"no X server answers at DISPLAY={display}: start it in a desktop session (or ssh -X), {OFFSCREEN_HINT}"


def _platform_plugin_dir(env: Mapping[str, str]) -> Path:
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        return Path(env["QT_QPA_PLATFORM_PLUGIN_PATH"])
    from PySide6.QtCore import QLibraryInfo

    return Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
