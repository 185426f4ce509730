"""Settings survive a restart; damaged values fall back to defaults with a one-line message."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings

from qcm_app.app.controller import AppSettings
from qcm_app.app.settings import load_settings, save_settings, settings_from_mapping, settings_to_mapping
from qcm_app.domain.physics import CrystalSettings


def test_round_trip_through_qsettings(tmp_path) -> None:
    s = AppSettings(
        runs_folder=tmp_path / "runs",
        crystal=CrystalSettings.for_nominal_mhz(5.0),
        demo_speed=25.0,
        operator_note="LiGL-90 for A. Scientist",
    )
    s.film.density_g_cm3 = 1.27
    save_settings(s)
    loaded, problems = load_settings()
    assert problems == []
    assert loaded.runs_folder == tmp_path / "runs"
    assert loaded.crystal == s.crystal
    assert loaded.film.density_g_cm3 == 1.27
    assert (loaded.demo_speed, loaded.operator_note) == (25.0, "LiGL-90 for A. Scientist")


def test_damaged_values_fall_back_with_a_message(tmp_path) -> None:
    store = QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, "qcm-monitor", "qcm-monitor")
    store.beginGroup("app")
    store.setValue("demo_speed", "fast")
    store.setValue("crystal_min_frequency_hz", -5)
    store.setValue("demo_protocol", "morse")
    store.setValue("film_tooling_pct", "1e9")
    store.endGroup()
    store.sync()
    loaded, problems = load_settings()
    assert loaded.demo_speed == AppSettings().demo_speed
    assert loaded.crystal.min_frequency_hz == CrystalSettings().min_frequency_hz
    assert loaded.demo_protocol == "sqm160"
    assert len(problems) == 4
    assert all("\n" not in p and p.startswith("setting '") for p in problems)


def test_wrong_order_of_life_frequencies() -> None:
    loaded, problems = settings_from_mapping({"crystal_min_frequency_hz": 6.5e6})
    assert loaded.crystal.min_frequency_hz < loaded.crystal.fresh_frequency_hz
    assert problems and "wrong order" in problems[0]


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(settings_to_mapping(AppSettings()))), VALUES, max_size=8))
def test_any_stored_values_give_usable_settings(values: dict) -> None:
    loaded, problems = settings_from_mapping(values)
    assert loaded.demo_speed > 0 and loaded.film.density_g_cm3 > 0
    assert loaded.crystal.min_frequency_hz < loaded.crystal.fresh_frequency_hz
    assert isinstance(loaded.runs_folder, Path)
    assert all("\n" not in p for p in problems)


def test_one_store_for_app_connection_and_window(tmp_path) -> None:
    """The app settings, the connection and the window layout are typed views of one QSettings file."""
    from PySide6.QtCore import QByteArray

    from qcm_app.app.settings import (
        ConnectionSettings,
        WindowLayout,
        load_connection,
        load_window_layout,
        save_connection,
        save_window_layout,
        user_store,
    )

    save_settings(AppSettings(runs_folder=tmp_path / "runs"))
    connection = ConnectionSettings(
        port="/dev/ttyUSB0",
        protocol="line",
        baud=9600,
        sensors=(1, 2),
        options={"line": {"decimal_comma": "yes"}},
        markers_kind="log",
        markers_target="/share/Run_DataLog.txt",
        valve_names="TMA=Mod8/do1",
    )
    save_connection(connection)
    save_window_layout(WindowLayout(QByteArray(b"g"), None, {"main_split": QByteArray(b"s")}, wall_clock=True))
    assert load_connection() == connection
    assert load_connection().options["line"]["decimal_comma"] == "yes"
    layout = load_window_layout(("main_split", "side_split"))
    assert (layout.geometry, layout.state, layout.wall_clock) == (QByteArray(b"g"), None, True)
    assert set(layout.splitters) == {"main_split"}
    text = Path(user_store().fileName()).read_text()
    assert all(f"[{group}]" in text for group in ("app", "connection", "window"))
    assert load_connection(QSettings(str(tmp_path / "empty.ini"), QSettings.Format.IniFormat)) == ConnectionSettings()
