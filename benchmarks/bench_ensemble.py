"""Benchmark: ensemble throughput with 1 and 2 workers, against mesa.batch_run.

Usage: python benchmarks/bench_ensemble.py [--runs 400] [--repeats 3]

Runs the same ``--runs`` Metro City runs (scenarios/metro_city.toml, scalar outputs only, no
files) through ``experiments.runner.execute.run_ensemble`` and through ``mesa.batch_run``, each with 1
and 2 processes, and prints the median wall time of ``--repeats`` repeats. Both runners get the
same seeds (``SeedSequence(root, spawn_key=(r,))``), so they do exactly the same model work; the
script checks that the runs agree. A control (a pure-Python CPU burn on 1 and 2 processes) is
timed in every repeat: its speed-up is the most any runner can reach on this machine then.

Every timing is a cold pool: starting the worker processes is included. ``run_ensemble``
takes its workers from a fork server (started once per process, single-threaded, with the
model preloaded: a fraction of a second; then milliseconds per pool); ``batch_run`` forces the
``spawn`` start method, so each of its workers imports Python, mesa and the model afresh (about
a second), and it sends runs one at a time. The pool start-up time of our runner is printed
separately (the first pool, which starts the fork server, and the median of three later ones).

``mesa.batch_run`` is used only as a reference point: it is deprecated in mesa 3.x (the
``iterations`` argument) and removed in mesa 4.0, and the project never depends on it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import tqdm.std

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mesa  # noqa: E402

from experiments.runner.execute import run_ensemble  # noqa: E402
from experiments.runner.executors import open_executor, process_context  # noqa: E402
from experiments.runner.tasks import make_tasks  # noqa: E402
from sim import load_scenario  # noqa: E402
from sim.model import LocalAuthority  # noqa: E402

# batch_run's (disabled) progress bar would otherwise leave tqdm's monitor thread running for
# the rest of the benchmark (harmless now that no pool forks this process; kept off anyway).
tqdm.std.tqdm.monitor_interval = 0

SCENARIO = ROOT / "scenarios" / "metro_city.toml"
ROOT_SEED = 20261124


@cache
def _scenario(path: str):
    return load_scenario(path)


class BatchLA(LocalAuthority):
    """The model with keyword parameters, as mesa.batch_run wants (reference only)."""

    def __init__(self, scenario_path: str = str(SCENARIO), rng=None):
        super().__init__(_scenario(scenario_path), rng)


def time_ours(tasks, workers: int) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = run_ensemble(tasks, workers=workers, progress=False)
    return time.perf_counter() - t0, result


def time_batch_run(seeds, workers: int, horizon: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    rows = mesa.batch_run(BatchLA, {"scenario_path": str(SCENARIO)}, number_processes=workers,
                          rng=seeds, max_steps=horizon, display_progress=False)
    return time.perf_counter() - t0, rows


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def time_control(workers: int, n: int = 8_000_000) -> float:
    """Seconds for ``2 * workers`` equal pure-Python CPU burns on ``workers`` processes.

    A control with no model and no data transfer: its 1-to-2 speed-up is what this machine's
    cores allow at that moment (a shared or throttled host shows up here first).
    """
    t0 = time.perf_counter()
    if workers == 1:
        for _ in range(2):
            _burn(n)
    else:
        with ProcessPoolExecutor(workers, mp_context=process_context()) as pool:
            list(pool.map(_burn, [n] * 2))
    return time.perf_counter() - t0


def pool_start_up(workers: int) -> float:
    """Seconds to start the runner's pool and get one trivial answer from every worker."""
    t0 = time.perf_counter()
    with open_executor(workers) as pool:
        list(pool.map(abs, range(workers)))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    scenario = _scenario(str(SCENARIO))
    tasks = make_tasks([("metro_city", scenario)], args.runs, ROOT_SEED)
    seeds = [t.seed for t in tasks]
    horizon = scenario.horizon_months
    first = pool_start_up(2)  # starts the fork server
    startup = statistics.median(pool_start_up(2) for _ in range(3))

    times: dict[tuple[str, int], list[float]] = {}
    ours = batch = None
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
        for w in (1, 2):
            t, ours = time_ours(tasks, w)
            times.setdefault(("run_ensemble", w), []).append(t)
        for w in (1, 2):
            t, batch = time_batch_run(seeds, w, horizon)
            times.setdefault(("mesa.batch_run", w), []).append(t)
        for w in (1, 2):
            times.setdefault(("control (CPU burn)", w), []).append(time_control(w))

    # Same seeds, same work: the runs must agree (batch_run returns them in completion order).
    by_run = {row["RunId"]: row for row in batch}
    agree = all(by_run[i]["Step"] == ours.runs["end_month"].iloc[i]
                and by_run[i]["teams"] == ours.runs["teams_end"].iloc[i]
                for i in range(len(tasks)))

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(tasks)} Metro City runs, median of {args.repeats} repeats, cold pools "
          f"(process start-up included); runs agree between runners: {agree}")
    print(f"{'runner':<18} {'workers':>7} {'median s':>9} {'runs/s':>8} {'speed-up':>9}  "
          f"all repeats s")
    for (name, w), t in med.items():
        speed = med[(name, 1)] / t
        rate = f"{len(tasks) / t:>8.1f}" if not name.startswith("control") else f"{'-':>8}"
        reps = " ".join(f"{x:.2f}" for x in times[(name, w)])
        print(f"{name:<18} {w:>7} {t:>9.2f} {rate} {speed:>8.2f}x  {reps}")
    for w in (1, 2):
        ratio = med[("run_ensemble", w)] / med[("mesa.batch_run", w)]
        print(f"time ratio run_ensemble / batch_run, {w} worker(s): {ratio:.2f}")
    print(f"run_ensemble 2-worker pool start-up ({process_context().get_start_method()}): "
          f"first {first * 1000:.0f} ms, then {startup * 1000:.0f} ms (median of 3)")
    print(f"mean run time (run_ensemble, 1 worker): "
          f"{med[('run_ensemble', 1)] / len(tasks) * 1000:.1f} ms; "
          f"mean end month {np.mean(ours.runs['end_month']):.0f}")


if __name__ == "__main__":
    main()
