"""A Maxtek / INFICON TM-400 that answers status requests and streams string or binary logs.

Framing, the status block and the record layouts are those of :mod:`instruments.tm400` (the manual's
facts and the choices documented there). Emulated: codes 4 (status), 5 (string logging) and 6 (binary
logging); any other code is answered as unknown, as are the film/parameter codes of a real unit.
"""

from __future__ import annotations

import time

from instruments.base import ProtocolError
from instruments.emulators.base import EmulatedInstrument, SignalSource
from instruments.tm400 import (
    BINARY_MASK_LIMIT,
    CODE_BINARY_LOG,
    CODE_STATUS,
    CODE_STRING_LOG,
    CRYSTAL_MHZ,
    ERROR_BAD_DATA,
    ERROR_CHECKSUM,
    ERROR_FLAG,
    ERROR_UNKNOWN_COMMAND,
    HEALTH_FAILED,
    MASS_NG_CM2_PER_COUNT,
    MAX_ADDRESS,
    MAX_DATA,
    MIN_ADDRESS,
    PERIOD_CONSTANT,
    RATE_A_PER_S_PER_COUNT,
    STATUS_SIZE,
    STRING_FIELDS,
    STRING_MASK_LIMIT,
    SYNC,
    THICKNESS_A_PER_COUNT,
    Tm400Status,
    checksum,
    encode_frame,
    encode_status,
    pack_record,
    unpack_record,
)

#: a partial command older than this is dropped when more bytes arrive (the unit's inter-byte timeout)
FRAME_GAP_S = 0.2
SENSORS = 2


def fixed_width(value: float, width: int) -> str:
    """``value`` right-aligned in ``width`` characters with as many decimals as fit (string logging)."""
    for decimals in (3, 2, 1, 0):
        text = f"{value:.{decimals}f}"
        if len(text) <= width:
            return text.rjust(width)
    return "-" + "9" * (width - 1) if value < 0 else "9" * width  # off scale, as a display would show


class Tm400Emulator(EmulatedInstrument):
    """Two sensor inputs (the second reads as failed unless the source has two sensors)."""

    def __init__(
        self, source: SignalSource, *, seed: int = 0, measurement_period_s: float = 0.1, address: int = 1
    ) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        if not MIN_ADDRESS <= address <= MAX_ADDRESS:
            raise ValueError(f"TM-400 address must be {MIN_ADDRESS}..{MAX_ADDRESS}")
        self.address = address
        self.stream_period_s = measurement_period_s
        self.active_film = 1
        self.active_sensor = 1
        self.simulate = True  # an emulator is, after all, the instrument's simulate mode
        self._buf = bytearray()
        self._last_rx = 0.0
        #: (code, mask) of the running log, or None
        self.logging: tuple[int, int] | None = None
        f0 = source.sensor_state(0.0, 0, self.film.density_g_cm3, self.film.z_ratio, self.film.tooling_pct)[0]
        self.crystal_type = next((i for i, mhz in enumerate(CRYSTAL_MHZ) if mhz * 1e6 >= f0), len(CRYSTAL_MHZ) - 1)

    # -- requests -----------------------------------------------------------------------------

    def handle(self, data: bytes) -> list[bytes]:
        now = time.monotonic()
        if self._buf and now - self._last_rx > FRAME_GAP_S:
            self._buf.clear()
        self._last_rx = now
        self._buf += data
        replies: list[bytes] = []
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                keep = 1 if self._buf.endswith(SYNC[:1]) else 0  # maybe the first half of a split sync
                del self._buf[: len(self._buf) - keep]
                break
            del self._buf[:start]
            if len(self._buf) < 5:
                break
            address, code, length = self._buf[2], self._buf[3], self._buf[4]
            if not MIN_ADDRESS <= address <= MAX_ADDRESS or length > MAX_DATA:
                del self._buf[:2]  # not a header: look for the next sync
                continue
            if len(self._buf) < 6 + length:
                break
            frame = bytes(self._buf[: 6 + length])
            del self._buf[: 6 + length]
            if address != self.address:
                continue  # addressed to another unit
            body = frame[5:-1]
            if frame[-1] != checksum(code, body):
                replies.append(self._error(code, ERROR_CHECKSUM))
                continue
            reply = self._answer(code, body)
            if reply:
                replies.append(reply)
        return replies

    def _error(self, code: int, error: int) -> bytes:
        return encode_frame(self.address, ERROR_FLAG | (code & 0x7F), bytes([error]))

    def _answer(self, code: int, data: bytes) -> bytes | None:
        if code == CODE_STATUS:
            if data:
                return self._error(code, ERROR_BAD_DATA)
            return encode_frame(self.address, CODE_STATUS, encode_status(self.status()))
        if code in (CODE_STRING_LOG, CODE_BINARY_LOG):
            limit = STRING_MASK_LIMIT if code == CODE_STRING_LOG else BINARY_MASK_LIMIT
            mask = int.from_bytes(data, "little") if len(data) == 2 else -1
            if not 0 <= mask < limit:
                return self._error(code, ERROR_BAD_DATA)
            self.logging = (code, mask) if mask else None
            return None  # logging commands are not acknowledged: the records are
        return self._error(code, ERROR_UNKNOWN_COMMAND)

    # -- values -------------------------------------------------------------------------------

    def _health(self, sensor: int) -> int:
        """Crystal health 0-99 from the frequency drop below nominal (1 MHz of drop = worn out)."""
        if sensor >= self.source.sensor_count:
            return HEALTH_FAILED
        f = self.measure(sensor)[0]
        nominal = CRYSTAL_MHZ[self.crystal_type] * 1e6
        return max(0, min(99, round(99 * (1.0 - (nominal - f) / 1e6))))

    def status(self) -> Tm400Status:
        return Tm400Status(
            active_film=self.active_film,
            active_sensor=self.active_sensor,
            health=(self._health(0), self._health(1)),
            source_shutter_open=False,
            sensor_shutter_open=False,
            display=0,
            address=self.address,
            crystal_type=self.crystal_type,
            simulate=self.simulate,
            failures=0,
        )

    def _sensor_values(self, sensor: int) -> tuple[float, float, float]:
        """(frequency Hz, thickness kÅ, rate Å/s) of input 0 or 1; a missing input reads (0, 0, 0)."""
        if sensor >= self.source.sensor_count:
            return 0.0, 0.0, 0.0
        return self.measure(sensor)

    def _binary_values(self) -> dict[str, int]:
        values: dict[str, int] = {"active_sensor": ord(str(self.active_sensor))}
        for sensor in range(SENSORS):
            f, thick_kang, rate = self._sensor_values(sensor)
            thick_a = thick_kang * 1000.0
            mass_ng = thick_a * 1e-8 * self.film.density_g_cm3 * 1e9
            fields = {
                "rate": round(rate / RATE_A_PER_S_PER_COUNT),
                "thickness": round(thick_a / THICKNESS_A_PER_COUNT),
                "period": round(PERIOD_CONSTANT / f) if f > 0 else 0,
                "mass": round(mass_ng / MASS_NG_CM2_PER_COUNT),
            }
            for name, value in fields.items():
                values[f"s{sensor + 1}_{name}"] = value
                if sensor == self.active_sensor - 1:
                    values[f"active_{name}"] = value
        return values

    def _string_record(self, mask: int) -> bytes:
        texts: dict[str, str] = {"active_sensor": str(self.active_sensor)}
        for sensor in range(SENSORS):
            f, thick_kang, rate = self._sensor_values(sensor)
            for prefix in (f"s{sensor + 1}_",) + (("active_",) if sensor == self.active_sensor - 1 else ()):
                texts[prefix + "rate"] = fixed_width(rate, 5)
                texts[prefix + "thickness"] = fixed_width(thick_kang, 5)
                texts[prefix + "frequency"] = fixed_width(f, 11)
        return "".join(texts[name] for bit, (name, _) in STRING_FIELDS.items() if mask >> bit & 1).encode("ascii")

    def stream_frame(self) -> bytes | None:
        if self.logging is None:
            return None
        code, mask = self.logging
        if code == CODE_STRING_LOG:
            return encode_frame(self.address, code, self._string_record(mask))
        return encode_frame(self.address, code, pack_record(mask, self._binary_values()))

    # -- faults -------------------------------------------------------------------------------

    def corrupt(self, frame: bytes) -> bytes:
        """Same sync, header and length, one bit flipped in the data (or the checksum): the sum fails."""
        if len(frame) < 6:
            return super().corrupt(frame)
        pos = self.rng.randrange(5, len(frame))
        out = bytearray(frame)
        out[pos] ^= 1 << self.rng.randrange(8)
        return bytes(out)

    def empty_reply(self, frame: bytes) -> bytes:
        """A failed crystal: binary records carry a zero period, the status block health 255."""
        if len(frame) < 6 or frame[:2] != SYNC:
            return frame
        address, code, data = frame[2], frame[3], bytearray(frame[5:-1])
        if code == CODE_STATUS and len(data) == STATUS_SIZE:
            data[2] = data[3] = HEALTH_FAILED
            return encode_frame(address, code, bytes(data))
        if code == CODE_BINARY_LOG and self.logging is not None:
            mask = self.logging[1]
            try:
                values = unpack_record(mask, bytes(data))
            except ProtocolError:
                return frame
            for key in values:
                if key != "active_sensor":
                    values[key] = 0
            return encode_frame(address, code, pack_record(mask, values))
        return frame
