"""The status bar has a text for every worker state, and a word that is no state is refused
instead of being shown as it came."""

from __future__ import annotations

import pytest

from qcm_app.domain.events import WorkerState
from widgets.window_status import STATE_TEXT


def test_every_state_has_a_text():
    assert set(STATE_TEXT) == set(WorkerState)
    assert all(STATE_TEXT[s].strip() for s in WorkerState)


def test_the_window_shows_each_state_and_refuses_a_typo(qtbot, tmp_path):
    from qcm_app.app.controller import AppController, AppSettings
    from widgets.main_window import MainWindow

    controller = AppController(AppSettings(runs_folder=tmp_path / "runs"))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    for state in WorkerState:
        window.show_state(state.value, "detail")  # Qt brings the state as its text
        expected = WorkerState.IDLE if state is WorkerState.STOPPED and controller.worker is None else state
        assert window.link_label.text() == STATE_TEXT[expected]
    with pytest.raises(ValueError):
        window.show_state("conected", "")
    window.close()
