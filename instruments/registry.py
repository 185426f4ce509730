"""Which protocols exist: each driver module's ``PROTOCOLS`` declarations, gathered on first use.

A family whose module cannot be imported (a missing optional dependency, say) is left out and
logged rather than breaking every other instrument. :func:`register` adds a declaration at run time:
a plug-in, or a test's made-up protocol.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from instruments.protocol_spec import ProtocolSpec

if TYPE_CHECKING:
    from instruments.base import Driver
    from instruments.emulators.base import EmulatedInstrument
    from instruments.emulators.valves import ValveEventEmulator

log = logging.getLogger(__name__)

#: the modules declaring protocol families, in the order they are offered
FAMILY_MODULES = (
    "instruments.sqm160",
    "instruments.sycon",
    "instruments.smdp",
    "instruments.tm400",
    "instruments.openqcm",
    "instruments.line",
)

_declared: dict[str, ProtocolSpec] | None = None
_registered: dict[str, ProtocolSpec] = {}


def _load_declared() -> dict[str, ProtocolSpec]:
    global _declared
    if _declared is None:
        found: dict[str, ProtocolSpec] = {}
        for module in FAMILY_MODULES:
            try:
                specs: tuple[ProtocolSpec, ...] = importlib.import_module(module).PROTOCOLS
            except (ImportError, AttributeError) as exc:
                log.warning("protocols of %s are not available: %s", module, exc)
                continue
            found.update((spec.name, spec) for spec in specs)
        _declared = found
    return _declared


def protocols() -> dict[str, ProtocolSpec]:
    """Every declared protocol by name, the registered ones last."""
    return {**_load_declared(), **_registered}


def protocol_names() -> list[str]:
    return list(protocols())


def protocol_spec(protocol: str) -> ProtocolSpec:
    known = protocols()
    if protocol not in known:
        raise KeyError(f"unknown protocol {protocol!r}; known: {', '.join(known)}")
    return known[protocol]


def register(spec: ProtocolSpec) -> None:
    """Offer one more protocol (it replaces a registered one of the same name)."""
    _registered[spec.name] = spec


def unregister(protocol: str) -> None:
    _registered.pop(protocol, None)


def available_protocols() -> list[str]:
    """Protocols whose driver and emulator can be imported."""
    out = []
    for name, spec in protocols().items():
        try:
            spec.emulator_class()
        except KeyError:
            continue
        out.append(name)
    return out


def driver_class(protocol: str) -> type[Driver]:
    return protocol_spec(protocol).driver


def emulator_class(protocol: str) -> type[EmulatedInstrument]:
    return protocol_spec(protocol).emulator_class()


def options_help() -> str:
    """Every protocol's options, for the command line's ``--help``."""
    lines = [spec.options_help() for spec in protocols().values() if spec.options]
    return "\n".join(lines)


#: sources of valve markers that run beside a QCM (no QCM driver): name → (emulator module, class)
MARKER_EMULATORS: dict[str, tuple[str, str]] = {
    "valves": ("instruments.emulators.valves", "ValveEventEmulator"),
}


def marker_emulator_class(name: str) -> type[ValveEventEmulator]:
    if name not in MARKER_EMULATORS:
        raise KeyError(f"unknown marker source {name!r}; known: {', '.join(MARKER_EMULATORS)}")
    module, cls = MARKER_EMULATORS[name]
    try:
        marker: type[ValveEventEmulator] = getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise KeyError(f"{module}.{cls} is not available: {exc}") from None
    return marker
