"""Benchmark: this tree against an earlier commit, side by side in one run, outputs checked equal.

Usage::

    python benchmarks/bench_side_by_side.py --base 3b6781f [--rounds 7] [--runs 20] [--ensemble]

The earlier commit is checked out once as a detached ``git worktree`` (in the system's temporary
folder) and both trees run with this interpreter and its installed packages. Rounds alternate the
order of the two trees, so drift in the machine's load falls on both alike. Each round runs, in a
fresh process per tree, ``--runs`` single runs per site (series off, as ensembles run them) at the
site's own horizon and again at full horizon (funding protected, so every run lasts 120 months);
with ``--ensemble`` it also times a 400-run Metro City ensemble through ``run.py ensemble`` with two
workers. Before any figure is printed, the outputs of the two trees are compared exactly (every
run's scalar outputs; the ensemble's ``runs.csv`` byte for byte) and a difference is an error,
unless ``--model-changed`` says the model was changed on purpose: then the full-horizon column
(every run lasts 120 months, whatever its fate) is the fair comparison, since run time follows
survival.

Prints per-site medians (ms per run) for both trees and the ratio base / this tree (above 1 means
this tree is faster), and beside it the paired view: each round's own ratio (the two trees' medians
in that round, run back to back), as the median and the range over rounds. The paired ratio is
steadier when the machine's speed drifts between rounds; a wide range says the machine was noisy.
Wall-clock figures move with the machine's load: quote medians, and run on an otherwise idle
machine. ``bench_instructions.py`` counts instructions instead, which do not move with the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITES = ("isolated_coastal", "expanded_city", "metro_city", "template")

# Runs in a fresh interpreter with the tree's folder first on sys.path; uses only names that
# every version of the model has had (load_scenario, simulate, Scenario.with_levers).
SNIPPET = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from sim.scenario import load_scenario
from sim.simulate import simulate
runs, sites = int(sys.argv[2]), sys.argv[3].split(",")
result = {}
for name in sites:
    scenario = load_scenario(f"{sys.argv[1]}/scenarios/{name}.toml")
    for label, sc in (("own", scenario), ("full", scenario.with_levers(protected_funding_years=10))):
        simulate(sc, 0, series=False)  # warm-up
        times, digest = [], hashlib.sha256()
        for r in range(runs):
            seed = np.random.SeedSequence(1, spawn_key=(r,))
            t0 = time.perf_counter()
            out = simulate(sc, seed, series=False).outputs
            times.append((time.perf_counter() - t0) * 1000.0)
            digest.update(repr(sorted(out.items())).encode())
        result[f"{name}/{label}"] = {"ms": times, "digest": digest.hexdigest()}
print(json.dumps(result))
"""


def base_tree(commit: str) -> Path:
    """A detached worktree of ``commit`` (made once, reused by later calls)."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"mst-sustain-bench-{sha[:12]}"
    if not (path / "sim").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), sha],
                       check=True, capture_output=True)
    return path


def single_runs(tree: Path, runs: int) -> dict:
    """Per-site run times (ms) and output digests from one fresh process in ``tree``."""
    proc = subprocess.run([sys.executable, "-c", SNIPPET, str(tree), str(runs), ",".join(SITES)],
                          cwd=tree, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout)


def ensemble(tree: Path) -> tuple[float, bytes]:
    """Wall time (s) and ``runs.csv`` of a 400-run Metro City ensemble with two workers."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ens"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "run.py", "ensemble", "scenarios/metro_city.toml",
                        "--replicates", "400", "--workers", "2", "--seed", "1", "--no-progress",
                        "--out", str(out)], cwd=tree, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0, (out / "runs.csv").read_bytes()


def main() -> int:
    """Run the rounds and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    ap.add_argument("--runs", type=int, default=20, help="runs per site and round (default 20)")
    ap.add_argument("--ensemble", action="store_true", help="also time a 400-run ensemble")
    ap.add_argument("--model-changed", action="store_true",
                    help="the model changed on purpose between the trees: time both without "
                         "requiring equal outputs (compare the full-horizon column, where every "
                         "run lasts 120 months whatever its fate)")
    args = ap.parse_args()
    trees = {"base": base_tree(args.base), "this": ROOT}
    times = {t: {} for t in trees}
    rounds = []  # per round: {key: base median / this median}
    ens = {t: [] for t in trees}
    for rnd in range(args.rounds):
        order = list(trees) if rnd % 2 == 0 else list(reversed(trees))
        digests, medians = {}, {}
        for t in order:
            res = single_runs(trees[t], args.runs)
            digests[t] = {k: v["digest"] for k, v in res.items()}
            medians[t] = {k: statistics.median(v["ms"]) for k, v in res.items()}
            for k, v in res.items():
                times[t].setdefault(k, []).extend(v["ms"])
            if args.ensemble:
                wall, table = ensemble(trees[t])
                ens[t].append((wall, table))
        rounds.append({k: medians["base"][k] / medians["this"][k] for k in medians["this"]})
        if args.model_changed:
            print(f"round {rnd + 1}/{args.rounds} done (model changed: outputs not compared)",
                  file=sys.stderr)
            continue
        if digests["base"] != digests["this"]:
            differ = sorted(k for k in digests["this"] if digests["this"][k] != digests["base"].get(k))
            print(f"outputs differ between the trees: {', '.join(differ)}", file=sys.stderr)
            return 1
        if args.ensemble and ens["base"][-1][1] != ens["this"][-1][1]:
            print("the ensembles' runs.csv differ between the trees", file=sys.stderr)
            return 1
        print(f"round {rnd + 1}/{args.rounds} done; outputs agree", file=sys.stderr)
    print(f"base {args.base} vs this tree: {args.rounds} rounds x {args.runs} runs per site; "
          "median ms per run; ratio = base / this (> 1: this tree is faster)")
    print(f"{'site':<18} {'horizon':<8} {'base ms':>9} {'this ms':>9} {'ratio':>7}   "
          "paired: median (range over rounds)")
    for key in times["this"]:
        site, label = key.split("/")
        b, n = statistics.median(times["base"][key]), statistics.median(times["this"][key])
        paired = [r[key] for r in rounds]
        print(f"{site:<18} {label:<8} {b:>9.2f} {n:>9.2f} {b / n:>7.3f}   "
              f"{statistics.median(paired):.3f} ({min(paired):.3f}-{max(paired):.3f})")
    if args.ensemble:
        b = statistics.median(w for w, _ in ens["base"])
        n = statistics.median(w for w, _ in ens["this"])
        print(f"{'metro ensemble 400':<27} {b:>8.2f}s {n:>8.2f}s {b / n:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
