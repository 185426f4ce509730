"""Recipe loading: the presets load, malformed recipes give one clear line with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcm_app.domain.errors import UserInputError
from qcm_app.domain.recipes import parse_recipe
from qcm_app.io.recipe_files import load_preset, load_recipe, preset_paths, resolve_recipe

GOOD = """
name = "test"
[[blocks]]
name = "Al2O3"
repeat = 3
[[blocks.steps]]
name = "TMA"
kind = "pulse"
duration_s = 0.1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 20
"""


def test_all_presets_load() -> None:
    names = set(preset_paths())
    assert {"al2o3", "ligl_on_al2o3", "alucone", "lzo_1to2"} <= names
    for name in names:
        recipe = load_preset(name)
        assert recipe.total_cycles > 0
        assert all(b.pulses for b in recipe.blocks)


def test_demo_default_is_ligl_on_alumina() -> None:
    r = resolve_recipe(None)
    assert r.name == "LiGL on ALD-Al2O3"
    assert [b.name for b in r.blocks] == ["Al2O3", "LiGL"]
    ligl = r.blocks[1]
    assert ligl.nucleation.kind == "enhanced" and ligl.nucleation.cycles == 10
    assert ligl.density_g_cm3 == 1.27
    assert r.blocks[0].pulse_offsets_s == pytest.approx((0.0, 20.1))


def test_supercycle_is_one_cycle_of_six_pulses() -> None:
    lzo = load_preset("lzo_1to2")
    assert len(lzo.blocks[0].pulses) == 6
    assert lzo.total_cycles == lzo.blocks[0].repeat


def test_minimal_recipe_and_extra_keys_are_kept() -> None:
    r = parse_recipe(GOOD.replace('name = "TMA"', 'name = "TMA"\nvendor_valve = 3'))
    assert r.blocks[0].steps[0].extra == {"vendor_valve": 3}
    assert r.blocks[0].cycle_duration_s == pytest.approx(20.1)
    assert r.block_of_cycle(2) == (0, 2)


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (('kind = "pulse"', 'kind = "pluse"'), 'kind must be "pulse" or "purge"', 6),
        (("repeat = 3", "repeat = 0"), "repeat must be a whole number", 3),
        (("duration_s = 20", "duration_s = -2"), "duration_s must be a positive number", 10),
        (('kind = "pulse"', 'kind = "purge"'), "has no pulse step", 3),
        (('name = "test"\n', ""), "top-level name", None),
        (("duration_s = 0.1", "duration_s = 0.1 0.2"), "not valid TOML", 9),
    ],
)
def test_malformed_recipes_name_the_problem_and_line(
    tmp_path: Path, change: tuple[str, str], message: str, line: int | None
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*change, 1))
    with pytest.raises(UserInputError) as err:
        load_recipe(path)
    text = str(err.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text
    if line is not None:
        assert err.value.line == line


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        load_recipe(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserInputError, match="not UTF-8"):
        load_recipe(binary)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_gives_a_recipe_or_a_clear_error(text: str) -> None:
    try:
        parse_recipe(text)
    except UserInputError as exc:
        assert "\n" not in str(exc)


WAIT = """
name = "with waits"
[[blocks]]
name = "wait"
repeat = 1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 300
[[blocks]]
name = "Al2O3"
repeat = 3
[[blocks.steps]]
name = "TMA"
kind = "pulse"
duration_s = 1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 20
[[blocks]]
name = "hold"
repeat = 2
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 60
[[blocks]]
name = "TMA only"
repeat = 4
[[blocks.steps]]
name = "TMA"
kind = "pulse"
duration_s = 1
[[blocks.steps]]
name = "N2"
kind = "purge"
duration_s = 20
"""


def test_purge_only_blocks_are_waits_that_make_no_cycles() -> None:
    r = parse_recipe(WAIT)
    assert [b.is_wait for b in r.blocks] == [True, False, True, False]
    assert r.total_cycles == 7
    assert r.duration_s == pytest.approx(300 + 3 * 21 + 120 + 4 * 21)
    assert r.block_of_cycle(1) == (1, 1)
    assert r.block_of_cycle(3) == (1, 3)
    assert r.block_of_cycle(4) == (3, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("repeat = 3", "repeat = 100000000000"), "repeat must be a whole number from 1 to"),
        (("duration_s = 20", "duration_s = 1e12"), "at most"),
    ],
)
def test_recipe_sizes_are_bounded(change: tuple[str, str], message: str) -> None:
    with pytest.raises(UserInputError) as err:
        parse_recipe(WAIT.replace(*change, 1))
    assert message in str(err.value)


def test_deeply_nested_toml_is_a_clear_error() -> None:
    with pytest.raises(UserInputError) as err:
        parse_recipe("x = " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in str(err.value) or "not valid TOML" in str(err.value)
