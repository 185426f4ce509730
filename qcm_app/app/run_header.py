"""The header of a run file, from the settings, the recipe and the densities the user typed; and
what a replayed file's header says about the speed it was taken at."""

from __future__ import annotations

from collections.abc import Mapping

from qcm_app.domain.pipeline import FilmSettings
from qcm_app.domain.recipes import Recipe
from qcm_app.io.runfile import RunMetadata


def recorded_speed_note(meta: RunMetadata) -> str:
    """'recorded from a simulator at 10×' for a run that was not taken in real time."""
    simulated = "Simulated" in meta.extra or "Sped up" in meta.extra
    if meta.time_scale != 1.0:
        return f"recorded {'from a simulator ' if simulated else ''}at {meta.time_scale:g}× real time"
    return "recorded from a simulator" if "Simulated" in meta.extra else ""


def film_for(settings: FilmSettings, recipe: Recipe | None, densities: Mapping[str, float]) -> FilmSettings:
    """The film of the instrument-style thickness column: the settings' film at the density of the
    recipe's first growing block (the one the user typed, else the recipe's), if it has one."""
    film = FilmSettings(settings.density_g_cm3, settings.z_ratio, settings.tooling_pct)
    if recipe is not None:  # the first block grows first; the worker follows the blocks from there
        first = next((b for b in recipe.blocks if not b.is_wait), None)
        density = (densities.get(first.name) or first.density_g_cm3) if first is not None else None
        if density:
            film.density_g_cm3 = density
    return film


def run_metadata(operator_note: str, recipe: Recipe | None, densities: Mapping[str, float]) -> RunMetadata:
    """The header of a new run file: the note, the recipe (whole, so the file alone re-runs the
    analysis) and the density of each block."""
    meta = RunMetadata(operator_note=operator_note)
    if recipe is not None:
        meta.recipe_name = recipe.name
        meta.recipe_file = recipe.source
        meta.recipe_text = recipe.text
        blocks = [(b.name, densities.get(b.name, b.density_g_cm3)) for b in recipe.blocks if not b.is_wait]
        if any(d for _, d in blocks):
            meta.extra["Block densities"] = "; ".join(
                f"{name} {d:g} g/cm3" if d else f"{name} not set" for name, d in blocks
            )
            meta.extra["Thickness"] = (
                "per block: the Thickness column grows at each block's density from "
                "the end of the previous block (Film density: the first block's)"
            )
    return meta
