"""A protocol family declared once: its driver, its emulator and the options a user may set.

The command line and the connection dialog are generated from these declarations, so a new
protocol is a driver module with a ``PROTOCOLS`` tuple (and its name in :mod:`instruments.registry`);
nothing above ``instruments`` lists protocols or their keyword arguments by hand.

Every option has one text form, used by ``qcm --option key=value`` and by the saved dialog settings:
:meth:`OptionSpec.parse` and :meth:`OptionSpec.format` convert between it and the driver's value.
Column-like options that the driver counts from 0 are shown and typed counting from 1
(``counts_from_one``), because that is how people read a line of numbers.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instruments.base import Driver, DriverInfo
    from instruments.emulators.base import EmulatedInstrument

#: what a driver option can hold
OptionValue = int | float | bool | str | None

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "")


def _whole(text: str) -> int:
    """A whole number, also written in hex (``0x22``) as instrument manuals give addresses."""
    try:
        return int(text, 10)
    except ValueError:
        return int(text, 0)


class OptionError(ValueError):
    """An option value or name that cannot be used; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Choice:
    """One allowed value of an option with a fixed set of values."""

    value: OptionValue  # what the driver takes
    key: str  # how it is typed on the command line and stored in the settings
    label: str  # how the dialog shows it


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One keyword argument of a driver, with what a user needs to set it safely."""

    name: str
    type: type  # int, float, bool or str
    default: OptionValue
    label: str
    help: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    #: non-empty: ``None`` is allowed, and this says what it means ("none (use the computer's clock)")
    none_label: str = ""
    #: a 0-based index that people see and type counting from 1
    counts_from_one: bool = False
    decimals: int = 3  # shown decimals of a float

    @property
    def offset(self) -> int:
        """What is added to the driver's number to get the number people see."""
        return 1 if self.counts_from_one else 0

    @property
    def takes_none(self) -> bool:
        """Whether ``None`` is a value the driver understands for this option."""
        if self.choices:
            return any(c.value is None for c in self.choices)
        return bool(self.none_label) or self.default is None

    def limits_text(self) -> str:
        """The allowed range as people see it, e.g. ``1 to 32``; empty without limits."""
        low = None if self.minimum is None else self.minimum + self.offset
        high = None if self.maximum is None else self.maximum + self.offset
        if low is not None and high is not None:
            return f"{low:g} to {high:g}"
        if low is not None:
            return f"{low:g} or more"
        if high is not None:
            return f"{high:g} or less"
        return ""

    def check(self, value: OptionValue) -> OptionValue:
        """Return ``value`` if the driver may be given it, else raise OptionError saying why."""
        if value is None:
            if self.takes_none:
                return None
            raise OptionError(f"{self.name} needs a value")
        if self.choices:
            if any(c.value == value and type(c.value) is type(value) for c in self.choices):
                return value
            raise OptionError(f"{self.name} must be one of {', '.join(c.key for c in self.choices)}, not {value!r}")
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise OptionError(f"{self.name} must be yes or no, not {value!r}")
        if self.type is str:
            if isinstance(value, str):
                return value
            raise OptionError(f"{self.name} must be text, not {value!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (self.type is int and not isinstance(value, int))
        ):
            raise OptionError(f"{self.name} must be a {'whole ' if self.type is int else ''}number, not {value!r}")
        if not math.isfinite(value):
            raise OptionError(f"{self.name} must be a finite number, not {value!r}")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            limits = self.limits_text()
            raise OptionError(
                f"{self.name} must be {'from ' if ' to ' in limits else ''}{limits}, not {value + self.offset:g}"
            )
        return value

    def parse(self, text: str) -> OptionValue:
        """The driver's value for the option's text form (checked)."""
        raw = text.strip()
        lowered = raw.lower()
        if self.choices:
            for choice in self.choices:
                if lowered == choice.key.lower() or (isinstance(choice.value, str) and raw == choice.value):
                    return choice.value
            raise OptionError(f"{self.name} must be one of {', '.join(c.key for c in self.choices)}, not {raw!r}")
        if self.takes_none and not self.choices and lowered in _NONE:
            return None
        if self.type is bool:
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise OptionError(f"{self.name} must be yes or no, not {raw!r}")
        if self.type is str:
            return self.check(raw)
        try:
            number: float = _whole(raw) if self.type is int else float(raw)
        except ValueError:
            kind = "whole number" if self.type is int else "number"
            raise OptionError(f"{self.name} must be a {kind}, not {raw!r}") from None
        if self.offset:
            number = number - self.offset
        return self.check(number)

    def format(self, value: OptionValue) -> str:
        """The text form of a driver value; :meth:`parse` reads it back."""
        for choice in self.choices:
            if choice.value == value:
                return choice.key
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int | float):
            return f"{value + self.offset:g}"
        return str(value)

    def describe(self) -> str:
        """One line for ``--help``: name, what may be typed, the default and why it exists."""
        if self.choices:
            allowed = "|".join(c.key for c in self.choices)
        elif self.type is bool:
            allowed = "yes|no"
        elif self.type is str:
            allowed = "text"
        else:
            allowed = self.limits_text() or ("a whole number" if self.type is int else "a number")
            if self.unit:
                allowed += f" {self.unit}"
        if self.none_label:
            allowed += " or none"
        return f"{self.name}={allowed} (default {self.format(self.default)}): {self.help or self.label}"


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol: its driver class, its emulator and its user-settable options.

    Name, title and baud rates are the driver's :class:`~instruments.base.DriverInfo`, so they are not
    repeated here. The emulator is named as ``"module:Class"`` and imported on first use, because
    emulator modules import their driver's module.
    """

    driver: type[Driver]
    emulator: str | type[EmulatedInstrument]
    options: tuple[OptionSpec, ...] = ()
    #: the title of the dialog's group of options; default: "<title> options"
    options_title: str = ""
    #: the reason two valid option values cannot go together (empty when they can)
    conflict: Callable[[Mapping[str, OptionValue]], str] | None = field(default=None, compare=False)

    @property
    def info(self) -> DriverInfo:
        return self.driver.info

    @property
    def name(self) -> str:
        return self.driver.info.protocol

    @property
    def title(self) -> str:
        return self.driver.info.title

    def emulator_class(self) -> type[EmulatedInstrument]:
        if not isinstance(self.emulator, str):
            return self.emulator
        module, _, name = self.emulator.partition(":")
        try:
            cls: type[EmulatedInstrument] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"{self.emulator} is not available: {exc}") from None
        return cls

    def option(self, name: str) -> OptionSpec:
        for option in self.options:
            if option.name == name:
                return option
        known = ", ".join(o.name for o in self.options) or "none"
        raise OptionError(f"{self.name} has no option {name!r} (its options: {known})")

    def defaults(self) -> dict[str, OptionValue]:
        return {o.name: o.default for o in self.options}

    def problem(self, values: Mapping[str, OptionValue]) -> str:
        """Why these options cannot be given to the driver; empty when they can."""
        try:
            for name, value in values.items():
                self.option(name).check(value)
        except OptionError as exc:
            return str(exc)
        if self.conflict is None:
            return ""
        return self.conflict({**self.defaults(), **values})

    def parse_options(self, pairs: Iterable[str]) -> dict[str, OptionValue]:
        """Read ``key=value`` texts into the driver's keyword arguments; OptionError says what is wrong.

        Only the options given are returned: the driver's own defaults stand for the others.
        """
        values: dict[str, OptionValue] = {}
        for pair in pairs:
            name, sep, text = pair.partition("=")
            if not sep or not name.strip():
                raise OptionError(f"{pair!r} is not key=value")
            values[name.strip()] = self.option(name.strip()).parse(text)
        problem = self.problem(values)
        if problem:
            raise OptionError(problem.rstrip("."))
        return values

    def options_help(self) -> str:
        """The options of this protocol, one per line, for ``--help``."""
        return "\n".join(f"  {self.name}: {option.describe()}" for option in self.options)
