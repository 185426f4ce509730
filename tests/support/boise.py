"""The real Boise State TMA/H2O run (2019-05-24), read from ``../shared/data/real/`` beside the checkout.

The truth is the tool's own: valve opening times (``Mod8/do1``/``do2``) and its per-step ΔM table, as
written to ``vendor_cycles.csv``. Nothing is copied into the project.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.tracegen import BlockTruth, CycleTruth

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO.parent / "shared" / "data" / "real" / "boise-ald-2019-05-24"
RECIPE_PATH = Path(__file__).resolve().parent / "boise_recipe.toml"
#: the crystal's nominal frequency (a GaPO4 crystal at ~5.5836 MHz)
CRYSTAL_MHZ = 5.5836
#: recipe block index of each of the tool's blocks (waits at 0, 2, 4, 6)
BLOCK_INDEX = {"A": 1, "B": 3, "C": 5}
BLOCK_NAME = {"A": "Al2O3", "B": "TMA only", "C": "Al2O3 again"}

# the targets on this run
START_TOLERANCE_S = 2.5
MASS_TOLERANCE_NG_CM2 = 3.0
TMA_ONLY_FIRST_NG_CM2 = 27.0
TMA_ONLY_TOLERANCE_NG_CM2 = 4.0
LAST_BLOCK_STEADY_NG_CM2 = 31.7
LAST_BLOCK_STEADY_TOLERANCE_NG_CM2 = 1.5
INHIBITED_CYCLES = 10
NO_RECIPE_MIN_GAIN_NG_CM2 = 6.0
NO_RECIPE_START_TOLERANCE_S = 3.0
NO_RECIPE_MAX_FALSE = 3


@dataclass
class BoiseRun:
    time_s: np.ndarray
    frequency_hz: np.ndarray
    recipe_toml: str
    cycles: list[CycleTruth]
    blocks: list[BlockTruth]


def available() -> bool:
    return (DATA_DIR / "time_freq.csv").is_file() and (DATA_DIR / "vendor_cycles.csv").is_file()


def _float(text: str) -> float:
    return float(text) if text.strip() else math.nan


def load() -> BoiseRun:
    data = np.loadtxt(DATA_DIR / "time_freq.csv", delimiter=",", skiprows=1)
    cycles: list[CycleTruth] = []
    in_block: dict[str, int] = {}
    with open(DATA_DIR / "vendor_cycles.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            blk = row["block"]
            in_block[blk] = in_block.get(blk, 0) + 1
            tma, h2o = _float(row["tma_pulse_start_s"]), _float(row["h2o_pulse_start_s"])
            pulses = (tma,) if math.isnan(h2o) else (tma, h2o)
            steps = (_float(row["dm_tma_ng_cm2_vendor"]),)
            if len(pulses) == 2:
                steps = (*steps, _float(row["dm_h2o_ng_cm2_vendor"]))
            k = in_block[blk]
            cycles.append(
                CycleTruth(
                    index=int(row["cycle"]),
                    block_index=BLOCK_INDEX[blk],
                    block_name=BLOCK_NAME[blk],
                    cycle_in_block=k,
                    start_s=tma,
                    end_s=math.nan,
                    mass_gain_ng_cm2=_float(row["dm_cycle_ng_cm2_vendor"]),
                    steps_ng_cm2=steps,
                    pulse_times_s=pulses,
                    # the README: no steady state in block A; block C runs steady from its 2nd cycle
                    steady=blk == "C" and k >= 2,
                    visible=abs(_float(row["dm_cycle_ng_cm2_vendor"])) >= NO_RECIPE_MIN_GAIN_NG_CM2,
                )
            )
    blocks = [
        BlockTruth(1, BLOCK_NAME["A"], 50, math.nan, 50, "inhibited", "real: inhibited, no steady state"),
        BlockTruth(3, BLOCK_NAME["B"], 10, 0.0, 1, "enhanced", "real: saturating TMA-only"),
        BlockTruth(5, BLOCK_NAME["C"], 20, LAST_BLOCK_STEADY_NG_CM2, 1, "inhibited", "real: steady"),
    ]
    return BoiseRun(data[:, 0], data[:, 1], RECIPE_PATH.read_text(encoding="utf-8"), cycles, blocks)
