"""An INFICON STM-2 answering SMDP on its USB port (the framing is described in :mod:`instruments.smdp`).

The commands are the STM vocabulary of :class:`~instruments.emulators.sycon.StmCommandSet`; only the
framing, the response codes and the power-fail bit are SMDP's.
"""

from __future__ import annotations

from instruments.base import ProtocolError
from instruments.emulators.base import EmulatedInstrument, SignalSource
from instruments.emulators.sycon import Outcome, StmCommandSet
from instruments.smdp import (
    ACKPF,
    CR,
    DEFAULT_ADDRESS,
    MAX_FRAME,
    POWER_FAIL,
    RSP_OK,
    STX,
    USRAPI,
    checksum,
    checksum_chars,
    decode_frame,
    encode_frame,
)

_RESPONSE = {
    Outcome.OK: RSP_OK,
    Outcome.ILLEGAL_COMMAND: 2,
    Outcome.ILLEGAL_MODIFIER: 3,
    Outcome.ILLEGAL_DATA: 4,
}


class Stm2SmdpEmulator(EmulatedInstrument):
    """Request/reply only; frames may arrive split or several at once.

    STX always starts a new frame (it cannot occur inside one), so noise never swallows a request.
    Frames that are malformed, damaged, for another address or with an unknown opcode are ignored,
    as the manual says the unit does.
    """

    model = "STM-2 V1.0"
    #: change after construction to emulate a unit on an RS-485 bus (0x11..0xFE)
    address = DEFAULT_ADDRESS

    def __init__(self, source: SignalSource, *, seed: int = 0, measurement_period_s: float = 0.1) -> None:
        super().__init__(source, seed=seed, measurement_period_s=measurement_period_s)
        self.commands = StmCommandSet(self, model=self.model, stm2=True)

    def handle(self, data: bytes) -> list[bytes]:
        replies = []
        self._buf += data
        while True:
            if not self._skip_to(bytes([STX])):
                break
            end = self._buf.find(CR)
            restart = self._buf.find(STX, 1, end if end >= 0 else len(self._buf))
            if restart > 0:
                del self._buf[:restart]  # a new STX abandons the unfinished frame
                continue
            if end < 0:
                if len(self._buf) > MAX_FRAME:
                    self._buf.clear()
                break
            raw = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            reply = self._answer(raw)
            if reply is not None:
                replies.append(reply)
        return replies

    def _answer(self, raw: bytes) -> bytes | None:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            return None
        if not frame.checksum_ok or frame.address != self.address:
            return None
        if frame.command == ACKPF:
            self.commands.power_lost = False
            return encode_frame(self.address, ACKPF | RSP_OK)
        if frame.command != USRAPI:
            return None
        if frame.data:
            outcome, payload = self.commands.answer(frame.data)
        else:
            outcome, payload = Outcome.ILLEGAL_COMMAND, b""
        flag = POWER_FAIL if self.commands.power_lost else 0
        return encode_frame(self.address, USRAPI | flag | _RESPONSE[outcome], payload)

    def empty_reply(self, frame: bytes) -> bytes:
        """The same address and response with no DATA: the STM-2's "no value" (see instruments.smdp)."""
        try:
            decoded = decode_frame(frame)
        except ProtocolError:
            return b""
        return encode_frame(decoded.address, decoded.command)

    def corrupt(self, frame: bytes) -> bytes:
        """The frame with two different, still well-formed checksum characters."""
        try:
            decoded = decode_frame(frame)
        except ProtocolError:
            return super().corrupt(frame)
        value = checksum(bytes([decoded.address, decoded.command]) + decoded.data)
        wrong = (value + 1 + self.rng.randrange(255)) % 256
        return frame[:-3] + checksum_chars(wrong) + bytes([CR])
