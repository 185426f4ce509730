"""Hooks for tests, screenshots and benchmarks: the app quits after a while or saves a picture of
its window. They are not options of the user-facing command line (``qcm --help`` does not show
them); they are read from the environment, here and nowhere else.

``QCM_QUIT_AFTER_S=3``: close the window (without asking) 3 s after it opened.
``QCM_SCREENSHOT=shot.png``: save the window as a picture just before it closes (0.5 s before
``QCM_QUIT_AFTER_S``; after 0.5 s without it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qcm_app.domain.errors import UserInputError

QUIT_AFTER_ENV = "QCM_QUIT_AFTER_S"
SCREENSHOT_ENV = "QCM_SCREENSHOT"


@dataclass(frozen=True)
class RunHooks:
    quit_after_s: float | None = None
    screenshot: Path | None = None

    @property
    def screenshot_after_s(self) -> float:
        """When the picture is taken: shortly before quitting."""
        return max((self.quit_after_s or 1.0) - 0.5, 0.1)


def read_hooks(environ: Mapping[str, str] | None = None) -> RunHooks:
    """The hooks set in the environment; a value that is no time ends as one line (exit status 2)."""
    env = os.environ if environ is None else environ
    quit_after_s = None
    text = env.get(QUIT_AFTER_ENV, "").strip()
    if text:
        try:
            quit_after_s = float(text)
        except ValueError:
            quit_after_s = math.nan
        if not (math.isfinite(quit_after_s) and quit_after_s >= 0):
            raise UserInputError(f"${QUIT_AFTER_ENV} must be 0 or more seconds, not {text!r}")
    shot = env.get(SCREENSHOT_ENV, "").strip()
    return RunHooks(quit_after_s=quit_after_s, screenshot=Path(shot) if shot else None)
