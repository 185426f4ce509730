"""A lab-built line-printing monitor: ``<time>\\t<frequency>\\t<temperature>`` per measurement.

Options choose the dialect a driver must cope with: delimiter, decimal comma, line ending and
whether a temperature column is printed. Input is ignored, as most such sketches do.
"""

from __future__ import annotations

from instruments.emulators.base import EmulatedInstrument, SignalSource


class LineEmulator(EmulatedInstrument):
    """Streams a line every ``measurement_period_s`` from power-up."""

    def __init__(
        self,
        source: SignalSource,
        *,
        seed: int = 0,
        measurement_period_s: float = 0.1,
        delimiter: str = "\t",
        decimal_comma: bool = False,
        line_ending: str = "\n",
        with_temperature: bool = True,
        temperature_c: float = 24.8,
    ) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        if delimiter not in ("\t", ";", ",", " "):
            raise ValueError(f"delimiter must be tab, ';', ',' or ' ', not {delimiter!r}")
        if decimal_comma and delimiter == ",":
            raise ValueError("with a decimal comma the delimiter cannot be a comma")
        if line_ending not in ("\n", "\r\n", "\r"):
            raise ValueError(f"line ending must be LF, CR LF or CR, not {line_ending!r}")
        self.stream_period_s = measurement_period_s
        self.delimiter = delimiter
        self.decimal_comma = decimal_comma
        self.line_ending = line_ending
        self.with_temperature = with_temperature
        self.temperature_c = temperature_c

    def handle(self, data: bytes) -> list[bytes]:
        return []

    def _number(self, value: float, decimals: int) -> str:
        text = f"{value:.{decimals}f}"
        return text.replace(".", ",") if self.decimal_comma else text

    def _line(self, fields: list[str]) -> bytes:
        return (self.delimiter.join(fields) + self.line_ending).encode("ascii")

    def _fields(self, frame: bytes) -> list[str] | None:
        text = frame.decode("latin-1")
        if not text.endswith(self.line_ending):
            return None
        fields = text[: -len(self.line_ending)].split(self.delimiter)
        return fields if len(fields) >= 2 else None

    def stream_frame(self) -> bytes | None:
        frequency, _, _ = self.measure(0)
        fields = [self._number(self.elapsed_s(), 3), self._number(frequency, 3)]
        if self.with_temperature:
            fields.append(self._number(self.temperature_c + self.rng.gauss(0.0, 0.02), 2))
        return self._line(fields)

    def corrupt(self, frame: bytes) -> bytes:
        """Same columns and line ending, a stray letter inside the frequency: the line no longer parses."""
        fields = self._fields(frame)
        if fields is None or not fields[1]:
            return super().corrupt(frame)
        pos = self.rng.randrange(len(fields[1]))
        fields[1] = fields[1][:pos] + "#" + fields[1][pos + 1 :]
        return self._line(fields)

    def empty_reply(self, frame: bytes) -> bytes:
        """A PLL out of lock: the frequency column is empty or ``nan``."""
        fields = self._fields(frame)
        if fields is None:
            return frame
        fields[1] = self.rng.choice(["nan", ""]) if self.delimiter != " " else "nan"
        return self._line(fields)
