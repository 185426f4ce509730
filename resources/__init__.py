"""The shipped data files (recipe presets), installed as the package ``qcm_app.resources``.

The folder stays at the top of the source tree; setup.py maps it into the package, so a wheel,
an sdist, ``pipx install`` and an editable install all find it the same way, through
``importlib.resources`` rather than a path relative to the source tree.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_dir(*parts: str) -> Path:
    """A folder of the shipped data as a real path (pip installs packages unzipped, so it is one)."""
    found = files(__name__)
    for part in parts:
        found = found / part
    return Path(str(found))
