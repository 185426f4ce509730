"""qcm-monitor's domain core: physics, recipes, acquisition, cycle analysis, files and reports.

Nothing here creates a widget; scripts, notebooks and the CLI use it without a display.
"""

#: the one place the version is written: pyproject.toml reads it for the distribution
__version__ = "0.1.0"
