"""The cycle chart and the session with hand-made cycles: error bars, revised cycles, whole-number
ticks, per-block scaling, half-reaction names, and per-block thickness in the readout."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from qcm_app.analysis import AnalysisUpdate, CycleResult, RegimeSnapshot
from qcm_app.analysis.regimes import BlockRegime
from qcm_app.app.session import LiveSession
from qcm_app.domain.pipeline import FilmSettings, Pipeline
from widgets.cycle_chart import ALL_BLOCKS, REVISED_TIP, BreakdownView, CycleAxisItem, CycleChart


def cycle(
    index: int,
    gain: float,
    sigma: float = math.nan,
    revised: bool = False,
    block: int = 0,
    name: str = "Al2O3",
    in_block: int | None = None,
    steps: tuple[str, ...] = ("TMA", "H2O"),
) -> CycleResult:
    return CycleResult(
        index=index,
        block_index=block,
        block_name=name,
        cycle_in_block=in_block or index,
        start_s=10.0 * index,
        end_s=10.0 * index + 10,
        mass_gain_ng_cm2=gain,
        steps_ng_cm2=(gain * 0.6, gain * 0.4),
        step_names=steps,
        pulse_times_s=(0.0, 5.0),
        pulses_observed=(True, True),
        mass_gain_sigma_ng_cm2=sigma,
        steps_sigma_ng_cm2=(sigma / 2, sigma / 2) if math.isfinite(sigma) else (),
        revised=revised,
    )


def snapshot(*blocks: BlockRegime) -> RegimeSnapshot:
    return RegimeSnapshot(blocks=tuple(blocks), locked=False, message="")


@pytest.fixture
def chart(qtbot) -> CycleChart:
    widget = CycleChart()
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.show()
    return widget


def test_error_bars_are_one_sigma_on_each_bar(chart) -> None:
    cycles = [cycle(1, 36.0, 1.5), cycle(2, 37.0, 2.0), cycle(3, 35.0)]  # the third: σ unknown
    chart.show_cycles(cycles, ["steady"] * 3)
    opts = chart._errors.opts
    assert list(opts["x"]) == [1.0, 2.0]
    assert list(opts["y"]) == [36.0, 37.0]
    assert list(opts["height"]) == [3.0, 4.0]  # ±1σ is a bar 2σ tall
    items = chart.getPlotItem().items
    assert sum(item is chart._errors for item in items) == 1
    chart.show_cycles(cycles[:1], ["steady"])  # the same item, new data
    assert list(chart._errors.opts["x"]) == [1.0]


def test_revised_cycles_are_outlined_and_say_so(chart) -> None:
    cycles = [cycle(1, 36.0, 1.0), cycle(2, 40.0, 1.0, revised=True), cycle(3, 35.0, 1.0)]
    chart.show_cycles(cycles, ["nucleation", "steady", "steady"])
    assert list(chart._revised.opts["x"]) == [2.0]
    assert list(chart._revised.opts["height"]) == [40.0]
    assert REVISED_TIP in chart.tooltip_at(2.1)
    assert REVISED_TIP not in chart.tooltip_at(1.0)
    assert "± 1.0" in chart.tooltip_at(3.0) and "Cycle 3" in chart.tooltip_at(3.0)
    brushes = chart._bars.opts["brushes"]
    assert brushes[1].color().alpha() < brushes[0].color().alpha()


def test_session_replaces_revised_cycles_by_index() -> None:
    session = LiveSession(1)
    session.add_analysis(
        AnalysisUpdate(new_cycles=(cycle(1, 30.0), cycle(2, 31.0), cycle(3, 32.0)), regimes=snapshot())
    )
    session.add_analysis(
        AnalysisUpdate(new_cycles=(cycle(4, 33.0),), regimes=snapshot(), revised=(cycle(2, 45.0, revised=True),))
    )
    assert [c.index for c in session.cycles] == [1, 2, 3, 4]
    assert [c.mass_gain_ng_cm2 for c in session.cycles] == [30.0, 45.0, 32.0, 33.0]
    assert session.cycles[1].revised and not session.cycles[0].revised


def test_cycle_axis_ticks_are_whole_numbers(qtbot) -> None:
    axis = CycleAxisItem("bottom")
    for low, high, size in ((0.4, 3.6, 600.0), (0.0, 140.0, 600.0), (10.2, 11.9, 300.0)):
        values = [v for _spacing, level in axis.tickValues(low, high, size) for v in level]
        assert values, (low, high)
        assert all(float(v).is_integer() for v in values), values
    assert axis.tickStrings([3.0, 4.0], 1.0, 1.0) == ["3", "4"]


def test_one_block_scale_keeps_small_bars_readable(chart, qtbot) -> None:
    cycles = [cycle(k, 36.0, in_block=k) for k in range(1, 6)]
    cycles += [cycle(k, 500.0, block=1, name="LiGL", in_block=k - 5) for k in range(6, 11)]
    chart.show_cycles(cycles, ["steady"] * 10)
    assert chart.blocks() == {0: ("Al2O3", 1, 5), 1: ("LiGL", 6, 10)}
    chart.show_block(0)
    (x0, x1), (_y0, y1) = chart.getPlotItem().vb.viewRange()
    assert x0 < 1 and 5 < x1 < 6
    assert 36.0 < y1 < 60.0  # scaled to 36 ng, not to 500
    chart.show_block(ALL_BLOCKS)
    qtbot.waitUntil(lambda: chart.getPlotItem().vb.viewRange()[1][1] >= 500.0, timeout=5000)


def test_breakdown_names_come_from_the_shown_cycle_only(qtbot) -> None:
    view = BreakdownView()
    qtbot.addWidget(view)
    view.show_cycle(cycle(1, 36.0, 2.0), "steady")
    ticks = view.plot.getAxis("bottom")._tickLevels
    assert [name for _, name in ticks[0]] == ["TMA", "H2O"]
    assert list(view._errors.opts["height"]) == [2.0, 2.0]
    view.show_cycle(None)  # another recipe, no cycle yet: no TMA/H2O left over
    assert view.plot.getAxis("bottom")._tickLevels in (None, [[]], [])
    view.show_cycle(cycle(1, 500.0, steps=("LiOtBu", "GL")), "nucleation")
    assert [name for _, name in view.plot.getAxis("bottom")._tickLevels[0]] == ["LiOtBu", "GL"]


def test_thickness_readout_is_per_block_at_each_density() -> None:
    session = LiveSession(1)
    pipe = Pipeline(1, film=FilmSettings(density_g_cm3=1.6))  # the last block's density, as before
    t = np.arange(10.0)
    freq = 6.0e6 - np.where(t > 5, (t - 5) * 1.0, 0.0)  # growing only after the last cycle ended (5 s)
    chunk = pipe.process_arrays(t, freq)
    session.add_chunk(chunk)
    since_last_cycle = float(chunk.mass_ng_cm2[-1, 0] - chunk.mass_ng_cm2[5, 0])
    assert since_last_cycle > 0
    last = replace(cycle(3, 35.0), start_s=0.0, end_s=5.0)
    session.add_analysis(AnalysisUpdate(new_cycles=(last,), regimes=snapshot()))
    al = BlockRegime(
        block_index=0,
        block_name="Al2O3",
        first_index=1,
        cycles=3,
        labels=("steady",) * 3,
        density_g_cm3=3.0,
        gains_ng_cm2=(36.0, 37.0, 35.0),
    )
    ligl = BlockRegime(
        block_index=1,
        block_name="LiGL",
        first_index=4,
        cycles=2,
        labels=("steady",) * 2,
        density_g_cm3=1.6,
        gains_ng_cm2=(480.0, 520.0),
    )
    session.add_analysis(AnalysisUpdate(new_cycles=(), regimes=snapshot(al)))
    # 108 ng at 3 g/cm³ is 3.6 Å; what grew since the last cycle counts at the current block's density
    assert session.readouts().thickness_ang == pytest.approx((108.0 + since_last_cycle) / 30.0)
    session.add_analysis(AnalysisUpdate(new_cycles=(), regimes=snapshot(al, ligl)))
    assert session.readouts().thickness_ang == pytest.approx(108.0 / 30.0 + (1000.0 + since_last_cycle) / 16.0)
    # the instrument-style column (one density for the whole run) would say otherwise
    assert abs(float(chunk.thickness_ang[-1, 0]) - session.readouts().thickness_ang) > 1.0
    # with no analysis yet, the instrument-style column is all there is
    fresh = LiveSession(1)
    fresh.add_chunk(pipe.process_arrays(t + 10, np.full(10, 5.9980e6)))
    assert math.isfinite(fresh.readouts().thickness_ang)


def test_thickness_column_grows_at_each_blocks_density() -> None:
    from qcm_app.domain.physics import CrystalSettings, zmatch_thickness_ang
    from qcm_app.domain.pipeline import block_density_after
    from qcm_app.io.recipe_files import load_preset

    pipe = Pipeline(1, film=FilmSettings(density_g_cm3=3.0))
    f0, f1, f2 = 6.0e6, 5.9990e6, 5.9900e6
    pipe.process_arrays(np.array([0.0, 1.0]), np.array([f0, f1]))
    pipe.converter.set_density(1.27)  # the LiGL block begins at f1
    chunk = pipe.process_arrays(np.array([2.0]), np.array([f2]))
    crystal = CrystalSettings()
    expected = zmatch_thickness_ang(f1, f0, 3.0, crystal=crystal) + zmatch_thickness_ang(f2, f1, 1.27, crystal=crystal)
    assert float(chunk.thickness_ang[0, 0]) == pytest.approx(float(expected), rel=1e-9)
    one_density = float(zmatch_thickness_ang(f2, f0, 1.27, crystal=crystal))
    assert abs(float(chunk.thickness_ang[0, 0]) - one_density) > 1.0  # what the old column said
    pipe.tare([f2])
    assert float(pipe.process_arrays(np.array([3.0]), np.array([f2])).thickness_ang[0, 0]) == pytest.approx(0.0)

    recipe = load_preset("ligl_on_al2o3")
    first, second = recipe.blocks[0], next(b for b in recipe.blocks[1:] if not b.is_wait)
    assert block_density_after(recipe, {}, 0, first.repeat - 1) == first.density_g_cm3
    assert block_density_after(recipe, {}, 0, first.repeat) == second.density_g_cm3  # the next block grows now
    assert block_density_after(recipe, {second.name: 1.5}, 0, first.repeat) == 1.5
    assert block_density_after(None, {}, 0, 1) is None


def test_the_worker_switches_the_thickness_density_when_a_block_ends(qtbot) -> None:
    from types import SimpleNamespace

    from qcm_app.acquisition.worker import WorkerBase
    from qcm_app.io.recipe_files import load_preset

    recipe = load_preset("ligl_on_al2o3")
    first = recipe.blocks[0]
    second = next(b for b in recipe.blocks[1:] if not b.is_wait)
    worker = WorkerBase(
        Pipeline(1, film=FilmSettings(density_g_cm3=first.density_g_cm3)),
        analyzer=SimpleNamespace(recipe=recipe, densities={}),
    )
    worker._follow_block_density(SimpleNamespace(new_cycles=(cycle(39, 36.0, in_block=first.repeat - 1),)))
    assert worker.pipeline.converter.film.density_g_cm3 == first.density_g_cm3
    worker._follow_block_density(SimpleNamespace(new_cycles=(cycle(40, 36.0, in_block=first.repeat),)))
    assert worker.pipeline.converter.film.density_g_cm3 == second.density_g_cm3
