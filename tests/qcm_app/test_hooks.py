"""The test hooks (quit after a while, a screenshot) are environment variables, not options of the
user-facing command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcm_app.app.cli import build_parser, check_gui_args, main
from qcm_app.app.hooks import QUIT_AFTER_ENV, SCREENSHOT_ENV, RunHooks, read_hooks
from qcm_app.domain.errors import UserInputError


def test_the_hooks_are_no_options_of_qcm(capsys) -> None:
    for argv in (["--help"], ["gui", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        shown = capsys.readouterr().out
        assert "quit" not in shown and "screenshot" not in shown
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gui", "--quit-after", "1"])


def test_hooks_come_from_the_environment() -> None:
    assert read_hooks({}) == RunHooks()
    hooks = read_hooks({QUIT_AFTER_ENV: "3", SCREENSHOT_ENV: "shot.png"})
    assert hooks == RunHooks(3.0, Path("shot.png")) and hooks.screenshot_after_s == 2.5
    assert read_hooks({SCREENSHOT_ENV: "x.png"}).screenshot_after_s == 0.5
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(UserInputError, match=QUIT_AFTER_ENV):
            read_hooks({QUIT_AFTER_ENV: bad})


def test_a_bad_hook_is_said_before_the_window_opens(monkeypatch) -> None:
    monkeypatch.setenv(QUIT_AFTER_ENV, "-2")
    with pytest.raises(UserInputError, match="0 or more seconds"):
        check_gui_args(build_parser().parse_args(["gui"]))
