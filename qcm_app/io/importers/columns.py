"""Column names: a unit split off a name (``Thickness (kÅ)``) or read from it (``time_ms``), a
thickness unit as a factor to Å, and a column found by name or number (the error lists the columns
there are).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qcm_app.io.importers.source import SourceText

_UNIT_RE = re.compile(r"^(.*?)\s*[\(\[]([^\)\]]*)[\)\]]\s*$")
_NAME_UNIT_SUFFIX = re.compile(r"[_ ](ms|s|sec|min|h|hz|khz|mhz)$", re.I)


def split_unit(name: str) -> tuple[str, str]:
    """``'Thickness QCM1 (kÅ)'`` → ``('Thickness QCM1', 'kÅ')``; no unit gives ``''``."""
    m = _UNIT_RE.match(name.strip())
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return name.strip(), ""


def name_unit(name: str) -> str:
    """A unit written into the name itself (``time_ms``, ``frequency_hz``), lower case, or ``''``."""
    m = _NAME_UNIT_SUFFIX.search(split_unit(name)[0])
    return m.group(1).lower() if m else ""


def thickness_scale_to_ang(unit: str, default: float) -> float:
    """Factor from a header's thickness unit to Å (kÅ → 1000, nm → 10); ``default`` when none given.

    Tolerates mojibake (``kÃ…``) and plain ASCII spellings (``kA``, ``A``), as vendor headers vary."""
    u = unit.strip().lower().replace(" ", "")
    if not u:
        return default
    if u.startswith("k"):
        return 1000.0
    if u in ("nm",):
        return 10.0
    if u in ("µm", "um", "μm"):
        return 1.0e4
    return 1.0


def find_column(names: Sequence[str], wanted: str | int, source: SourceText, header_line: int | None) -> int:
    """Index of a column given by (case-insensitive) name, name without its unit, or 0-based number."""
    if isinstance(wanted, int):
        if wanted >= 0 and (not names or wanted < len(names)):
            return wanted
        raise source.error(f"there is no column number {wanted + 1} (the header has {len(names)})", header_line)
    key = wanted.strip().lower()
    for i, name in enumerate(names):
        if name.strip().lower() == key:
            return i
    for i, name in enumerate(names):
        if split_unit(name)[0].lower() == key:
            return i
    listed = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
    raise source.error(f"no column named {wanted!r}; the columns are {listed}", header_line)
