"""Which serial ports exist, and what is probably behind each one (Qt-free).

The connection dialog shows this list so that a user does not have to know that the SQM-160 on the
bench is ``/dev/ttyUSB0``. The hints come from the USB bridge's VID:PID. Identifying the *chip* from
its VID:PID is reliable, because these are the vendors' own IDs. Saying which *instrument* sits
behind the chip is a guess: thousands of unrelated gadgets use the same CP210x or Arduino IDs.
So a hint only pre-selects a protocol in the dialog, and the user can always change it.

Ports that ``comports()`` cannot see (pseudo-terminals of an emulator, symlinks, pyserial URLs such
as ``loop://`` or ``socket://host:port``) can be typed in by hand; :func:`describe_port` says what
such a text means, and :func:`list_ports` can add them to the list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from serial.tools import list_ports as _list_ports


@dataclass(frozen=True, slots=True)
class UsbBridge:
    """One known USB-serial bridge and what is usually behind it."""

    vid: int
    pid: int
    chip: str
    #: what the user is told; names an instrument only where one is likely
    hint: str
    #: protocol to pre-select, or None for general-purpose adapters
    protocol: str | None = None


#: VID:PID → bridge. The chip names are certain: each VID belongs to the chip vendor (FTDI 0403,
#: Silicon Labs 10C4, Prolific 067B, WCH 1A86, Arduino 2341; 16C0 is the shared VOTI ID whose PID 0483
#: PJRC uses for every Teensy in USB-serial mode). The instruments are guesses:
#: - 10C4:EA60: the SQM-160 USB model is documented to use a CP210x with the default ID, but so do many
#:   other devices.
#: - 2341:8037 (Arduino Micro) and 16C0:0483 (Teensy): openQCM boards are built on these, but so are
#:   many hobby projects.
#: - FTDI, Prolific and CH340 chips are in most USB-RS232 cables. They can sit in front of any RS-232
#:   instrument, so they pre-select nothing.
USB_BRIDGES: dict[tuple[int, int], UsbBridge] = {
    (b.vid, b.pid): b
    for b in (
        UsbBridge(0x10C4, 0xEA60, "Silicon Labs CP210x", "INFICON SQM-160 USB (CP210x)", "sqm160"),
        UsbBridge(0x0403, 0x6001, "FTDI FT232R", "USB-RS232 adapter (FTDI FT232R): any RS-232 instrument"),
        UsbBridge(0x0403, 0x6015, "FTDI FT-X", "USB-RS232 adapter (FTDI FT-X): any RS-232 instrument"),
        UsbBridge(0x067B, 0x2303, "Prolific PL2303", "USB-RS232 adapter (Prolific PL2303): any RS-232 instrument"),
        UsbBridge(0x1A86, 0x7523, "WCH CH340", "USB-serial adapter (WCH CH340): any RS-232 instrument"),
        UsbBridge(0x2341, 0x8037, "Arduino Micro", "openQCM (Arduino Micro)", "openqcm"),
        UsbBridge(0x16C0, 0x0483, "Teensy USB serial", "openQCM (Teensy)", "openqcm"),
    )
}

_URL_HINTS = {
    "loop": "pyserial loopback: echoes what is sent (testing only)",
    "socket": "raw TCP socket (a serial-to-Ethernet server)",
    "rfc2217": "RFC 2217 network serial server",
    "spy": "pyserial spy: logs the traffic of the wrapped port",
    "hwgrep": "first port whose description matches the pattern",
    "alt": "a port opened with another pyserial backend",
}
_PTY = re.compile(r"^/dev/(pts/\d+|ttys\d+|ttyp[0-9a-f])$")


@dataclass(frozen=True, slots=True)
class PortInfo:
    """A port as the dialog shows it. ``device`` is what gets opened."""

    device: str
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    #: what is probably behind the port (empty when nothing is known)
    hint: str = ""
    #: protocol a matching hint suggests; None when the port gives no clue
    suggested_protocol: str | None = None

    @property
    def usb_id(self) -> str:
        """``"10C4:EA60"`` for USB ports, ``""`` otherwise."""
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04X}:{self.pid:04X}"

    @property
    def label(self) -> str:
        """One line for a list: device, then description and hint where they add something."""
        extra = [text for text in (self.description, self.hint) if text and text != self.device]
        return "  —  ".join([self.device, *extra])


def _clean(text: str | None) -> str:
    text = (text or "").strip()
    return "" if text in ("n/a", "N/A") else text


def from_comport(entry: object) -> PortInfo:
    """Build a :class:`PortInfo` from one pyserial ``ListPortInfo``. The VID:PID table supplies the hint."""
    vid = getattr(entry, "vid", None)
    pid = getattr(entry, "pid", None)
    bridge = USB_BRIDGES.get((vid, pid)) if vid is not None and pid is not None else None
    return PortInfo(
        device=str(getattr(entry, "device", "")),
        description=_clean(getattr(entry, "description", "")),
        vid=vid,
        pid=pid,
        serial_number=getattr(entry, "serial_number", None),
        manufacturer=getattr(entry, "manufacturer", None),
        hint=bridge.hint if bridge else "",
        suggested_protocol=bridge.protocol if bridge else None,
    )


def describe_port(device: str, known: Iterable[PortInfo] = ()) -> PortInfo:
    """Describe a port name typed by hand, which ``comports()`` does not report.

    A symlink (``/dev/serial/by-id/...`` or an emulator's stable link) gets the hint of the port it
    points to, when that port is in ``known``.
    """
    device = device.strip()
    scheme, sep, _ = device.partition("://")
    if sep:
        return PortInfo(device, description=_URL_HINTS.get(scheme.lower(), f"pyserial URL ({scheme}://)"))
    if _PTY.match(device):
        return PortInfo(device, description="pseudo-terminal (e.g. an emulator started by 'qcm simulate')")
    path = Path(device)
    if path.is_symlink():
        target = os.path.realpath(path)
        for port in known:
            if port.device == target:
                return PortInfo(
                    device,
                    f"link to {target}",
                    port.vid,
                    port.pid,
                    port.serial_number,
                    port.manufacturer,
                    port.hint,
                    port.suggested_protocol,
                )
        inner = describe_port(target) if target != device else PortInfo(target)
        return PortInfo(device, description=f"link to {target}", hint=inner.description)
    return PortInfo(device)


def _natural_key(port: PortInfo) -> list[object]:
    """Sort ``ttyUSB10`` after ``ttyUSB2``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", port.device)]


def list_ports(include: Iterable[str] = ()) -> list[PortInfo]:
    """Return the serial ports on this machine, plus the hand-typed names in ``include``.

    ``include`` is for ports that ``comports()`` cannot see, such as the last port used when that
    was a pty or a URL. A name that is already listed is not repeated.
    """
    found = sorted((from_comport(entry) for entry in _list_ports.comports()), key=_natural_key)
    seen = {port.device for port in found}
    for device in include:
        device = device.strip()
        if device and device not in seen:
            found.append(describe_port(device, found))
            seen.add(device)
    return found
