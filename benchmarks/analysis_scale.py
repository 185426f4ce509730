"""Speed and memory of the cycle analysis at scale, beside a change-point baseline in the same run.

Traces are made here with numpy (a plain TMA/H2O-like step train: +40.5 / -3.5 ng/cm² every 30.2 s,
0.3 ng/cm² white noise, printed to 0.12 ng/cm²), so the figures depend on the engine, not on a
simulator. Measured (``time.perf_counter``; the machine is shared, so each figure is the best of
``--repeats``):

- ``analyze_24h``: ``analyze_mass`` on 24 h at 10 Hz (864k rows) with the recipe stretched to the
  day; ``qcm analyze`` of the same trace as a CSV, end to end, as a subprocess;
- ``baseline``: ruptures ``KernelCPD(kernel="linear")`` on the same day binned to 2 Hz (the
  baseline of ``benchmarks/accuracy.py``), with its penalty set to the trace's noise;
- ``online``: the first two hours fed in 10-sample chunks (1 s at 10 Hz, as the worker delivers it),
  µs per sample, and whether the result equals the one-shot result;
- ``no_recipe_2m``: 2 million rows at 10 Hz without a recipe;
- ``memory_vs_repeat``: peak Python memory (tracemalloc) analysing one hour with the same recipe
  declared with ``repeat`` 120 and 10,000,000.

    .venv/bin/python benchmarks/analysis_scale.py [--repeats 2] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qcm_app.analysis import LiveAnalysis, analyze_mass  # noqa: E402
from qcm_app.domain.recipes import parse_recipe  # noqa: E402

PERIOD_S = 30.2
FACTOR = 12.27  # ng/cm² per Hz at 6 MHz


def recipe_text(repeat: int) -> str:
    return f"""name = "step train"
[[blocks]]
name = "Al2O3"
repeat = {repeat}
[[blocks.steps]]
name = "TMA"
kind = "pulse"
duration_s = 0.1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 15
[[blocks.steps]]
name = "H2O"
kind = "pulse"
duration_s = 0.1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 15
"""


def trace(hours: float, rate_hz: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, hours * 3600.0, 1.0 / rate_hz)
    k = np.floor(t / PERIOD_S)
    phase = t - k * PERIOD_S
    m = k * 37.0 + np.where(phase >= 0.3, 40.5, 0.0) + np.where(phase >= 15.4, -3.5, 0.0)
    m = m + 0.3 * rng.standard_normal(t.size)
    return t, np.round(m / 0.12) * 0.12


def best(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-baseline", action="store_true")
    args = p.parse_args()
    out: dict[str, Any] = {}

    cycles_day = int(24 * 3600 / PERIOD_S) - 1
    recipe = parse_recipe(recipe_text(cycles_day))
    t, m = trace(24, 10.0)
    secs, res = best(lambda: analyze_mass(t, m, recipe), args.repeats)
    out["analyze_24h"] = {
        "rows": int(t.size),
        "cycles_found": len(res.cycles),
        "cycles_true": cycles_day,
        "analysis_s": round(secs, 3),
    }
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "day.csv"
        f = 6e6 - m / FACTOR
        np.savetxt(csv, np.c_[t, f], delimiter=",", header="time_s,frequency_hz", comments="", fmt="%.3f")
        toml = Path(tmp) / "day.toml"
        toml.write_text(recipe_text(cycles_day))
        cmd = [
            sys.executable,
            "-m",
            "qcm_app",
            "analyze",
            str(csv),
            "--recipe",
            str(toml),
            "--crystal-mhz",
            "6",
            "--json",
            str(Path(tmp) / "out.json"),
            "--overwrite",
        ]  # each repeat writes the same file
        secs_cmd, proc = best(lambda: subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT), args.repeats)
        found = re.search(r": (\d+) cycles", proc.stdout)
        if proc.returncode != 0:
            raise SystemExit(f"qcm analyze failed: {proc.stderr.strip()}")
        out["analyze_24h"]["command_s"] = round(secs_cmd, 3)
        out["analyze_24h"]["command_cycles"] = int(found.group(1)) if found else None

    if not args.skip_baseline:
        import ruptures as rpt

        n = int(t.size // 5) * 5
        binned = m[:n].reshape(-1, 5).mean(axis=1)
        sigma = float(np.median(np.abs(np.diff(binned)))) * 1.4826 / np.sqrt(2)

        def kcpd() -> list[int]:
            return (
                rpt.KernelCPD(kernel="linear", min_size=2)
                .fit(binned.reshape(-1, 1))
                .predict(pen=3 * sigma * sigma * np.log(binned.size))
            )

        secs_b, bkps = best(kcpd, args.repeats)
        out["baseline"] = {
            "method": "ruptures KernelCPD linear, 2 Hz bins",
            "seconds": round(secs_b, 3),
            "change_points": len(bkps) - 1,
            "true_steps": 2 * cycles_day,
        }

    t2, m2 = t[t < 7200], m[t < 7200]
    rec2 = parse_recipe(recipe_text(int(7200 / PERIOD_S) - 1))

    def chunked() -> LiveAnalysis:
        live = LiveAnalysis(rec2)
        for i in range(0, t2.size, 10):
            live.feed(t2[i : i + 10], m2[i : i + 10])
        live.finish()
        return live

    secs_o, live = best(chunked, args.repeats)
    one = analyze_mass(t2, m2, rec2)
    same = len(one.cycles) == len(live.cycles) and all(
        a.same_as(b) for a, b in zip(one.cycles, live.cycles, strict=True)
    )
    out["online"] = {
        "rows": int(t2.size),
        "us_per_sample": round(secs_o / t2.size * 1e6, 2),
        "live_equals_offline": same,
    }

    t3, m3 = trace(2e6 / 10 / 3600, 10.0, seed=2)
    secs_n, res_n = best(lambda: analyze_mass(t3, m3, None), 1)
    out["no_recipe_2m"] = {
        "rows": int(t3.size),
        "seconds": round(secs_n, 3),
        "cycles_found": len(res_n.cycles),
        "cycles_true": int(t3[-1] // PERIOD_S),
    }

    t4, m4 = trace(1, 10.0, seed=3)
    peaks = {}
    for repeat in (120, 10_000_000):
        tracemalloc.start()
        r4 = analyze_mass(t4, m4, parse_recipe(recipe_text(repeat)))
        peaks[str(repeat)] = {"peak_mb": round(tracemalloc.get_traced_memory()[1] / 1e6, 2), "cycles": len(r4.cycles)}
        tracemalloc.stop()
    out["memory_vs_repeat"] = peaks
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
