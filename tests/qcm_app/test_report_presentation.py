"""How the report presents a run: per-block film settings, a run that stopped early, the ratio
column that must not read as Å/cycle, readable axes for zero gains, and no fontTools chatter."""

from __future__ import annotations

import logging
from pathlib import Path

from qcm_app.domain.pipeline import Pipeline
from qcm_app.io.offline import analyze_file
from qcm_app.io.recipe_files import load_preset
from qcm_app.io.runfile import RunMetadata, RunWriter
from qcm_app.report.content import build_content
from qcm_app.report.cycle_table import table_header, table_rows
from qcm_app.report.plotting import MIN_MASS_SPAN_NG_CM2, _readable_ylim, new_figure
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run


def write_run(path: Path, preset: str, keep_fraction: float = 1.0) -> Path:
    """A simulated run of a preset, cut after ``keep_fraction`` of its samples (an early stop)."""
    recipe = load_preset(preset)
    sampled = sample_run(ProcessModel(recipe, ReactorSettings(seed=5)), 5.0)
    n = int(sampled.time_s.size * keep_fraction)
    pipe = Pipeline(1)
    chunk = pipe.process_arrays(sampled.time_s[:n], sampled.frequency_hz[:n])
    meta = RunMetadata(
        start_time=RunMetadata.now_iso(),
        instrument="simulated",
        recipe_name=recipe.name,
        recipe_text=recipe.text,
        start_frequency_hz=tuple(pipe.converter.start_frequency_hz),
        density_g_cm3=1.27,
    )
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(chunk)
    writer.close()
    return path


def test_a_run_that_stopped_early_says_so_and_film_settings_are_per_block(tmp_path) -> None:
    content = build_content(analyze_file(write_run(tmp_path / "half.csv", "ligl_on_al2o3", 0.5)))
    planned = load_preset("ligl_on_al2o3").total_cycles
    n = len(content.cycles)
    assert 0 < n < planned
    assert f"stopped at cycle {n} of {planned}" in content.headline
    film = dict(content.metadata)["Film settings"]
    assert "Al2O3 3 g/cm³" in film and "LiGL 1.27 g/cm³" in film
    assert "thickness column used 1.27 g/cm³" in film


def test_a_complete_run_does_not_claim_an_early_stop(tmp_path) -> None:
    content = build_content(analyze_file(write_run(tmp_path / "full.csv", "al2o3")))
    assert len(content.cycles) == load_preset("al2o3").total_cycles
    assert "stopped at" not in content.headline


def test_the_ratio_column_is_a_share_beside_the_masses_not_beside_thickness(tmp_path) -> None:
    content = build_content(analyze_file(write_run(tmp_path / "run.csv", "al2o3", 0.1)))
    block = content.blocks[0]
    header = table_header(block)
    assert "A/cycle" not in header
    share = header.index("TMA share")
    assert header[share + 1] == "Δm cycle" and header.index("Δd (Å)") == share + 2
    row = table_rows(content, block)[3]
    c = content.cycles[3]
    assert float(row[share]) == round(c.steps_ng_cm2[0] / c.mass_gain_ng_cm2, 3)
    assert row[-1] == content.labels[3]


def test_zero_gains_get_a_readable_axis() -> None:
    fig = new_figure(4, 3)
    ax = fig.add_subplot()
    ax.scatter([1, 2, 3], [0.0, 0.0, 0.0])
    _readable_ylim(ax)
    lo, hi = ax.get_ylim()
    assert hi - lo >= MIN_MASS_SPAN_NG_CM2 and lo < 0 < hi
    wide = fig.add_subplot()
    wide.scatter([1, 2], [30.0, 40.0])
    before = wide.get_ylim()
    _readable_ylim(wide)
    assert wide.get_ylim() == before  # a real spread is left alone


def test_pdf_export_does_not_log_font_subsetting(tmp_path, caplog) -> None:
    from qcm_app.report import write_report

    analyzed = analyze_file(write_run(tmp_path / "run.csv", "al2o3", 0.1))
    with caplog.at_level(logging.INFO):
        files = write_report(analyzed, tmp_path / "report")
    assert Path(files.html).exists()
    assert not [r for r in caplog.records if r.name.startswith("fontTools")]


def test_markers_and_alarms_of_the_run_are_in_the_report(tmp_path) -> None:
    from qcm_app.report import write_report

    path = tmp_path / "marked.csv"
    recipe = load_preset("al2o3")
    sampled = sample_run(ProcessModel(recipe, ReactorSettings(seed=5)), 5.0)
    n = sampled.time_s.size // 10
    pipe = Pipeline(1)
    meta = RunMetadata(start_time=RunMetadata.now_iso(), recipe_name=recipe.name, recipe_text=recipe.text)
    writer = RunWriter.create(path, meta, in_progress_marker=False)
    writer.write(pipe.process_arrays(sampled.time_s[:n], sampled.frequency_hz[:n]))
    writer.mark("marker", float(sampled.time_s[n // 2]), "TMA bubbler refilled")
    writer.mark("alarm", float(sampled.time_s[n // 2 + 5]), "Crystal life 9.5 % (below 10 %)")
    writer.close()
    content = build_content(analyze_file(path))
    assert [kind for _, kind, _ in content.events] == ["marker", "alarm"]
    row = dict(content.metadata)["Events (2)"]
    assert "marker: TMA bubbler refilled" in row and "alarm: Crystal life 9.5 %" in row
    files = write_report(analyze_file(path), tmp_path / "report")
    html = Path(files.html).read_text(encoding="utf-8")
    assert "TMA bubbler refilled" in html and "marker / alarm" in html
