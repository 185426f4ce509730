"""Accuracy of the cycle analysis on the ground-truth test set, against the targets: prints JSON.

Every case of ``qcm_app.testset.cases(seeds)`` is scored with and without its recipe by
``testset.score(case, with_recipe, check_live=True)`` (live = fed in chunks of 37 samples). Targets:

- with a recipe: cycle count exact; per-cycle mass error over steady cycles median <= 2 % and
  95th percentile <= 5 %; steady mass per cycle within 1 %; nucleation length within +-2 cycles
  with the right kind;
- without a recipe: cycle count exact; steady mass per cycle within 2 %;
- both: the live (chunked) result equals the offline one.

A compact table goes to stderr.

    .venv/bin/python benchmarks/accuracy.py [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qcm_app.testset import Score, cases, score

TARGETS: dict[str, dict[str, Any]] = {
    "with_recipe": {"count_exact": True, "median_error_pct_max": 2.0, "p95_error_pct_max": 5.0,
                    "steady_error_pct_max": 1.0, "nucleation": "within +-2 cycles, right kind",
                    "live_equals_offline": True},
    "without_recipe": {"count_exact": True, "steady_error_pct_max": 2.0, "live_equals_offline": True},
}


def failures(s: Score) -> list[str]:
    """The targets this score misses (empty when it meets them all)."""
    out = []
    if not s.count_exact:
        out.append("count")
    if not s.live_equals_offline:
        out.append("live != offline")
    if s.with_recipe:
        if not s.median_error <= 0.02:
            out.append("median")
        if not s.p95_error <= 0.05:
            out.append("p95")
        if not s.steady_error <= 0.01:
            out.append("steady")
        if not s.nucleation_ok:
            out.append("nucleation")
    elif not s.steady_error <= 0.02:
        out.append("steady")
    return out


def _worst(scores: list[Score], attr: str) -> dict[str, Any]:
    s = max(scores, key=lambda x: getattr(x, attr))
    v = getattr(s, attr)
    return {"pct": round(v * 100, 3) if math.isfinite(v) else None, "case": s.case, "seed": s.seed}


def summary(scores: list[Score], with_recipe: bool) -> dict[str, Any]:
    sub = [s for s in scores if s.with_recipe == with_recipe]
    out: dict[str, Any] = {
        "cases": len(sub),
        "all_counts_exact": all(s.count_exact for s in sub),
        "count_misses": [f"{s.case} (seed {s.seed}): {s.cycles_found}/{s.cycles_true}" for s in sub
                         if not s.count_exact],
        "worst_median_error": _worst(sub, "median_error"),
        "worst_p95_error": _worst(sub, "p95_error"),
        "worst_steady_error": _worst(sub, "steady_error"),
        "nucleation_all_ok": all(s.nucleation_ok for s in sub),
        "nucleation_misses": [f"{s.case} (seed {s.seed}): {s.nucleation_found[0]} {s.nucleation_found[1]}, "
                              f"truth {s.nucleation_true[0]} {s.nucleation_true[1]}"
                              for s in sub if not s.nucleation_ok],
        "live_equals_offline_all": all(bool(s.live_equals_offline) for s in sub),
        "cases_missing_targets": [f"{s.case} (seed {s.seed}): {', '.join(failures(s))}" for s in sub if failures(s)],
    }
    if not with_recipe:
        out["nucleation_note"] = "not a target without a recipe"
    out["all_targets_met"] = not out["cases_missing_targets"]
    return out


def _finite(d: dict[str, object]) -> dict[str, object]:
    """JSON has no infinity (an error with no matched steady cycle): those become null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


def table(scores: list[Score]) -> str:
    head = f"{'case':<30} {'seed':>4} {'rcp':>3} {'cycles':>9} {'med%':>6} {'p95%':>6} {'stdy%':>6} " \
           f"{'nucleation':>14} {'truth':>14} {'live':>4}  misses"
    rows = [head, "-" * len(head)]
    for s in scores:
        rows.append(f"{s.case[:30]:<30} {s.seed:>4} {'yes' if s.with_recipe else 'no':>3} "
                     f"{s.cycles_found:>4}/{s.cycles_true:<4} {s.median_error * 100:>6.2f} {s.p95_error * 100:>6.2f} "
                     f"{s.steady_error * 100:>6.2f} {f'{s.nucleation_found[0]} {s.nucleation_found[1]}':>14} "
                     f"{f'{s.nucleation_true[0]} {s.nucleation_true[1]}':>14} "
                     f"{'ok' if s.live_equals_offline else 'NO':>4}  {', '.join(failures(s))}".rstrip())
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args()
    t0 = time.perf_counter()
    scores = [score(case, with_recipe, check_live=True)
              for with_recipe in (True, False) for case in cases(tuple(args.seeds))]
    elapsed = time.perf_counter() - t0
    doc = {
        "benchmark": "accuracy",
        "seeds": args.seeds,
        "targets": TARGETS,
        "summary": {"with_recipe": summary(scores, True), "without_recipe": summary(scores, False)},
        "all_targets_met": not any(failures(s) for s in scores),
        "elapsed_s": round(elapsed, 1),
        "cases": [{**_finite(s.as_dict()), "meets_targets": not failures(s), "misses": failures(s)} for s in scores],
    }
    print(table(scores), file=sys.stderr)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
