"""Benchmark: wall time of one 120-month run per site (median over many runs, one core).

Usage: python benchmarks/bench_single_run.py [--runs N]
Prints a table; the target (issue 2) is <= 40 ms for one Metro City run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import load_scenario, simulate  # noqa: E402

SITES = ("isolated_coastal", "expanded_city", "metro_city", "template")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(f"{'scenario':<18} {'months run':>10} {'median ms':>10} {'min ms':>8} {'max ms':>8} "
          f"{'full-horizon median ms':>23}")
    for name in SITES:
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        # Full-horizon runs: protect funding so every run lasts all 120 months (worst case).
        full = scenario.with_levers(protected_funding_years=10)
        times, months, full_times = [], [], []
        simulate(scenario, 0)  # warm-up
        for seed in range(args.runs):
            t0 = time.perf_counter()
            r = simulate(scenario, seed)
            times.append((time.perf_counter() - t0) * 1000)
            months.append(r.outputs["end_month"])
            t0 = time.perf_counter()
            simulate(full, seed)
            full_times.append((time.perf_counter() - t0) * 1000)
        print(f"{name:<18} {statistics.median(months):>10.0f} {statistics.median(times):>10.2f} "
              f"{min(times):>8.2f} {max(times):>8.2f} {statistics.median(full_times):>23.2f}")


if __name__ == "__main__":
    main()
