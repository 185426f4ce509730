"""``convert``: vendor log → our run file through the live pipeline; atomic, never overwriting unless
asked, never touching the input."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pytest

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.physics import sauerbrey_mass_ng_cm2, zmatch_thickness_ang
from qcm_app.io.importers import ColumnMapping, load_run
from qcm_app.io.importers import convert as convert_module
from qcm_app.io.importers.convert import add_convert_arguments, convert_file, mapping_from_args, run_convert
from qcm_app.io.runfile import IN_PROGRESS_SUFFIX, RunWriter, column_names, read_run

DATA = Path(__file__).resolve().parent / "data"


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def table_of(path: Path) -> tuple[list[str], np.ndarray]:
    """Column names and numbers of a run file, read independently of read_run."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return lines[0].split(","), np.loadtxt(lines[1:], delimiter=",", ndmin=2)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qcm convert")
    add_convert_arguments(p)
    return p


def test_round_trip_through_read_run(tmp_path: Path) -> None:
    out = tmp_path / "minimal.csv"
    assert convert_file(DATA / "generic_minimal.csv", out, density=2.5, z_ratio=1.2, tooling=90.0) == out
    run = read_run(out)
    assert run.time_s.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert run.frequency_hz[:, 0].tolist() == [5975830.23, 5975830.12, 5975829.87, 5975829.5, 5975829.01]
    f0 = 5975830.23
    assert run.mass_ng_cm2[:, 0] == pytest.approx(sauerbrey_mass_ng_cm2(run.frequency_hz[:, 0], f0), abs=1e-3)
    assert run.thickness_ang[:, 0] == pytest.approx(
        zmatch_thickness_ang(run.frequency_hz[:, 0], f0, 2.5, 1.2, 90.0), abs=1e-3
    )
    meta = run.metadata
    assert (meta.density_g_cm3, meta.z_ratio, meta.tooling_pct) == (2.5, 1.2, 90.0)
    assert meta.start_frequency_hz == (5975830.23,)
    assert meta.extra["Converted from"] == "generic_minimal.csv"
    assert meta.extra["Source format"] == "CSV/TSV with time and frequency columns"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minimal.csv"]  # no marker, no temporary file


def test_real_angstrom_log_converts_with_its_film_settings(tmp_path: Path) -> None:
    src = DATA / "angstrom_al_evap.csv"
    out = convert_file(src, tmp_path / "al.csv")
    imported = load_run(src)
    run = read_run(out)
    assert (run.metadata.density_g_cm3, run.metadata.z_ratio, run.metadata.tooling_pct) == (2.7, 1.08, 50.0)
    assert run.metadata.start_time == "2023-01-23T10:59:12.260"
    assert run.metadata.extra["Import warnings"] == "7 duplicate rows dropped"
    assert run.time_s.size == 1087
    assert run.time_s == pytest.approx(imported.time_s, abs=5e-5)
    assert run.frequency_hz[:, 0].tolist() == imported.frequency_hz[:, 0].tolist()
    names, table = table_of(out)
    assert names == column_names(1)
    assert table[:, 5] * 1000.0 == pytest.approx(imported.instrument_thickness_ang[:, 0], abs=0.006)
    # the Thickness column is our Z-match with the log's settings, zeroed at the first reading
    ours = zmatch_thickness_ang(imported.frequency_hz[:, 0], 5982176.63, 2.7, 1.08, 50.0)
    assert table[:, 3] == pytest.approx(ours, abs=1e-3)
    steps = [e for e in run.events if e.kind == "step"]
    assert [e.text for e in steps[:3]] == ["COMPLETE", "START", "Step0"]
    assert len(steps) == len(imported.events)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["al.csv"]


def test_overrides_win_over_the_log(tmp_path: Path) -> None:
    out = convert_file(DATA / "angstrom_two_sensors.csv", tmp_path / "two.csv", density=5.0, tooling=100.0)
    run = read_run(out)
    assert (run.metadata.density_g_cm3, run.metadata.z_ratio, run.metadata.tooling_pct) == (5.0, 1.08, 100.0)
    assert run.metadata.sensors == (1, 3)
    assert run.frequency_hz.shape == (5, 2)
    names, _ = table_of(out)
    assert names == column_names(2)


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("precious\n", encoding="utf-8")
    with pytest.raises(UserInputError) as info:
        convert_file(DATA / "generic_minimal.csv", out)
    assert str(info.value) == f"{out}: already exists; choose another --out or pass --overwrite"
    assert out.read_text(encoding="utf-8") == "precious\n"
    convert_file(DATA / "generic_minimal.csv", out, overwrite=True)
    assert read_run(out).time_s.size == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_output_appearing_meanwhile_is_not_clobbered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "race.csv"
    real_close = RunWriter.close

    def close_then_someone_writes(self: RunWriter) -> None:
        real_close(self)
        out.write_text("written by someone else\n", encoding="utf-8")

    monkeypatch.setattr(RunWriter, "close", close_then_someone_writes)
    with pytest.raises(UserInputError, match="already exists"):
        convert_file(DATA / "generic_minimal.csv", out)
    assert out.read_text(encoding="utf-8") == "written by someone else\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.csv"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("the previous result\n", encoding="utf-8")
    calls = []

    def write_then_fail(self: RunWriter, chunk: object) -> None:
        calls.append(chunk)
        raise failure

    monkeypatch.setattr(RunWriter, "write", write_then_fail)
    expected = UserInputError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as info:
        convert_file(DATA / "generic_minimal.csv", out, overwrite=True)
    if expected is UserInputError:
        assert str(info.value) == f"{out}: cannot write: No space left on device"
    assert calls
    assert out.read_text(encoding="utf-8") == "the previous result\n"  # the old output survives whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no .part, no .recording


def test_the_input_is_never_modified(tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_bytes((DATA / "colnatec_eon.csv").read_bytes())
    before = fingerprint(src)
    convert_file(src, tmp_path / "out.csv")
    assert fingerprint(src) == before
    with pytest.raises(UserInputError, match="would replace the input"):
        convert_file(src, src, overwrite=True)
    with pytest.raises(UserInputError, match="would replace the input"):
        convert_file(src, tmp_path / "." / "log.csv", overwrite=True)
    assert fingerprint(src) == before


def test_bad_input_or_settings_write_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,frequency\n0,5975830\n1,lots\n", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad.csv:3: expected a number in column 'frequency', found 'lots'"):
        convert_file(bad, tmp_path / "out.csv")
    with pytest.raises(UserInputError, match="density must be a positive number"):
        convert_file(DATA / "generic_minimal.csv", tmp_path / "out.csv", density=-1.0)
    with pytest.raises(UserInputError, match="is a folder"):
        convert_file(DATA / "generic_minimal.csv", tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_output_folder_is_created(tmp_path: Path) -> None:
    out = convert_file(DATA / "openqcm.txt", tmp_path / "new" / "folder" / "oq.csv")
    assert read_run(out).frequency_hz[:, 0].tolist() == [10000123.45, 10000123.4, 10000123.31, 10000123.22]
    assert not Path(str(out) + IN_PROGRESS_SUFFIX).exists()


def test_events_before_between_and_after_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert_module, "BLOCK_ROWS", 2)
    out = convert_file(DATA / "stm2.log", tmp_path / "stm2.csv")
    run = read_run(out)
    assert run.time_s.tolist() == [0.0, 0.5, 1.0, 300.0, 300.5]
    assert [(e.kind, e.time_s) for e in run.events] == [("note", 300.0)]
    text = out.read_text(encoding="utf-8")
    assert text.index("# Note: 300.0000 s (log restarted)") < text.index("\n300.0000,")


# --- the command-line pair -------------------------------------------------------------------------


def test_cli_auto_detect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.csv"
    args = parser().parse_args([str(DATA / "colnatec_eon.csv"), "--out", str(out)])
    assert mapping_from_args(args) is None
    assert run_convert(args) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {out} (4 rows, 2 sensors)"
    assert "last row cut short" in captured.err
    assert read_run(out).metadata.tooling_pct == 110.0


def test_cli_column_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lab.txt"
    src.write_text("x;stamp;osc\n1;0,0;5975830,23\n1;0,5;5975830,11\n", encoding="utf-8")
    out = tmp_path / "lab.csv"
    args = parser().parse_args(
        [
            str(src),
            "--out",
            str(out),
            "--time-column",
            "stamp",
            "--frequency-column",
            "3",
            "--delimiter",
            ";",
            "--decimal-comma",
            "--density",
            "2.0",
        ]
    )
    mapping = mapping_from_args(args)
    assert mapping == ColumnMapping(time_column="stamp", frequency_columns=(2,), delimiter=";", decimal_comma=True)
    assert run_convert(args) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (2 rows, 1 sensor)"
    run = read_run(out)
    assert run.time_s.tolist() == [0.0, 0.5]
    assert run.frequency_hz[:, 0].tolist() == [5975830.23, 5975830.11]
    assert run.metadata.density_g_cm3 == 2.0


def test_cli_errors_are_user_errors(tmp_path: Path) -> None:
    args = parser().parse_args([str(tmp_path / "missing.log"), "--out", str(tmp_path / "x.csv")])
    with pytest.raises(UserInputError, match=r"missing\.log: file not found"):
        run_convert(args)
    args = parser().parse_args(
        [str(DATA / "generic_minimal.csv"), "--out", str(tmp_path / "x.csv"), "--frequency-column", "0"]
    )
    with pytest.raises(UserInputError, match="column numbers start at 1"):
        run_convert(args)
    with pytest.raises(SystemExit):
        parser().parse_args([str(DATA / "generic_minimal.csv")])  # --out is required
