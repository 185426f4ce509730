"""A protocol that exists only in the tests: it proves that a declaration alone puts a protocol and
its options into the command line and the connection dialog."""

from __future__ import annotations

from collections.abc import Mapping

from instruments.base import Driver, DriverInfo, Reading
from instruments.emulators.sqm160 import Sqm160Emulator
from instruments.protocol_spec import Choice, OptionSpec, OptionValue, ProtocolSpec
from instruments.transport import Transport

NAME = "madeup"


class MadeUpMeter(Driver):
    """Takes one option of every kind and keeps them, so a test can see what arrived."""

    info = DriverInfo(
        protocol=NAME,
        title="Made-up meter (tests only)",
        default_baud=4800,
        max_sensors=2,
        measurement_period_s=0.5,
        bauds=(2400, 4800),
    )

    def __init__(
        self,
        transport: Transport,
        sensors: tuple[int, ...] = (1,),
        *,
        rate_hz: int = 10,
        mode: str = "fast",
        gain: float = 1.0,
        tag: str = "",
        averaging: bool = False,
        channel: int | None = None,
    ) -> None:
        super().__init__(transport, sensors)
        self.options = {
            "rate_hz": rate_hz,
            "mode": mode,
            "gain": gain,
            "tag": tag,
            "averaging": averaging,
            "channel": channel,
        }

    def identify(self) -> str:
        return "made-up meter"

    def read(self) -> Reading:
        raise NotImplementedError("the made-up meter is never read")


def _conflict(options: Mapping[str, OptionValue]) -> str:
    rate = options.get("rate_hz")
    if options.get("mode") == "slow" and isinstance(rate, int) and rate > 100:
        return "A slow mode cannot sample faster than 100 Hz."
    return ""


SPEC = ProtocolSpec(
    MadeUpMeter,
    Sqm160Emulator,
    options=(
        OptionSpec("rate_hz", int, 10, "Rate", unit="Hz", minimum=1, maximum=500, help="samples per second"),
        OptionSpec(
            "mode",
            str,
            "fast",
            "Mode",
            choices=(Choice("fast", "fast", "Fast"), Choice("slow", "slow", "Slow")),
            help="how the meter integrates",
        ),
        OptionSpec("gain", float, 1.0, "Gain", minimum=0.5, maximum=4.0, decimals=2, help="front-end gain"),
        OptionSpec("tag", str, "", "Tag", help="a free text written by the meter"),
        OptionSpec("averaging", bool, False, "Average pairs of samples", help="halves the noise"),
        OptionSpec(
            "channel",
            int,
            None,
            "Channel",
            minimum=0,
            maximum=7,
            counts_from_one=True,
            none_label="all channels",
            help="one input channel, counting from 1",
        ),
    ),
    options_title="Made-up meter settings",
    conflict=_conflict,
)
