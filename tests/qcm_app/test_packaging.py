"""The installed distribution: its version everywhere, its presets as package data, its PySide6 pin.

(Building the wheel and sdist and running them from a fresh venv is CI's job: .ci/wheel_smoke.py.)
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

import qcm_app
from qcm_app.domain.recipes import PRESET_DIR
from qcm_app.io.recipe_files import preset_paths
from qcm_app.resources import resource_dir

ROOT = Path(__file__).resolve().parents[2]
QCM = Path(sys.executable).with_name("qcm")


def test_version_is_the_distributions_everywhere(tmp_path: Path) -> None:
    installed = importlib.metadata.version("qcm-monitor")
    assert qcm_app.__version__ == installed
    for command in ([str(QCM), "--version"], [sys.executable, "-m", "qcm_app", "--version"]):
        proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"qcm-monitor {installed}"


def test_presets_are_read_through_the_package_not_the_source_tree() -> None:
    assert resource_dir("recipes") == PRESET_DIR
    # the editable install maps the package onto the top-level folder; a wheel carries a copy
    shipped = sorted(p.name for p in (ROOT / "resources" / "recipes").glob("*.toml"))
    assert shipped, "no presets in resources/recipes"
    assert sorted(p.name for p in preset_paths().values()) == shipped
    assert all(p.is_file() for p in preset_paths().values())


def test_pyside6_612_stays_excluded() -> None:
    pins = [Requirement(r) for r in importlib.metadata.requires("qcm-monitor") or []]
    qt = next(r for r in pins if r.name == "PySide6-Essentials")
    assert "6.12.0" not in qt.specifier  # aborts on Python 3.11 (test_main_window's 20,000 processEvents)
    assert "6.11.3" in qt.specifier and "6.8.0" in qt.specifier
    assert importlib.metadata.version("PySide6-Essentials") in qt.specifier
