"""Test-wide setup: headless Qt, isolated user settings, and a test-only protocol (pty pairs: tests/support/pty.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt must never look for a display in tests, whoever runs them
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own HOME and QSettings location, so nothing touches the user's."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    try:
        from PySide6.QtCore import QSettings

        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "qsettings"))
    except ImportError:
        pass
    yield home


@pytest.fixture
def made_up_protocol() -> Iterator[str]:
    """A test-only protocol registered for one test (tests/support/made_up_protocol.py); yields its name."""
    from instruments import registry
    from tests.support.made_up_protocol import NAME, SPEC

    registry.register(SPEC)
    yield NAME
    registry.unregister(NAME)
