"""Speed of the cycle analysis on a 24-hour 10 Hz run, and a change-point baseline (ruptures) beside it.

The ``al2o3`` preset is stretched to ``--hours`` (2861 cycles of 30.2 s for 24 h, ~865k samples),
simulated (not timed) and written as a ``time_s,frequency_hz`` CSV with the stretched recipe as TOML.
Measured, each ``--repeats`` times (median and min, ``time.perf_counter``; the machine is shared):

- ``analyze_24h``: ``analyze_file`` in process, ``load_run`` alone, the analysis alone on the loaded
  run, and the whole ``qcm analyze CSV --recipe TOML --json OUT`` command as a subprocess;
- ``online``: the same mass fed to ``LiveAnalysis`` in chunks of 10 samples (1 s at 10 Hz, as the
  acquisition worker delivers it): µs per sample, slowest ``feed`` call, chunked == one-shot;
- ``baseline_ruptures``: PELT with an l2 cost (``rpt.Pelt``) and the same cost in C
  (``rpt.KernelCPD(kernel="linear")``), change points turned into cycles as described in
  :func:`cycles_from_changepoints`, on the 7 test-set cases of seed 1, on the first hour of the
  day-long run and on the whole of it; each run in a subprocess killed after ``--baseline-timeout`` s;
- ``ours_on_same_cases``: our analysis on exactly the same arrays, scored the same way.

Prints one JSON document. A full run takes ~9 min on 2 cores, 5 of them waiting for Pelt on the
24-h trace to hit its time limit (``--baseline-timeout 60`` shortens that).

    .venv/bin/python benchmarks/analysis_speed.py [--hours 24] [--repeats 3] [--baseline-timeout 300]
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import math
import os
import platform
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qcm_app.analysis import AnalysisResult, LiveAnalysis, analyze_mass, mass_from_frequency  # noqa: E402
from qcm_app.domain.recipes import Recipe  # noqa: E402
from qcm_app.io.importers import load_run  # noqa: E402
from qcm_app.io.offline import analyze_file, run_mass  # noqa: E402
from qcm_app.io.recipe_files import load_preset  # noqa: E402
from qcm_app.simulation.reactor import ProcessModel, ReactorSettings, TruthCycle, sample_run  # noqa: E402
from tests.support.testset import Case, Score, cases, same_result, score  # noqa: E402

#: ruptures settings (a scientist's choices, fixed before looking at any result)
MIN_SEGMENT_S = 3.0  # shorter than any purge (10-60 s), longer than a pulse's transient
JUMP_S = 0.5  # candidate change points every 0.5 s
#: penalty multipliers tried on the tuning case: pen = k * sigma² * ln(n)
PENALTY_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
TUNING_CASE = "steady Al2O3"  # seed 1
ALGOS = ("pelt_l2", "kernelcpd_linear")
#: match tolerance between a found cycle start and a true one (as testset.score)
MATCH_S = 5.0


# --- the day-long run ----------------------------------------------------------------------------


def stretched_recipe(hours: float, preset: str = "al2o3") -> Recipe:
    """The preset with its block repeats scaled so the run lasts ``hours``; ``text`` follows."""
    recipe = load_preset(preset)
    factor = hours * 3600.0 / recipe.duration_s
    repeats = [max(1, round(b.repeat * factor)) for b in recipe.blocks]
    it = iter(repeats)
    text = re.sub(r"(?m)^repeat\s*=\s*\d+", lambda _m: f"repeat = {next(it)}", recipe.text)
    blocks = tuple(replace(b, repeat=r) for b, r in zip(recipe.blocks, repeats, strict=True))
    return replace(recipe, blocks=blocks, text=text)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    out, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        out.append(time.perf_counter() - t0)
    return out, value


def stats(seconds: Sequence[float], unit: float = 1.0, digits: int = 3) -> dict[str, float]:
    return {"median": round(float(np.median(seconds)) * unit, digits), "min": round(min(seconds) * unit, digits)}


def machine() -> dict[str, Any]:
    import scipy

    try:
        import ruptures

        rpt_version = ruptures.__version__
    except ImportError:
        rpt_version = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "ruptures": rpt_version,
        "platform": platform.platform(),
        "note": "shared machine: timings are wall time, min is the best guide",
    }


# --- ours ----------------------------------------------------------------------------------------


def profile_shares(time_s: np.ndarray, mass: np.ndarray, recipe: Recipe) -> dict[str, float]:
    """Share of the analysis time (under cProfile, cumulative) in the segmenter's main parts."""
    prof = cProfile.Profile()
    prof.enable()
    analyze_mass(time_s, mass, recipe)
    prof.disable()
    st = pstats.Stats(prof)
    total = max(v[3] for v in st.stats.values())  # type: ignore[attr-defined]
    wanted = {
        "_fit_timeline": "segmenter._fit_timeline (polyfit x3 + median per pulse)",
        "_window_before": "segmenter._window_before (settled purge windows, 2 medians each)",
        "_find_onset": "segmenter._find_onset",
        "classify_block": "regimes.classify_block",
        "median": "numpy.median (all callers)",
        "polyfit": "numpy.polyfit (all callers)",
    }
    out = {}
    for (_file, _line, func), v in st.stats.items():  # type: ignore[attr-defined]
        if func in wanted:
            out[wanted[func]] = out.get(wanted[func], 0.0) + v[3] / total
    out = {k: round(v, 3) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}
    return {"note": "fractions of the analysis under cProfile; nested, so they overlap", **out}


def online(
    time_s: np.ndarray, mass: np.ndarray, recipe: Recipe, chunk: int, repeats: int, one_shot: AnalysisResult
) -> dict[str, Any]:
    """Feed ``chunk`` samples per call, as the acquisition worker does; time every call."""
    totals, worst, p99, equal = [], [], [], []
    decile: dict[str, list[float]] = {k: [] for k in ("first_plain", "last_plain", "first_emit", "last_emit")}
    worst_at = 0.0
    for _ in range(repeats):
        live = LiveAnalysis(recipe)
        calls = np.empty((time_s.size + chunk - 1) // chunk)
        emitted = np.zeros(calls.size, dtype=bool)
        t0 = time.perf_counter()
        for k, i in enumerate(range(0, time_s.size, chunk)):
            a = time.perf_counter()
            update = live.feed(time_s[i : i + chunk], mass[i : i + chunk])
            calls[k] = time.perf_counter() - a
            emitted[k] = bool(update and update.new_cycles)
        live.finish()
        totals.append(time.perf_counter() - t0)
        if not worst or calls.max() > max(worst):
            worst_at = float(time_s[int(calls.argmax()) * chunk])
        worst.append(float(calls.max()))
        p99.append(float(np.percentile(calls, 99)))
        d = calls.size // 10
        for where, sl in (("first", slice(0, d)), ("last", slice(-d, None))):
            decile[f"{where}_plain"].append(float(calls[sl][~emitted[sl]].mean()))
            decile[f"{where}_emit"].append(float(calls[sl][emitted[sl]].mean()))
        equal.append(same_result(live.result(), one_shot))
    n = time_s.size
    return {
        "chunk_samples": chunk,
        "samples": n,
        "feed_calls": math.ceil(n / chunk),
        "repeats": repeats,
        "total_s": stats(totals, digits=2),
        "us_per_sample": stats([x / n for x in totals], 1e6, 2),
        "worst_feed_ms": stats(worst, 1e3, 2),
        "worst_feed_at_run_time_s": round(worst_at, 1),
        "p99_feed_ms": stats(p99, 1e3, 3),
        "mean_feed_us_no_new_cycle": {
            "first_10pct_of_run": stats(decile["first_plain"], 1e6, 1),
            "last_10pct_of_run": stats(decile["last_plain"], 1e6, 1),
        },
        "mean_feed_us_emitting_a_cycle": {
            "first_10pct_of_run": stats(decile["first_emit"], 1e6, 1),
            "last_10pct_of_run": stats(decile["last_emit"], 1e6, 1),
        },
        "profile_first_2h (cProfile call counts)": online_profile(time_s, mass, recipe, chunk),
        "chunked_equals_one_shot": all(equal),
    }


def online_profile(time_s: np.ndarray, mass: np.ndarray, recipe: Recipe, chunk: int) -> dict[str, Any]:
    """Where the per-call time goes: how often the segmenter refits its timeline, per pulse."""
    n = int(np.searchsorted(time_s, 7200.0))
    prof = cProfile.Profile()
    live = LiveAnalysis(recipe)
    prof.enable()
    for i in range(0, n, chunk):
        live.feed(time_s[i : i + chunk], mass[i : i + chunk])
    prof.disable()
    st = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in st.values())
    found = {
        func: v
        for (_f, _l, func), v in st.items()
        if func in ("_track", "_fit_timeline", "classify_block") and "qcm_app" in _f
    }
    return {
        "feed_calls": math.ceil(n / chunk),
        "cycles": len(live.cycles),
        **{f"{func}_calls": v[1] for func, v in sorted(found.items())},
        "fit_timeline_share": round(found["_fit_timeline"][3] / total, 3) if "_fit_timeline" in found else None,
    }


def analyze_24h(
    folder: Path, csv: Path, toml: Path, recipe: Recipe, truth: list[TruthCycle], repeats: int
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, AnalysisResult]:
    file_s, analyzed = timed(lambda: analyze_file(csv, recipe=str(toml)), repeats)
    load_s, run = timed(lambda: load_run(csv), repeats)
    mass, _, _ = run_mass(run)

    def analysis_only() -> AnalysisResult:
        live = LiveAnalysis(recipe)
        live.feed(run.time_s, mass)
        live.finish()
        return live.result()

    ana_s, result = timed(analysis_only, repeats)
    mass_s, _ = timed(lambda: run_mass(run), repeats)
    exe = Path(sys.executable).parent / "qcm"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "qcm_app"]
    out_json = folder / "out.json"
    sub_s, _ = timed(
        lambda: subprocess.run(
            [*cmd, "analyze", str(csv), "--recipe", str(toml), "--json", str(out_json)], check=True, capture_output=True
        ),
        repeats,
    )
    help_s, _ = timed(lambda: subprocess.run([*cmd, "analyze", "--help"], check=True, capture_output=True), repeats)
    sub_doc = json.loads(out_json.read_text())
    load_min, ana_min = min(load_s), min(ana_s)
    return (
        {
            "file": "CSV time_s,frequency_hz (%.4f), generic importer",
            "csv_mb": round(csv.stat().st_size / 1e6, 1),
            "samples": int(run.time_s.size),
            "hours": round(float(run.time_s[-1]) / 3600, 3),
            "cycles_true": len(truth),
            "cycles_found": len(analyzed.result.cycles),
            "cycles_found_by_subprocess_json": sub_doc["cycle_count"],
            "repeats": repeats,
            "in_process_analyze_file_s": stats(file_s),
            "load_run_s": stats(load_s),
            "run_mass_s": stats(mass_s, digits=4),
            "analysis_s (LiveAnalysis feed+finish on the loaded run)": stats(ana_s),
            "subprocess_qcm_analyze_s": stats(sub_s),
            "subprocess_startup_and_imports_s (qcm analyze --help)": stats(help_s),
            "target_s": 1.0,
            "target_met_in_process": min(file_s) < 1.0,
            "target_met_subprocess": min(sub_s) < 1.0,
            "dominant_part": "analysis" if ana_min > load_min else "load",
            "analysis_share_of_in_process": round(ana_min / (ana_min + load_min), 3),
            "analysis_us_per_cycle": round(ana_min / max(len(result.cycles), 1) * 1e6, 1),
            "analysis_profile_share (cProfile, cumulative)": profile_shares(run.time_s, mass, recipe),
        },
        run.time_s,
        mass,
        result,
    )


# --- scoring (the same for both methods) ----------------------------------------------------------


def score_cycles(
    truth: list[TruthCycle], starts: Sequence[float], gains: Sequence[float], steady: float, last_block: int
) -> dict[str, Any]:
    """As ``testset.score``: each found cycle is matched to the true cycle with the nearest start;
    it counts for the per-cycle error if that one is steady and starts within 5 s. ``steady`` is
    compared with the mean true gain of the last block's steady cycles."""
    tstarts = np.array([c.start_s for c in truth])
    errors, unmatched = [], 0
    for s, g in zip(starts, gains, strict=True):
        k = int(np.argmin(np.abs(tstarts - s)))
        if abs(truth[k].start_s - s) >= MATCH_S:
            unmatched += 1
        elif truth[k].regime == "steady":
            errors.append(abs(g / truth[k].mass_gain_ng_cm2 - 1.0))
    err = np.array(errors) if errors else np.array([math.inf])
    true_steady = float(
        np.mean([c.mass_gain_ng_cm2 for c in truth if c.block_index == last_block and c.regime == "steady"])
    )
    steady_err = abs(steady / true_steady - 1.0) if math.isfinite(steady) else math.inf
    return {
        "cycles": f"{len(starts)}/{len(truth)}",
        "count_exact": len(starts) == len(truth),
        "median_error_pct": _pct(float(np.median(err))),
        "p95_error_pct": _pct(float(np.percentile(err, 95))),
        "steady_error_pct": _pct(steady_err),
        "steady_cycles_matched": len(errors),
        "found_cycles_unmatched": unmatched,
    }


def _pct(x: float) -> float | None:
    return round(x * 100, 3) if math.isfinite(x) else None


def _same_score(mine: dict[str, Any], theirs: Score) -> bool:
    return (
        mine["cycles"] == f"{theirs.cycles_found}/{theirs.cycles_true}"
        and mine["median_error_pct"] == _pct(theirs.median_error)
        and mine["p95_error_pct"] == _pct(theirs.p95_error)
        and mine["steady_error_pct"] == _pct(theirs.steady_error)
    )


def score_ours(result: AnalysisResult, truth: list[TruthCycle], last_block: int) -> dict[str, Any]:
    blocks = result.regimes.blocks
    steady = blocks[-1].steady_mass_ng_cm2 if blocks else math.nan
    return score_cycles(
        truth,
        [c.start_s for c in result.cycles],
        [c.mass_gain_ng_cm2 for c in result.cycles],
        steady if steady is not None else math.nan,
        last_block,
    )


# --- the change-point baseline --------------------------------------------------------------------


def noise_sigma(mass: np.ndarray) -> float:
    """Sample noise from first differences (MAD), robust to the steps."""
    d = np.diff(mass)
    s = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
    return s if s > 0 else float(np.std(d)) / math.sqrt(2.0)


def cycles_from_changepoints(t: np.ndarray, m: np.ndarray, bkps: Sequence[int]) -> dict[str, Any]:
    """What a scientist would do with the change points, exactly:

    1. every change point is a pulse onset; the segments between change points get their median;
    2. the mass step at a change point = median of the segment after minus median of the segment before;
    3. "big" steps: positive steps larger than half the median of the largest steps, the largest
       being the positive steps at or above the 90th percentile of all positive steps;
    4. a cycle runs from one big step to the next; its gain is the sum of the steps in it, i.e. the
       median of the segment before the next cycle's big step minus the median of the segment
       before its own (no drift correction);
    5. the last cycle ends at the end of the data (gain to the last segment's median) and is kept only
       if the data after its big step last at least 0.9 x the median cycle duration;
    6. the steady mass per cycle is the median gain over the second half of the cycles found.
    """
    cps = np.asarray([b for b in bkps if 0 < b < t.size], dtype=int)
    edges = np.concatenate(([0], cps, [t.size]))
    med = np.array([np.median(m[a:b]) for a, b in itertools.pairwise(edges)])
    steps = np.diff(med)  # steps[i] at change point cps[i]
    positive = steps[steps > 0]
    if positive.size == 0:
        return {"changepoints": int(cps.size), "big_steps": 0, "starts": [], "gains": [], "steady": math.nan}
    largest = positive[positive >= np.percentile(positive, 90)]
    big = np.flatnonzero(steps > 0.5 * float(np.median(largest)))
    starts = [float(t[cps[i]]) for i in big]
    gains = [float(med[big[j + 1]] - med[big[j]]) for j in range(big.size - 1)]
    # the last cycle: to the end of the data, if a whole cycle's time was seen
    typical = float(np.median(np.diff(starts))) if len(starts) > 1 else math.inf
    if big.size and float(t[-1]) - starts[-1] >= 0.9 * typical:
        gains.append(float(med[-1] - med[big[-1]]))
    else:
        starts = starts[:-1]
    half = np.array(gains[len(gains) // 2 :])
    return {
        "changepoints": int(cps.size),
        "big_steps": int(big.size),
        "big_step_threshold_ng_cm2": round(0.5 * float(np.median(largest)), 3),
        "starts": starts,
        "gains": gains,
        "steady": float(np.median(half)) if half.size else math.nan,
    }


def ruptures_worker(npz: Path, out: Path, algo: str, k: float, rate_hz: float) -> None:
    """Runs in a subprocess (so a slow fit can be killed): fit, predict, write the change points."""
    import ruptures as rpt

    data = np.load(npz)
    m = data["m"].reshape(-1, 1)
    n = m.shape[0]
    pen = k * noise_sigma(data["m"]) ** 2 * math.log(n)
    min_size = max(2, round(MIN_SEGMENT_S * rate_hz))
    jump = max(1, round(JUMP_S * rate_hz))
    t0 = time.perf_counter()
    if algo == "pelt_l2":
        bkps = rpt.Pelt(model="l2", min_size=min_size, jump=jump).fit(m).predict(pen=pen)
    elif algo == "kernelcpd_linear":  # the same l2 cost, PELT in C; jump is always 1
        bkps = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(m).predict(pen=pen)
    else:
        raise SystemExit(f"unknown algo {algo}")
    fit_s = time.perf_counter() - t0
    out.write_text(
        json.dumps(
            {
                "bkps": [int(b) for b in bkps],
                "fit_s": fit_s,
                "pen": pen,
                "min_size": min_size,
                "jump": jump if algo == "pelt_l2" else 1,
            }
        )
    )


def run_baseline(
    folder: Path, t: np.ndarray, m: np.ndarray, algo: str, k: float, rate_hz: float, timeout_s: float
) -> dict[str, Any]:
    npz, out = folder / "baseline_in.npz", folder / "baseline_out.json"
    out.unlink(missing_ok=True)
    np.savez(npz, m=m)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--ruptures-worker",
        str(npz),
        str(out),
        algo,
        str(k),
        str(rate_hz),
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout_s:g} s", "fit_s": None}
    except subprocess.CalledProcessError as exc:
        return {"status": "failed: " + exc.stderr.decode(errors="replace").strip().splitlines()[-1], "fit_s": None}
    doc = json.loads(out.read_text())
    t0 = time.perf_counter()
    cyc = cycles_from_changepoints(t, m, doc["bkps"])
    convert_s = time.perf_counter() - t0
    return {
        "status": "ok",
        "fit_s": round(doc["fit_s"], 3),
        "to_cycles_s": round(convert_s, 3),
        "pen": round(doc["pen"], 3),
        "min_size": doc["min_size"],
        "jump": doc["jump"],
        **cyc,
    }


def baseline_entry(res: dict[str, Any], truth: list[TruthCycle], last_block: int) -> dict[str, Any]:
    if res["status"] != "ok":
        return {"status": res["status"], "fit_s": None}
    sc = score_cycles(truth, res["starts"], res["gains"], res["steady"], last_block)
    keep = (
        "status",
        "fit_s",
        "to_cycles_s",
        "pen",
        "min_size",
        "jump",
        "changepoints",
        "big_steps",
        "big_step_threshold_ng_cm2",
    )
    return {**{k: res[k] for k in keep if k in res}, **sc}


def finite_trace(t: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mass as the analysis sees it (Sauerbrey from the first valid reading); NaN rows dropped for
    ruptures, which needs finite data (ours drops them on entry too)."""
    m = mass_from_frequency(t, f)
    ok = np.isfinite(m) & np.isfinite(t)
    return t[ok], m[ok]


def tune(folder: Path, case: Case, timeout_s: float) -> dict[str, Any]:
    """Penalty multiplier per algorithm on one case: exact count first, then the lowest median error."""
    model, run = case.simulate()
    t, m = finite_trace(run.time_s, run.frequency_hz)
    last = len(case.recipe.blocks) - 1
    out: dict[str, Any] = {
        "case": f"{case.name} (seed {case.seed})",
        "grid_k": list(PENALTY_GRID),
        "criterion": "exact cycle count, then lowest median per-cycle error",
        "penalty": "pen = k * sigma^2 * ln(n), sigma = 1.4826 * MAD(diff(mass)) / sqrt(2)",
    }
    for algo in ALGOS:
        rows = []
        for k in PENALTY_GRID:
            e = baseline_entry(run_baseline(folder, t, m, algo, k, case.rate_hz, timeout_s), model.truth, last)
            rows.append((k, e))
        ok = [(k, e) for k, e in rows if e["status"] == "ok"]
        best = min(ok, key=lambda ke: (not ke[1]["count_exact"], ke[1]["median_error_pct"] or math.inf))
        out[algo] = {
            "chosen_k": best[0],
            "grid": {
                str(k): (
                    f"{e['cycles']} cycles, median {e['median_error_pct']} %" if e["status"] == "ok" else e["status"]
                )
                for k, e in rows
            },
        }
    return out


# --- the whole benchmark --------------------------------------------------------------------------


def slice_first_hour(
    t: np.ndarray, f: np.ndarray, truth: list[TruthCycle]
) -> tuple[np.ndarray, np.ndarray, list[TruthCycle], float]:
    """The first hour, cut 5 s after the first pulse of the first cycle starting after 3600 s (so the
    last cycle in it is whole); truth = the cycles before that one."""
    nxt = next(c for c in truth if c.start_s > 3600.0)
    cut = nxt.start_s + 5.0
    keep = t <= cut
    return t[keep], f[keep], [c for c in truth if c.index < nxt.index], cut


def ours_entry(
    t: np.ndarray, m: np.ndarray, recipe: Recipe | None, truth: list[TruthCycle], last_block: int, repeats: int
) -> dict[str, Any]:
    secs, result = timed(lambda: analyze_mass(t, m, recipe), repeats)
    return {"time_s": stats(secs), **score_ours(result, truth, last_block)}


def _line(e: dict[str, Any], secs: float | None) -> str:
    if e.get("status", "ok") != "ok":
        return e["status"]
    return (
        f"{e['cycles']} cycles, median {e['median_error_pct']} %, p95 {e['p95_error_pct']} %, "
        f"steady {e['steady_error_pct']} %, {secs} s"
    )


def summary(base: dict[str, Any], ours: dict[str, Any]) -> dict[str, dict[str, str]]:
    """One line per method and trace: cycles found/true, errors over steady cycles, time."""
    out = {}
    for name, b in base["cases"].items():
        o = ours["cases"][name]
        out[name] = {
            "ours (recipe)": _line(o["with_recipe"], o["with_recipe"]["time_s"]["min"]),
            "ours (no recipe)": _line(o["without_recipe"], o["without_recipe"]["time_s"]["min"]),
            **{algo: _line(b[algo], b[algo]["fit_s"]) for algo in ALGOS},
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--rate", type=float, default=10.0, help="sampling rate of the long run (Hz)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk", type=int, default=10, help="samples per feed call in the online measurement")
    p.add_argument("--baseline-timeout", type=float, default=300.0, help="seconds per ruptures run")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ruptures-worker", nargs=5, metavar=("NPZ", "OUT", "ALGO", "K", "RATE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.ruptures_worker:
        npz, out, algo, k, rate = args.ruptures_worker
        ruptures_worker(Path(npz), Path(out), algo, float(k), float(rate))
        return

    doc: dict[str, Any] = {"benchmark": "analysis_speed", "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="qcm-bench-") as tmp:
        folder = Path(tmp)
        recipe = stretched_recipe(args.hours)
        model = ProcessModel(recipe, ReactorSettings(seed=args.seed))
        run = sample_run(model, args.rate)
        truth = model.truth
        toml = folder / "al2o3_day.toml"
        toml.write_text(recipe.text, encoding="utf-8")
        csv = folder / "al2o3_day.csv"
        np.savetxt(
            csv,
            np.column_stack((run.time_s, run.frequency_hz)),
            delimiter=",",
            fmt="%.4f",
            header="time_s,frequency_hz",
            comments="",
        )
        doc["run"] = {
            "preset": "al2o3",
            "repeat": recipe.blocks[0].repeat,
            "seed": args.seed,
            "rate_hz": args.rate,
            "cycle_s": recipe.blocks[0].cycle_duration_s,
        }

        day, t_day, m_day, one_shot = analyze_24h(folder, csv, toml, recipe, truth, args.repeats)
        doc["analyze_24h"] = day
        doc["online"] = online(t_day, m_day, recipe, args.chunk, args.repeats, one_shot)

        # the traces both methods see: the 7 cases of seed 1, the first hour and the whole day
        traces: list[tuple[str, np.ndarray, np.ndarray, Recipe, list[TruthCycle], int, float]] = []
        for case in cases((1,)):
            cm, cr = case.simulate()
            tc, mc = finite_trace(cr.time_s, cr.frequency_hz)
            traces.append((case.name, tc, mc, case.recipe, cm.truth, len(case.recipe.blocks) - 1, case.rate_hz))
        th, fh, truth_h, cut = slice_first_hour(run.time_s, run.frequency_hz, truth)
        th, mh = finite_trace(th, fh)
        traces.append((f"first hour of the day run (cut at {cut:.1f} s)", th, mh, recipe, truth_h, 0, args.rate))
        td, md = finite_trace(run.time_s, run.frequency_hz)
        traces.append((f"{args.hours:g} h day run", td, md, recipe, truth, 0, args.rate))

        tuning = tune(folder, cases((1,))[0], args.baseline_timeout)
        base: dict[str, Any] = {
            "method": {
                "algorithms": {
                    "pelt_l2": "rpt.Pelt(model='l2', min_size, jump) (pure Python)",
                    "kernelcpd_linear": "rpt.KernelCPD(kernel='linear', min_size) (l2 cost in C, jump 1)",
                },
                "signal": "Sauerbrey mass (ng/cm²) from the first valid frequency, NaN rows dropped",
                "min_size": f"{MIN_SEGMENT_S:g} s of samples",
                "jump": f"{JUMP_S:g} s of samples (Pelt only)",
                "to_cycles": " ".join(cycles_from_changepoints.__doc__.split()),
                "scoring": "as testset.score: a found cycle is matched to the true cycle with the nearest start "
                "(within 5 s) and counts if that one is steady; steady error vs the mean of the last "
                "block's steady truth",
                "timeout_s_per_run": args.baseline_timeout,
                "timing": "one fit per trace (fit_s, in the subprocess)",
            },
            "tuning": tuning,
            "cases": {},
        }
        ours: dict[str, Any] = {"cases": {}, "timing": f"analyze_mass on the same mass array, {args.repeats} repeats"}
        for name, t, m, rec, tr, last, rate in traces:
            base["cases"][name] = {
                algo: baseline_entry(
                    run_baseline(folder, t, m, algo, tuning[algo]["chosen_k"], rate, args.baseline_timeout), tr, last
                )
                for algo in ALGOS
            }
            base["cases"][name]["samples"] = int(t.size)
            ours["cases"][name] = {
                "samples": int(t.size),
                "with_recipe": ours_entry(t, m, rec, tr, last, args.repeats),
                "without_recipe": ours_entry(t, m, None, tr, last, args.repeats),
            }
        # our scorer against the project's (same cases, same decisions)
        ours["scorer_matches_testset_score"] = all(
            _same_score(ours["cases"][c.name]["with_recipe"], score(c, True)) for c in cases((1,))
        )
        doc["baseline_ruptures"] = base
        doc["ours_on_same_cases"] = ours
        doc["summary"] = summary(base, ours)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
