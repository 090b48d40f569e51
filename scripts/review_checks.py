"""The review's findings of issue 12, re-measured on the current model (docs/ODD.md §10).

Usage::

    python scripts/review_checks.py [--runs 400] [--workers 2]

Prints paired differences (common random numbers, root seed 4242) in the chance of being alive:
Expanded City with a strong partnership, without its research trial and without its patron;
Metro City without its patron and at Isolated Coastal's size; Isolated Coastal at Metro City's
size; Metro City without the programme manager its expansion brings, and at Isolated Coastal's
size with one. The intervals are Monte Carlo error of the one calibrated point.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.runner.execute import run_ensemble  # noqa: E402
from experiments.runner.tasks import make_tasks  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


def alive(runs, month: int) -> np.ndarray:
    """Whether each run (in replicate order) is still open at ``month``."""
    return (runs.survived | (runs.end_month > month)).to_numpy(dtype=float)


def variants() -> list:
    """The named variants of the three sites."""
    ec = load_scenario(ROOT / "scenarios" / "expanded_city.toml")
    mc = load_scenario(ROOT / "scenarios" / "metro_city.toml")
    ic = load_scenario(ROOT / "scenarios" / "isolated_coastal.toml")

    def sized(sc, like):
        return replace(sc, site=replace(sc.site, population=like.site.population,
                                        looked_after_children=like.site.looked_after_children))

    def no_patron(sc):
        return replace(sc, leaders=tuple(replace(ld, patron=False) for ld in sc.leaders))

    strong = replace(ec, partners=tuple(replace(pt, commitment=0.9, seniority=0.9)
                                        for pt in ec.partners),
                     site=replace(ec.site, collaboration_history=0.9))
    return [("ec", ec), ("ec_strong_partnership", strong),
            ("ec_no_trial", replace(ec, site=replace(ec.site, research_trial=False))),
            ("ec_no_patron", no_patron(ec)), ("mc", mc), ("mc_small", sized(mc, ic)),
            ("mc_no_patron", no_patron(mc)), ("ic", ic), ("ic_big", sized(ic, mc)),
            ("mc_no_programme_manager", mc.with_levers(programme_manager="off")),
            ("mc_small_programme_manager", sized(mc, ic).with_levers(programme_manager="on"))]


def main() -> int:
    """Run the variants and print the paired differences."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400, help="replicates per variant (default 400)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args()
    runs = run_ensemble(make_tasks(variants(), args.runs, 4242), workers=args.workers,
                        progress=False).runs
    by = {v: g.sort_values("replicate") for v, g in runs.groupby("variant")}
    for base, other, month in (("ec", "ec_strong_partnership", 60), ("ec", "ec_no_trial", 60),
                               ("ec", "ec_no_patron", 60), ("mc", "mc_no_patron", 120),
                               ("mc", "mc_small", 36), ("mc", "mc_small", 60),
                               ("mc", "mc_small", 120), ("ic", "ic_big", 36),
                               ("ic", "ic_big", 60), ("mc", "mc_no_programme_manager", 120),
                               ("mc", "mc_small_programme_manager", 120)):
        a, b = alive(by[base], month), alive(by[other], month)
        d = b - a
        half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
        print(f"{other:<22} vs {base:<3} P(alive at {month:>3}): {a.mean():.2f} -> {b.mean():.2f}, "
              f"{100 * d.mean():+.0f} points (95% CI {100 * (d.mean() - half):+.0f} to "
              f"{100 * (d.mean() + half):+.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
