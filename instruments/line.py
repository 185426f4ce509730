"""Generic line-based monitor: one reading per text line (lab-built PLL / lock-in / counter setups).

Typical lines are ``<time>\\t<frequency>[\\t<temperature>]``, sometimes comma- or semicolon-separated,
sometimes with a decimal comma. Options say where the numbers are; everything the driver cannot make
sense of is a :class:`ProtocolError` naming what was wrong (a header line, a stray unit, a wrong
column), and an empty field or ``nan`` where the frequency belongs is :class:`ValueUnavailable` (a PLL
out of lock). Blank lines are skipped.

115200 baud by default: these setups are mostly microcontroller boards or USB-CDC bridges, for which
115200 is the customary rate, and at 9600 a 10 Hz stream of 30-40 character lines would already use
a third to half of the link.

:func:`read_record` is shared with the openQCM driver: streamed records may be further apart than the
transport's per-call timeout, so the first byte is awaited patiently and only then is the rest read
with ``read_until`` (a ``read_until`` that timed out mid-record would throw the partial record away).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping

from instruments.base import (
    NAN,
    Driver,
    DriverInfo,
    ProtocolError,
    Reading,
    ReplyTimeout,
    SensorReading,
    ValueUnavailable,
)
from instruments.protocol_spec import Choice, OptionSpec, OptionValue, ProtocolSpec
from instruments.transport import Transport

MAX_LINE = 256
#: automatic delimiter detection tries these in order; ``None`` means runs of whitespace
AUTO_DELIMITERS: tuple[str, ...] = ("\t", ";", ",")
DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", " ": "space", None: "whitespace"}
_UNAVAILABLE = {"", "nan", "+nan", "-nan", "na", "n/a", "none", "null"}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2}(?:\.\d*)?)")
_MAX_SKIPPED = 16  # blank lines skipped within one read()
_SKIP_LIMIT = 4096  # how far the end of a runaway record is looked for
_IDENTIFY_TRIES = 8  # lines identify() looks at for a valid one (header lines come first)


def wait_for_data(transport: Transport, patience_s: float, what: str) -> bytes:
    """Return the first byte of the next record, tolerating up to ``patience_s`` of silence.

    Nothing is lost by waiting byte-wise: each empty read means no record had started yet.
    """
    deadline = time.monotonic() + patience_s
    while True:
        first = transport.read(1)
        if first:
            return first
        if transport.timeout_s <= 0 or time.monotonic() >= deadline:
            raise ReplyTimeout(f"{what}: nothing received for {max(patience_s, transport.timeout_s):.1f} s")


def read_record(transport: Transport, terminator: bytes, max_size: int, patience_s: float, what: str) -> bytes:
    """Read one streamed record up to and including a one-byte ``terminator``.

    A record longer than ``max_size`` is a ProtocolError, and the rest of it is skipped (up to its
    terminator) so that the next call starts on a record boundary whatever the transport consumed.
    """
    first = wait_for_data(transport, patience_s, what)
    if first == terminator:
        return first
    try:
        return first + transport.read_until(terminator, max_size - 1)
    except ProtocolError:
        try:
            transport.read_until(terminator, _SKIP_LIMIT)
        except (ProtocolError, ReplyTimeout):
            pass
        raise ProtocolError(f"{what}: record longer than {max_size} bytes") from None


def _is_unavailable(token: str) -> bool:
    stripped = token.strip().lower()
    return stripped in _UNAVAILABLE or set(stripped) == {"-"}


class LineMonitor(Driver):
    """Any instrument that prints one reading per line; see the module docstring for the options."""

    info = DriverInfo(
        protocol="line",
        title="Line-based monitor (text stream)",
        default_baud=115200,
        max_sensors=1,
        measurement_period_s=0.1,
        streaming=True,
        bauds=(9600, 19200, 38400, 57600, 115200, 230400),
    )

    def __init__(
        self,
        transport: Transport,
        sensors: tuple[int, ...] = (1,),
        *,
        delimiter: str | None = None,
        frequency_column: int | None = None,
        time_column: int | None = None,
        temperature_column: int | None = None,
        decimal_comma: bool = False,
        terminator: bytes = b"\n",
        max_gap_s: float = 2.0,
    ) -> None:
        """Options (all keyword, with defaults that suit ``<time>\\t<frequency>`` lines):

        delimiter: ``None``/"auto" (tab, semicolon, comma, else whitespace, decided per line),
            or one of "\\t", ";", ",", " " (one space) or "whitespace".
        frequency_column: 0-based; default 1 when a line has two or more fields, else 0.
        time_column: the instrument's own time stamp (seconds, or ``H:MM:SS[.f]``) into
            :attr:`Reading.instrument_time_s`; ``None`` ignores it.
        temperature_column: optional, kept as :attr:`last_temperature_c`.
        decimal_comma: ``12,5`` means 12.5; then a comma cannot also separate fields.
        terminator: one byte ending a line; a CR before it is dropped, so CR LF works with the default.
        max_gap_s: the longest silence between two lines that is still normal (ReplyTimeout after it).
        """
        super().__init__(transport, sensors)
        if self.sensors != (1,):
            raise ValueError("a line-based monitor has a single sensor")
        if delimiter in ("auto", None):
            delimiter = None
            self._auto = True
        elif delimiter == "whitespace":
            delimiter = None
            self._auto = False
        elif delimiter in ("\t", ";", ",", " "):
            self._auto = False
        else:
            raise ValueError(f"delimiter must be auto, whitespace, tab, ';', ',' or ' ', not {delimiter!r}")
        if decimal_comma and delimiter == ",":
            raise ValueError("with a decimal comma the delimiter cannot be a comma")
        for name, column in (
            ("frequency_column", frequency_column),
            ("time_column", time_column),
            ("temperature_column", temperature_column),
        ):
            if column is not None and column < 0:
                raise ValueError(f"{name} must be 0 or more, not {column}")
        if len(terminator) != 1:
            raise ValueError(f"terminator must be one byte, not {terminator!r}")
        if max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        self.delimiter = delimiter
        self.frequency_column = frequency_column
        self.time_column = time_column
        self.temperature_column = temperature_column
        self.decimal_comma = decimal_comma
        self.terminator = terminator
        self.max_gap_s = max_gap_s
        #: temperature from the last line that had one (°C), else ``nan``
        self.last_temperature_c = NAN
        #: how the last valid line was split, for identify()
        self._last_layout = ""

    # -- parsing ------------------------------------------------------------------------------

    def split(self, line: str) -> tuple[list[str], str | None]:
        """Split a line into fields; return them and the delimiter used (``None``: whitespace)."""
        delimiter = self.delimiter
        if self._auto:
            candidates = [d for d in AUTO_DELIMITERS if not (d == "," and self.decimal_comma)]
            delimiter = next((d for d in candidates if d in line), None)
        if delimiter is None:
            return line.split(), None
        return [field.strip() for field in line.split(delimiter)], delimiter

    def _number(self, token: str, what: str) -> float:
        text = token.strip()
        if self.decimal_comma:
            text = text.replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            hint = " (decimal comma? set decimal_comma=True)" if "," in text and not self.decimal_comma else ""
            raise ProtocolError(f"{what}: not a number: {token.strip()[:30]!r}{hint}") from None
        if math.isinf(value):
            raise ProtocolError(f"{what}: not a finite number: {token.strip()[:30]!r}")
        return value

    def _time(self, token: str) -> float:
        clock = _CLOCK.fullmatch(token.strip())
        if clock:
            h, m, s = clock.groups()
            return int(h) * 3600 + int(m) * 60 + float(s)
        value = self._number(token, f"time column {self.time_column}")
        if math.isnan(value):
            raise ProtocolError(f"time column {self.time_column}: not a number: {token.strip()[:30]!r}")
        return value

    def parse_line(self, raw: bytes) -> tuple[float, float]:
        """Return (frequency Hz, instrument time s or ``nan``) from one line without its terminator.

        Raises ProtocolError for anything malformed and ValueUnavailable for a missing frequency.
        """
        line = raw.decode("latin-1").rstrip("\r")
        if any(ord(c) < 32 and c != "\t" for c in line):
            raise ProtocolError(f"line contains control bytes: {raw[:40]!r}")
        fields, delimiter = self.split(line)
        column = self.frequency_column
        if column is None:
            column = 1 if len(fields) >= 2 else 0
        if column >= len(fields):
            raise ProtocolError(f"line has {len(fields)} field(s), no frequency column {column}: {line[:60]!r}")
        instrument_time = NAN
        if self.time_column is not None:
            if self.time_column >= len(fields):
                raise ProtocolError(
                    f"line has {len(fields)} field(s), no time column {self.time_column}: {line[:60]!r}"
                )
            instrument_time = self._time(fields[self.time_column])
        if self.temperature_column is not None and self.temperature_column < len(fields):
            token = fields[self.temperature_column]
            self.last_temperature_c = (
                NAN if _is_unavailable(token) else self._number(token, f"temperature column {self.temperature_column}")
            )
        token = fields[column]
        frequency = NAN if _is_unavailable(token) else self._number(token, f"frequency column {column}")
        self._last_layout = (
            f"{len(fields)} {DELIMITER_NAMES[delimiter]}-separated field(s), frequency in column {column}"
        )
        if math.isnan(frequency) or frequency <= 0:
            raise ValueUnavailable(f"no frequency in column {column} ({token.strip()[:20]!r})")
        return frequency, instrument_time

    # -- driver -------------------------------------------------------------------------------

    def _next_line(self) -> bytes:
        """The next non-blank line without its terminator."""
        patience = max(self.max_gap_s, self.transport.timeout_s)
        for _ in range(_MAX_SKIPPED):
            record = read_record(self.transport, self.terminator, MAX_LINE, patience, "line monitor")
            line = record[:-1]
            if line.strip():
                return line
        raise ProtocolError(f"line monitor: {_MAX_SKIPPED} blank lines in a row")

    def read(self) -> Reading:
        """Wait for the next line and return its frequency."""
        line = self._next_line()
        t = time.monotonic()
        frequency, instrument_time = self.parse_line(line)
        return Reading(time_s=t, sensors=(SensorReading(frequency_hz=frequency),), instrument_time_s=instrument_time)

    def identify(self) -> str:
        """Wait for the first well-formed line (header lines are passed over) and describe its layout.

        A line without a frequency (PLL out of lock) still proves the link and the layout.
        """
        error: ProtocolError | None = None
        for _ in range(_IDENTIFY_TRIES):
            try:
                frequency, _ = self.parse_line(self._next_line())
            except ProtocolError as exc:
                error = exc
                continue
            except ValueUnavailable:
                return f"line monitor: {self._last_layout}, no frequency yet"
            return f"line monitor: {self._last_layout}, {frequency:.2f} Hz"
        raise ProtocolError(f"line monitor: no valid line among {_IDENTIFY_TRIES}: {error}")


#: columns a line may have, as far as the dialog and the command line offer them
MAX_COLUMNS = 32


def _conflicting_options(options: Mapping[str, OptionValue]) -> str:
    """What the constructor would refuse, or what cannot be meant, in words the user chose them in."""
    if options.get("decimal_comma") and options.get("delimiter") == ",":
        return "With a decimal comma the delimiter cannot be a comma."
    time_column = options.get("time_column")
    if time_column is not None and time_column == options.get("frequency_column"):
        return "Time and frequency cannot come from the same column."
    return ""


# The options a user chooses for a lab-built stream. terminator, max_gap_s and temperature_column stay
# keyword arguments for scripts: the app reads neither the temperature nor another line ending.
# The frequency column is offered as the second one, which is also what the driver picks when a line has
# two or more fields; only a one-field stream needs it set to 1.
PROTOCOLS = (
    ProtocolSpec(
        LineMonitor,
        "instruments.emulators.line:LineEmulator",
        options=(
            OptionSpec(
                "delimiter",
                str,
                None,
                "Delimiter",
                help="what separates the fields",
                choices=(
                    Choice(None, "auto", "Automatic (tab, ; or , per line)"),
                    Choice("\t", "tab", "Tab"),
                    Choice(",", "comma", "Comma  ,"),
                    Choice(";", "semicolon", "Semicolon  ;"),
                    Choice(" ", "space", "One space"),
                    Choice("whitespace", "whitespace", "Any whitespace"),
                ),
            ),
            OptionSpec(
                "frequency_column",
                int,
                1,
                "Frequency column",
                minimum=0,
                maximum=MAX_COLUMNS - 1,
                counts_from_one=True,
                help="the field holding the frequency, counting from 1",
            ),
            OptionSpec(
                "time_column",
                int,
                None,
                "Time column",
                minimum=0,
                maximum=MAX_COLUMNS - 1,
                counts_from_one=True,
                none_label="none (use the computer's clock)",
                help="the field holding the instrument's own time stamp, counting from 1",
            ),
            OptionSpec(
                "decimal_comma",
                bool,
                False,
                "Decimal comma (3,14 instead of 3.14)",
                help="numbers are written with a decimal comma",
            ),
        ),
        options_title="Line format (one reading per line; columns count from 1)",
        conflict=_conflicting_options,
    ),
)
