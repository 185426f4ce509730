"""Offline reports: the four files per run, what they say, atomic publishing, batches and ``qcm report``.

One short simulated LiGL-on-Al2O3 run (20 + 50 cycles, an anomaly in the LiGL block) serves most
tests through a report written once per module; the rest write only what they must.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdfium2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcm_app.app.cli import main
from qcm_app.domain.errors import UserInputError
from qcm_app.domain.pipeline import Pipeline
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.offline import analyze_file
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, RunWriter
from qcm_app.report import ProgressBar, ReportFiles, write_report, write_reports
from qcm_app.report import figures as report_figures
from qcm_app.report.content import build_content
from qcm_app.report.cycle_table import cycles_csv
from qcm_app.report.figures import minmax_downsample
from qcm_app.report.writer import folder_names
from qcm_app.simulation.reactor import Anomaly, ProcessModel, ReactorSettings, sample_run

SHORT_REPEATS = (20, 50)


def _short_recipe_text() -> str:
    repeats = iter(SHORT_REPEATS)
    return re.sub(r"(?m)^repeat\s*=\s*\d+", lambda _m: f"repeat = {next(repeats)}", load_preset("ligl_on_al2o3").text)


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Input files: the short run as a plain CSV and as our run file (recipe in the header), its recipe,
    a run without any cycle, and a file no importer recognises."""
    folder = tmp_path_factory.mktemp("inputs")
    text = _short_recipe_text()
    recipe = parse_recipe(text)
    model = ProcessModel(recipe, ReactorSettings(seed=4, anomalies=(Anomaly(first_cycle=55, cycles=2, factor=0.7),)))
    run = sample_run(model, 10.0)
    out = {
        "recipe": folder / "short_ligl.toml",
        "csv": folder / "ligl_short.csv",
        "runfile": folder / "ligl_run.csv",
        "flat": folder / "flat.csv",
        "bad": folder / "bad.csv",
    }
    out["recipe"].write_text(text, encoding="utf-8")
    np.savetxt(
        out["csv"],
        np.column_stack((run.time_s, run.frequency_hz)),
        delimiter=",",
        fmt="%.4f",
        header="time_s,frequency_hz",
        comments="",
    )
    meta = RunMetadata(
        start_time="2026-03-02T09:15:00+01:00",
        instrument="INFICON SQM-160",
        firmware="4.12",
        start_frequency_hz=(float(run.frequency_hz[0]),),
        density_g_cm3=1.27,
        recipe_name=recipe.name,
        recipe_text=text,
        operator_note="reactor B, Li foil substrate",
    )
    writer = RunWriter.create(out["runfile"], meta, in_progress_marker=False)
    pipeline = Pipeline()
    pipeline.converter.set_start(meta.start_frequency_hz)
    writer.write(pipeline.process_arrays(run.time_s, run.frequency_hz))
    writer.close()
    t = np.arange(0.0, 300.0, 0.1)
    flat = 5_975_830.0 + 0.01 * np.random.default_rng(2).standard_normal(t.size)
    np.savetxt(out["flat"], np.column_stack((t, flat)), delimiter=",", header="time_s,frequency_hz", comments="")
    out["bad"].write_bytes(b"this is not\na run file\n")
    return out


@pytest.fixture(scope="module")
def report(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    analyzed = analyze_file(data["csv"], recipe=str(data["recipe"]))
    return write_report(analyzed, tmp_path_factory.mktemp("reports") / "ligl", note="LiGL-50 witness sample")


# --- the files of one report ---------------------------------------------------------------------


def test_the_four_files_and_nothing_else(report: ReportFiles) -> None:
    assert sorted(p.name for p in report.folder.iterdir()) == [
        "cycles.csv",
        "report.html",
        "report.pdf",
        "summary.json",
    ]
    assert [p.name for p in report.folder.parent.iterdir()] == ["ligl"]  # no staging folder left behind
    assert report.cycles == sum(SHORT_REPEATS)
    assert report.html_bytes == report.html.stat().st_size


def test_pdf_opens_and_its_pages_render(report: ReportFiles, tmp_path: Path) -> None:
    pdf = pypdfium2.PdfDocument(report.pdf)
    assert len(pdf) == report.pdf_pages >= 5  # title, two figure pages, the cycle table
    image = pdf[0].render(scale=1).to_pil()
    image.save(tmp_path / "page1.png")
    assert abs(image.size[0] - 595) <= 1 and abs(image.size[1] - 842) <= 1  # A4 at 72 dpi
    grey = np.asarray(image.convert("L"))
    assert (grey < 128).mean() > 0.01  # text on it, not a blank page
    figures_page = np.asarray(pdf[1].render(scale=0.5).to_pil().convert("RGB")).reshape(-1, 3).astype(float)
    for regime, share in (("nucleation", 0.01), ("steady", 0.05), ("anomaly", 0.002)):  # the shading of figure 1
        fill = np.array([int(report_figures.FILL[regime][k : k + 2], 16) for k in (1, 3, 5)], dtype=float)
        on_white = 255 * 0.45 + fill * 0.55
        assert (np.abs(figures_page - on_white).sum(axis=1) < 12).mean() > share, regime
    first = pdf[0].get_textpage().get_text_range()
    assert "QCM mass-gain report" in first and "ligl_short.csv" in first and "LiGL-50 witness sample" in first
    last = pdf[len(pdf) - 1].get_textpage().get_text_range()
    assert re.search(rf"\b{sum(SHORT_REPEATS)}\s+{SHORT_REPEATS[1]}\s", last)  # the last cycle's row


def test_cycles_csv_agrees_with_summary_json(report: ReportFiles) -> None:
    summary = json.loads(report.json.read_text(encoding="utf-8"))
    with open(report.csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert summary["cycle_count"] == len(rows) == len(summary["cycles"]) == sum(SHORT_REPEATS)
    for row, cyc in zip(rows, summary["cycles"], strict=True):
        assert int(row["index"]) == cyc["index"]
        assert row["block"] == cyc["block"]
        assert int(row["cycle_in_block"]) == cyc["cycle_in_block"]
        assert float(row["start (s)"]) == pytest.approx(cyc["start_s"], abs=1e-6)
        assert float(row["mass gain (ng/cm2)"]) == pytest.approx(cyc["mass_gain_ng_cm2"], abs=1e-6)
        assert [float(row["dm step 1 (ng/cm2)"]), float(row["dm step 2 (ng/cm2)"])] == pytest.approx(
            cyc["steps_ng_cm2"], abs=1e-6
        )
        assert row["step names"].split(";") == cyc["step_names"]
        assert float(row["ratio A/cycle"]) == pytest.approx(cyc["ratio_a"], abs=1e-6)
        assert row["regime"] == cyc["regime"]
        density = {"Al2O3": 3.0, "LiGL": 1.27}[cyc["block"]]
        assert float(row["thickness gain (A)"]) == pytest.approx(cyc["mass_gain_ng_cm2"] / (10 * density), abs=1e-5)
    regimes = {r["regime"] for r in rows}
    assert regimes == {"nucleation", "steady", "anomaly"}
    assert summary["nucleation"]["kind"] == "enhanced" and summary["nucleation"]["block"] == "LiGL"
    assert summary["report"]["generator"] == "qcm-monitor report"
    assert summary["report"]["files"] == ["report.html", "report.pdf", "cycles.csv", "summary.json"]
    assert summary["report"]["note"] == "LiGL-50 witness sample"


def test_html_is_self_contained(report: ReportFiles) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html  # url(#clip) stays inside the page
    hrefs = set(re.findall(r'href="([^"#][^"]*)"', html))
    assert hrefs == {"report.html", "report.pdf", "cycles.csv", "summary.json"}  # siblings only, in the footer
    assert html.count("<svg") == 4 and html.count("</svg>") == 4
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for fig in ("Figure 1.", "Figure 2.", "Figure 3.", "Figure 4."):
        assert fig in html


def test_report_states_the_run_and_the_results(report: ReportFiles) -> None:
    html = report.html.read_text(encoding="utf-8")
    summary = json.loads(report.json.read_text(encoding="utf-8"))
    for text in (
        "ligl_short.csv",
        "Sauerbrey factor",
        "ng/cm² per Hz",
        "Start frequency",
        "LiGL on ALD-Al2O3",
        "Block LiGL",
        "Al2O3 3 g/cm³, LiGL 1.27 g/cm³",
        "Summary per block",
        "enhanced",
        "qcm-monitor 0.1.0",
    ):
        assert text in html, text
    ligl = next(b for b in summary["blocks"] if b["name"] == "LiGL")
    steady = ligl["steady"]
    assert f"{steady['mass_per_cycle_ng_cm2']:.1f} ± {steady['std_ng_cm2']:.1f}" in html
    assert f"{steady['gpc_ang_per_cycle']:.2f} Å/cycle at 1.27 g/cm³" in html
    first, last = ligl["anomalies"][0]["first_cycle_in_block"], ligl["anomalies"][0]["last_cycle_in_block"]
    assert f"#{ligl['first_cycle'] + first - 1}–{ligl['first_cycle'] + last - 1}" in html
    rows = re.findall(r'<tr class="(nucleation|steady|anomaly)">', html)
    assert len(rows) == sum(SHORT_REPEATS)


def test_the_zoom_figure_states_the_steady_level_of_its_block(report: ReportFiles) -> None:
    """Figure 4's right panel is titled with the steady block and that block's mass per cycle ± std."""
    html = report.html.read_text(encoding="utf-8")
    summary = json.loads(report.json.read_text(encoding="utf-8"))
    steady = next(b for b in summary["blocks"] if b["name"] == "LiGL")["steady"]
    assert ">Steady growth of LiGL</text>" in html
    assert f">{steady['mass_per_cycle_ng_cm2']:.1f} ± {steady['std_ng_cm2']:.1f} ng/cm² per cycle</text>" in html


# --- atomic publishing ---------------------------------------------------------------------------


def test_a_failure_leaves_no_folder(data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("simulated failure while drawing")

    monkeypatch.setattr(report_figures, "draw_zooms", broken)
    analyzed = analyze_file(data["csv"], recipe=str(data["recipe"]))
    with pytest.raises(RuntimeError, match="simulated failure"):
        write_report(analyzed, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # neither the report nor its staging folder


def test_a_failure_leaves_an_existing_report_untouched(
    report: ReportFiles, data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = shutil.copytree(report.folder, tmp_path / "ligl")
    before = _tree(existing)
    monkeypatch.setattr(report_figures, "draw_half_cycles", lambda *_a: 1 / 0)
    analyzed = analyze_file(data["csv"], recipe=str(data["recipe"]))
    with pytest.raises(ZeroDivisionError):
        write_report(analyzed, existing, overwrite=True)
    assert _tree(existing) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ligl"]


def test_existing_folders_are_not_clobbered(report: ReportFiles, data: dict[str, Path], tmp_path: Path) -> None:
    analyzed = analyze_file(data["flat"])  # the quickest report to write
    existing = shutil.copytree(report.folder, tmp_path / "ligl")
    before = _tree(existing)
    with pytest.raises(UserInputError, match=r"exists and is not empty.*replace it \(--overwrite\)"):
        write_report(analyzed, existing)
    assert _tree(existing) == before

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "lab-notebook.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(UserInputError, match="not a report folder"):
        write_report(analyzed, notes, overwrite=True)
    assert (notes / "lab-notebook.txt").read_text(encoding="utf-8") == "precious"

    shutil.copy(data["flat"], existing / "flat.csv")  # the input lives in the old report folder
    with pytest.raises(UserInputError, match="holds the input"):
        write_report(analyze_file(existing / "flat.csv"), existing, overwrite=True)
    (existing / "flat.csv").unlink()

    files = write_report(analyzed, existing, note="second take", overwrite=True)
    assert json.loads(files.json.read_text(encoding="utf-8"))["report"]["note"] == "second take"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ligl", "notes"]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_report(analyzed, empty).html.exists()  # an empty folder is as good as none


# --- unusual runs --------------------------------------------------------------------------------


def test_a_run_without_cycles_still_gets_a_report(data: dict[str, Path], tmp_path: Path) -> None:
    analyzed = analyze_file(data["flat"])
    assert analyzed.result.cycles == []
    files = write_report(analyzed, tmp_path / "flat")
    html = files.html.read_text(encoding="utf-8")
    assert "No deposition cycles were found" in html and html.count("<svg") == 1
    assert files.csv.read_text(encoding="utf-8").count("\n") == 1  # the header only
    assert json.loads(files.json.read_text(encoding="utf-8"))["cycle_count"] == 0
    pdf = pypdfium2.PdfDocument(files.pdf)
    assert len(pdf) == 2
    assert "No deposition cycles" in pdf[0].get_textpage().get_text_range()


def test_without_a_recipe_the_inferred_pattern_is_reported(data: dict[str, Path]) -> None:
    analyzed = analyze_file(data["csv"])
    content = build_content(analyzed)
    assert len(content.cycles) == sum(SHORT_REPEATS)
    assert ("Recipe", "none: the cycle pattern was inferred from the data") in content.metadata
    header = next(csv.reader(io.StringIO(cycles_csv(content))))
    # inferred pulses are named alike in every block ("pulse 1", "pulse 2", ...); blocks inferred with
    # different numbers of pulses get numbered step columns and a column naming the steps
    assert all(name.startswith("pulse ") for c in content.cycles for name in c.step_names)
    assert ("dm pulse 1 (ng/cm2)" in header and "dm pulse 2 (ng/cm2)" in header) or (
        "dm step 1 (ng/cm2)" in header and "step names" in header
    )


def test_our_run_file_carries_its_recipe_and_metadata(data: dict[str, Path]) -> None:
    content = build_content(analyze_file(data["runfile"]))
    meta = dict(content.metadata)
    assert meta["Instrument"] == "INFICON SQM-160" and meta["Firmware"] == "4.12"
    assert meta["Start time"] == "2026-03-02T09:15:00+01:00"
    assert meta["Operator note"] == "reactor B, Li foil substrate"
    assert meta["Recipe"].startswith("LiGL on ALD-Al2O3")
    assert meta["Recorded with"].startswith("qcm-monitor ")
    assert len(content.cycles) == sum(SHORT_REPEATS)


# --- several runs and the command line -----------------------------------------------------------


def test_cli_batch_links_every_run_from_the_index(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [data["csv"], data["flat"], data["flat"]]
    before = {p: _fingerprint(p) for p in inputs}
    out = tmp_path / "batch"
    assert main(["report", *map(str, inputs), "--recipe", str(data["recipe"]), "--out", str(out)]) == 0
    assert {p: _fingerprint(p) for p in inputs} == before  # inputs are only read
    assert sorted(p.name for p in out.iterdir()) == ["flat", "flat-2", "index.csv", "index.html", "ligl_short"]
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in ("ligl_short", "flat", "flat-2"):
        assert f'href="{name}/report.html"' in index
        assert (out / name / "report.html").exists()
    assert "<svg" in index and "<script" not in index
    with open(out / "index.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["folder"] for r in rows] == ["ligl_short", "flat", "flat-2"]
    assert [r["cycles"] for r in rows] == [str(sum(SHORT_REPEATS)), "0", "0"]
    assert rows[0]["last block"] == "LiGL" and float(rows[0]["steady mass per cycle (ng/cm2)"]) > 250
    assert rows[0]["initiation"].startswith("LiGL: enhanced")
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"[{k}/3] {p}" for k, p in enumerate(inputs, start=1)]  # not a TTY
    assert captured.out.strip().endswith(f"wrote 3 reports and {out / 'index.html'}")


def test_cli_single_run(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "one"
    assert main(["report", str(data["runfile"]), "--density", "1.3", "--note", "density check", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cycles.csv", "report.html", "report.pdf", "summary.json"]
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "(recipe: LiGL on ALD-Al2O3)" in captured.out and "wrote " in captured.out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {b["steady"]["density_g_cm3"] for b in summary["blocks"]} == {1.3}


@pytest.mark.parametrize(
    "args, message",
    [
        (["{bad}"], "bad.csv:1: unrecognised format"),
        (["{flat}", "{bad}"], "bad.csv:1: unrecognised format"),
        (["{missing}"], "missing.csv: file not found"),
        (["{csv}", "--density", "0"], "--density must be a positive number"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(
    args: list[str], message: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = {"bad": data["bad"], "csv": data["csv"], "flat": data["flat"], "missing": tmp_path / "missing.csv"}
    argv = ["report", *(a.format(**names) for a in args), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if not line.startswith("[")]  # minus the progress lines
    assert len(err) == 1 and err[0].startswith("qcm: ") and message in err[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_batch_api_reports_progress_and_stops_on_a_bad_file(data: dict[str, Path], tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    with pytest.raises(UserInputError, match=r"bad\.csv"):
        write_reports([data["flat"], data["bad"]], tmp_path / "out", progress=lambda *a: calls.append(a))
    assert calls == [(0, 2, str(data["flat"])), (1, 2, str(data["bad"]))]
    assert list(tmp_path.iterdir()) == []


def test_reports_need_no_qt_no_pyplot_and_no_display(data: dict[str, Path], tmp_path: Path) -> None:
    code = (
        "import sys; from qcm_app.io.offline import analyze_file; from qcm_app.report import write_report; "
        f"write_report(analyze_file({str(data['flat'])!r}), {str(tmp_path / 'out')!r}); "
        "loaded = [m for m in sys.modules if m.startswith(('PySide6', 'matplotlib.pyplot'))]; "
        "print(loaded)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]" and done.stderr == ""
    assert (tmp_path / "out" / "report.pdf").exists()


# --- small parts ---------------------------------------------------------------------------------


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(stream)
    bar(0, 2, "/data/a.csv")
    bar(1, 2, "/data/b.csv")
    bar(2, 2, "")
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "[" + "#" * 12 + "." * 12 + "] 1/2 b.csv" in text


def test_folder_names_are_unique_and_safe() -> None:
    paths = [Path("a/run 1.csv"), Path("b/run 1.csv"), Path("c/RUN 1.log"), Path("d/.hidden.csv"), Path("e/..csv")]
    assert folder_names(paths) == ["run_1", "run_1-2", "RUN_1-3", "hidden", "run"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=3000), st.integers(1, 400))
def test_downsampling_keeps_every_extreme(values: list[float], buckets: int) -> None:
    y = np.array(values)
    t = np.arange(y.size, dtype=float)
    tt, yy = minmax_downsample(t, y, buckets)
    finite = np.isfinite(yy)
    assert yy[finite].min() == y.min() and yy[finite].max() == y.max()
    assert finite.sum() <= max(2 * buckets, y.size)
    assert np.all(np.diff(tt[finite]) >= 0)


def test_downsampling_breaks_the_line_at_gaps() -> None:
    t = np.concatenate((np.arange(0.0, 100.0, 0.01), np.arange(200.0, 300.0, 0.01)))
    y = np.sin(t)
    y[5] = math.nan
    tt, yy = minmax_downsample(t, y, 500)
    assert tt.size <= 2 * 500 + 1
    gap = np.flatnonzero(np.isnan(yy))
    assert gap.size == 1 and tt[gap[0] - 1] < 100.0 and tt[gap[0] + 1] >= 200.0
