"""States and event kinds are Enums whose values are the words on disk and on the wire: the run file
stays as it was, and a word that is none of them is refused where it becomes one."""

from __future__ import annotations

import pytest

from qcm_app.domain.alarms import EventKind
from qcm_app.domain.events import RunEventKind, WorkerState, event_kind
from qcm_app.io.runfile import RunEvent, RunMetadata, RunWriter, read_run


def test_members_are_their_words():
    assert WorkerState.CONNECTED == "connected" and f"{WorkerState.LOST}" == "lost"
    assert RunEventKind("crystal change") is RunEventKind.CRYSTAL_CHANGE
    assert EventKind is RunEventKind  # declared once
    with pytest.raises(ValueError):
        WorkerState("conected")


def test_a_run_event_of_a_known_word_is_its_member_and_another_log_keeps_its_word():
    assert RunEvent(1.0, "tare", "").kind is RunEventKind.TARE
    assert event_kind("valve opened") == "valve opened" and not isinstance(event_kind("valve opened"), RunEventKind)


def test_event_lines_on_disk_are_unchanged_and_read_back_as_members(tmp_path):
    import numpy as np

    from qcm_app.domain.pipeline import Pipeline

    pipe = Pipeline(1)
    chunk = pipe.process_arrays(np.array([0.0, 1.0]), np.array([[5e6], [5e6 - 1]]))
    path = tmp_path / "run.csv"
    writer = RunWriter.create(path, RunMetadata())
    writer.write(chunk)
    for kind in RunEventKind:
        if kind is not RunEventKind.VALVE:
            writer.mark(kind, 0.5, "why")
    writer.close()
    text = path.read_text()
    assert "# Crystal change: 0.5000 s (why)\n" in text and "# Link lost: 0.5000 s (why)\n" in text
    kinds = [e.kind for e in read_run(path).events]
    assert kinds == [k for k in RunEventKind if k is not RunEventKind.VALVE]
    assert all(isinstance(k, RunEventKind) for k in kinds)
