"""The ``qcm`` command: the desktop app (default) and its command-line tools.

Every failure the user can cause (a bad file, a bad option, a missing port) ends as one line
on stderr and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from instruments import registry
from instruments.emulators.base import TRANSPORT_ENV, ServerTransport
from instruments.protocol_spec import OptionError
from qcm_app import __version__
from qcm_app.domain.errors import UserInputError

if TYPE_CHECKING:
    from instruments.emulators.base import EmulatorServer
    from qcm_app.io.marker_sources import MarkerSpec


def _gui_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", help="serial port or pyserial URL; without it the simulated instrument runs")
    p.add_argument("--protocol", default="sqm160", choices=registry.protocol_names())
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a driver option of --protocol (repeatable); the options are listed below",
    )
    p.epilog = f"driver options (--option KEY=VALUE):\n{registry.options_help()}"
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--baud", type=int, help="baud rate (default: the instrument's)")
    p.add_argument("--sensors", help="comma-separated sensor numbers, e.g. 1,2")
    p.add_argument(
        "--poll-interval",
        type=float,
        help="seconds between polls (default: the instrument's own rate; 0: as fast as the link allows)",
    )
    p.add_argument("--recipe", help="recipe TOML file or preset name (e.g. al2o3)")
    p.add_argument("--speed", type=float, help="demo: how much faster than real time the reactor runs")
    p.add_argument("--runs-folder", type=Path, help="where run files are written (default ~/qcm-runs)")
    p.add_argument("--record", action="store_true", help="start recording a run file at once")
    from qcm_app.io.marker_sources import MARKER_SPEC_HELP

    p.add_argument(
        "--markers",
        metavar="SOURCE",
        help=f"the tool's valve markers beside the instrument: {MARKER_SPEC_HELP} "
        "(the demo serves its own unless given)",
    )
    p.add_argument(
        "--valve",
        action="append",
        metavar="NAME=VALVE",
        help="which precursor a marker valve doses, e.g. TMA=Mod8/do1 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qcm", description="QCM monitor for ALD/MLD runs")
    parser.add_argument("--version", action="version", version=f"qcm-monitor {__version__}")
    sub = parser.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="the desktop app (the default)")
    _gui_args(gui)

    from qcm_app.simulation.simulate import SIMULATE_SPEED

    sim = sub.add_parser(
        "simulate",
        help="serve a simulated instrument on a pseudo-terminal (or TCP)",
        description="Prints the port to open on one line (a pty path, or socket://127.0.0.1:PORT "
        "for pyserial), then serves until terminated. The reactor runs in real "
        "time unless --speed is given. Where the OS has no pseudo-terminals "
        "(Windows) the emulator is served on a loopback TCP port. "
        "SIGUSR1 unplugs/re-plugs the device (a new pty; --link follows it), "
        "SIGUSR2 makes it stall for 5 s (POSIX only).",
    )
    sim.add_argument(
        "--protocol",
        default="sqm160",
        choices=(*registry.protocol_names(), *registry.MARKER_EMULATORS),
        help="an instrument, or 'valves': the reactor's valve events as '<t> <valve> <0|1>' lines",
    )
    sim.add_argument("--recipe", help="recipe TOML file or preset name (default: the LiGL demo)")
    sim.add_argument(
        "--speed", type=float, default=SIMULATE_SPEED, help="reactor speed-up over real time (default 1: real time)"
    )
    sim.add_argument("--seed", type=int, help="random seed of the reactor and the noise")
    sim.add_argument("--sensors", type=int, default=1, help="number of active sensors (2nd = reference)")
    sim.add_argument("--faults", default="", help="e.g. corrupt=0.05,noise=0.02,drop=0.01,empty=0.01,stall=0")
    sim.add_argument("--link", type=Path, help="also make this stable symlink to the pty")
    sim.add_argument("--unpaced", action="store_true", help="answer as fast as the link allows (no baud pacing)")
    sim.add_argument(
        "--transport",
        choices=[t.value for t in ServerTransport],
        help=f"pty or tcp (default: pty where the OS has one; also set by ${TRANSPORT_ENV})",
    )
    sim.add_argument(
        "--tcp-port", type=int, default=0, help="with tcp: the port on 127.0.0.1 to listen on (default: any free one)"
    )

    from qcm_app.io.importers.convert import add_convert_arguments
    from qcm_app.io.offline import add_analyze_arguments

    add_analyze_arguments(sub.add_parser("analyze", help="cycles, nucleation and steady growth of a recorded run"))

    from qcm_app.report import add_report_arguments

    add_report_arguments(sub.add_parser("report", help="HTML/PDF/CSV mass-gain reports of recorded runs"))

    add_convert_arguments(sub.add_parser("convert", help="any supported log to a qcm-monitor run CSV"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "gui": _run_gui,
        "simulate": _run_simulate,
        "convert": _run_convert,
        "analyze": _run_analyze,
        "report": _run_report,
    }
    try:
        return handlers[args.command](args)
    except UserInputError as exc:
        print(f"qcm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `qcm analyze ... | head`: the reader left, which is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UserInputError(f"{name} must be a positive number, not {value:g}")


def check_gui_args(args: argparse.Namespace) -> None:
    """What the app would otherwise find out only after its window opened (or never: --speed -5)."""
    _positive("--speed", args.speed)
    if args.poll_interval is not None and not (math.isfinite(args.poll_interval) and args.poll_interval >= 0):
        raise UserInputError(f"--poll-interval must be 0 or more seconds, not {args.poll_interval:g}")
    if args.baud is not None and args.baud <= 0:
        raise UserInputError(f"--baud must be a positive number, not {args.baud}")
    from qcm_app.app.hooks import read_hooks

    read_hooks()  # a test hook set wrongly in the environment is said before the window opens
    if args.sensors:
        try:
            numbers = [int(s) for s in str(args.sensors).split(",")]
        except ValueError:
            raise UserInputError(f"--sensors takes sensor numbers like 1,2, not {args.sensors!r}") from None
        if any(n < 1 for n in numbers) or len(set(numbers)) != len(numbers):
            raise UserInputError(f"--sensors takes distinct sensor numbers from 1, like 1,2, not {args.sensors!r}")
    if args.recipe:
        from qcm_app.io.recipe_files import resolve_recipe

        resolve_recipe(args.recipe)  # a broken recipe is one line here, not a dialog later
    args.options = driver_options(args.protocol, args.option, port=args.port)
    gui_markers(args)


def driver_options(protocol: str, pairs: Sequence[str], port: str | None) -> dict[str, object]:
    """``--option key=value`` read against the protocol's declaration (types, limits, conflicts)."""
    if pairs and not port:
        raise UserInputError("--option sets the driver of a real instrument; give --port too")
    try:
        return dict(registry.protocol_spec(protocol).parse_options(pairs))
    except OptionError as exc:
        raise UserInputError(f"--option: {exc}") from None


def gui_markers(args: argparse.Namespace) -> MarkerSpec | None:
    """The ``--markers`` source with its ``--valve`` names (None without ``--markers``)."""
    from qcm_app.io.marker_sources import parse_marker_spec

    valves = getattr(args, "valve", None) or ()
    if not getattr(args, "markers", None):
        if valves:
            raise UserInputError("--valve names the valves of --markers; give --markers too")
        return None
    return parse_marker_spec(args.markers, valves)


def _run_gui(args: argparse.Namespace) -> int:
    check_gui_args(args)
    # the one place the core hands over to the GUI package, imported only when asked for
    from widgets.app import run

    return run(args)


def _run_simulate(args: argparse.Namespace) -> int:
    from instruments.emulators.base import Faults, default_transport
    from instruments.registry import available_protocols
    from qcm_app.io.recipe_files import resolve_recipe
    from qcm_app.simulation.simulate import build_marker_server, build_server

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.protocol == "valves":
        if args.speed <= 0:
            raise UserInputError("--speed must be positive")
        try:
            transport = ServerTransport(args.transport) if args.transport else None
            server = build_marker_server(
                "valves",
                resolve_recipe(args.recipe),
                speed=args.speed,
                seed=args.seed,
                link=args.link,
                transport=transport,
            )
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        server.start()
        return _serve(server)
    if args.protocol not in available_protocols():
        raise UserInputError(f"protocol {args.protocol!r} has no emulator in this build")
    try:
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        raise UserInputError(f"--faults: {exc}") from None
    if not args.speed > 0:
        raise UserInputError("--speed must be positive")
    if not 0 <= args.tcp_port <= 65535:
        raise UserInputError(f"--tcp-port {args.tcp_port} is not a TCP port number (0..65535)")
    try:
        transport = ServerTransport(args.transport) if args.transport else default_transport()
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    if transport is ServerTransport.TCP and args.link is not None:
        raise UserInputError("--link needs a pty; over TCP the port (--tcp-port) is already stable")
    for name in ("corrupt_checksum", "noise_bytes", "drop_reply", "empty_reply"):
        if not 0.0 <= getattr(faults, name) <= 1.0:
            raise UserInputError(f"--faults: a probability must be from 0 to 1, not {getattr(faults, name):g}")
    if not (math.isfinite(faults.stall_s) and faults.stall_s >= 0):
        raise UserInputError(f"--faults: stall must be 0 or more seconds, not {faults.stall_s:g}")
    from instruments.registry import driver_class
    from qcm_app.io.fileio import check_link

    _positive("--speed", args.speed)
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise UserInputError(f"--seed must be a whole number from 0 to {2**32 - 1}, not {args.seed}")
    most = driver_class(args.protocol).info.max_sensors
    if not 1 <= args.sensors <= most:
        raise UserInputError(f"--sensors must be from 1 to {most} for {args.protocol}, not {args.sensors}")
    if args.link is not None:
        args.link = check_link(args.link)
    recipe = resolve_recipe(args.recipe)
    try:
        server = build_server(
            args.protocol,
            recipe,
            speed=args.speed,
            seed=args.seed,
            sensors=args.sensors,
            faults=faults,
            link=args.link,
            paced=not args.unpaced,
            transport=transport,
            tcp_port=args.tcp_port,
        )
        server.start()
    except OSError as exc:
        where = f"127.0.0.1:{args.tcp_port}" if transport is ServerTransport.TCP else "a pseudo-terminal"
        raise UserInputError(f"cannot serve on {where}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    return _serve(server)


def _serve(server: EmulatorServer) -> int:
    """Print the port, then serve until SIGTERM/SIGINT (SIGUSR1 unplugs/re-plugs, SIGUSR2 stalls)."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    unplugged = threading.Event()

    def toggle_plug(*_: object) -> None:  # SIGUSR1: the device vanishes / comes back
        if unplugged.is_set():
            server.reappear()
            unplugged.clear()
        else:
            server.disappear()
            unplugged.set()

    if hasattr(signal, "SIGUSR1"):  # not on Windows
        signal.signal(signal.SIGUSR1, toggle_plug)
        signal.signal(signal.SIGUSR2, lambda *_: server.stall_for(5.0))  # SIGUSR2: silent for 5 s
    try:
        print(server.port, flush=True)
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    from qcm_app.io.importers.convert import run_convert

    return run_convert(args)


def _run_analyze(args: argparse.Namespace) -> int:
    from qcm_app.io.offline import run_analyze

    return run_analyze(args)


def _run_report(args: argparse.Namespace) -> int:
    from qcm_app.report import run_report

    return run_report(args)
