"""The faults a real link shows, as probabilities an :class:`~instruments.emulators.server.EmulatorServer`
applies per reply or frame."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """Fault probabilities per reply/frame; change them at any time (e.g. from a test)."""

    corrupt_checksum: float = 0.0
    noise_bytes: float = 0.0
    drop_reply: float = 0.0
    empty_reply: float = 0.0
    #: every reply is held back this long (a stalled device); 0 = off
    stall_s: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """``"corrupt=0.1,noise=0.05,drop=0.02,empty=0.02,stall=3"`` (the CLI's --faults)."""
        names = {
            "corrupt": "corrupt_checksum",
            "noise": "noise_bytes",
            "drop": "drop_reply",
            "empty": "empty_reply",
            "stall": "stall_s",
        }
        out = cls()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, _, value = part.partition("=")
            if key not in names:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(names)}")
            try:
                setattr(out, names[key], float(value))
            except ValueError:
                raise ValueError(f"fault {key!r} needs a number, got {value!r}") from None
        return out
