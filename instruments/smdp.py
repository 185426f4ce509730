"""INFICON STM-2 over USB: the STM command vocabulary carried by SMDP (Sycon Multi-Drop Protocol).

Frame: ``STX (0x02) | ADDR | CMD_RSP | DATA... | CK1 | CK2 | CR (0x0D)``.

From the STM-2 / STM-2XM manuals:

- ADDR is 0x10 point-to-point (USB), 0x11..0xFE on an RS-485 bus.
- The checksum is the sum of ADDR, CMD and DATA modulo 256, computed before escaping; it travels as two
  characters, 0x30 + high nibble and 0x30 + low nibble (so 0x30..0x3F). STX and CR are not included.
- STX and CR never appear between them: 0x02 is sent as ``07 30``, 0x0D as ``07 31`` and the escape 0x07
  itself as ``07 32``. An escape followed by anything else makes the frame invalid, and it is ignored.
- Commands use opcode 0x80 (OpCode_USRAPI) followed by the ASCII command, e.g. ``@`` is
  ``02 10 80 40 3D 30 0D`` (the manual's worked example; the test table checks it).
- In a reply the upper nibble of CMD_RSP repeats the command group (8 for 0x80), bit D3 is the
  power-fail flag, and the low three bits are a response code 1..7. The flag stays set until the host
  sends ``?`` (USRAPI_ackPfail) in a 0x80 frame, or the low-level opcode 0x60 (ACKPF).
- A frame with a foreign address, a bad checksum or an improper command gets no reply at all.

Designed here (the manual's table of response codes and the STM-2's own reply formats were not available):

- Response codes: 1 ok, 2 illegal command, 3 syntax error (bad modifier), 4 data out of range,
  5 inhibited, 6 obsolete, 7 reserved. Only 1 is success; the others raise :class:`CommandRejected`.
- A reply's DATA is the bare ASCII payload (no Sycon status letter: the response code replaces it), in the
  STM-2 formats of its command table (``-1595``, ``12.4``, ``5319234.34``). The "no value" reply is an ok
  frame with empty DATA; ``--------`` is accepted too.
- Escaping is applied to every byte between STX and the checksum (ADDR and CMD included). ADDR
  (0x10..0xFE) and the opcodes never take the three special values, so this is byte-for-byte the same as
  escaping DATA only, but the decoder then needs no knowledge of field positions: it unescapes the whole
  span and splits afterwards. The checksum characters (0x30..0x3F) never need escaping.
- Default baud 115200: the unit is a USB virtual COM port, which ignores the rate; pyserial needs one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from instruments.base import CommandRejected, DriverInfo, ProtocolError, ReplyTimeout
from instruments.protocol_spec import OptionSpec, ProtocolSpec
from instruments.sycon import WITH_FILM, StmCommandDriver

if TYPE_CHECKING:
    from instruments.transport import Transport

STX = 0x02
CR = 0x0D
ESC = 0x07
#: application command group: DATA is an ASCII STM command
USRAPI = 0x80
#: low-level "acknowledge power fail" opcode
ACKPF = 0x60
POWER_FAIL = 0x08
RSP_OK = 1
DEFAULT_ADDRESS = 0x10

RESPONSE_TEXT = {
    1: "ok",
    2: "illegal command",
    3: "syntax error",
    4: "data out of range",
    5: "inhibited",
    6: "obsolete command",
    7: "reserved response code 7",
}

_ESCAPES = {STX: bytes([ESC, 0x30]), CR: bytes([ESC, 0x31]), ESC: bytes([ESC, 0x32])}
_UNESCAPES = {0x30: STX, 0x31: CR, 0x32: ESC}
#: longest raw frame accepted (a real reply is under 30 bytes)
MAX_FRAME = 256
#: frames from other addresses or garbage tolerated while waiting for ours
_MAX_FOREIGN_FRAMES = 8


class Frame(NamedTuple):
    """A decoded frame; ``checksum_ok`` is kept apart so that a caller can tell noise from a damaged reply."""

    address: int
    command: int
    data: bytes
    checksum_ok: bool


def checksum(content: bytes) -> int:
    """Sum of ADDR, CMD and DATA modulo 256 (unescaped)."""
    return sum(content) & 0xFF


def checksum_chars(value: int) -> bytes:
    """The checksum as two characters: 0x30 + high nibble, 0x30 + low nibble."""
    return bytes([0x30 + (value >> 4), 0x30 + (value & 0x0F)])


def escape(content: bytes) -> bytes:
    """Replace 0x02, 0x0D and 0x07 by their two-byte escapes."""
    return b"".join(_ESCAPES.get(b, bytes([b])) for b in content)


def unescape(raw: bytes) -> bytes:
    """Undo :func:`escape`; a lone escape, an unknown escape or a raw STX/CR makes the frame invalid."""
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b in (STX, CR):
            raise ProtocolError(f"SMDP frame contains a raw {b:#04x}")
        if b == ESC:
            if i + 1 >= len(raw) or raw[i + 1] not in _UNESCAPES:
                raise ProtocolError(f"SMDP frame has an invalid escape at byte {i + 1}")
            out.append(_UNESCAPES[raw[i + 1]])
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


def encode_frame(address: int, command: int, data: bytes = b"") -> bytes:
    """Build a complete frame (used for requests by the driver and replies by the emulator)."""
    if not 0 <= address <= 0xFF or not 0 <= command <= 0xFF:
        raise ValueError(f"SMDP address {address!r} / command {command!r} must be bytes")
    content = bytes([address, command]) + data
    return bytes([STX]) + escape(content) + checksum_chars(checksum(content)) + bytes([CR])


def decode_frame(raw: bytes) -> Frame:
    """Split ``STX ... CR`` into address, command and data; raise :class:`ProtocolError` if it is not a frame."""
    if len(raw) < 2 or raw[0] != STX or raw[-1] != CR:
        raise ProtocolError(f"SMDP frame must run from STX to CR: {raw[:20]!r}")
    body = unescape(raw[1:-1])
    if len(body) < 4:
        raise ProtocolError(f"SMDP frame too short: {raw!r}")
    ck1, ck2 = body[-2], body[-1]
    if not (0x30 <= ck1 <= 0x3F and 0x30 <= ck2 <= 0x3F):
        raise ProtocolError(f"SMDP checksum characters out of range: {raw[:30]!r}")
    content = body[:-2]
    received = ((ck1 - 0x30) << 4) | (ck2 - 0x30)
    return Frame(content[0], content[1], content[2:], checksum(content) == received)


class Stm2Smdp(StmCommandDriver):
    """INFICON STM-2 on its USB port (SMDP framing, STM command vocabulary)."""

    # No measurement rate is given for the wire; an exchange over USB takes a few ms, so the 0.1 s pace
    # of the Sycon model is kept (the emulator refreshes its values at that pace too).
    info = DriverInfo(
        protocol="stm2", title="INFICON STM-2 (USB, SMDP)", default_baud=115200, max_sensors=1, measurement_period_s=0.1
    )

    def __init__(
        self,
        transport: Transport,
        sensors: tuple[int, ...] = (1,),
        *,
        address: int = DEFAULT_ADDRESS,
        with_film: bool = False,
    ) -> None:
        if not 0x10 <= address <= 0xFE:
            raise ValueError(f"SMDP address {address:#x} outside 0x10..0xFE")
        super().__init__(transport, sensors, with_film=with_film)
        self.address = address

    def query(self, message: str) -> str:
        """Send one ASCII command in a 0x80 frame; return the reply DATA as text.

        A set power-fail flag is acknowledged with ``?`` once, and the reply is still used.
        """
        code, data = self._transact(USRAPI, message.encode("ascii"))
        if code & POWER_FAIL:
            self.power_was_lost = True
            try:
                self._transact(USRAPI, b"?")
            except (ProtocolError, ReplyTimeout):
                pass  # still flagged on the unit; the next reply tries again
        response = code & 0x07
        if response != RSP_OK:
            raise CommandRejected(f"{self.info.title} refused {message!r}: {RESPONSE_TEXT[response]}")
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.info.title} reply to {message!r} is not ASCII") from None

    def acknowledge_power_loss(self) -> None:
        """Set the unit's power-fail flag back to clear (``?``, USRAPI_ackPfail)."""
        code, _ = self._transact(USRAPI, b"?")
        if code & 0x07 != RSP_OK:
            raise CommandRejected(f"{self.info.title} refused '?': {RESPONSE_TEXT[code & 0x07]}")

    def _transact(self, command: int, data: bytes) -> tuple[int, bytes]:
        """One exchange; returns the reply's CMD_RSP byte and DATA after checking group and code."""
        self.transport.reset_input_buffer()
        self.transport.write(encode_frame(self.address, command, data))
        code, payload = self._read_reply()
        if code >> 4 != command >> 4:
            raise ProtocolError(f"{self.info.title} answered group {code >> 4:#x} to a {command:#04x} command")
        if code & 0x07 == 0:
            raise ProtocolError(f"{self.info.title} reply has response code 0 (CMD_RSP {code:#04x})")
        return code, payload

    def _read_reply(self) -> tuple[int, bytes]:
        """Read frames up to CR until one from our address arrives.

        The last STX before the CR starts the frame (STX never occurs inside one), so noise before it
        is dropped. Garbage and foreign frames are skipped; a frame of ours with a bad checksum is
        a damaged reply and raises at once, so a checksum storm costs no timeouts.
        """
        skipped: ProtocolError | None = None
        for _ in range(_MAX_FOREIGN_FRAMES):
            try:
                chunk = self.transport.read_until(bytes([CR]), MAX_FRAME)
            except ReplyTimeout:
                if skipped is not None:
                    raise skipped from None
                raise
            start = chunk.rfind(STX)
            try:
                if start < 0:
                    raise ProtocolError(f"{self.info.title}: bytes without STX before CR: {chunk[:20]!r}")
                frame = decode_frame(chunk[start:])
            except ProtocolError as exc:
                skipped = skipped or exc
                continue
            if frame.address != self.address:
                skipped = skipped or ProtocolError(f"{self.info.title}: frame from address {frame.address:#04x}")
                continue
            if not frame.checksum_ok:
                raise ProtocolError(f"{self.info.title} reply checksum mismatch in {chunk[start:]!r}")
            return frame.command, frame.data
        raise skipped or ProtocolError(f"{self.info.title}: no reply frame")


PROTOCOLS = (
    ProtocolSpec(
        Stm2Smdp,
        "instruments.emulators.smdp:Stm2SmdpEmulator",
        options=(
            OptionSpec(
                "address",
                int,
                DEFAULT_ADDRESS,
                "SMDP address",
                minimum=0x10,
                maximum=0xFE,
                help="the unit's SMDP address (0x10 unless changed on the unit; hex like 0x22 is read too)",
            ),
            WITH_FILM,
        ),
    ),
)
