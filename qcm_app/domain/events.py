"""The words that cross the program: the acquisition's states and the run file's event kinds.

Each is a :class:`TextEnum`, so a member is its text: the run file's ``# Tare: 12.3 s (...)`` line is
written from ``RunEventKind.TARE`` and read back as it, and ``WorkerState.CONNECTED == "connected"``.
A word that is none of the members raises ``ValueError`` where it is turned into one
(``WorkerState(text)``), instead of passing silently as a bare string would.
"""

from __future__ import annotations

from qcm_app.domain.textenum import TextEnum


class WorkerState(TextEnum):
    """What a worker's ``state_changed`` says (live acquisition and replay share the signal)."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    #: the link went away; the worker reconnects
    LOST = "lost"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    # replay
    LOADING = "loading"
    REPLAYING = "replaying"
    FINISHED = "finished"
    ERROR = "error"


#: the states in which the instrument's link is down and being re-established
LINK_DOWN_STATES = frozenset({WorkerState.LOST, WorkerState.RECONNECTING})


class RunEventKind(TextEnum):
    """The kind of an event line among a run file's rows (the value is the word in the file, which
    the writer capitalises: ``# Crystal change: 812.0000 s (...)``)."""

    MARKER = "marker"
    NOTE = "note"
    TARE = "tare"
    ALARM = "alarm"
    TARGET = "target"
    VALVE = "valve"
    CRYSTAL_CHANGE = "crystal change"
    LINK_LOST = "link lost"
    LINK_RESTORED = "link restored"
    RECIPE_CHANGED = "recipe changed"
    #: a recipe step of a tool's log (Angstrom Engineering)
    STEP = "step"


def event_kind(word: str) -> RunEventKind | str:
    """The member named by ``word`` (as a file spells it), or the word itself when it is none of
    ours (an event line of another program's log is kept, not refused)."""
    try:
        return RunEventKind(word)
    except ValueError:
        return word
