"""An INFICON SQM-160 that answers the "!" protocol byte for byte (also the base of the SQC-310).

Reply layouts follow what public clients written against real units parse (protocols.md): ``W`` with a
leading dummy field and a triple for each of the 6 sensor positions, numbers space-padded as the unit
prints them (PyMeasure's published vectors ``!*A 0.00 [d``, ``!+A 0.000 Jo``), the film name in a fixed
8-character field, 11 fields for ``B?`` and 7 for ``C?``. Each model keeps its own power-up report: the
SQM-160 answers ``Y`` with 1 once after power-up and only ever uses status A/C/D; the SQC-310 (whose
manual lists it) answers its first command with status ``B``.
"""

from __future__ import annotations

from instruments.emulators.base import EmulatedInstrument, SignalSource
from instruments.sqm160 import crc14, encode_reply

FIRMWARE = "MON Ver 4.13"
#: sensor positions in a ``W`` reply, whatever the number of channels fitted
W_POSITIONS = 6
#: width of the film name field of ``A<n>?``
FILM_NAME_WIDTH = 8


def padded(value: float, decimals: int) -> str:
    """A number as the unit prints it: a sign position (space when positive) and a trailing space."""
    return f"{value: .{decimals}f} "


class Sqm160Emulator(EmulatedInstrument):
    """Request/reply only; frames may arrive split or several at once; ``!`` restarts a frame."""

    firmware = FIRMWARE
    channels = 2
    #: the model reports a power-up as status ``B`` on its first reply (SQC-310/SQC-122, not SQM-160)
    reset_status = False

    def __init__(self, source: SignalSource, *, seed: int = 0, measurement_period_s: float = 0.1) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        self._reset_flag = self.reset_status
        self._power_up_flag = True  # what Y reports once
        self.shutter_open = False
        self.time_base_s = 0.25
        self.rate_filter = 4
        self.crystal_tooling_pct = [100] * W_POSITIONS
        self.min_frequency_hz = 5.0e6
        self.max_frequency_hz = 6.0e6
        self.min_rate_a_per_s = 0.0
        self.max_rate_a_per_s = 100.0
        self.min_thickness_kang = 0.0
        self.max_thickness_kang = 1000.0
        self.final_thickness_kang = 0.5
        self.active_film = 1

    def handle(self, data: bytes) -> list[bytes]:
        replies = []
        self._buf += data
        while True:
            if not self._skip_to(b"!"):
                break
            if len(self._buf) < 2:
                break
            size = self._buf[1] - 34
            if size < 1:
                del self._buf[:1]  # not a frame: resynchronise on the next "!"
                continue
            if b"!" in self._buf[2 : 2 + size]:
                del self._buf[:1]  # a new sync inside the frame resets the packet
                continue
            if len(self._buf) < 2 + size + 2:
                break
            body = bytes(self._buf[1 : 2 + size])
            crc = bytes(self._buf[2 + size : 4 + size])
            if crc != b"\x00\x00" and tuple(crc) != crc14(body):
                # a real unit ignores a packet with a bad CRC; what looked like its body may hold
                # the start of the next packet, so resynchronise just past this sync character
                del self._buf[:1]
                continue
            del self._buf[: 4 + size]
            replies.append(self._answer(body[1:].decode("latin-1")))
        return replies

    def _status(self) -> str:
        if self._reset_flag:
            self._reset_flag = False
            return "B"
        return "A"

    def _sensor(self, arg: str) -> int | None:
        if len(arg) >= 1 and arg[0].isdigit():
            n = int(arg[0])
            if 1 <= n <= self.channels:
                return n - 1
        return None

    def _value(self, sensor: int) -> tuple[float, float, float]:
        """Active sensors follow the source; the others read -1 like an empty socket."""
        if sensor >= self.source.sensor_count:
            return -1.0, -1.0, -1.0
        return self.measure(sensor)

    def _answer(self, msg: str) -> bytes:
        cmd, arg = msg[:1], msg[1:]
        ok = self._status
        if cmd == "@":
            return encode_reply(ok(), self.firmware.encode())
        if cmd == "J":
            return encode_reply(ok(), str(self.channels).encode())
        if cmd in "PLNR" and cmd:
            n = self._sensor(arg)
            if n is None:
                return encode_reply("D", b"")
            f, thick, rate = self._value(n)
            if cmd == "P":
                text = f"{f:.3f}"
            elif cmd == "L":
                text = padded(rate, 2)
            elif cmd == "N":
                text = padded(thick, 3)
            else:
                life = (f - self.min_frequency_hz) / (self.max_frequency_hz - self.min_frequency_hz) * 100
                text = f"{max(0.0, min(100.0, life)):.2f}"
            return encode_reply(ok(), text.encode())
        if cmd in ("M", "O"):
            vals = [self._value(s) for s in range(min(self.source.sensor_count, self.channels))]
            if cmd == "M":
                text = padded(sum(v[2] for v in vals) / len(vals), 2)
            else:
                text = padded(sum(v[1] for v in vals) / len(vals), 3)
            return encode_reply(ok(), text.encode())
        if cmd == "W":
            parts = ["00.00"]  # the leading dummy field clients skip
            for s in range(W_POSITIONS):
                f, thick, rate = self._value(s) if s < self.channels else (-1.0, -1.0, -1.0)
                parts.append(f"{rate:.2f} {thick:.3f} {f:.3f}" if f > 0 else "-1 -1 -1")
            return encode_reply(ok(), " ".join(parts).encode())
        if cmd == "S" and not arg:
            self.zero_thickness()
            return encode_reply(ok(), b"")
        if cmd == "T" and not arg:
            return encode_reply(ok(), b"")
        if cmd == "U":
            if arg == "?":
                return encode_reply(ok(), b"1" if self.shutter_open else b"0")
            if arg in ("0", "1"):
                self.shutter_open = arg == "1"
                return encode_reply(ok(), b"")
            return encode_reply("D", b"")
        if cmd == "A" and arg.endswith("?") and arg[:-1].isdigit() and 1 <= int(arg[:-1]) <= 99:
            film = self.film
            name = film.name.upper()[:FILM_NAME_WIDTH].ljust(FILM_NAME_WIDTH)
            text = (
                f"{name} {film.density_g_cm3:.2f} {film.tooling_pct:.0f} {film.z_ratio:.3f} "
                f"{self.final_thickness_kang:.3f} 0.000 0 1"
            )
            return encode_reply(ok(), text.encode())
        if cmd == "B" and arg == "?":  # system 1: time base, simulate, display, resolution, filter, tooling × 6
            tooling = " ".join(str(t) for t in self.crystal_tooling_pct)
            text = f"{self.time_base_s:.2f} 0 0 0 {self.rate_filter} {tooling}"
            return encode_reply(ok(), text.encode())
        if cmd == "C" and arg == "?":  # system 2: frequency (MHz), rate and thickness limits, etch mode
            text = (
                f"{self.min_frequency_hz / 1e6:.3f} {self.max_frequency_hz / 1e6:.3f} "
                f"{self.min_rate_a_per_s:.2f} {self.max_rate_a_per_s:.2f} "
                f"{self.min_thickness_kang:.3f} {self.max_thickness_kang:.3f} 0"
            )
            return encode_reply(ok(), text.encode())
        if cmd == "D" and arg.isdigit() and 1 <= int(arg) <= 99:
            self.active_film = int(arg)
            return encode_reply(ok(), b"")
        if cmd == "Y" and not arg:
            flag, self._power_up_flag = self._power_up_flag, False
            return encode_reply(ok(), b"1" if flag else b"0")
        return encode_reply("C", b"")


class Sqc310Emulator(Sqm160Emulator):
    """INFICON SQC-310: the same framing, four sensors, and the ``K2`` all-sensor reading with the
    process time in front. (The firmware string is this emulator's own invention.)"""

    firmware = "SQC-310 Ver 3.03"
    channels = 4
    reset_status = True

    def _answer(self, msg: str) -> bytes:
        cmd, arg = msg[:1], msg[1:]
        if cmd == "K" and arg in ("1", "2"):
            parts = [f"{self.elapsed_s():.2f}"]
            for s in range(self.channels):
                f, thick, rate = self._value(s)
                if arg == "2":
                    parts.append(f"{rate:.2f} {thick:.3f} {f:.2f}" if f > 0 else "-1 -1 -1")
                else:  # outputs: rate, deviation, thickness, power
                    parts.append(f"{rate:.2f} 0.00 {thick:.3f} 0.00" if f > 0 else "-1 -1 -1 -1")
            return encode_reply(self._status(), " ".join(parts).encode())
        if cmd == "P" and arg[:1] == "A":
            n = self._sensor(arg[1:])
            if n is None:
                return encode_reply("D", b"")
            f, _, _ = self._value(n)
            life = (f - self.min_frequency_hz) / (self.max_frequency_hz - self.min_frequency_hz) * 100
            active = 1 if f > 0 else 0
            return encode_reply(self._status(), f"{active} {f:.2f} {max(0.0, min(100.0, life)):.2f}".encode())
        return super()._answer(msg)
