"""Starting the desktop app: Qt application, controller, main window, then demo or instrument."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from PySide6 import QtCore, QtWidgets

from qcm_app.acquisition.worker import ConnectionSpec
from qcm_app.app.cli import gui_markers
from qcm_app.app.controller import AppController
from qcm_app.app.hooks import read_hooks
from qcm_app.app.settings import load_settings
from qcm_app.domain.errors import UserInputError
from qcm_app.io.recipe_files import resolve_recipe
from widgets.display import display_problem
from widgets.main_window import MainWindow


def build_window(args: argparse.Namespace) -> tuple[AppController, MainWindow]:
    """Controller and window started as the arguments ask: an instrument if ``--port`` is given,
    the built-in simulated instrument otherwise."""
    settings, problems = load_settings()
    if getattr(args, "runs_folder", None):
        settings.runs_folder = args.runs_folder
    if getattr(args, "speed", None):
        settings.demo_speed = args.speed
    controller = AppController(settings)
    window = MainWindow(controller)
    for problem in problems:
        logging.getLogger(__name__).warning(problem)
        window.show_warning(problem)
    recipe = resolve_recipe(args.recipe) if args.recipe or not args.port else None
    markers = gui_markers(args)
    try:
        sensors = tuple(int(s) for s in str(args.sensors).split(",")) if args.sensors else (1,)
    except ValueError:
        raise UserInputError(f"--sensors takes sensor numbers like 1,2, not {args.sensors!r}") from None
    if args.port:
        if args.poll_interval is not None and args.poll_interval < 0:
            raise UserInputError("--poll-interval must be 0 or more seconds")
        spec = ConnectionSpec(
            protocol=args.protocol,
            port=args.port,
            baud=args.baud,
            sensors=sensors,
            poll_interval_s=args.poll_interval,
            options=dict(getattr(args, "options", {})),
        )
        controller.connect_instrument(spec, recipe, markers=markers)
    else:
        controller.start_demo(recipe, protocol=args.protocol, sensors=len(sensors), markers=markers)
    if getattr(args, "record", False):
        window.ask_recording_details = False  # --record: the default name, no question
        window.record_action.setChecked(True)
    interrupted = controller.interrupted_runs()
    if interrupted:
        logging.getLogger(__name__).info("interrupted recordings found: %s", ", ".join(map(str, interrupted)))
        window.offer_recovery(interrupted)
    return controller, window


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    problem = None if QtWidgets.QApplication.instance() else display_problem()
    if problem:  # Qt itself would abort with signal 6
        print(f"qcm: cannot open a window: {problem}", file=sys.stderr)
        return 2
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("qcm-monitor")
    app.setOrganizationName("qcm-monitor")
    try:
        hooks = read_hooks()
        controller, window = build_window(args)
    except UserInputError as exc:
        print(f"qcm: {exc}", file=sys.stderr)
        return 2
    window.show()
    # Ctrl+C in the terminal closes the window cleanly (Qt would otherwise swallow SIGINT)
    signal.signal(signal.SIGINT, lambda *_: window.close_without_asking())
    signal.signal(signal.SIGTERM, lambda *_: window.close_without_asking())
    keep_python_responsive = QtCore.QTimer()
    keep_python_responsive.start(250)
    keep_python_responsive.timeout.connect(lambda: None)
    if hooks.quit_after_s:  # test hooks, from the environment (qcm_app/app/hooks.py)
        QtCore.QTimer.singleShot(int(hooks.quit_after_s * 1000), window.close_without_asking)
    if hooks.screenshot is not None:
        shot = hooks.screenshot

        def grab() -> None:
            window.grab().save(str(shot))

        QtCore.QTimer.singleShot(int(hooks.screenshot_after_s * 1000), grab)
    code = app.exec()
    controller.stop()
    return code
