"""Start the qcm-monitor desktop app (with no --port, the built-in simulated instrument runs)."""

import sys

from qcm_app.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["gui", *sys.argv[1:]]))
