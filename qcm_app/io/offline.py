"""Offline analysis of a recorded run or vendor log: ``qcm analyze`` and the reports start here.

A run file of ours carries its recipe in the header, so the analysis can be re-run from the file
alone; a ``--recipe`` overrides it. Mass comes from frequency by Sauerbrey, exactly as live.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcm_app.analysis import AnalysisResult, LiveAnalysis, json_text
from qcm_app.analysis.engine import VALVE_TIMELINE
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import analysis_markers
from qcm_app.domain.physics import CrystalSettings, sauerbrey_factor_ng_cm2_per_hz
from qcm_app.domain.recipes import Recipe, parse_recipe
from qcm_app.io.fileio import check_output, write_output_text
from qcm_app.io.recipe_files import resolve_recipe
from qcm_app.io.runfile import RunData


@dataclass
class AnalyzedRun:
    run: RunData
    recipe: Recipe | None
    time_s: np.ndarray
    mass_ng_cm2: np.ndarray
    result: AnalysisResult
    start_frequency_hz: float
    factor_ng_cm2_per_hz: float


def timeline_text(analyzed: AnalyzedRun) -> str:
    """What timed the cycles, as the summary line says it."""
    if analyzed.recipe is not None:
        return f"recipe: {analyzed.recipe.name}"
    if analyzed.result.recipe_name == VALVE_TIMELINE:
        return "no recipe: cycles from the tool's valves"
    return "no recipe: pattern inferred"


def recipe_for(run: RunData, spec: str | None) -> Recipe | None:
    """The recipe given on the command line, else the one embedded in the run file, else none."""
    if spec:
        return resolve_recipe(spec)
    text = run.metadata.recipe_text
    if text.strip():
        try:
            return parse_recipe(text, source=f"{run.source} (embedded recipe)")
        except UserInputError as exc:
            raise UserInputError(f"the recipe embedded in the header is malformed: {exc.detail}", run.source) from None
    return None


def run_mass(run: RunData, crystal_mhz: float | None = None) -> tuple[np.ndarray, float, float]:
    """(mass of the primary sensor, start frequency, Sauerbrey factor); ``crystal_mhz`` replaces the
    measured starting frequency in the Sauerbrey constant when given."""
    f = run.frequency_hz[:, 0] if run.frequency_hz.ndim == 2 else run.frequency_hz
    valid = f[np.isfinite(f)]
    if valid.size == 0:
        raise UserInputError("no valid frequency readings", run.source)
    start = run.metadata.start_frequency_hz[0] if run.metadata.start_frequency_hz else math.nan
    if not math.isfinite(start):
        start = float(valid[0])
    crystal = run.metadata.crystal or CrystalSettings()
    f0 = crystal_mhz * 1e6 if crystal_mhz else start
    try:
        factor = sauerbrey_factor_ng_cm2_per_hz(f0, crystal)
    except ValueError as exc:
        raise UserInputError(f"cannot compute mass: {exc}", run.source) from None
    return (start - f) * factor, start, factor


def name_valves(run: RunData, recipe: Recipe | None, valves: Sequence[str] = ()) -> None:
    """Give each valve channel of ``run`` its precursor, in place: ``valves`` (``TMA=Mod8/do1``) first,
    then the names the log or run file carries, then the recipe's pulse order (said in a warning).
    ``qcm analyze``, the reports and replay all name them here."""
    from qcm_app.domain.markers import name_channels, parse_valve_options, recipe_pulse_sequence

    if valves:
        run.valve_pulses = tuple(name_channels(run.valve_pulses, valve_map=parse_valve_options(valves))[0])
    if recipe is not None and any(not p.precursor for p in run.valve_pulses):
        pulses, notes = name_channels(run.valve_pulses, recipe_pulse_names=recipe_pulse_sequence(recipe))
        run.valve_pulses = tuple(pulses)
        run.warnings.extend(notes)


def analyze_file(
    path: str | Path,
    recipe: str | None = None,
    crystal_mhz: float | None = None,
    density_g_cm3: float | None = None,
    valves: Sequence[str] = (),
) -> AnalyzedRun:
    """``valves`` (``TMA=Mod8/do1``) say which precursor each valve column of the log doses."""
    from qcm_app.io.importers import load_run

    run = load_run(path)
    rec = recipe_for(run, recipe)
    name_valves(run, rec, valves)
    mass, start, factor = run_mass(run, crystal_mhz)
    densities = {b.name: density_g_cm3 for b in rec.blocks} if (rec and density_g_cm3) else None
    # density: --density for every block, else the recipe's per block, else the log's film density
    log_density = run.metadata.density_g_cm3 if math.isfinite(run.metadata.density_g_cm3) else None
    live = LiveAnalysis(
        rec,
        densities=densities,
        default_density_g_cm3=density_g_cm3 or log_density,
        markers=analysis_markers(run.valve_pulses),
    )
    live.feed(run.time_s, mass)
    live.finish()
    return AnalyzedRun(
        run=run,
        recipe=rec,
        time_s=run.time_s,
        mass_ng_cm2=mass,
        result=live.result(str(path)),
        start_frequency_hz=start,
        factor_ng_cm2_per_hz=factor,
    )


def print_import_warnings(run: RunData) -> None:
    """What the importer dropped or repaired, on stderr: rows are never lost without a word."""
    for warning in run.warnings:
        print(f"qcm: warning: {run.source}: {warning}", file=sys.stderr)


def add_analyze_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run file of ours, a vendor log, or a CSV with columns time_s,frequency_hz")
    p.add_argument("--recipe", help="recipe TOML or preset name (default: the one in the run file, else none)")
    p.add_argument("--crystal-mhz", type=float, help="f0 for the Sauerbrey constant (default: measured start)")
    p.add_argument("--density", type=float, help="film density in g/cm³ for Å/cycle (all blocks)")
    p.add_argument("--json", type=Path, help="write the cycles and regimes as JSON here (a new file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument(
        "--valve",
        action="append",
        metavar="NAME=COLUMN",
        help="which precursor a 0/1 valve column doses, e.g. TMA=Mod8/do1 (repeatable)",
    )


def run_analyze(args: argparse.Namespace) -> int:
    if args.density is not None and not (math.isfinite(args.density) and args.density > 0):
        raise UserInputError("--density must be a positive number of g/cm³")
    if args.crystal_mhz is not None and not 0.5 < args.crystal_mhz < 100:
        raise UserInputError("--crystal-mhz must be a crystal frequency in MHz, e.g. 6 or 5")
    if args.crystal_mhz is not None and not math.isfinite(args.crystal_mhz):
        raise UserInputError("--crystal-mhz must be a crystal frequency in MHz, e.g. 6 or 5")
    inputs = [args.run] + ([args.recipe] if args.recipe and Path(args.recipe).exists() else [])
    if args.json:  # refused before minutes of analysis, and checked again when written
        check_output(args.json, inputs=inputs, overwrite=args.overwrite, what="--json")
    analyzed = analyze_file(args.run, args.recipe, args.crystal_mhz, args.density, getattr(args, "valve", None) or ())
    print_import_warnings(analyzed.run)
    res = analyzed.result
    out = sys.stdout
    print(f"{args.run}: {len(res.cycles)} cycles ({timeline_text(analyzed)})", file=out)
    for b in res.regimes.blocks:
        print(f"  {b.message()}", file=out)
    from qcm_app.domain.markers import valves_vs_recipe_text

    for line in valves_vs_recipe_text(analyzed.run.valve_pulses, analyzed.recipe):
        print(f"  {line}", file=out)
    if args.json:
        write_output_text(
            args.json, json_text(res.to_json_dict()), inputs=inputs, overwrite=args.overwrite, what="--json"
        )
        print(f"wrote {args.json}", file=out)
    return 0
