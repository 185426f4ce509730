"""The run file: a ``#`` header of ``Key: value unit`` lines, then unit-bearing CSV columns.

The header alone lets anyone re-run the analysis: crystal constants, each sensor's starting
frequency, film parameters, the recipe's TOML text, the time scale. Events that happen during
a run (tare, link lost/restored) are comment lines between the data rows, so the file stays
readable by any CSV tool that skips ``#`` lines.

Writing: :class:`RunWriter` opens with ``"x"`` (never overwrites), flushes at least twice a
second, and marks the file as *in progress* with a sidecar so an interrupted run can be
recovered at the next launch.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from qcm_app import __version__
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.markers import ValvePulse
from qcm_app.domain.physics import CrystalSettings
from qcm_app.domain.pipeline import SampleChunk
from qcm_app.io.fileio import read_text

FORMAT_TAG = "qcm-monitor run"
FLUSH_INTERVAL_S = 0.5
IN_PROGRESS_SUFFIX = ".recording"


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
    """A comment line among the data: ``kind`` is 'tare', 'link lost', 'link restored', 'note', ..."""

    time_s: float
    kind: str
    text: str


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
            if e.kind == "link lost":
                lost = e.time_s
            elif e.kind == "link restored" and lost is not None:
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
_RECIPE_LINE = "Recipe TOML"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_header(meta: RunMetadata) -> str:
    lines = [f"# {FORMAT_TAG} 1"]
    for key, attr, _unit in _SIMPLE_KEYS[:6]:
        lines.append(f"# {key}: {_fmt(getattr(meta, attr))}")
    lines.append(f"# Sensors: {' '.join(str(s) for s in meta.sensors)}")
    for key, attr, unit in _CRYSTAL_KEYS:
        lines.append(f"# {key}: {_fmt(getattr(meta.crystal, attr))} {unit}".rstrip())
    lines.append("# Start frequency: " + " ".join(f"{f:.3f}" for f in meta.start_frequency_hz) + " Hz")
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
    known = {k for k, _, _ in _SIMPLE_KEYS + _CRYSTAL_KEYS} | {"Sensors", "Start frequency"}

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
            setattr(meta, attr, number(key, unit, text) if isinstance(current, float) else
                    (text[: -len(unit)].strip() if unit and text.endswith(unit) else text))
    crystal = {}
    for key, attr, unit in _CRYSTAL_KEYS:
        if key in values:
            crystal[attr] = number(key, unit, values[key])
    meta.crystal = replace(CrystalSettings(), **crystal)
    if "Sensors" in values:
        try:
            meta.sensors = tuple(int(s) for s in values["Sensors"].split())
        except ValueError:
            raise UserInputError(f"header 'Sensors' is not a list of numbers: {values['Sensors']!r}",
                                 source) from None
    if "Start frequency" in values:
        text = values["Start frequency"].removesuffix("Hz").strip()
        meta.start_frequency_hz = tuple(number("Start frequency", "", v) for v in text.split())
    meta.recipe_text = "\n".join(recipe) + ("\n" if recipe else "")
    meta.extra = {k: v for k, v in values.items() if k not in known and not k.startswith(FORMAT_TAG)}
    return meta


# --- columns -------------------------------------------------------------------------------------

def column_names(sensors: int) -> list[str]:
    names = ["Time (s)"]
    for s in range(sensors):
        tag = f" S{s + 1}" if sensors > 1 else ""
        names += [f"Frequency{tag} (Hz)", f"Mass{tag} (ng/cm2)", f"Thickness{tag} (A)",
                  f"Rate{tag} (A/s)", f"Instrument thickness{tag} (kA)"]
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


# --- writing -------------------------------------------------------------------------------------

def unique_path(path: Path) -> Path:
    """``path`` itself if free, else ``name-2.csv``, ``name-3.csv``, ... (never overwrite)."""
    if not path.exists():
        return path
    for i in range(2, 10_000):
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise UserInputError("no free file name", path)


def default_run_name(recipe_name: str = "") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", recipe_name).strip("-")[:40]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}_{slug or 'run'}.csv"


class RunWriter:
    """Appends samples to a run file; the worker thread owns it.

    ``open`` creates the file exclusively (``"x"``); ``resume`` re-opens an interrupted run to
    continue it after a gap marker.
    """

    def __init__(self, fh: io.TextIOBase, path: Path, sensors: int, in_progress_marker: bool = True) -> None:
        self._fh = fh
        self.path = path
        self.sensors = sensors
        self._last_flush = time.monotonic()
        self.rows = 0
        #: successful flushes, and the file's size after the last one: what the disk surely holds
        self.flushes = 0
        self.flushed_bytes = fh.tell()
        self._marker: Path | None = None
        if in_progress_marker:  # live recordings only: lets the next launch offer recovery
            self._marker = path.with_name(path.name + IN_PROGRESS_SUFFIX)
            self._marker.write_text(f"{os.getpid()}\n", encoding="utf-8")

    @classmethod
    def create(cls, path: str | Path, meta: RunMetadata, in_progress_marker: bool = True) -> RunWriter:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115 - lives as long as the writer
        try:
            fh.write(format_header(meta))
            fh.write(",".join(column_names(len(meta.sensors))) + "\n")
            fh.flush()
        except OSError:
            fh.close()
            raise
        return cls(fh, path, len(meta.sensors), in_progress_marker)

    @classmethod
    def resume(cls, path: str | Path, note: str) -> RunWriter:
        """Continue an interrupted run file: a truncated last row is completed as a comment."""
        path = Path(path)
        _meta, sensors = read_header_only(path)
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 1))
            ends_clean = size == 0 or fh.read(1) == b"\n"
        fh = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
        if not ends_clean:
            fh.write("  # (row cut short by an interruption)\n")
        fh.write(f"# Note: resumed {RunMetadata.now_iso()}: {note}\n")
        fh.flush()
        return cls(fh, path, sensors)

    def write(self, chunk: SampleChunk) -> None:
        if len(chunk):
            self._fh.write(format_rows(chunk))
            self.rows += len(chunk)
        self.flush_if_due()

    def write_raw(self, text: str) -> None:
        """Rows already formatted (salvaged from another file of ours)."""
        self._fh.write(text)

    def mark(self, kind: str, time_s: float, text: str = "") -> None:
        """An event line between the rows, e.g. ``# Link lost: 123.4 s (port vanished)``."""
        detail = f" ({' '.join(text.split())})" if text else ""
        self._fh.write(f"# {kind.capitalize()}: {time_s:.4f} s{detail}\n")
        self.flush()

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        self._fh.flush()
        self._last_flush = time.monotonic()
        self.flushes += 1
        self.flushed_bytes = self._fh.tell()

    def close(self) -> None:
        try:
            self._fh.flush()
            with contextlib.suppress(OSError):
                os.fsync(self._fh.fileno())
        finally:
            self._fh.close()
            if self._marker is not None:
                with contextlib.suppress(FileNotFoundError):
                    self._marker.unlink()


def interrupted_runs(folder: str | Path) -> list[Path]:
    """Run files whose writer never closed them (the process died): candidates for recovery."""
    out = []
    for marker in sorted(Path(folder).glob(f"*{IN_PROGRESS_SUFFIX}")):
        try:
            pid = int(marker.read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            pid = -1
        if pid > 0 and pid != os.getpid() and _pid_alive(pid):
            continue
        run = marker.with_name(marker.name[: -len(IN_PROGRESS_SUFFIX)])
        if run.exists():
            out.append(run)
    return out


def forget_interrupted(run: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(str(run) + IN_PROGRESS_SUFFIX).unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- reading -------------------------------------------------------------------------------------

_EVENT_RE = re.compile(r"^#\s*([A-Za-z][A-Za-z ]*?):\s*([-+0-9.eE]+)\s*s\b\s*(?:\((.*)\))?\s*$")


def read_header_only(path: Path) -> tuple[RunMetadata, int]:
    header: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("#"):
                header.append(line.rstrip("\n"))
                continue
            columns = line.strip().split(",")
            break
        else:
            raise UserInputError("no column line after the header", path)
    meta = parse_header(header, str(path))
    return meta, max(1, sum(c.startswith("Frequency") for c in columns))


def is_run_file(first_line: str) -> bool:
    return first_line.startswith(f"# {FORMAT_TAG}")


def read_run(path: str | Path) -> RunData:
    """Read one of our run files. A row cut short at the end (crash) is dropped with a warning;
    a malformed row elsewhere is an error naming its line."""
    path = Path(path)
    text = read_text(path, "run file")
    lines = text.split("\n")
    header: list[str] = []
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        header.append(lines[i])
        i += 1
    if not header or not is_run_file(header[0]):
        raise UserInputError(f"not a qcm-monitor run file (first line should start with '# {FORMAT_TAG}')",
                             path, 1)
    if i >= len(lines) or not lines[i].startswith("Time (s)"):
        raise UserInputError("expected the column line 'Time (s),Frequency (Hz),...'", path, i + 1)
    meta = parse_header(header, str(path))
    columns = lines[i].strip().split(",")
    col_line = i + 1
    data_lines: list[str] = []
    data_lineno: list[int] = []
    events: list[RunEvent] = []
    warnings: list[str] = []
    for j in range(i + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if line.startswith("#"):
            m = _EVENT_RE.match(line)
            if m:
                try:
                    event_time_s = float(m.group(2))
                except ValueError:
                    event_time_s = math.inf
                if math.isfinite(event_time_s):
                    events.append(RunEvent(event_time_s, m.group(1).strip().lower(), m.group(3) or ""))
                else:  # "# Tare: e s": kept as a note so nothing is lost, and said
                    warnings.append(f"line {j + 1}: event {m.group(1).strip()!r} without a time in seconds "
                                    f"({m.group(2)!r}), kept as a note")
                    events.append(RunEvent(math.nan, "note", line.lstrip("# ").strip()))
            elif line.startswith("# Note:"):
                events.append(RunEvent(math.nan, "note", line[7:].strip()))
            continue
        if "#" in line:  # a row cut short by a crash, closed by a later resume
            warnings.append(f"line {j + 1}: row cut short, skipped")
            continue
        data_lines.append(line)
        data_lineno.append(j + 1)
    if data_lines and len(data_lines[-1].split(",")) != len(columns) and not text.endswith("\n"):
        warnings.append(f"line {data_lineno[-1]}: last row cut short (interrupted recording), dropped")
        data_lines.pop()
        data_lineno.pop()
    table = _parse_table(data_lines, data_lineno, len(columns), path)
    if table.shape[0] == 0:
        table = np.empty((0, len(columns)))
    freq_cols = [k for k, c in enumerate(columns) if c.startswith("Frequency")]
    mass_cols = [k for k, c in enumerate(columns) if c.startswith("Mass")]
    thick_cols = [k for k, c in enumerate(columns) if c.startswith("Thickness")]
    inst_cols = [k for k, c in enumerate(columns) if c.startswith("Instrument thickness")]
    if not freq_cols:
        raise UserInputError("no 'Frequency (Hz)' column", path, col_line)
    if len(meta.sensors) != len(freq_cols):
        meta.sensors = tuple(range(1, len(freq_cols) + 1))
    return RunData(metadata=meta, time_s=table[:, 0].copy(), frequency_hz=table[:, freq_cols],
                   mass_ng_cm2=table[:, mass_cols] if mass_cols else None,
                   thickness_ang=table[:, thick_cols] if thick_cols else None,
                   instrument_thickness_ang=table[:, inst_cols] * 1000.0 if inst_cols else None,
                   events=events, source=str(path), warnings=warnings)


def _parse_table(lines: list[str], linenos: list[int], width: int, path: Path) -> np.ndarray:
    if not lines:
        return np.empty((0, width))
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2, dtype=float)
    except ValueError:
        table = None
    if table is not None and table.shape[1] == width:
        return table
    for line, lineno in zip(lines, linenos, strict=True):
        parts = line.split(",")
        if len(parts) != width:
            raise UserInputError(f"expected {width} comma-separated values, found {len(parts)}", path, lineno)
        for p in parts:
            try:
                float(p)
            except ValueError:
                raise UserInputError(f"not a number: {p.strip()[:30]!r}", path, lineno) from None
    raise UserInputError("unreadable data rows", path)

