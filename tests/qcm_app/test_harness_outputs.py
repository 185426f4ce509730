"""The one output rule (qcm_app/io/fileio.py) and the guards behind issue 10's tracebacks, tested
directly: what the corpus harness shows from the outside, here from the inside."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.physics import CrystalSettings, sauerbrey_factor_ng_cm2_per_hz
from qcm_app.io.fileio import check_input, check_link, check_output, write_output_text
from qcm_app.io.offline import analyze_file
from qcm_app.report.writer import write_report


def test_never_onto_an_input_by_any_name(tmp_path) -> None:
    src = tmp_path / "run.csv"
    src.write_text("data\n")
    os.link(src, tmp_path / "same_inode.json")
    (tmp_path / "symlink.json").symlink_to(src)
    for name in ("run.csv", "same_inode.json", "symlink.json", "./run.csv"):
        with pytest.raises(UserInputError, match="would replace the input"):
            write_output_text(tmp_path / name, "{}", inputs=[src], overwrite=True)
    assert src.read_text() == "data\n"


def test_existing_files_devices_fifos_and_folders_are_refused(tmp_path) -> None:
    old = tmp_path / "old.json"
    old.write_text("mine")
    with pytest.raises(UserInputError, match="already exists"):
        write_output_text(old, "new")
    assert old.read_text() == "mine"
    write_output_text(old, "new", overwrite=True)
    assert old.read_text() == "new"
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    for target, words in (
        (Path("/dev/full"), "not a regular file"),
        (fifo, "not a regular file"),
        (tmp_path, "is a folder"),
        (old / "x.json", "is not a folder"),
    ):
        with pytest.raises(UserInputError, match=words):
            check_output(target, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "old.json"]  # no temporary left behind


def test_inputs_that_would_block_are_refused(tmp_path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    with pytest.raises(UserInputError, match="FIFO"):
        check_input(fifo)
    with pytest.raises(UserInputError, match="FIFO"):
        check_input(Path("/dev/zero"))


def test_simulate_link_replaces_only_a_stale_link_of_its_own(tmp_path) -> None:
    mine = tmp_path / "ttyQCM"
    mine.symlink_to("/dev/pts/999")  # left by a killed simulate
    assert check_link(mine) == mine
    user = tmp_path / "notes.txt"
    user.write_text("keep")
    for target in (user, tmp_path, tmp_path / "missing" / "x", user / "x"):
        with pytest.raises(UserInputError):
            check_link(target)
    (tmp_path / "ttyB.new").write_text("the server would delete this")
    with pytest.raises(UserInputError, match=r"ttyB\.new"):
        check_link(tmp_path / "ttyB")


@pytest.mark.parametrize("f0", [0.0, -5.9e6, 1e-300, math.nan, math.inf, 1e300])
def test_sauerbrey_refuses_what_no_crystal_reads(f0) -> None:
    with pytest.raises(ValueError, match="crystal frequency"):
        sauerbrey_factor_ng_cm2_per_hz(f0)


def test_sauerbrey_refuses_impossible_quartz() -> None:
    with pytest.raises(ValueError, match="quartz density"):
        sauerbrey_factor_ng_cm2_per_hz(6e6, CrystalSettings(quartz_density_g_cm3=-2.648))
    assert sauerbrey_factor_ng_cm2_per_hz(6e6) == pytest.approx(12.27, rel=0.01)  # the textbook 6 MHz value


def test_report_overwrite_replaces_only_what_we_wrote(tmp_path) -> None:
    src = tmp_path / "flat.csv"
    t = np.arange(400) * 0.5
    src.write_text("time_s,frequency_hz\n" + "".join(f"{a},{5975830.0 - 0.01 * a:.3f}\n" for a in t))
    analyzed = analyze_file(src)
    out = tmp_path / "report"
    write_report(analyzed, out)
    (out / "notes.txt").write_text("my lab notes")  # the user's file, next to an old report
    (out / "figures").mkdir()
    (out / "figures" / "mine.png").write_bytes(b"png")
    old_html = (out / "report.html").read_bytes()
    write_report(analyzed, out, note="second", overwrite=True)
    assert (out / "notes.txt").read_text() == "my lab notes"
    assert (out / "figures" / "mine.png").read_bytes() == b"png"
    assert (out / "report.html").read_bytes() != old_html  # ours was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.csv", "report"]  # nothing left aside
