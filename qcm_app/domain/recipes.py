"""Deposition recipes in TOML: blocks of steps repeated N times, in run order.

The shape is fixed (other tools rely on it)::

    name = "..."
    [[blocks]]
    name = "Al2O3"
    repeat = 40
    [[blocks.steps]]
    name = "TMA"
    kind = "pulse"      # or "purge"
    duration_s = 0.1

Extra keys are kept: per-step ``mass_ng_cm2`` (expected mass change of a pulse), block
``density_g_cm3`` and ``[blocks.nucleation]`` (``kind``, ``cycles``, ``factor``) feed the
simulator and the analysis' expectations. One repeat of a block is one cycle, so a supercycle
is simply a block whose steps contain several sub-cycles.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.textenum import TextEnum
from qcm_app.resources import resource_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_DIR = resource_dir("recipes")
DEFAULT_PRESET = "ligl_on_al2o3"

NUCLEATION_KINDS = ("none", "enhanced", "inhibited")

#: what the loader accepts: far beyond any real run (a 10 s cycle for a year is 3 million cycles),
#: and small enough that nothing downstream has to fear the number
MAX_REPEAT = 10_000_000
MAX_BLOCKS = 10_000
MAX_STEPS_PER_BLOCK = 1_000
MAX_DURATION_S = 1e7


class StepKind(TextEnum):
    """A step either doses a precursor or purges; the value is the TOML spelling."""

    PULSE = "pulse"
    PURGE = "purge"


@dataclass(frozen=True)
class Step:
    name: str
    kind: StepKind
    duration_s: float
    #: expected mass change of this pulse at steady state (simulator truth, analysis hint)
    mass_ng_cm2: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_pulse(self) -> bool:
        return self.kind == StepKind.PULSE


@dataclass(frozen=True)
class Nucleation:
    """The initiation region of a block: ``factor`` is the first cycle's gain relative to steady."""

    kind: str = "none"
    cycles: int = 0
    factor: float = 1.0


@dataclass(frozen=True)
class Block:
    name: str
    repeat: int
    steps: tuple[Step, ...]
    density_g_cm3: float | None = None
    nucleation: Nucleation = Nucleation()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def cycle_duration_s(self) -> float:
        return sum(s.duration_s for s in self.steps)

    @property
    def pulses(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.is_pulse)

    @property
    def is_wait(self) -> bool:
        """A block of purges only (a wait between processes): it makes no cycles."""
        return not any(s.is_pulse for s in self.steps)

    @property
    def cycles(self) -> int:
        """Cycles this block adds to the run's count (a wait adds none)."""
        return 0 if self.is_wait else self.repeat

    @property
    def duration_s(self) -> float:
        return self.repeat * self.cycle_duration_s

    @property
    def pulse_offsets_s(self) -> tuple[float, ...]:
        """Start of each pulse measured from the start of the cycle (the first step)."""
        out, t = [], 0.0
        for s in self.steps:
            if s.is_pulse:
                out.append(t)
            t += s.duration_s
        return tuple(out)

    @property
    def expected_mass_per_cycle_ng_cm2(self) -> float | None:
        masses = [s.mass_ng_cm2 for s in self.pulses]
        if any(m is None for m in masses):
            return None
        return float(sum(masses))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Recipe:
    name: str
    blocks: tuple[Block, ...]
    source: str = ""
    #: the TOML text as read, embedded in run files so the header alone allows re-analysis
    text: str = field(default="", compare=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def total_cycles(self) -> int:
        return sum(b.cycles for b in self.blocks)

    @property
    def duration_s(self) -> float:
        return sum(b.duration_s for b in self.blocks)

    @property
    def process_blocks(self) -> tuple[int, ...]:
        """Indices of the blocks that make cycles (waits left out)."""
        return tuple(i for i, b in enumerate(self.blocks) if not b.is_wait)

    def block_of_cycle(self, index: int) -> tuple[int, int]:
        """Map a run-wide cycle index (from 1) to (block index, cycle within block from 1); waits
        make no cycles and are skipped."""
        n = index
        process = self.process_blocks
        for i in process:
            b = self.blocks[i]
            if n <= b.repeat:
                return i, n
            n -= b.repeat
        last = process[-1] if process else len(self.blocks) - 1
        return last, n + self.blocks[last].repeat


def parse_recipe(text: str, source: str = "<recipe>") -> Recipe:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = _line_from_toml_error(msg)
        raise UserInputError(f"not valid TOML: {msg.split(' (at ')[0]}", source, line) from None
    except RecursionError:
        raise UserInputError("not a recipe: the TOML is nested too deeply", source) from None
    return _build(data, text, source)


# --- validation -------------------------------------------------------------------------------


def _build(data: dict[str, Any], text: str, source: str) -> Recipe:
    loc = _Locator(text, source)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise loc.error('recipe needs a top-level name = "..."', None, None)
    blocks_raw = data.get("blocks")
    if not isinstance(blocks_raw, list) or not blocks_raw:
        raise loc.error("recipe needs at least one [[blocks]] table", None, None)
    if len(blocks_raw) > MAX_BLOCKS:
        raise loc.error(f"recipe has {len(blocks_raw)} blocks; at most {MAX_BLOCKS} are accepted", None, None)
    blocks = tuple(_block(b, i, loc) for i, b in enumerate(blocks_raw))
    if all(b.is_wait for b in blocks):
        raise loc.error('recipe has no pulse step (kind = "pulse") in any block', 0, None)
    extra = {k: v for k, v in data.items() if k not in ("name", "blocks")}
    return Recipe(name=name.strip(), blocks=blocks, source=source, text=text, extra=extra)


def _block(raw: Any, i: int, loc: _Locator) -> Block:
    if not isinstance(raw, dict):
        raise loc.error("each [[blocks]] entry must be a table", i, None)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise loc.error(f'block {i + 1} needs name = "..."', i, None)
    repeat = raw.get("repeat")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise loc.error(
            f"block {name!r}: repeat must be a whole number from 1 to {MAX_REPEAT:,}, got {repeat!r}", i, None
        )
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise loc.error(f"block {name!r} needs at least one [[blocks.steps]] table", i, None)
    if len(steps_raw) > MAX_STEPS_PER_BLOCK:
        raise loc.error(
            f"block {name!r} has {len(steps_raw)} steps; at most {MAX_STEPS_PER_BLOCK} are accepted", i, None
        )
    steps = tuple(_step(s, i, j, name, loc) for j, s in enumerate(steps_raw))
    density = raw.get("density_g_cm3")
    if density is not None and not _positive(density):
        raise loc.error(f"block {name!r}: density_g_cm3 must be a positive number, got {density!r}", i, None)
    nucleation = _nucleation(raw.get("nucleation"), i, name, loc)
    extra = {k: v for k, v in raw.items() if k not in ("name", "repeat", "steps", "density_g_cm3", "nucleation")}
    return Block(
        name=name.strip(),
        repeat=repeat,
        steps=steps,
        density_g_cm3=float(density) if density is not None else None,
        nucleation=nucleation,
        extra=extra,
    )


def _step(raw: Any, i: int, j: int, block: str, loc: _Locator) -> Step:
    if not isinstance(raw, dict):
        raise loc.error(f"block {block!r}: each [[blocks.steps]] entry must be a table", i, j)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise loc.error(f'block {block!r}, step {j + 1}: needs name = "..."', i, j)
    kind = raw.get("kind")
    if kind not in (StepKind.PULSE.value, StepKind.PURGE.value):
        raise loc.error(f'block {block!r}, step {name!r}: kind must be "pulse" or "purge", got {kind!r}', i, j)
    duration = raw.get("duration_s")
    if duration is None or not _positive(duration) or duration > MAX_DURATION_S:
        raise loc.error(
            f"block {block!r}, step {name!r}: duration_s must be a positive number of seconds "
            f"(at most {MAX_DURATION_S:g}), got {duration!r}",
            i,
            j,
        )
    mass = raw.get("mass_ng_cm2")
    if mass is not None and (isinstance(mass, bool) or not isinstance(mass, int | float) or not math.isfinite(mass)):
        raise loc.error(f"block {block!r}, step {name!r}: mass_ng_cm2 must be a number, got {mass!r}", i, j)
    extra = {k: v for k, v in raw.items() if k not in ("name", "kind", "duration_s", "mass_ng_cm2")}
    return Step(
        name=name.strip(),
        kind=StepKind(kind),
        duration_s=float(duration),
        mass_ng_cm2=float(mass) if mass is not None else None,
        extra=extra,
    )


def _nucleation(raw: Any, i: int, block: str, loc: _Locator) -> Nucleation:
    if raw is None:
        return Nucleation()
    if not isinstance(raw, dict):
        raise loc.error(f"block {block!r}: nucleation must be a table with kind, cycles, factor", i, None)
    kind = raw.get("kind", "none")
    if kind not in NUCLEATION_KINDS:
        raise loc.error(
            f"block {block!r}: nucleation kind must be one of {', '.join(NUCLEATION_KINDS)}, got {kind!r}", i, None
        )
    cycles = raw.get("cycles", 0)
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 0:
        raise loc.error(f"block {block!r}: nucleation cycles must be a whole number ≥ 0, got {cycles!r}", i, None)
    factor = raw.get("factor", 1.0)
    if not _positive(factor) and factor != 0:
        raise loc.error(f"block {block!r}: nucleation factor must be a number ≥ 0, got {factor!r}", i, None)
    if (kind == "enhanced" and factor <= 1) or (kind == "inhibited" and factor >= 1):
        raise loc.error(
            f"block {block!r}: an {kind} nucleation needs factor {'>' if kind == 'enhanced' else '<'} 1,"
            f" got {factor!r}",
            i,
            None,
        )
    if kind == "none":
        cycles, factor = 0, 1.0
    return Nucleation(kind=kind, cycles=cycles, factor=float(factor))


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0


def _line_from_toml_error(msg: str) -> int | None:
    marker = "(at line "
    if marker in msg:
        try:
            return int(msg.split(marker, 1)[1].split(",")[0].split(")")[0])
        except ValueError:
            return None
    return None


class _Locator:
    """Finds the line of the n-th ``[[blocks]]`` / ``[[blocks.steps]]`` header for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.blocks: list[tuple[int, list[int]]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            s = line.strip().replace(" ", "")
            if s.startswith("[[blocks]]"):
                self.blocks.append((lineno, []))
            elif s.startswith("[[blocks.steps]]") and self.blocks:
                self.blocks[-1][1].append(lineno)

    def error(self, message: str, block: int | None, step: int | None) -> UserInputError:
        line = None
        if block is not None and block < len(self.blocks):
            line, steps = self.blocks[block]
            if step is not None and step < len(steps):
                line = steps[step]
        return UserInputError(message, self.source, line)
