"""The run-file header keys are declared once (``qcm_app.io.runfile.format``): the header writes
exactly those keys, the reader takes each as ours (never as an extra), and an imported log's line of
the same name is renamed so it cannot shadow ours. A key added in one of these places only fails here."""

from __future__ import annotations

from dataclasses import replace

from qcm_app.domain.physics import CrystalSettings
from qcm_app.io.importers.metadata import extra_key
from qcm_app.io.runfile import HEADER_KEYS, NOTE_KEY, RESERVED_KEYS, RunMetadata, format_header, parse_header


def _every_field_set() -> RunMetadata:
    """Metadata with every header field away from its default, and no extras."""
    return RunMetadata(
        start_time="2026-01-02T03:04:05+01:00",
        app_version="9.9.9",
        instrument="SQM-160",
        firmware="4.09",
        port="/dev/ttyUSB0",
        protocol="sqm160",
        sensors=(1, 2),
        crystal=replace(
            CrystalSettings(),
            nominal_mhz=5.0,
            quartz_density_g_cm3=2.65,
            quartz_shear_modulus_g_cm_s2=2.95e11,
            zq_kg_m2_s=8.8e6,
            blank_frequency_hz=5.05e6,
            fresh_frequency_hz=5.0e6,
            min_frequency_hz=4.2e6,
        ),
        start_frequency_hz=(5_975_830.125, 5_980_000.5),
        density_g_cm3=2.7,
        z_ratio=0.5,
        tooling_pct=95.0,
        recipe_name="TMA/H2O",
        recipe_file="recipes/tma.toml",
        recipe_text='[[blocks]]\nname = "TMA/H2O"\n',
        time_scale=10.0,
        operator_note="a note",
    )


def _written_keys(meta: RunMetadata) -> list[str]:
    lines = format_header(meta).splitlines()[1:]  # the first line is the format tag
    return [line[1:].partition(":")[0].strip() for line in lines]


def test_the_header_writes_exactly_the_declared_keys() -> None:
    written = _written_keys(_every_field_set())
    assert set(written) == set(HEADER_KEYS)
    assert len(set(HEADER_KEYS)) == len(HEADER_KEYS)


def test_every_declared_key_is_read_back_as_ours() -> None:
    meta = _every_field_set()
    back = parse_header(format_header(meta).splitlines(), "test")
    assert back.extra == {}
    assert back == meta


def test_a_log_line_named_like_one_of_our_keys_is_renamed_and_kept() -> None:
    assert NOTE_KEY in RESERVED_KEYS and set(HEADER_KEYS) <= set(RESERVED_KEYS)
    for key in RESERVED_KEYS:
        assert extra_key(key) == f"Log {key}"
        assert extra_key(key.upper()) == f"Log {key.upper()}"
    meta = _every_field_set()
    meta.extra = {extra_key(key): f"from the log ({key})" for key in RESERVED_KEYS}
    back = parse_header(format_header(meta).splitlines(), "test")
    assert back == meta
