"""Protocol name → driver class and emulator class, imported on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instruments.base import Driver
    from instruments.emulators.base import EmulatedInstrument

#: protocol: (driver module, driver class, emulator module, emulator class)
PROTOCOLS: dict[str, tuple[str, str, str, str]] = {
    "sqm160": ("instruments.sqm160", "Sqm160", "instruments.emulators.sqm160", "Sqm160Emulator"),
    "sqc310": ("instruments.sqm160", "Sqc310", "instruments.emulators.sqm160", "Sqc310Emulator"),
    "stm100": ("instruments.sycon", "Stm100", "instruments.emulators.sycon", "Stm100Emulator"),
    "stm2": ("instruments.smdp", "Stm2Smdp", "instruments.emulators.smdp", "Stm2SmdpEmulator"),
    "tm400": ("instruments.tm400", "Tm400", "instruments.emulators.tm400", "Tm400Emulator"),
    "openqcm": ("instruments.openqcm", "OpenQcm", "instruments.emulators.openqcm", "OpenQcmEmulator"),
    "line": ("instruments.line", "LineMonitor", "instruments.emulators.line", "LineEmulator"),
}


def _load(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise KeyError(f"{module}.{name} is not available: {exc}") from None



def available_protocols() -> list[str]:
    """Protocols whose driver and emulator can be imported."""
    out = []
    for name in PROTOCOLS:
        try:
            driver_class(name)
            emulator_class(name)
        except KeyError:
            continue
        out.append(name)
    return out


def driver_class(protocol: str) -> type[Driver]:
    if protocol not in PROTOCOLS:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    module, name, _, _ = PROTOCOLS[protocol]
    return _load(module, name)


def emulator_class(protocol: str) -> type[EmulatedInstrument]:
    if protocol not in PROTOCOLS:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    _, _, module, name = PROTOCOLS[protocol]
    return _load(module, name)


#: sources of valve markers that run beside a QCM (no QCM driver): name → (emulator module, class)
MARKER_EMULATORS: dict[str, tuple[str, str]] = {
    "valves": ("instruments.emulators.valves", "ValveEventEmulator"),
}


def marker_emulator_class(name: str) -> type[EmulatedInstrument]:
    if name not in MARKER_EMULATORS:
        raise KeyError(f"unknown marker source {name!r}; known: {', '.join(MARKER_EMULATORS)}")
    return _load(*MARKER_EMULATORS[name])
