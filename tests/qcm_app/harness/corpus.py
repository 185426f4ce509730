"""The malformed-input corpus: every case issue 10 lists (files, recipes, options, outputs), built
fresh in a folder, each with the command lines to run it through and what the harness must see.

A case is data, not code: ``argv`` for ``python -m qcm_app``, the files that must come out unchanged
(``inputs``), and the promise (:class:`Expect`). The harness runs them as subprocesses.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from qcm_app.domain.pipeline import Pipeline
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.runfile import RunMetadata, RunWriter
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run

DATA = Path(__file__).resolve().parents[1] / "data"
PRESETS = Path(__file__).resolve().parents[3] / "resources" / "recipes"


class Expect(Enum):
    #: exit status 2, exactly one line on stderr
    ERROR = "error"
    #: the bad rows are dropped with a warning (exit 0, a "warning:" line), or the file is refused (ERROR)
    WARN_OR_ERROR = "warn-or-error"


@dataclass
class Case:
    name: str
    argv: list[str]
    inputs: list[Path] = field(default_factory=list)
    expect: Expect = Expect.ERROR
    #: a warning must name the rows it dropped with one of these words
    warn_words: tuple[str, ...] = ()


PLAIN_ROWS = 600
SMALL_RECIPE = (PRESETS / "al2o3.toml").read_text(encoding="utf-8").replace("repeat = 100", "repeat = 6")


def _run_file(path: Path) -> Path:
    recipe = parse_recipe(SMALL_RECIPE, "al2o3 small")
    sampled = sample_run(ProcessModel(recipe, ReactorSettings(seed=5)), 10.0)
    pipe = Pipeline(1)
    chunk = pipe.process_arrays(sampled.time_s, sampled.frequency_hz)
    meta = RunMetadata(
        start_time="2026-01-01T00:00:00+00:00",
        instrument="simulated",
        recipe_name=recipe.name,
        recipe_text=recipe.text,
        start_frequency_hz=tuple(pipe.converter.start_frequency_hz),
    )
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(chunk)
    writer.mark("note", float(sampled.time_s[10]), "a note")
    writer.close()
    return path


def _plain_csv(path: Path, rows: int = PLAIN_ROWS) -> Path:
    t = np.arange(rows) * 0.5
    f = 5_975_830.0 - 0.01 * t + 0.5 * (np.sin(t / 7.0) > 0.9)
    lines = ["time_s,frequency_hz", *(f"{a:.1f},{b:.3f}" for a, b in zip(t, f, strict=True))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _edit_lines(src: Path, dst: Path, edit) -> Path:
    lines = src.read_text(encoding="utf-8").split("\n")
    dst.write_text("\n".join(edit(lines)), encoding="utf-8")
    return dst


def _header_value(lines: list[str], key: str, value: str) -> list[str]:
    out = []
    for line in lines:
        if line.startswith(f"# {key}:"):
            line = f"# {key}: {value}"
        out.append(line)
    return out


def _data_start(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith("Time (s)")) + 1


def _set_frequency(lines: list[str], row: int, value: str) -> list[str]:
    i = _data_start(lines) + row
    parts = lines[i].split(",")
    parts[1] = value
    lines[i] = ",".join(parts)
    return lines


def _vendor_with_frequency(name: str, value: str, dst: Path) -> Path:
    """A vendor sample with its first frequency reading replaced by ``value``."""
    text = (DATA / name).read_text(encoding="utf-8", errors="surrogateescape")
    for old in ("5975830.23", "10000123.45", "5990000.00"):
        if old in text:
            text = text.replace(old, value, 1)
            break
    else:  # pragma: no cover - the samples are ours
        raise AssertionError(f"no frequency to replace in {name}")
    dst.write_text(text, encoding="utf-8", errors="surrogateescape")
    return dst


def _nested_toml(depth: int) -> str:
    return "x = " + "[" * depth + "]" * depth + "\n"


def _recipe_with_steps(n: int) -> str:
    steps = "".join(
        f'[[blocks.steps]]\nname = "S{i}"\nkind = "{"pulse" if i % 2 == 0 else "purge"}"\n'
        f"duration_s = {0.1 if i % 2 == 0 else 2}\n" + ("mass_ng_cm2 = 10\n" if i % 2 == 0 else "")
        for i in range(n)
    )
    return f'name = "many"\n[[blocks]]\nname = "B"\nrepeat = 3\n{steps}'


def build(root: Path) -> list[Case]:
    """Make every malformed input under ``root`` and return the cases to run."""
    root.mkdir(parents=True, exist_ok=True)
    base = root / "base"
    base.mkdir()
    good_run = _run_file(base / "good_run.csv")
    good_csv = _plain_csv(base / "good.csv")
    recipe = base / "small.toml"
    recipe.write_text(SMALL_RECIPE, encoding="utf-8")
    bad = root / "bad"
    bad.mkdir()
    files: list[Path] = []
    warn_files: list[tuple[Path, tuple[str, ...]]] = []

    # run-file event lines whose time is not a number
    for i, text in enumerate(("# Tare: e s", "# Tare: . s", "# Link lost: 1e999 s (x)", "# Note: -e s")):
        warn_files.append(
            (
                _edit_lines(
                    good_run,
                    bad / f"event_time_{i}.csv",
                    lambda ls, t=text: [*ls[: _data_start(ls) + 5], t, *ls[_data_start(ls) + 5 :]],
                ),
                ("event", "time"),
            )
        )
    # start frequency zero, negative, tiny; negative or zero quartz constants
    for tag, value in (("zero", "0"), ("negative", "-5975830"), ("tiny", "1e-300"), ("huge", "1e300")):
        files.append(
            _edit_lines(
                good_run,
                bad / f"start_frequency_{tag}.csv",
                lambda ls, v=value: _header_value(ls, "Start frequency", f"{v} Hz"),
            )
        )
    for key in ("Quartz density", "Quartz shear modulus"):
        for value in ("-2.648", "0", "nan"):
            files.append(
                _edit_lines(
                    good_run,
                    bad / f"{key.replace(' ', '_').lower()}_{value}.csv",
                    lambda ls, k=key, v=value: [
                        line if not line.startswith(f"# {k}:") else re.sub(r":\s*\S+", f": {v}", line, count=1)
                        for line in ls
                    ],
                )
            )
    # every reading a nonsense frequency (nothing left to analyse)
    for tag, value in (("zero", "0"), ("negative", "-1"), ("tiny", "1e-300")):
        files.append(
            _edit_lines(
                good_run,
                bad / f"all_frequency_{tag}.csv",
                lambda ls, v=value: (
                    ls[: _data_start(ls)]
                    + [
                        ",".join([row.split(",")[0], v, *row.split(",")[2:]]) if row else row
                        for row in ls[_data_start(ls) :]
                        if not row.startswith("#")
                    ]
                ),
            )
        )
        files.append(
            _edit_lines(
                good_csv,
                bad / f"plain_frequency_{tag}.csv",
                lambda ls, v=value: [ls[0]] + [f"{r.split(',')[0]},{v}" for r in ls[1:] if r],
            )
        )
    # the first reading of every importer's sample at 0, negative and 1e-300 Hz
    for name in (
        "sqm160.txt",
        "openqcm.txt",
        "stm2.log",
        "colnatec_eon.csv",
        "angstrom_two_sensors.csv",
        "generic_minimal.csv",
    ):
        for tag, value in (("zero", "0"), ("negative", "-5975830"), ("tiny", "1e-300")):
            warn_files.append((_vendor_with_frequency(name, value, bad / f"{tag}_first_{name}"), ("frequency", "gap")))
    # malformed tables
    files.append(
        _edit_lines(
            good_csv,
            bad / "inf_time_everywhere.csv",
            lambda ls: [ls[0]] + [f"inf,{r.split(',')[1]}" for r in ls[1:] if r],
        )
    )
    files.append(_edit_lines(good_csv, bad / "text_in_numbers.csv", lambda ls: [*ls[:5], "1.0,abc", *ls[5:]]))
    warn_files.append(
        (_edit_lines(good_csv, bad / "too_many_columns.csv", lambda ls: [*ls[:5], "1,2,3,4", *ls[5:]]), ("row",))
    )
    files.append(
        _edit_lines(
            good_run,
            bad / "run_text_row.csv",
            lambda ls: [*ls[: _data_start(ls) + 3], "x,y,z", *ls[_data_start(ls) + 3 :]],
        )
    )
    files.append(_edit_lines(good_run, bad / "run_no_rows.csv", lambda ls: ls[: _data_start(ls)]))
    files.append(
        _edit_lines(
            good_run, bad / "run_bad_header_number.csv", lambda ls: _header_value(ls, "Quartz density", "heavy g/cm3")
        )
    )
    # convert copies the header without reading the recipe, so this one is for analyze and report
    broken_recipe = _edit_lines(
        good_run,
        bad / "run_embedded_recipe_broken.csv",
        lambda ls: [line.replace("repeat = 6", "repeat = 10000000000000") for line in ls],
    )
    (bad / "empty.csv").write_bytes(b"")
    files.append(bad / "empty.csv")
    (bad / "binary.csv").write_bytes(bytes(range(256)) * 8)
    files.append(bad / "binary.csv")
    (bad / "latin1_garbage.csv").write_bytes("time_s,frequency_hz\n0,\xff\xfe\n".encode("latin-1"))
    files.append(bad / "latin1_garbage.csv")
    # rows the importer must not lose silently: drop only the bad ones with a warning, or refuse
    warn_files.append(
        (
            _edit_lines(
                good_csv, bad / "inf_time_near_top.csv", lambda ls: [*ls[:3], f"inf,{ls[3].split(',')[1]}", *ls[4:]]
            ),
            ("time", "row", "inf"),
        )
    )
    last_s = (PLAIN_ROWS - 1) * 0.5
    warn_files.append(
        (
            _edit_lines(
                good_csv,
                bad / "time_goes_backwards.csv",
                lambda ls: [ls[0], *(f"{last_s - float(r.split(',')[0]):.1f},{r.split(',')[1]}" for r in ls[1:] if r)],
            ),
            ("backwards", "row", "order", "time"),
        )
    )
    warn_files.append(
        (
            _edit_lines(
                good_csv,
                bad / "time_resets_midway.csv",
                lambda ls: ls[:300] + [f"{float(r.split(',')[0]) - 140:.1f},{r.split(',')[1]}" for r in ls[300:] if r],
            ),
            ("backwards", "row", "order", "time"),
        )
    )
    warn_files.append(
        (
            _edit_lines(
                good_csv, bad / "decimal_comma_row.csv", lambda ls: [*ls[:20], '"9,5","5975830,120"', *ls[20:]]
            ),
            ("comma", "row", "number", "line"),
        )
    )
    warn_files.append(
        (
            _edit_lines(
                good_run,
                bad / "run_inf_time_near_top.csv",
                lambda ls: [
                    *ls[: _data_start(ls) + 2],
                    "inf," + ",".join(ls[_data_start(ls) + 2].split(",")[1:]),
                    *ls[_data_start(ls) + 3 :],
                ],
            ),
            ("time", "row"),
        )
    )
    # FIFOs and devices as input must not hang
    fifo = bad / "fifo.csv"
    os.mkfifo(fifo)
    special_inputs = [fifo, Path("/dev/zero"), bad]  # a FIFO, a device, a folder

    # recipes
    recipes = root / "recipes"
    recipes.mkdir()
    bad_recipes = []
    for name, text in (
        ("nested.toml", _nested_toml(5000)),
        ("repeat_1e12.toml", SMALL_RECIPE.replace("repeat = 6", "repeat = 1000000000000")),
        ("repeat_2_63.toml", SMALL_RECIPE.replace("repeat = 6", f"repeat = {2**63 - 1}")),
        ("repeat_zero.toml", SMALL_RECIPE.replace("repeat = 6", "repeat = 0")),
        ("duration_negative.toml", SMALL_RECIPE.replace("duration_s = 15", "duration_s = -15", 1)),
        ("duration_nan.toml", SMALL_RECIPE.replace("duration_s = 15", "duration_s = nan", 1)),
        ("not_toml.toml", "this is = = not toml\n"),
        ("no_blocks.toml", 'name = "x"\n'),
        ("steps_1001.toml", _recipe_with_steps(1001)),
    ):
        (recipes / name).write_text(text, encoding="utf-8")
        bad_recipes.append(recipes / name)

    cases: list[Case] = []
    out = root / "out"
    out.mkdir()

    def new_out(tag: str) -> Path:
        """A path in a folder of the case's own (cases run side by side, and some must succeed)."""
        own = out / f"{len(cases):03d}"
        own.mkdir(exist_ok=True)
        return own / tag

    for f in [*files, *special_inputs]:
        stem = f.name.replace(".", "_")
        cases.append(Case(f"analyze {f.name}", ["analyze", str(f), "--json", str(new_out(stem + ".json"))], [f]))
        cases.append(Case(f"report {f.name}", ["report", str(f), "--out", str(new_out(stem + "_report"))], [f]))
        cases.append(Case(f"convert {f.name}", ["convert", str(f), "--out", str(new_out(stem + "_conv.csv"))], [f]))
    for f, words in warn_files:
        # a report that succeeds takes seconds (figures, PDF): analyze says what report says, and one
        # report below proves that report prints the warnings too
        cases.append(Case(f"analyze {f.name}", ["analyze", str(f)], [f], Expect.WARN_OR_ERROR, words))
        cases.append(
            Case(
                f"convert {f.name}",
                ["convert", str(f), "--out", str(new_out("conv.csv"))],
                [f],
                Expect.WARN_OR_ERROR,
                words,
            )
        )
    for cmd, extra in (("analyze", []), ("report", ["--out", str(new_out("rep"))])):
        cases.append(Case(f"{cmd} {broken_recipe.name}", [cmd, str(broken_recipe), *extra], [broken_recipe]))
    inf_top = next(f for f, _ in warn_files if f.name == "inf_time_near_top.csv")
    cases.append(
        Case(
            "report inf_time_near_top.csv",
            ["report", str(inf_top), "--out", str(new_out("rep"))],
            [inf_top],
            Expect.WARN_OR_ERROR,
            ("time", "row", "inf"),
        )
    )
    for r in bad_recipes:
        stem = r.name.replace(".", "_")
        cases.append(Case(f"analyze --recipe {r.name}", ["analyze", str(good_csv), "--recipe", str(r)], [good_csv, r]))
        cases.append(
            Case(
                f"report --recipe {r.name}",
                ["report", str(good_csv), "--recipe", str(r), "--out", str(new_out(stem + "_rep"))],
                [good_csv, r],
            )
        )
        cases.append(Case(f"simulate --recipe {r.name}", ["simulate", "--recipe", str(r)], [r]))
    cases.append(
        Case("analyze --recipe missing", ["analyze", str(good_csv), "--recipe", str(recipes / "none.toml")], [good_csv])
    )

    # outputs: existing files, the input itself, folders, under a file, devices, FIFOs
    existing = root / "existing"
    existing.mkdir()
    old_json = existing / "old.json"
    old_json.write_text('{"mine": true}\n', encoding="utf-8")
    old_txt = existing / "existing.txt"
    old_txt.write_text("keep me\n", encoding="utf-8")
    out_fifo = existing / "out.fifo"
    os.mkfifo(out_fifo)
    link_to_input = existing / "link_to_input.json"
    link_to_input.symlink_to(good_csv)
    dangling = existing / "dangling.json"
    dangling.symlink_to(existing / "nowhere" / "x.json")
    victim = base / "victim.csv"
    shutil.copy(good_csv, victim)
    hard_link = existing / "hard_link_to_input.json"
    os.link(victim, hard_link)  # another name, the same inode
    protected = [good_csv, good_run, victim, old_json, old_txt]
    targets = {
        "the input itself": victim,
        "an existing file": old_json,
        "a symlink to the input": link_to_input,
        "a hard link to the input": hard_link,
        "a dangling symlink": dangling,
        "a folder": existing,
        "under a file": old_txt / "c.json",
        "a FIFO": out_fifo,
        "/dev/null": Path("/dev/null"),
        "/dev/full": Path("/dev/full"),
    }
    for tag, read_only in (("full disk", False), ("read-only folder", True)):
        folder = _small_mount(out / tag.replace(" ", "_"), read_only)  # under out/: cases write there at once
        if folder is not None:  # only where this machine lets us mount a tmpfs (else see the recording suite)
            targets[f"a {tag}"] = folder / "out.json"
    for what, target in targets.items():
        cases.append(Case(f"analyze --json {what}", ["analyze", str(victim), "--json", str(target)], protected))
        cases.append(Case(f"convert --out {what}", ["convert", str(victim), "--out", str(target)], protected))
    cases.append(
        Case("convert --out existing.txt/c.csv", ["convert", str(victim), "--out", str(old_txt / "c.csv")], protected)
    )
    cases.append(
        Case(
            "convert --out the input, --overwrite",
            ["convert", str(victim), "--out", str(victim), "--overwrite"],
            protected,
        )
    )
    cases.append(
        Case(
            "analyze --json the input, --overwrite",
            ["analyze", str(victim), "--json", str(victim), "--overwrite"],
            protected,
        )
    )
    user_folder = existing / "user_folder"
    user_folder.mkdir()
    (user_folder / "thesis.docx").write_text("years of work\n", encoding="utf-8")
    protected.append(user_folder / "thesis.docx")
    report_targets = {
        "an existing file": old_json,
        "under a file": old_txt / "rep",
        "the input": victim,
        "a folder of the user's": user_folder,
        "/dev/null": Path("/dev/null"),
        "the root": Path("/"),
    }
    for what in ("a full disk", "a read-only folder"):
        if what in targets:
            report_targets[what] = targets[what].parent / "report"
    for what, target in report_targets.items():
        cases.append(Case(f"report --out {what}", ["report", str(victim), "--out", str(target)], protected))
    cases.append(
        Case(
            "report --out a folder of the user's, --overwrite",
            ["report", str(victim), "--out", str(user_folder), "--overwrite"],
            protected,
        )
    )
    cases.append(
        Case(
            "report --out the folder holding the input, --overwrite",
            ["report", str(victim), "--out", str(base), "--overwrite"],
            protected,
        )
    )

    # options
    bad_options = [
        ["analyze", str(good_csv), "--density", "-1"],
        ["analyze", str(good_csv), "--density", "nan"],
        ["analyze", str(good_csv), "--density", "inf"],
        ["analyze", str(good_csv), "--crystal-mhz", "nan"],
        ["analyze", str(good_csv), "--crystal-mhz", "0"],
        ["analyze", str(good_csv), "--crystal-mhz", "1e-300"],
        ["report", str(good_csv), "--out", str(new_out("opt_rep")), "--density", "0"],
        ["report", str(good_csv), "--out", str(new_out("opt_rep2")), "--crystal-mhz", "inf"],
        ["convert", str(good_csv), "--out", str(new_out("opt.csv")), "--density", "-3"],
        ["convert", str(good_csv), "--out", str(new_out("opt2.csv")), "--tooling", "nan"],
        ["convert", str(good_csv), "--out", str(new_out("opt3.csv")), "--time-column", "0"],
        ["convert", str(good_csv), "--out", str(new_out("opt4.csv")), "--time-column", "nope"],
        ["convert", str(good_csv), "--out", str(new_out("opt5.csv")), "--frequency-column", "99"],
        ["convert", str(good_csv), "--out", str(new_out("opt6.csv")), "--skip-rows", "-4"],
        ["convert", str(good_csv), "--out", str(new_out("opt7.csv")), "--time-format", "%Q%Q"],
        ["simulate", "--seed", "-1"],
        ["simulate", "--sensors", "0"],
        ["simulate", "--sensors", "-2"],
        ["simulate", "--sensors", "99"],
        ["simulate", "--speed", "nan"],
        ["simulate", "--speed", "inf"],
        ["simulate", "--speed", "-5"],
        ["simulate", "--speed", "0"],
        ["simulate", "--faults", "corrupt=2"],
        ["simulate", "--faults", "bogus"],
        ["simulate", "--link", str(existing)],
        ["simulate", "--link", "/missing/x"],
        ["simulate", "--link", str(old_txt)],
        ["simulate", "--link", str(old_txt / "x")],
        ["gui", "--speed", "-5"],
        ["gui", "--speed", "nan"],
        ["gui", "--speed", "0"],
        ["gui", "--sensors", "0"],
        ["gui", "--sensors", "a,b"],
        ["gui", "--poll-interval", "-1"],
        ["gui", "--baud", "-9600"],
        ["gui", "--recipe", str(recipes / "nested.toml")],
    ]
    for argv in bad_options:
        cases.append(Case(" ".join(a if "/" not in a else Path(a).name for a in argv), argv, protected))
    return cases


#: tmpfs mounts made by :func:`build`, for :func:`unmount_all`
MOUNTS: list[Path] = []


def _small_mount(folder: Path, read_only: bool) -> Path | None:
    """A tiny tmpfs at ``folder``: full (a file takes all its room) or read-only; None if not allowed."""
    import subprocess

    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        return None
    MOUNTS.append(folder)
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, check=True)
    else:
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as fh:
            fh.write(b"x" * 64 * 1024)
    return folder


def unmount_all() -> None:
    import subprocess

    while MOUNTS:
        subprocess.run(["umount", "-l", str(MOUNTS.pop())], capture_output=True)


def snapshot(root: Path, skip: tuple[str, ...] = ("out",)) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` but the ``skip`` folders: its kind and, for files, a digest."""
    import hashlib

    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(root))] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(root))] = ("link", os.readlink(p))
            else:
                out[str(p.relative_to(root))] = ("dir" if stat.S_ISDIR(st.st_mode) else "other", "")
    return out


@dataclass
class Changes:
    """What a case changed: inputs whose bytes differ, entries of the shared tree that appeared,
    changed or vanished, and outputs it named (under ``out/``) that exist afterwards."""

    inputs: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@contextmanager
def changes(root: Path, argv: list[str], inputs: list[Path]) -> Iterator[Changes]:
    before_inputs = {str(p): digest(p) for p in inputs}
    before = snapshot(root)
    seen = Changes()
    yield seen
    seen.inputs = [p for p, d in before_inputs.items() if digest(Path(p)) != d]
    after = snapshot(root)
    seen.entries = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    outs = str(root / "out") + os.sep
    named = [Path(a) for a in argv if a.startswith(outs)]
    seen.outputs = [str(p) for p in named if os.path.lexists(p)]
    # and no temporary file or staging folder of ours left next to where the output would have gone
    seen.outputs += [
        str(q) for p in named if p.parent.is_dir() for q in p.parent.iterdir() if q.name.startswith(f".{p.name}.")
    ]


def digest(path: Path) -> str:
    import hashlib

    if not path.is_file():
        return "not a file"
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["Case", "Changes", "Expect", "build", "changes", "digest", "snapshot", "unmount_all"]
