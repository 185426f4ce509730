"""`qcm analyze`: the JSON the issue specifies, the embedded recipe, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcm_app.app.cli import main
from qcm_app.io.recipe_files import load_preset
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, sample_run
from tests.qcm_app.test_replay import _write_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plain_csv(tmp_path_factory) -> Path:
    sampled = sample_run(ProcessModel(load_preset("ligl_on_al2o3"), ReactorSettings(seed=21)), 10.0)
    path = tmp_path_factory.mktemp("csv") / "ligl.csv"
    np.savetxt(
        path,
        np.c_[sampled.time_s, sampled.frequency_hz],
        delimiter=",",
        header="time_s,frequency_hz",
        comments="",
        fmt="%.4f",
    )
    return path


def test_json_has_exactly_the_specified_shape(plain_csv, tmp_path, capsys) -> None:
    out = tmp_path / "out.json"
    assert main(["analyze", str(plain_csv), "--recipe", "ligl_on_al2o3", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["cycles"]) == 140
    first = doc["cycles"][0]
    assert {"index", "start_s", "end_s", "mass_gain_ng_cm2", "steps_ng_cm2", "regime"} <= set(first)
    assert first["index"] == 1 and len(first["steps_ng_cm2"]) == 2
    assert {c["regime"] for c in doc["cycles"]} <= {"nucleation", "steady", "anomaly"}
    assert doc["nucleation"]["kind"] == "enhanced" and 8 <= doc["nucleation"]["cycles"] <= 12
    steady = doc["steady"]
    assert set(steady) >= {"mass_per_cycle_ng_cm2", "std_ng_cm2", "first_cycle"}
    assert steady["mass_per_cycle_ng_cm2"] == pytest.approx(331, rel=0.02)
    assert steady["first_cycle"] == 40 + 11  # run-wide index of LiGL cycle 11
    assert "steady since cycle" in capsys.readouterr().out


def test_without_a_recipe_and_with_density(plain_csv, tmp_path) -> None:
    out = tmp_path / "out.json"
    assert main(["analyze", str(plain_csv), "--density", "1.27", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["cycles"]) == 140
    assert doc["steady"]["gpc_ang_per_cycle"] == pytest.approx(331 / 12.7, rel=0.02)


def test_run_file_carries_its_recipe(tmp_path) -> None:
    run = _write_run(tmp_path / "run.csv", preset="al2o3")
    out = tmp_path / "out.json"
    assert main(["analyze", str(run), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["recipe"] == "Al2O3 (TMA/H2O)" and len(doc["cycles"]) == 100
    assert doc["cycles"][0]["step_names"] == ["TMA", "H2O"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["analyze", "/nonexistent/run.csv"], "not found"),
        (["analyze", "RUN", "--density", "-1"], "--density"),
        (["analyze", "RUN", "--recipe", "no_such_preset"], "no preset recipe"),
    ],
)
def test_errors_are_one_line(plain_csv, capsys, args, message) -> None:
    args = [str(plain_csv) if a == "RUN" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_closed_pipe_is_not_a_traceback(plain_csv) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qcm_app", "analyze", str(plain_csv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `qcm analyze RUN | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0
    assert "Traceback" not in err
