"""Writing report folders so that nobody ever sees half of one (the folder rules are in
:mod:`qcm_app.report.folder`)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

from qcm_app import __version__
from qcm_app.domain.errors import UserInputError
from qcm_app.io.fileio import atomic_write, atomic_write_text
from qcm_app.io.offline import AnalyzedRun, analyze_file
from qcm_app.report import figures, plotting
from qcm_app.report.content import ReportContent, build_content
from qcm_app.report.cycle_table import cycles_csv
from qcm_app.report.folder import (  # noqa: F401 - re-exported: the folder rules belong to the writer's API
    GENERATOR,
    INDEX_FILES,
    REPORT_FILES,
    check_destination,
    check_options,
    is_report_folder,
    owned_entries,
    staged,
)
from qcm_app.report.html import IndexRow, index_html, report_html
from qcm_app.report.pdf import write_pdf
from qcm_app.report.reference import ReferenceComparison, compare, find_reference
from qcm_app.report.wording import initiation_text

#: (key, width, height in inches) of the HTML page's figures
HTML_FIGURES = (("mass", 10.0, 4.2), ("gains", 10.0, 3.8), ("half", 10.0, 5.6), ("zooms", 10.0, 4.0))

#: matplotlib's style and PDF/SVG font settings are process-wide (rc_context), so two reports drawn at
#: once from different threads (the GUI exports in a worker) would mix them: one drawing at a time
_DRAWING = threading.Lock()

#: called as progress(done, total, path): before each run with the runs done so far and the run
#: about to start, and once at the end with done == total and an empty path
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ReportFiles:
    """Where one run's report went, with a few figures about it."""

    folder: Path
    html: Path
    pdf: Path
    csv: Path
    json: Path
    source: str
    cycles: int
    pdf_pages: int
    html_bytes: int
    #: one line comparing our per-step masses with the tool's table ("" without one)
    reference_summary: str = ""
    #: what the importer dropped or repaired, for the command line to print
    warnings: tuple[str, ...] = ()

    def moved_to(self, folder: Path) -> ReportFiles:
        return replace(
            self,
            folder=folder,
            html=folder / self.html.name,
            pdf=folder / self.pdf.name,
            csv=folder / self.csv.name,
            json=folder / self.json.name,
        )


def write_report(
    analyzed: AnalyzedRun,
    out_dir: str | Path,
    note: str = "",
    *,
    overwrite: bool = False,
    reference: str | Path | None = None,
) -> ReportFiles:
    """report.html, report.pdf, cycles.csv and summary.json of one analysed run in ``out_dir``,
    which must not exist yet (or be empty) unless ``overwrite``."""
    out_dir = Path(out_dir)
    inputs = [Path(analyzed.run.source)] if analyzed.run.source else []
    with staged(out_dir, overwrite, inputs) as tmp:
        files = write_report_into(tmp, analyzed, note, reference=reference)
    return files.moved_to(out_dir)


def write_reports(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    recipe: str | None = None,
    density: float | None = None,
    progress: Progress | None = None,
    *,
    crystal_mhz: float | None = None,
    note: str = "",
    overwrite: bool = False,
) -> list[ReportFiles]:
    """One report folder per run (named after the file, made unique) and ``index.html`` comparing
    them, all in ``out_dir``. A file that cannot be read stops the batch with its name, and then
    nothing is written."""
    run_paths = [Path(p) for p in paths]
    if not run_paths:
        raise UserInputError("no run files given")
    check_options(density, crystal_mhz)
    out_dir = Path(out_dir)
    names = folder_names(run_paths)
    generated = datetime.now().astimezone().isoformat(timespec="seconds")
    results: list[ReportFiles] = []
    rows: list[IndexRow] = []
    points: list[figures.RunPoint] = []
    with staged(out_dir, overwrite, run_paths) as tmp:
        for i, (path, name) in enumerate(zip(run_paths, names, strict=True)):
            if progress is not None:
                progress(i, len(run_paths), str(path))
            analyzed = analyze_file(path, recipe, crystal_mhz, density)
            sub = tmp / name
            sub.mkdir()
            results.append(write_report_into(sub, analyzed, note, generated).moved_to(out_dir / name))
            row, point = _index_entry(analyzed, name, path)
            rows.append(row)
            points.append(point)
        with _DRAWING, matplotlib.rc_context(plotting.STYLE):
            fig = plotting.new_figure(10.0, 3.6)
            figures.draw_comparison(fig, points)
            svg = plotting.svg_text(fig, "svg-compare")
        atomic_write_text(tmp / "index.html", index_html(rows, svg, generated))
        atomic_write_text(tmp / "index.csv", _index_csv(rows))
        if progress is not None:
            progress(len(run_paths), len(run_paths), "")
    return results


def folder_names(paths: Sequence[Path]) -> list[str]:
    """Each run's folder: its file name without the extension, made safe and unique (ignoring case,
    for the file systems that do)."""
    out: list[str] = []
    taken: set[str] = set()
    for p in paths:
        base = re.sub(r"[^\w.+-]+", "_", p.stem).strip("._") or "run"
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}-{k}"
        taken.add(name.lower())
        out.append(name)
    return out


def write_report_into(
    folder: Path,
    analyzed: AnalyzedRun,
    note: str = "",
    generated: str | None = None,
    reference: str | Path | None = None,
) -> ReportFiles:
    """The four files of one report in an existing (staging) folder; ``reference`` is the tool's dose
    table (default: the one beside the tool's log, if any)."""
    content = build_content(analyzed, note, generated)
    content.reference = _reference(analyzed, reference)
    with _DRAWING, matplotlib.rc_context(plotting.STYLE):
        svgs = _html_figures(content)
        pages: list[int] = []
        atomic_write(folder / "report.pdf", lambda tmp: pages.append(write_pdf(tmp, content)))
    html = report_html(content, svgs, REPORT_FILES)
    atomic_write_text(folder / "report.html", html)
    atomic_write_text(folder / "cycles.csv", cycles_csv(content))
    atomic_write_text(
        folder / "summary.json",
        json.dumps(_summary(content, analyzed), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
    )
    return ReportFiles(
        folder=folder,
        html=folder / "report.html",
        pdf=folder / "report.pdf",
        csv=folder / "cycles.csv",
        json=folder / "summary.json",
        source=content.source,
        cycles=len(content.cycles),
        pdf_pages=pages[0],
        html_bytes=len(html.encode("utf-8")),
        reference_summary=content.reference.summary() if content.reference else "",
        warnings=tuple(analyzed.run.warnings),
    )


def _html_figures(content: ReportContent) -> dict[str, str]:
    draw = {
        "mass": figures.draw_mass_time,
        "gains": figures.draw_cycle_gains,
        "half": figures.draw_half_cycles,
        "zooms": figures.draw_zooms,
    }
    out = {}
    for key, width, height in HTML_FIGURES:
        if key != "mass" and not content.cycles:
            continue
        fig = plotting.new_figure(width, height)
        draw[key](fig, content)
        out[key] = plotting.svg_text(fig, f"svg-{key}")
    return out


def _summary(content: ReportContent, analyzed: AnalyzedRun) -> dict[str, Any]:
    """``qcm analyze --json``'s document plus what the report adds about itself."""
    run = analyzed.run
    doc = dict(content.json)
    if content.reference is not None:
        doc["tool_reference"] = content.reference.to_json()
    if content.valves:
        doc["valves"] = content.valves
    doc["report"] = {
        "generator": GENERATOR,
        "app_version": __version__,
        "generated": content.generated,
        "source": content.source,
        "note": content.note,
        "files": list(REPORT_FILES),
        "recipe": analyzed.recipe.name if analyzed.recipe else None,
        "recipe_inferred": analyzed.recipe is None,
        "samples": int(analyzed.time_s.size),
        "start_frequency_hz": _json_num(analyzed.start_frequency_hz),
        "sauerbrey_factor_ng_cm2_per_hz": _json_num(analyzed.factor_ng_cm2_per_hz),
        "instrument": run.metadata.instrument,
        "start_time": run.metadata.start_time,
        "operator_note": run.metadata.operator_note,
        "import_warnings": list(run.warnings),
    }
    return doc


def _reference(analyzed: AnalyzedRun, given: str | Path | None) -> ReferenceComparison | None:
    try:
        doses = find_reference(analyzed, given)
    except UserInputError:
        if given is not None:
            raise
        return None  # a damaged table beside the log does not stop the report
    return compare(analyzed, doses) if doses is not None else None


def _json_num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _index_entry(a: AnalyzedRun, folder: str, path: Path) -> tuple[IndexRow, figures.RunPoint]:
    blocks = a.result.regimes.blocks
    last = blocks[-1] if blocks else None
    nuc = next((b for b in blocks if b.nucleation_kind != "none" and b.nucleation_cycles), None)
    anomalous = sum(1 for c in a.result.cycles if a.result.regime_of(c) == "anomaly")
    steady = last.steady_mass_ng_cm2 if last is not None and last.has_steady else math.nan
    std = last.steady_std_ng_cm2 if last is not None and last.has_steady else math.nan
    row = IndexRow(
        name=path.name,
        folder=folder,
        source=str(path),
        cycles=len(a.result.cycles),
        recipe=a.recipe.name if a.recipe else "",
        block=last.block_name if last else "—",
        steady_ng_cm2=steady,
        std_ng_cm2=std,
        gpc_ang=last.gpc_ang if last is not None else math.nan,
        density_g_cm3=last.density_g_cm3 if last is not None else None,
        nucleation=f"{nuc.block_name}: {initiation_text(nuc)}" if nuc else "none detected",
        anomalous_cycles=anomalous,
    )
    point = figures.RunPoint(
        name=folder,
        block=row.block,
        steady_ng_cm2=steady,
        std_ng_cm2=std,
        nucleation_cycles=nuc.nucleation_cycles if nuc else 0,
    )
    return row, point


def _index_csv(rows: Sequence[IndexRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "run",
            "folder",
            "source",
            "cycles",
            "recipe",
            "last block",
            "steady mass per cycle (ng/cm2)",
            "steady std (ng/cm2)",
            "GPC (A/cycle)",
            "density (g/cm3)",
            "initiation",
            "anomalous cycles",
        ]
    )
    for r in rows:
        w.writerow(
            [
                r.name,
                r.folder,
                r.source,
                r.cycles,
                r.recipe,
                r.block,
                _csv(r.steady_ng_cm2),
                _csv(r.std_ng_cm2),
                _csv(r.gpc_ang),
                _csv(r.density_g_cm3),
                r.nucleation,
                r.anomalous_cycles,
            ]
        )
    return buf.getvalue()


def _csv(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else repr(round(float(v), 6))
