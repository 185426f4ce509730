"""Readings per second each driver achieves against its emulator at the protocol's default baud.

The emulator paces every reply as the serial line would (10 bits per byte at the baud rate, plus
a 2 ms instrument latency), so polled protocols are limited by their frame sizes; streaming
instruments deliver at their own rate. Prints JSON.

    .venv/bin/python benchmarks/link_rates.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instruments.base import InstrumentError
from instruments.emulators.base import ConstantSource, PtyServer
from instruments.registry import available_protocols, driver_class, emulator_class
from instruments.transport import open_transport


def measure(protocol: str, seconds: float) -> dict[str, object]:
    info = driver_class(protocol).info
    # polled instruments: a fresh value on every request, so the link is the only limit
    period = info.measurement_period_s if info.streaming else 0.0
    emulator = emulator_class(protocol)(ConstantSource(), seed=1, measurement_period_s=period)
    with PtyServer(emulator, baud=info.default_baud) as server:
        driver = driver_class(protocol)(open_transport(server.port, info.default_baud, timeout_s=1.5))
        try:
            ident = driver.identify()
            driver.start()
            readings = errors = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                try:
                    driver.read()
                    readings += 1
                except InstrumentError:
                    errors += 1
            elapsed = time.perf_counter() - t0
        finally:
            driver.close()
    rate = readings / elapsed
    return {
        "title": info.title,
        "baud": info.default_baud,
        "mode": "streamed" if info.streaming else "polled",
        "identify": ident,
        "readings_per_s": round(rate, 2),
        "errors": errors,
        # what the app records: the instrument refreshes its value once per measurement period
        "fresh_readings_per_s": round(min(rate, 1.0 / info.measurement_period_s), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    out = {p: measure(p, args.seconds) for p in sorted(available_protocols())}
    print(json.dumps({"benchmark": "link_rates", "seconds_per_protocol": args.seconds, "protocols": out}, indent=2))


if __name__ == "__main__":
    main()
