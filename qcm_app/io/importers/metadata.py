"""A log's own settings into our metadata: film density, Z-ratio and tooling to their fields (as
the user typed them), every other ``Key: value`` to ``extra`` under a name that cannot shadow one of
our run-file header keys.
"""

from __future__ import annotations

import math
import re

from qcm_app.io.importers.columns import split_unit
from qcm_app.io.runfile import RESERVED_KEYS, RunMetadata


def round_setting(value: float) -> float:
    """A film setting as the user typed it: instruments store 2.70 as 2.70000004768372 (float32)."""
    return float(f"{value:.6g}")


def apply_film_settings(
    meta: RunMetadata, density: float | None, z_ratio: float | None, tooling_pct: float | None
) -> None:
    """Copy film settings found in a log into the metadata (only plausible, positive values)."""
    if density is not None and math.isfinite(density) and density > 0:
        meta.density_g_cm3 = round_setting(density)
    if z_ratio is not None and math.isfinite(z_ratio) and z_ratio > 0:
        meta.z_ratio = round_setting(z_ratio)
    if tooling_pct is not None and math.isfinite(tooling_pct) and tooling_pct > 0:
        meta.tooling_pct = round_setting(tooling_pct)


_SETTING_KEYS = (
    (re.compile(r"^(film\s*)?density", re.I), "density"),
    (re.compile(r"^z[-\s_]*(ratio|factor|value)?$", re.I), "z"),
    (re.compile(r"^tooling(\s*factor)?", re.I), "tooling"),
)
#: keys our run-file header already uses (from the format's one declaration): a log's own line of
#: that name must not shadow ours
_RESERVED_KEYS = frozenset(key.lower() for key in RESERVED_KEYS)


def extra_key(key: str) -> str:
    """A log's ``Key`` as a run-file header key (prefixed with 'Log' when ours already means something)."""
    key = " ".join(key.replace(":", " ").split())
    return f"Log {key}" if key.lower() in _RESERVED_KEYS or key.lower().startswith("qcm-monitor") else key


def preamble_settings(pairs: dict[str, str], meta: RunMetadata) -> None:
    """``Key: value`` lines before a table: film settings go to their fields, the rest to ``extra``."""
    found: dict[str, float] = {}
    for key, value in pairs.items():
        name, _unit = split_unit(key)
        for pattern, kind in _SETTING_KEYS:
            if pattern.match(name):
                number = re.match(r"^\s*([-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?)", value)
                if number:
                    found[kind] = float(number.group(1).replace(",", "."))
                break
        else:
            if key.strip():
                meta.extra[extra_key(key)] = " ".join(value.split())
    apply_film_settings(meta, found.get("density"), found.get("z"), found.get("tooling"))
