"""The run file's format: the data types, the header keys, and the text of header lines and rows.

A ``#`` header of ``Key: value unit`` lines, then unit-bearing CSV columns. The header alone lets
anyone re-run the analysis: crystal constants, each sensor's starting frequency, film parameters,
the recipe's TOML text, the time scale. The keys are declared here once (:data:`HEADER_KEYS`), so
the writer, the reader and the importers (which must not let a log's own line shadow one of ours)
agree on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from qcm_app import __version__
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.events import RunEventKind, event_kind
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings
from qcm_app.domain.pipeline import SampleChunk

FORMAT_TAG = "qcm-monitor run"


@dataclass
class RunMetadata:
    start_time: str = ""
    app_version: str = __version__
    instrument: str = ""
    firmware: str = ""
    port: str = ""
    protocol: str = ""
    sensors: tuple[int, ...] = (1,)
    crystal: CrystalSettings = field(default_factory=CrystalSettings)
    start_frequency_hz: tuple[float, ...] = ()
    #: film density for the thickness column; NaN when nobody said (logs without one)
    density_g_cm3: float = math.nan
    z_ratio: float = 1.0
    tooling_pct: float = 100.0
    recipe_name: str = ""
    recipe_file: str = ""
    recipe_text: str = ""
    time_scale: float = 1.0
    operator_note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def now_iso() -> str:
        return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunEvent:
    """A comment line among the data (``# Tare: 12.3000 s (mass zero at ...)``). ``kind`` is a
    :class:`RunEventKind` (a known word given as text becomes its member), or the word of another
    program's event line that is none of ours."""

    time_s: float
    kind: RunEventKind | str
    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, RunEventKind):
            object.__setattr__(self, "kind", event_kind(self.kind))


@dataclass
class RunData:
    metadata: RunMetadata
    time_s: np.ndarray
    #: (samples, sensors)
    frequency_hz: np.ndarray
    mass_ng_cm2: np.ndarray | None = None
    thickness_ang: np.ndarray | None = None
    events: list[RunEvent] = field(default_factory=list)
    source: str = ""
    #: the instrument's own thickness (Å, tooling applied), when the log carries one
    instrument_thickness_ang: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    #: the tool's valve pulses, when the log carries its valve outputs (the analysis' pulse timeline)
    valve_pulses: tuple[ValvePulse, ...] = ()
    #: the tool's own areal mass (ng/cm²), kept as a reference beside ours
    reference_mass_ng_cm2: np.ndarray | None = None
    #: the instrument's own deposition rate (Å/s) per sensor, when the log carries one
    instrument_rate_ang_s: np.ndarray | None = None

    @property
    def sensors(self) -> int:
        return int(self.frequency_hz.shape[1])

    def gaps(self) -> list[tuple[float, float]]:
        """(lost at, restored at) for each recorded link gap."""
        out, lost = [], None
        for e in self.events:
            if e.kind is RunEventKind.LINK_LOST:
                lost = e.time_s
            elif e.kind is RunEventKind.LINK_RESTORED and lost is not None:
                out.append((lost, e.time_s))
                lost = None
        return out


# --- header --------------------------------------------------------------------------------------

_CRYSTAL_KEYS = [
    ("Crystal nominal", "nominal_mhz", "MHz"),
    ("Quartz density", "quartz_density_g_cm3", "g/cm3"),
    ("Quartz shear modulus", "quartz_shear_modulus_g_cm_s2", "g/(cm s2)"),
    ("Quartz acoustic impedance", "zq_kg_m2_s", "kg/(m2 s)"),
    ("Blank frequency", "blank_frequency_hz", "Hz"),
    ("Fresh crystal frequency", "fresh_frequency_hz", "Hz"),
    ("Minimum crystal frequency", "min_frequency_hz", "Hz"),
]
_SIMPLE_KEYS = [
    ("App version", "app_version", ""),
    ("Start time", "start_time", ""),
    ("Instrument", "instrument", ""),
    ("Firmware", "firmware", ""),
    ("Port", "port", ""),
    ("Protocol", "protocol", ""),
    ("Film density", "density_g_cm3", "g/cm3"),
    ("Z-ratio", "z_ratio", ""),
    ("Tooling", "tooling_pct", "%"),
    ("Recipe", "recipe_name", ""),
    ("Recipe file", "recipe_file", ""),
    ("Time scale", "time_scale", "process s per host s"),
    ("Operator note", "operator_note", ""),
]
SENSORS_KEY = "Sensors"
START_FREQUENCY_KEY = "Start frequency"
_RECIPE_LINE = "Recipe TOML"
#: the untimed comment line among the rows (``# Note: ...``): written on resume, read as a note event
NOTE_KEY = "Note"
#: every key :func:`format_header` writes (besides the log's own ``extra`` keys): the one declaration
HEADER_KEYS: tuple[str, ...] = (
    *(key for key, _, _ in _SIMPLE_KEYS),
    SENSORS_KEY,
    *(key for key, _, _ in _CRYSTAL_KEYS),
    START_FREQUENCY_KEY,
    _RECIPE_LINE,
)
#: keys that mean something of ours in a run file: an imported log's line of such a name is renamed
RESERVED_KEYS: tuple[str, ...] = (*HEADER_KEYS, NOTE_KEY)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_header(meta: RunMetadata) -> str:
    lines = [f"# {FORMAT_TAG} 1"]
    for key, attr, _unit in _SIMPLE_KEYS[:6]:
        lines.append(f"# {key}: {_fmt(getattr(meta, attr))}")
    lines.append(f"# {SENSORS_KEY}: {' '.join(str(s) for s in meta.sensors)}")
    for key, attr, unit in _CRYSTAL_KEYS:
        lines.append(f"# {key}: {_fmt(getattr(meta.crystal, attr))} {unit}".rstrip())
    lines.append(f"# {START_FREQUENCY_KEY}: " + " ".join(f"{f:.3f}" for f in meta.start_frequency_hz) + " Hz")
    for key, attr, unit in _SIMPLE_KEYS[6:]:
        value = " ".join(_fmt(getattr(meta, attr)).split())  # one line, whatever the user typed
        lines.append(f"# {key}: {value} {unit}".rstrip())
    for key, value in meta.extra.items():
        lines.append(f"# {key}: {' '.join(str(value).split())}")
    for line in meta.recipe_text.splitlines():
        lines.append(f"# {_RECIPE_LINE}: {line}")
    return "\n".join(lines) + "\n"


def parse_header(lines: list[str], source: str) -> RunMetadata:
    values: dict[str, str] = {}
    recipe: list[str] = []
    for line in lines:
        body = line[1:].strip() if line.startswith("#") else line
        if body.startswith(f"{_RECIPE_LINE}:"):
            recipe.append(line.split(f"{_RECIPE_LINE}:", 1)[1][1:])
            continue
        key, sep, value = body.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    meta = RunMetadata()
    known = set(HEADER_KEYS)

    def number(key: str, unit: str, text: str) -> float:
        if unit and text.endswith(unit):
            text = text[: -len(unit)]
        try:
            return float(text.strip())
        except ValueError:
            raise UserInputError(f"header '{key}' is not a number: {text.strip()!r}", source) from None

    for key, attr, unit in _SIMPLE_KEYS:
        if key in values:
            current = getattr(meta, attr)
            text = values[key]
            setattr(
                meta,
                attr,
                number(key, unit, text)
                if isinstance(current, float)
                else (text[: -len(unit)].strip() if unit and text.endswith(unit) else text),
            )
    crystal = {}
    for key, attr, unit in _CRYSTAL_KEYS:
        if key in values:
            crystal[attr] = number(key, unit, values[key])
    meta.crystal = replace(CrystalSettings(), **crystal)
    if SENSORS_KEY in values:
        try:
            meta.sensors = tuple(int(s) for s in values[SENSORS_KEY].split())
        except ValueError:
            raise UserInputError(
                f"header '{SENSORS_KEY}' is not a list of numbers: {values[SENSORS_KEY]!r}", source
            ) from None
    if START_FREQUENCY_KEY in values:
        text = values[START_FREQUENCY_KEY].removesuffix("Hz").strip()
        meta.start_frequency_hz = tuple(number(START_FREQUENCY_KEY, "", v) for v in text.split())
    meta.recipe_text = "\n".join(recipe) + ("\n" if recipe else "")
    meta.extra = {k: v for k, v in values.items() if k not in known and not k.startswith(FORMAT_TAG)}
    return meta


# --- columns -------------------------------------------------------------------------------------


def column_names(sensors: int) -> list[str]:
    names = ["Time (s)"]
    for s in range(sensors):
        tag = f" S{s + 1}" if sensors > 1 else ""
        names += [
            f"Frequency{tag} (Hz)",
            f"Mass{tag} (ng/cm2)",
            f"Thickness{tag} (A)",
            f"Rate{tag} (A/s)",
            f"Instrument thickness{tag} (kA)",
        ]
    return names


def _row_format(sensors: int) -> str:
    return "%.4f" + ",%.3f,%.3f,%.3f,%.3f,%.5f" * sensors


def format_rows(chunk: SampleChunk) -> str:
    """CSV rows of a chunk (NaN written as ``nan``)."""
    n, sensors = len(chunk), chunk.sensors
    table = np.empty((n, 1 + 5 * sensors))
    table[:, 0] = chunk.time_s
    for s in range(sensors):
        base = 1 + 5 * s
        table[:, base] = chunk.frequency_hz[:, s]
        table[:, base + 1] = chunk.mass_ng_cm2[:, s]
        table[:, base + 2] = chunk.thickness_ang[:, s]
        table[:, base + 3] = chunk.rate_a_per_s[:, s]
        table[:, base + 4] = chunk.instrument_thickness_kang[:, s]
    fmt = _row_format(sensors)
    return "".join(fmt % tuple(row) + "\n" for row in table.tolist())


def is_run_file(first_line: str) -> bool:
    return first_line.startswith(f"# {FORMAT_TAG}")
