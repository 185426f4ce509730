"""The one error type the user sees: a single line naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path


class UserInputError(Exception):
    """Bad input from the user (a recipe, a run file, a setting): shown as one line, never a traceback."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.detail = message
        where = ""
        if self.path:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        super().__init__(where + message)
