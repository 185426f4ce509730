"""A Sycon STM-100 (and an STM-2 on RS-232) answering the Sycon protocol byte for byte.

:class:`StmCommandSet` is the ASCII vocabulary without any framing, so the SMDP emulator of the STM-2's
USB port answers exactly the same commands. The model strings of the STM-2 emulators are made up; the
STM-100's is the example of its manual.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

from instruments.emulators.base import EmulatedInstrument, SignalSource
from instruments.sycon import MAX_COMMAND, STX, checksum, encode_reply

#: what the display (and the wire) shows when there is no value
NO_VALUE = "--------"


class Outcome(enum.Enum):
    """How a command was taken; each framing turns it into its own status or response code."""

    OK = "ok"
    ILLEGAL_COMMAND = "illegal command"
    ILLEGAL_DATA = "illegal data"
    ILLEGAL_MODIFIER = "illegal modifier"


#: film settings: command letter → (FilmSettings attribute, lowest, highest)
_SETTINGS = {
    "E": ("density_g_cm3", 0.5, 99.99),
    "F": ("z_ratio", 0.1, 9.999),
    "J": ("tooling_pct", 10.0, 399.0),
}
_STM2_ONLY = frozenset("st")


class StmCommandSet:
    """The STM-100 / STM-2 command vocabulary as the emulators answer it, independent of framing.

    ``power_lost`` starts set (the unit was just switched on) and stays set until ``L`` (Sycon) or
    ``?`` (SMDP's USRAPI_ackPfail) arrives; the framing decides how to report it.
    """

    def __init__(self, instrument: EmulatedInstrument, *, model: str, stm2: bool) -> None:
        self.instrument = instrument
        self.model = model
        self.stm2 = stm2
        self.power_lost = True
        self.shutter_relay_on = False
        self.min_frequency_hz = 5.0e6
        self.max_frequency_hz = 6.0e6
        self._timer_origin_s = instrument.elapsed_s()
        self._actions: dict[str, Callable[[], str]] = {
            "@": lambda: self.model,
            "B": self._zero_all,
            "C": self._zero_thickness,
            "D": self._zero_timer,
            "L": self._acknowledge,
            "?": self._acknowledge,
            "a": lambda: "A" if self.power_lost else "@",
            "M": self._crystal,
            "S": self._thickness,
            "T": self._rate,
            "U": self._frequency,
            "V": self._life,
            "W": self._timer,
            "s": self._mass,
            "t": self._mass_rate,
        }

    def answer(self, message: bytes) -> tuple[Outcome, bytes]:
        """Carry out one command; return how it went and the reply payload."""
        text = message.decode("latin-1")
        cmd, arg = text[:1], text[1:]
        if cmd in _SETTINGS:
            return self._setting(cmd, arg)
        if cmd == "A" and not self.stm2:
            return self._shutter(arg)
        action = self._actions.get(cmd)
        if action is None or (cmd in _STM2_ONLY and not self.stm2):
            return Outcome.ILLEGAL_COMMAND, b""
        if arg:
            return Outcome.ILLEGAL_MODIFIER, b""
        return Outcome.OK, action().encode("ascii")

    # -- settings -------------------------------------------------------------------------------

    def _setting(self, cmd: str, arg: str) -> tuple[Outcome, bytes]:
        attr, low, high = _SETTINGS[cmd]
        arg = arg.strip()
        if arg == "?":
            value = getattr(self.instrument.film, attr)
            decimals = 1 if cmd == "J" else (2 if value >= 10 else 3)
            return Outcome.OK, f"{value:.{decimals}f}".encode()
        if not arg.startswith("="):
            return Outcome.ILLEGAL_MODIFIER, b""
        try:
            value = float(arg[1:])
        except ValueError:
            return Outcome.ILLEGAL_DATA, b""
        if not (math.isfinite(value) and low <= value <= high):
            return Outcome.ILLEGAL_DATA, b""
        setattr(self.instrument.film, attr, value)
        return Outcome.OK, b""

    def _shutter(self, arg: str) -> tuple[Outcome, bytes]:
        """``A!`` relay on (shutter open), ``A@`` off, ``A?`` the state as ``!`` / ``@`` (STM-100/MF
        manual, table 5.2: ``A [@,!,?]``, the same on/off letters as ``K`` and ``c``)."""
        if arg == "?":
            return Outcome.OK, b"!" if self.shutter_relay_on else b"@"
        if arg in ("!", "@"):
            self.shutter_relay_on = arg == "!"
            return Outcome.OK, b""
        return Outcome.ILLEGAL_MODIFIER, b""

    # -- actions --------------------------------------------------------------------------------

    def _zero_all(self) -> str:
        self.instrument.zero_thickness()
        self._timer_origin_s = self.instrument.elapsed_s()
        return ""

    def _zero_thickness(self) -> str:
        self.instrument.zero_thickness()
        return ""

    def _zero_timer(self) -> str:
        self._timer_origin_s = self.instrument.elapsed_s()
        return ""

    def _acknowledge(self) -> str:
        self.power_lost = False
        return ""

    # -- runtime values -------------------------------------------------------------------------

    def _sample(self) -> tuple[float, float, float] | None:
        """(frequency Hz, thickness Å, rate Å/s), or None while the crystal does not oscillate."""
        f, thick_kang, rate = self.instrument.measure(0)
        if not f > 0:
            return None
        return f, thick_kang * 1000.0, rate

    def _crystal(self) -> str:
        return "@" if self._sample() is not None else "!"

    def _thickness(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        ang = max(-9_999_999, min(9_999_999, round(sample[1])))
        if self.stm2:
            return str(ang)
        return ("-" if ang < 0 else " ") + f"{abs(ang):07d}"

    def _rate(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        rate = max(-999.9, min(999.9, sample[2]))
        if self.stm2:
            return f"{rate:.1f}"
        return ("-" if rate < 0 else " ") + f"{abs(rate):05.1f}"

    def _frequency(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        return f"{sample[0]:.2f}" if self.stm2 else f"{sample[0]:.0f}"

    def _life(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        life = (sample[0] - self.min_frequency_hz) / (self.max_frequency_hz - self.min_frequency_hz) * 100.0
        life = max(0.0, min(100.0, life))
        return f"{life:.1f}" if self.stm2 else f"{life:05.1f}"

    def _timer(self) -> str:
        minutes, seconds = divmod(int(self.instrument.elapsed_s() - self._timer_origin_s), 60)
        text = f"{minutes % 100:02d}:{seconds:02d}"
        return text if self.stm2 else "+" + text

    def _mass(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        # 1 Å of film at 1 g/cm³ is 1e-8 g/cm² = 0.01 µg/cm²
        return f"{sample[1] * self.instrument.film.density_g_cm3 * 0.01:.3f}"

    def _mass_rate(self) -> str:
        sample = self._sample()
        if sample is None:
            return NO_VALUE
        return f"{sample[2] * self.instrument.film.density_g_cm3 * 0.01:.4f}"


_STATUS = {
    Outcome.ILLEGAL_COMMAND: "F",
    Outcome.ILLEGAL_DATA: "H",
    Outcome.ILLEGAL_MODIFIER: "J",
}


class Stm100Emulator(EmulatedInstrument):
    """Request/reply only; frames may arrive split or several at once; noise before STX is dropped.

    A frame with a bad checksum is ignored like on the unit (the host times out). Only its STX is
    dropped, so a real frame hidden inside a false one (noise STX plus length) is still found.
    """

    model = "STM100C5"
    stm2 = False

    def __init__(self, source: SignalSource, *, seed: int = 0, measurement_period_s: float = 0.1) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        self.commands = StmCommandSet(self, model=self.model, stm2=self.stm2)

    def handle(self, data: bytes) -> list[bytes]:
        replies = []
        self._buf += data
        while True:
            if not self._skip_to(bytes([STX])):
                break
            if len(self._buf) < 2:
                break
            size = self._buf[1]
            if not 1 <= size <= MAX_COMMAND:
                del self._buf[:1]
                continue
            if len(self._buf) < size + 3:
                break
            message = bytes(self._buf[2 : 2 + size])
            if checksum(message) != self._buf[2 + size]:
                del self._buf[:1]
                continue
            del self._buf[: size + 3]
            replies.append(self._reply(message))
        return replies

    def _reply(self, message: bytes) -> bytes:
        outcome, payload = self.commands.answer(message)
        if outcome is not Outcome.OK:
            return encode_reply(_STATUS[outcome], payload)
        return encode_reply("B" if self.commands.power_lost else "A", payload)

    def empty_reply(self, frame: bytes) -> bytes:
        """The same status with ``--------`` as payload: what a unit sends when it has no value."""
        if len(frame) < 4 or frame[0] != STX:
            return b""
        return encode_reply(chr(frame[2]), NO_VALUE.encode("ascii"))

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with a different checksum byte (never STX, so the framing stays valid)."""
        if len(frame) < 4:
            return super().corrupt(frame)
        choices = [b for b in range(256) if b not in (frame[-1], STX)]
        return frame[:-1] + bytes([self.rng.choice(choices)])


class Stm2SyconEmulator(Stm100Emulator):
    """An INFICON STM-2 on its RS-232 port: Sycon framing, STM-2 formats, plus ``s`` and ``t``."""

    model = "STM-2 V1.0"
    stm2 = True
