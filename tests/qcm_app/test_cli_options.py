"""`qcm --protocol` and `--option` come from the protocol declarations: a declared protocol is a
choice, its options are listed in --help, and a bad value ends as one line and exit status 2."""

from __future__ import annotations

import pytest

from qcm_app.app.cli import build_parser, check_gui_args, main
from qcm_app.domain.errors import UserInputError


def _choices(parser, command: str) -> list[str]:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return list(next(a for a in sub._actions if a.dest == "protocol").choices)


def test_a_declared_protocol_is_a_choice_and_its_options_are_listed(made_up_protocol: str, capsys) -> None:
    parser = build_parser()
    assert made_up_protocol in _choices(parser, "gui")
    assert made_up_protocol in _choices(parser, "simulate") and "valves" in _choices(parser, "simulate")
    with pytest.raises(SystemExit):
        main(["gui", "--help"])
    shown = capsys.readouterr().out
    assert "madeup: rate_hz=1 to 500 Hz (default 10): samples per second" in shown
    assert "madeup: channel=1 to 8 or none (default none)" in shown
    assert "tm400: address=1 to 32 (default 1)" in shown


def test_good_options_are_handed_to_the_connection(made_up_protocol: str) -> None:
    args = build_parser().parse_args(
        [
            "gui",
            "--protocol",
            made_up_protocol,
            "--port",
            "loop://",
            "--option",
            "rate_hz=250",
            "--option",
            "mode=slow",
            "--option",
            "channel=2",
        ]
    )
    with pytest.raises(UserInputError, match="slow mode cannot sample faster than 100 Hz"):
        check_gui_args(args)
    args = build_parser().parse_args(
        [
            "gui",
            "--protocol",
            made_up_protocol,
            "--port",
            "loop://",
            "--option",
            "rate_hz=50",
            "--option",
            "mode=slow",
            "--option",
            "channel=2",
        ]
    )
    check_gui_args(args)
    assert args.options == {"rate_hz": 50, "mode": "slow", "channel": 1}
    args = build_parser().parse_args(["gui", "--port", "loop://"])
    check_gui_args(args)
    assert args.options == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--protocol", "madeup", "--port", "loop://", "--option", "rate_hz=501"],
            "qcm: --option: rate_hz must be from 1 to 500, not 501",
        ),
        (
            ["--protocol", "madeup", "--port", "loop://", "--option", "gain=fast"],
            "qcm: --option: gain must be a number, not 'fast'",
        ),
        (
            ["--protocol", "line", "--port", "loop://", "--option", "frequency_column=33"],
            "qcm: --option: frequency_column must be from 1 to 32, not 33",
        ),
        (
            ["--protocol", "madeup", "--option", "rate_hz=5"],
            "qcm: --option sets the driver of a real instrument; give --port too",
        ),
    ],
)
def test_an_out_of_range_option_is_one_line_and_exit_2(
    made_up_protocol: str, capsys, argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n" and captured.out == ""
