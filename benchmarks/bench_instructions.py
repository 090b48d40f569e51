"""Benchmark: CPU instructions per run, this tree against an earlier commit (valgrind).

Usage::

    python benchmarks/bench_instructions.py --base 7aa5841 [--runs 5] [--sites metro_city,...]

Wall-clock times on a shared or virtual machine move by several per cent from one minute to the
next, which hides the small steps a speed pass is made of. Instructions do not: this counts them
with valgrind's callgrind (about 50 times slower than a plain run), for the same runs as
``bench_side_by_side.py`` (``SeedSequence(1, spawn_key=(r,))``, series off, each site's own
horizon). Each tree and site runs twice in fresh interpreters, once with ``--runs`` runs and once
with none (both after one warm-up run), and the difference divided by ``--runs`` is the count per
run, start-up and imports excluded. String hashing is fixed (``PYTHONHASHSEED=0``), so a count
repeats exactly. Instructions are not time (memory stalls and branch misses
are not counted, and the calls into the random generators are the same in both trees), so quote
this beside the wall-clock ratio, not instead of it.

The earlier commit is checked out as a detached ``git worktree`` in the system's temporary folder,
shared with ``bench_side_by_side.py``. Prints millions of instructions per run for both trees and
the ratio base / this (above 1: this tree runs fewer).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_side_by_side import ROOT, SITES, base_tree  # noqa: E402

SNIPPET = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from sim.scenario import load_scenario
from sim.simulate import simulate
scenario = load_scenario(f"{sys.argv[1]}/scenarios/{sys.argv[2]}.toml")
simulate(scenario, 12345, series=False)  # warm-up: code paths loaded and specialised
for r in range(int(sys.argv[3])):
    simulate(scenario, np.random.SeedSequence(1, spawn_key=(r,)), series=False)
"""


def instructions(tree: Path, site: str, runs: int) -> int:
    """Instructions callgrind counts for one interpreter making ``runs`` runs of ``site``."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, "-c", SNIPPET, str(tree), site, str(runs)],
                          cwd=tree, capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})  # same counts every time
    found = re.search(r"Collected\s*:\s*([\d,]+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"valgrind failed in {tree} ({site}): "
                         f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    """Count and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--runs", type=int, default=5, help="runs per site (default 5)")
    ap.add_argument("--sites", default=",".join(SITES), help="comma-separated scenario names")
    ap.add_argument("--workers", type=int, default=2, help="valgrind processes at once (default 2)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("error: valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    trees = {"base": base_tree(args.base), "this": ROOT}
    sites = [s for s in args.sites.split(",") if s]
    jobs = [(t, site, n) for site in sites for t in trees for n in (0, args.runs)]
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        counts = dict(zip(jobs, pool.map(lambda j: instructions(trees[j[0]], j[1], j[2]), jobs),
                          strict=True))
    print(f"base {args.base} vs this tree: callgrind, {args.runs} runs per site after a warm-up; "
          "millions of instructions per run; ratio = base / this (> 1: this tree runs fewer)")
    print(f"{'site':<18} {'base M':>9} {'this M':>9} {'ratio':>7}")
    for site in sites:
        per = {t: (counts[(t, site, args.runs)] - counts[(t, site, 0)]) / args.runs / 1e6
               for t in trees}
        print(f"{site:<18} {per['base']:>9.2f} {per['this']:>9.2f} {per['base'] / per['this']:>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
