"""Runs with valve markers from the simulated reactor, for the tests and benchmarks of marker-driven
analysis: a clean run, an empty bottle (the valve fires, nothing arrives), and a tool that departs
from its recipe (a skipped pulse, a pause). Each gives a :class:`RunData` as an importer would, with
``valve_pulses`` on the run's clock, plus the model holding the truth.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qcm_app.domain.recipes import Recipe
from qcm_app.io.runfile import RunData, RunMetadata
from qcm_app.simulation.reactor import Depletion, ProcessModel, ReactorSettings, sample_run


def marker_run(
    recipe: Recipe,
    settings: ReactorSettings | None = None,
    rate_hz: float = 2.0,
) -> tuple[RunData, ProcessModel]:
    """The reactor sampled at ``rate_hz`` with its valve pulses; time starts at the first sample."""
    model = ProcessModel(recipe, settings or ReactorSettings())
    sampled = sample_run(model, rate_hz)
    origin = float(sampled.time_s[0])
    pulses = tuple(replace(p, time_s=p.time_s - origin) for p in model.valve_pulses())
    meta = RunMetadata()
    meta.start_frequency_hz = (float(sampled.frequency_hz[np.isfinite(sampled.frequency_hz)][0]),)
    meta.recipe_name = recipe.name
    meta.extra["Source format"] = "simulated reactor with valve markers"
    run = RunData(
        metadata=meta,
        time_s=sampled.time_s - origin,
        frequency_hz=sampled.frequency_hz[:, None],
        source="<simulated>",
        valve_pulses=pulses,
    )
    return run, model


def empty_bottle_run(
    recipe: Recipe, precursor: str, first_pulse: int, pulses: int = 1_000_000_000, seed: int = 1, rate_hz: float = 2.0
) -> tuple[RunData, ProcessModel]:
    """``precursor``'s bottle runs dry at its ``first_pulse``-th pulse (for ``pulses`` pulses): its
    valve keeps firing and the transient still shows, but no mass arrives."""
    settings = ReactorSettings(seed=seed, depleted=(Depletion(precursor, first_pulse, pulses),))
    return marker_run(recipe, settings, rate_hz)


def departed_run(
    recipe: Recipe,
    skipped_pulses: tuple[int, ...] = (),
    pauses: tuple[tuple[int, float], ...] = (),
    seed: int = 1,
    rate_hz: float = 2.0,
) -> tuple[RunData, ProcessModel]:
    """The tool departs from ``recipe``: it skips the run-wide pulses ``skipped_pulses`` (from 1) and
    pauses ``(cycle, seconds)`` before those cycles; the markers show what it really did."""
    settings = ReactorSettings(seed=seed, skipped_pulses=tuple(skipped_pulses), pauses=tuple(pauses))
    return marker_run(recipe, settings, rate_hz)
