"""Enums whose members are their text: compared with, printed and formatted as the value
(``"pulse"``, ``"steady"``), as TOML, JSON and messages spell them."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
