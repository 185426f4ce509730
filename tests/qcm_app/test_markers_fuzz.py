"""Fuzzing the marker parsers: whatever the bytes, a clear error (or nothing), never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments.valves import parse_event_line
from qcm_app.domain.errors import UserInputError
from qcm_app.io.importers.labview import load_doses, load_execution_table
from qcm_app.io.marker_sources import LogFollower

EXECUTION_HEADER = "Recipe Step\tPrecursor\tFill Pressure [Torr]\tDose Time [s]\tPurge Time [s]\tALD Process Type\n"
DOSES_HEADER = (
    "Recipe Step #\tPrecursor #\tPrecursor Name\tALD Process Type\tPulse/Fill Start Timestamp\t"
    "Pulse/Fill Start Elapsed Time [s]\tHold Start Timestamp\tHold Start Elapsed Time [s]\t"
    "Purge Start Timestamp\tPurge Start Elapsed Time [s]\tInitial Mass [ng/cm²]\tFinal Mass [ng/cm²]\t"
    "delta-M [ng/cm²]\n"
)
cells = st.sampled_from(
    [
        "1",
        "2",
        "TMA",
        "H2O",
        "None",
        "N/A",
        "1.00",
        "20.00",
        "-3",
        "nan",
        "inf",
        "0: Purge",
        "1: Pulse-Purge (Full Flow)",
        "",
        "1e400",
        "x",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_event_lines(text):
    try:
        event = parse_event_line(text)
    except ValueError:
        return
    assert event is None or event.valve


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cells, min_size=0, max_size=8), max_size=8), st.booleans())
def test_tool_tables(rows, doses):
    body = "\n".join("\t".join(r) for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.txt"
        path.write_text("title\n" + (DOSES_HEADER if doses else EXECUTION_HEADER) + body, encoding="latin-1")
        try:
            (load_doses if doses else load_execution_table)(path)
        except UserInputError as exc:
            assert "\n" not in str(exc)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_follower_never_crashes_on_junk(chunks):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.txt"
        follower = LogFollower(path, run_clock=lambda: 0.0)
        with open(path, "wb") as fh:
            fh.write(b"Elapsed Time [s]\tTMA valve\n")
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                for p in follower.poll():
                    assert p.duration_s >= 0
