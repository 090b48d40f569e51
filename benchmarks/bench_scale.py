"""Benchmark: how the ensemble runner scales, and what its safety costs.

Usage: python benchmarks/bench_scale.py [--runs 20000] [--workers 2] [--quick] [--skip-memory]
       [--store-only]

Prints one table with:

1. **Single-run time per site**: median wall time of one run of each shipped scenario (the three
   sites and the template), without and with the monthly series.
2. **Ensemble throughput vs workers**: runs per second of a mixed ensemble (every shipped
   scenario) with 1, 2, ... local worker processes (cold pools, start-up included), plus a Dask
   LocalCluster on loopback with the same number of workers when ``distributed`` is installed.
3. **Peak memory of a large ensemble with monthly series streamed to disk** (``--runs``, default
   20,000; target <= 1.5 GB): ``run_ensemble(..., out_dir, series=True, keep_series=False)`` in
   a fresh process, sampling the resident memory of that process and all its workers (summed)
   every 0.2 s.
4. **Overhead of resume bookkeeping** (target <= 5%): the same ensemble with series (a) kept in
   memory and written once at the end, the way a runner without a store would, and (b) with
   the SQLite run store (every chunk committed in one WAL transaction; tables built from the
   store at the end). Repeats are interleaved; the medians are compared. The time spent inside
   the store's ``add`` itself is also measured directly. ``--store-only`` runs only this part.

Figures depend on the machine and its load: run on an idle machine, and read the control line of
``bench_ensemble.py`` for what the cores allow at the moment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tqdm.std  # noqa: E402

from experiments.runner.execute import run_ensemble  # noqa: E402
from experiments.runner.store import STORE_NAME, RunStore  # noqa: E402
from experiments.runner.tables import write_table  # noqa: E402
from experiments.runner.tasks import make_tasks  # noqa: E402
from sim import load_scenario, simulate  # noqa: E402

tqdm.std.tqdm.monitor_interval = 0
SITES = ("isolated_coastal", "expanded_city", "metro_city", "template")
ROOT_SEED = 20261124

MEMORY_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from experiments.runner.execute import run_ensemble
from experiments.runner.tasks import make_tasks
from sim import load_scenario
sites = {sites!r}
variants = [(s, load_scenario({root!r} + "/scenarios/" + s + ".toml")) for s in sites]
tasks = make_tasks(variants, {per_site}, {seed})
t0 = time.perf_counter()
r = run_ensemble(tasks, workers={workers}, out_dir={out!r}, series=True, keep_series=False,
                 progress=False)
print(json.dumps({{"wall": time.perf_counter() - t0, "runs": len(r.runs),
                   "failed": r.n_failed}}))
"""


def variants():
    return [(s, load_scenario(ROOT / "scenarios" / f"{s}.toml")) for s in SITES]


def single_run_times(repeats: int) -> list[tuple[str, float, float, float]]:
    rows = []
    for name, scenario in variants():
        simulate(scenario, 0, series=True)  # warm-up (imports, caches)
        plain, with_series, months = [], [], []
        for seed in range(repeats):
            t0 = time.perf_counter()
            r = simulate(scenario, seed, series=False)
            plain.append(time.perf_counter() - t0)
            months.append(r.outputs["end_month"])
            t0 = time.perf_counter()
            simulate(scenario, seed, series=True)
            with_series.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(plain) * 1e3, statistics.median(with_series) * 1e3,
                     statistics.mean(months)))
    return rows


def throughput(per_site: int, workers: list[int], dask: bool) -> list[tuple[str, float, float]]:
    tasks = make_tasks(variants(), per_site, ROOT_SEED)
    rows = []
    for w in workers:
        t0 = time.perf_counter()
        run_ensemble(tasks, workers=w, progress=False)
        rows.append((f"{w} local process{'es' if w > 1 else ''}", time.perf_counter() - t0,
                     len(tasks)))
    if dask:
        try:
            import distributed
        except ImportError:
            return rows
        n = max(workers)
        with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster:
            t0 = time.perf_counter()
            run_ensemble(tasks, dask_scheduler=cluster.scheduler_address, progress=False)
            rows.append((f"Dask LocalCluster, {n} workers", time.perf_counter() - t0,
                         len(tasks)))
    return rows


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def peak_memory(runs: int, workers: int) -> dict:
    per_site = max(1, runs // len(SITES))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        out = str(Path(tmp) / "out")
        code = MEMORY_CHILD.format(root=str(ROOT), sites=SITES, per_site=per_site,
                                   seed=ROOT_SEED, workers=workers, out=out)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        peak = parent_peak = 0
        store_peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            try:
                import psutil

                parent_peak = max(parent_peak, psutil.Process(proc.pid).memory_info().rss)
            except Exception:  # noqa: BLE001 - the process just ended
                pass
            store = Path(out) / STORE_NAME
            if store.exists():  # the database and its write-ahead log
                store_peak = max(store_peak, sum(p.stat().st_size for p in (
                    store, store.with_name(STORE_NAME + "-wal")) if p.exists()))
            time.sleep(0.2)
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"memory run failed:\n{stderr}")
        info = json.loads(stdout.strip().splitlines()[-1])
        sizes = {p.name: p.stat().st_size for p in Path(out).iterdir()}
    info.update(peak_tree=peak, peak_parent=parent_peak, store_peak=store_peak,
                sizes=sizes, planned=per_site * len(SITES))
    return info


def bookkeeping(per_site: int, workers: int, repeats: int) -> dict:
    tasks = make_tasks(variants(), per_site, ROOT_SEED)
    plain, stored, inside = [], [], []
    real_add = RunStore.add
    spent = {"t": 0.0}

    def timed_add(self, runs, variables):
        t0 = time.perf_counter()
        try:
            return real_add(self, runs, variables)
        finally:
            spent["t"] += time.perf_counter() - t0

    run_ensemble(tasks[:4 * workers], workers=workers, series=True, progress=False)  # warm-up
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
            t0 = time.perf_counter()
            r = run_ensemble(tasks, workers=workers, series=True, progress=False)
            write_table(r.runs, Path(tmp) / "runs.csv")
            write_table(r.series, Path(tmp) / "series.csv")
            plain.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            spent["t"] = 0.0
            RunStore.add = timed_add
            try:
                t0 = time.perf_counter()
                run_ensemble(tasks, workers=workers, out_dir=tmp, series=True, progress=False)
                stored.append(time.perf_counter() - t0)
            finally:
                RunStore.add = real_add
            inside.append(spent["t"])
    p, j = statistics.median(plain), statistics.median(stored)
    return {"runs": len(tasks), "plain": p, "store": j, "overhead": j / p - 1,
            "inside": statistics.median(inside), "plain_all": plain, "store_all": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000,
                        help="runs of the peak-memory ensemble (default 20000)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--store-only", action="store_true",
                        help="measure only the overhead of the run store (part 4)")
    args = parser.parse_args()
    quick = args.quick
    workers = sorted({1, args.workers})

    print(f"machine: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    book = bookkeeping(10 if quick else 500, args.workers, 1 if quick else 3)
    if not args.store_only:
        _print_scale(args, quick, workers)
    _print_store(book, args.workers)


def _print_scale(args, quick: bool, workers: list[int]) -> None:
    singles = single_run_times(3 if quick else 20)
    speed = throughput(5 if quick else 100, workers, dask=True)
    memory = None if args.skip_memory else peak_memory(200 if quick else args.runs, args.workers)

    print("\n1. Single run (median; series = monthly series built too)")
    print(f"   {'scenario':<18} {'ms/run':>8} {'with series':>12} {'mean months':>12}")
    for name, a, b, m in singles:
        print(f"   {name:<18} {a:>8.1f} {b:>12.1f} {m:>12.1f}")

    print(f"\n2. Ensemble throughput ({speed[0][2]} runs, every scenario, cold start)")
    print(f"   {'executor':<30} {'wall s':>8} {'runs/s':>8} {'speed-up':>9}")
    for name, t, n in speed:
        print(f"   {name:<30} {t:>8.2f} {n / t:>8.1f} {speed[0][1] / t:>8.2f}x")

    if memory is not None:
        gb = memory["peak_tree"] / 1e9
        print(f"\n3. Peak memory, {memory['planned']} runs with monthly series streamed to disk "
              f"({args.workers} workers)")
        print(f"   peak resident memory, process + workers: {gb:.2f} GB "
              f"(target <= 1.5 GB: {'met' if gb <= 1.5 else 'NOT met'}); "
              f"main process alone {memory['peak_parent'] / 1e9:.2f} GB")
        print(f"   wall {memory['wall']:.0f} s ({memory['planned'] / memory['wall']:.1f} runs/s); "
              f"store peak {memory['store_peak'] / 1e6:.0f} MB; files: "
              + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sorted(memory['sizes'].items())))



def _print_store(book: dict, workers: int) -> None:
    print(f"\n4. Resume bookkeeping, {book['runs']} runs with series, {workers} workers "
          f"(median of {len(book['plain_all'])})")
    print(f"   in memory (tables written at the end):     {book['plain']:.2f} s "
          f"[{' '.join(f'{x:.2f}' for x in book['plain_all'])}]")
    print(f"   with the SQLite run store (resumable):     {book['store']:.2f} s "
          f"[{' '.join(f'{x:.2f}' for x in book['store_all'])}]")
    print(f"   overhead {book['overhead'] * 100:+.1f}% (target <= 5%: "
          f"{'met' if book['overhead'] <= 0.05 else 'NOT met'}); time inside the store "
          f"{book['inside']:.2f} s = {book['inside'] / book['store'] * 100:.1f}% of the run")


if __name__ == "__main__":
    main()
