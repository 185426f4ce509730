"""The layers, read from the imports (lazy ones inside functions included): each subpackage of
qcm_app imports only the layers below it, only acquisition and app import Qt, instruments
import neither Qt nor the app, and no shipped code imports the tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: what each qcm_app subpackage may import from qcm_app (besides itself)
ALLOWED = {
    "domain": set(),
    "analysis": {"domain"},
    "io": {"domain", "analysis"},
    "report": {"domain", "analysis", "io"},
    "simulation": {"domain"},
    "acquisition": {"domain", "analysis", "io"},
    "app": {"domain", "analysis", "io", "report", "simulation", "acquisition"},
}
QT = ("PySide6", "pyqtgraph", "shiboken6")
#: the one place the core reaches up to the GUI: ``qcm gui`` opens the window
GUI_ENTRY = "qcm_app/app/cli.py"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_of_the_core_is_in_a_layer():
    loose = [p.name for p in (ROOT / "qcm_app").glob("*.py") if p.name not in {"__init__.py", "__main__.py"}]
    assert loose == []
    layers = {p.name for p in (ROOT / "qcm_app").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert layers - {"resources"} == set(ALLOWED)


def test_core_layers_import_only_the_layers_below():
    wrong = []
    for path in _modules("qcm_app"):
        rel = path.relative_to(ROOT).as_posix()
        parts = path.relative_to(ROOT / "qcm_app").parts
        layer = parts[0] if len(parts) > 1 else None
        for name in _imports(path):
            bits = name.split(".")
            inner = bits[0] == "qcm_app" and len(bits) > 1 and bits[1] in ALLOWED and layer in ALLOWED
            if inner and bits[1] != layer and bits[1] not in ALLOWED[layer]:
                wrong.append(f"{rel} imports {name}")
            if bits[0] in QT and layer not in {"acquisition", "app"}:
                wrong.append(f"{rel} imports Qt ({name})")
            if bits[0] == "widgets" and rel != GUI_ENTRY:
                wrong.append(f"{rel} imports the GUI ({name})")
            if bits[0] == "tests":
                wrong.append(f"{rel} imports the tests ({name})")
    assert wrong == []


def test_instruments_import_neither_qt_nor_the_app():
    wrong = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in _modules("instruments")
        for n in _imports(p)
        if n.split(".")[0] in {*QT, "qcm_app", "widgets", "tests"}
    ]
    assert wrong == []


def test_the_rule_catches_a_wrong_import(tmp_path):
    """The checker itself: an analysis module importing the app, or a domain module importing Qt,
    is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from qcm_app.app.controller import Controller\n    import PySide6.QtCore\n")
    assert {"qcm_app.app.controller", "PySide6.QtCore"} <= _imports(bad)
