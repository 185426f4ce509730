"""How long a day-long run takes to analyse and to report: prints JSON, one object per case.

A recipe preset's block repeats are scaled so the simulated run lasts ``--hours`` (24 h at 10 Hz is
about 860k samples); the run is written as a plain ``time_s,frequency_hz`` CSV, like a vendor log.
Simulation and writing the CSV are not timed; ``analysis_s`` is ``analyze_file`` (reading the CSV,
segmenting, classifying) and ``report_s`` is ``write_report`` (HTML, PDF, CSV, JSON, atomically).

    .venv/bin/python benchmarks/report_speed.py [--hours 24] [--rate 10] [--preset al2o3 ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qcm_app.domain.recipes import Recipe  # noqa: E402
from qcm_app.io.offline import analyze_file  # noqa: E402
from qcm_app.io.recipe_files import load_preset  # noqa: E402
from qcm_app.report import write_report  # noqa: E402
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run  # noqa: E402


def scaled_recipe(name: str, hours: float) -> tuple[Recipe, str]:
    """The preset with every block's repeat multiplied by one factor so the run lasts ``hours``,
    and its TOML text with the new repeats (so the analysis reads exactly that recipe)."""
    recipe = load_preset(name)
    factor = hours * 3600.0 / recipe.duration_s
    repeats = [max(1, round(b.repeat * factor)) for b in recipe.blocks]
    blocks = tuple(replace(b, repeat=r) for b, r in zip(recipe.blocks, repeats, strict=True))
    it = iter(repeats)
    text = re.sub(r"(?m)^repeat\s*=\s*\d+", lambda _m: f"repeat = {next(it)}", recipe.text)
    return replace(recipe, blocks=blocks, text=text), text


def run_case(preset: str, hours: float, rate_hz: float, folder: Path) -> dict[str, object]:
    recipe, text = scaled_recipe(preset, hours)
    t0 = time.perf_counter()
    run = sample_run(ProcessModel(recipe, ReactorSettings(seed=11)), rate_hz)
    simulate_s = time.perf_counter() - t0
    toml = folder / f"{preset}.toml"
    toml.write_text(text, encoding="utf-8")
    csv = folder / f"{preset}_{hours:g}h.csv"
    np.savetxt(
        csv,
        np.column_stack((run.time_s, run.frequency_hz)),
        delimiter=",",
        fmt="%.4f",
        header="time_s,frequency_hz",
        comments="",
    )
    t0 = time.perf_counter()
    analyzed = analyze_file(csv, recipe=str(toml))
    analysis_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    files = write_report(analyzed, folder / f"{preset}_report")
    report_s = time.perf_counter() - t0
    return {
        "preset": preset,
        "hours": hours,
        "rate_hz": rate_hz,
        "samples": int(run.time_s.size),
        "cycles_true": recipe.total_cycles,
        "cycles_found": files.cycles,
        "simulate_s": round(simulate_s, 2),
        "analysis_s": round(analysis_s, 2),
        "report_s": round(report_s, 2),
        "pdf_pages": files.pdf_pages,
        "pdf_bytes": files.pdf.stat().st_size,
        "html_bytes": files.html_bytes,
        "csv_bytes": files.csv.stat().st_size,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--rate", type=float, default=10.0, help="samples per second")
    p.add_argument("--preset", action="append", help="recipe preset(s) (default: al2o3 and ligl_on_al2o3)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # a first small report pays matplotlib's one-off costs (imports, font cache), as any long-lived
        # process would have paid them already; it is not part of the figures
        (Path(tmp) / "warm").mkdir()
        warm = run_case("al2o3", 0.3, args.rate, Path(tmp) / "warm")
        results = [
            run_case(name, args.hours, args.rate, Path(tmp)) for name in args.preset or ["al2o3", "ligl_on_al2o3"]
        ]
    print(json.dumps({"warm_up_report_s": warm["report_s"], "cases": results}, indent=2))


if __name__ == "__main__":
    main()
