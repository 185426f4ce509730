"""Recipes from files: our TOML, the tool's executed recipe, and the shipped presets. The recipe
model and its TOML parser are pure (:mod:`qcm_app.domain.recipes`); reading files is here."""

from __future__ import annotations

from pathlib import Path

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.recipes import DEFAULT_PRESET, PRESET_DIR, Recipe, parse_recipe
from qcm_app.io.fileio import read_text


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe file; any problem becomes a one-line :class:`UserInputError` naming file and line."""
    path = Path(path)
    from qcm_app.io.importers import labview  # the tool's executed recipe is a recipe too (lazy: no cycle)

    if labview.is_execution_table(path):
        return labview.load_execution_table(path)
    return parse_recipe(read_text(path, "recipe file"), source=str(path))


def preset_paths() -> dict[str, Path]:
    """The shipped presets by stem, e.g. ``{"al2o3": Path(...)}``."""
    return {p.stem: p for p in sorted(PRESET_DIR.glob("*.toml"))}


def load_preset(name: str = DEFAULT_PRESET) -> Recipe:
    paths = preset_paths()
    if name not in paths:
        raise UserInputError(f"no preset recipe {name!r}; presets: {', '.join(paths)}")
    return load_recipe(paths[name])


def resolve_recipe(spec: str | Path | None) -> Recipe:
    """A file path or a preset name (``None`` gives the demo default)."""
    if spec is None:
        return load_preset()
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        return load_recipe(path)
    return load_preset(str(spec))
