"""Re-stamp a posterior sample after a refactor proven not to change the model's behaviour.

Usage::

    python scripts/restamp_posterior.py --base 0280c8c            # check, then re-stamp
    python scripts/restamp_posterior.py --base 0280c8c --check-only
    python scripts/restamp_posterior.py --base-tree /path/to/checkout --sets 20 --runs 1

A posterior sample records the behaviour digest of the model it was calibrated on
(:func:`experiments.runner.posterior.behaviour_digest`); any change to the code of ``sim/`` or
``agents/`` changes the digest and marks the sample stale, even a speed-up whose runs are bit
for bit the same. Recalibrating takes about two hours. This script is the cheaper, checked route
for such a refactor, and refuses in every other case:

1. The base (``--base``: a git revision, checked out once as a detached worktree in the system's
   temporary folder; or ``--base-tree``: an existing checkout) must be the model the sample was
   calibrated on: its behaviour digest, computed with this interpreter and its packages, must
   equal the one the file records. Otherwise exit 2.
2. Both trees then run the calibration's own runs for the sample's parameter sets: every
   validation variant (``experiments.jobs.calibrate.validation_variants``: the three sites, the
   neutral authority and each lever) on the calibration's seeds (``SeedSequence(1000,
   spawn_key=(r,))`` for ``r < --runs``; by default every seed the calibration ran, its
   ``replicates_per_variant``, so every run it made for these sets). Every run's scalar outputs
   are compared exactly, and for the first seed of each variant its monthly series and event log
   too. One difference in
   any set and the file is left as it is (exit 1).
3. Only then is the file rewritten (atomically) with this tree's digest, and the check is
   appended to its provenance under ``restamps`` (digests, commits, what was compared), so the
   record says the sample was re-stamped and on what evidence.

Posterior files default to the committed sample and the leave-one-site-out check
(``calibration/posterior.json``, ``calibration/checks/leave_out_expanded_city_posterior.json``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.files import atomic_write_text  # noqa: E402
from experiments.runner.posterior import (  # noqa: E402
    POSTERIOR_FILE,
    behaviour_digest,
    read_posterior,
)

DEFAULT_FILES = (POSTERIOR_FILE, ROOT / "calibration" / "checks" /
                 "leave_out_expanded_city_posterior.json")
RUNS_ROOT = 1000  # the calibration's seed root (experiments/jobs/abc.py)

# Runs in a fresh interpreter with the tree's folder first on sys.path. It uses only names the
# model has had since the posterior format existed: read_posterior, Posterior.overrides,
# behaviour_digest, validation_variants, simulate.
SNIPPET = r"""
import hashlib, json, sys
tree, path, runs, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sets = [int(i) for i in sys.argv[5].split(",") if i]
sys.path.insert(0, tree)
import numpy as np
from experiments.runner.posterior import behaviour_digest, read_posterior
result = {"digest": behaviour_digest(), "sets": {}, "variants": 0}
if sets:
    from experiments.jobs.calibrate import validation_variants
    from sim.simulate import simulate
    posterior = read_posterior(path)
    for i in sets:
        h = hashlib.sha256()
        variants = validation_variants(dict(posterior.overrides(i)))
        result["variants"] = len(variants)
        for label, scenario in variants:
            for r in range(runs):
                run = simulate(scenario, np.random.SeedSequence(root, spawn_key=(r,)),
                               series=(r == 0))
                h.update(f"{label}/{r}\0{sorted(run.outputs.items())!r}\0".encode())
                if r == 0:
                    h.update(run.series.to_csv(index=False).encode())
                    h.update(repr(run.log).encode())
        result["sets"][str(i)] = h.hexdigest()
        print(f"done {i}", file=sys.stderr, flush=True)
print(json.dumps(result))
"""


class Refused(Exception):
    """A re-stamp that must not happen (exit 2), with the one line that says why."""


def base_tree(revision: str) -> tuple[Path, str]:
    """A detached worktree of ``revision`` (made once, reused) and its full commit hash."""
    try:
        sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify",
                              f"{revision}^{{commit}}"],
                             check=True, capture_output=True, text=True).stdout.strip()
    except subprocess.CalledProcessError as err:
        raise Refused(f"--base: {revision!r} is not a commit of this repository") from err
    path = Path(tempfile.gettempdir()) / f"mst-sustain-restamp-{sha[:12]}"
    if not (path / "sim").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force",
                        str(path), sha], check=True, capture_output=True)
    return path, sha


class Progress:
    """Sets compared so far, on standard error.

    A line that rewrites itself on a terminal, else a line at each quarter.
    """

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done, self.shown = label, total, 0, 0
        self.lock = threading.Lock()
        self.tty = sys.stderr.isatty()

    def step(self) -> None:
        """One more tree-set finished."""
        with self.lock:
            self.done += 1
            quarter = 4 * self.done // self.total
            if self.tty:
                print(f"\r{self.label}: {self.done}/{self.total} set runs", end="",
                      file=sys.stderr, flush=True)
            elif quarter > self.shown:
                self.shown = quarter
                print(f"{self.label}: {self.done}/{self.total} set runs", file=sys.stderr,
                      flush=True)
            if self.tty and self.done == self.total:
                print(file=sys.stderr)


def run_tree(tree: Path, posterior: Path, sets: list[int], runs: int,
             progress: Progress | None = None) -> dict:
    """The behaviour digest of ``tree`` and one output digest per set (see ``SNIPPET``)."""
    proc = subprocess.Popen([sys.executable, "-c", SNIPPET, str(tree), str(posterior), str(runs),
                             str(RUNS_ROOT), ",".join(map(str, sets))],
                            cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    other: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            if line.startswith("done ") and progress is not None:
                progress.step()
            elif not line.startswith("done "):
                other.append(line.rstrip())

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join()
    if proc.returncode != 0:
        tail = [line for line in other if line.strip()][-1:] or ["(no message)"]
        raise Refused(f"the model in {tree} failed to run: {tail[0]}")
    return json.loads(out)


def tree_digest(tree: Path) -> str:
    """The behaviour digest of the model in ``tree`` (this interpreter, its packages)."""
    return run_tree(tree, Path(), [], 0)["digest"]


def compare_sets(base: dict[str, str], head: dict[str, str]) -> list[int]:
    """The parameter sets whose runs differ between the trees (missing ones count), sorted."""
    return sorted(int(k) for k in set(base) | set(head) if base.get(k) != head.get(k))


def split(items: list[int], parts: int) -> list[list[int]]:
    """``items`` in ``parts`` interleaved chunks (the empty ones dropped)."""
    return [c for c in (items[i::parts] for i in range(max(1, parts))) if c]


def check_file(path: Path, base: Path, *, sets: int | None, runs: int | None,
               workers: int) -> dict:
    """Compare the trees on ``path``'s sets; returns what was compared (raises on refusal)."""
    posterior = read_posterior(path)
    recorded, now = posterior.behaviour_digest, behaviour_digest()
    if recorded == now:
        return {"status": "current"}
    at_base = tree_digest(base)
    if at_base != recorded:
        raise Refused(f"{path}: the base ({base}) is not the model this sample was calibrated "
                      f"on (behaviour digest {at_base[:12]} != recorded {recorded[:12]}); "
                      f"give the commit it was calibrated or last re-stamped on")
    if runs is None:  # every run the calibration made for these sets
        runs = int(posterior.provenance.get("replicates_per_variant", 2))
    chosen = list(range(posterior.size if sets is None else min(sets, posterior.size)))
    chunks = split(chosen, max(1, workers // 2))
    start = time.perf_counter()
    progress = Progress(path.name, 2 * len(chosen))
    with ThreadPoolExecutor(max_workers=2 * len(chunks)) as pool:
        jobs = {(t, i): pool.submit(run_tree, tree, path, chunk, runs, progress)
                for t, tree in (("base", base), ("head", ROOT)) for i, chunk in enumerate(chunks)}
        found, n_variants = {"base": {}, "head": {}}, set()
        for (t, _), job in jobs.items():
            out = job.result()
            found[t].update(out["sets"])
            n_variants.add(out["variants"])
    differ = compare_sets(found["base"], found["head"])
    if len(n_variants) != 1:  # the trees measure different variants: not the same check
        differ = chosen
    return {"status": "differ" if differ else "same", "differ": differ, "from": recorded,
            "to": now, "sets": len(chosen), "runs_per_variant": runs, "variants": max(n_variants),
            "seconds": round(time.perf_counter() - start, 1)}


def git(*args: str) -> str:
    """A git command's output in this tree ("" if git fails)."""
    proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def restamp(path: Path, check: dict, base_commit: str | None) -> None:
    """Rewrite ``path`` with this tree's digest and the check appended to its provenance.

    The file's JSON is edited as it stands, not re-serialised from a loaded
    :class:`Posterior`: reading normalises the weights again, which could move their last
    digits and so the resampling every ensemble makes from them.
    """
    data = json.loads(path.read_text())
    record = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "from": check["from"], "to": check["to"],
        "base_commit": base_commit, "commit": git("rev-parse", "HEAD") or None,
        "commit_dirty": bool(git("status", "--porcelain", "--", "sim", "agents")),
        "compared": (f"{check['sets']} parameter sets x {check['variants']} validation variants x "
                     f"{check['runs_per_variant']} runs on the calibration's seeds "
                     f"(SeedSequence({RUNS_ROOT}, spawn_key=(r,))): every run's scalar outputs, "
                     "and the monthly series and event log of each variant's first run, "
                     "identical in both trees"),
        "by": "scripts/restamp_posterior.py",
    }
    data["behaviour_digest"] = check["to"]
    provenance = data.setdefault("provenance", {})
    provenance["restamps"] = [*provenance.get("restamps", []), record]
    # the same layout as experiments.runner.posterior.Posterior.to_json
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    read_posterior(path)  # still a valid sample


def main(argv: list[str] | None = None) -> int:
    """Check each posterior file and re-stamp it if its runs are unchanged."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--base", help="the commit the sample was calibrated (or last re-stamped) on")
    where.add_argument("--base-tree", type=Path, help="an existing checkout of that model")
    ap.add_argument("--posterior", type=Path, action="append",
                    help="a posterior file (repeatable; default: the committed sample and the "
                         "leave-one-site-out check)")
    ap.add_argument("--sets", type=int, default=None,
                    help="compare only the first N parameter sets (default: every set)")
    ap.add_argument("--runs", type=int, default=None,
                    help="seeds per validation variant and set (default: as many as the "
                         "calibration ran, its replicates_per_variant)")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--check-only", action="store_true", help="compare, but write nothing")
    args = ap.parse_args(argv)
    try:
        if ((args.runs is not None and args.runs < 1) or (args.sets is not None and args.sets < 1)
                or args.workers < 1):
            raise Refused("--runs, --sets and --workers must be at least 1")
        files = [Path(p) for p in (args.posterior or DEFAULT_FILES)]
        for f in files:
            if not f.is_file():
                raise Refused(f"--posterior: {f} does not exist")
        if args.base_tree is not None:
            if not (args.base_tree / "sim").is_dir():
                raise Refused(f"--base-tree: {args.base_tree} is not a checkout of the model "
                              "(no sim/ folder)")
            base, commit = args.base_tree.resolve(), None
        else:
            base, commit = base_tree(args.base)
        status = 0
        for f in files:
            check = check_file(f, base, sets=args.sets, runs=args.runs, workers=args.workers)
            if check["status"] == "current":
                print(f"{f}: already stamped with this model's digest; nothing to do")
                continue
            what = (f"{check['sets']} sets x {check['variants']} variants x "
                    f"{check['runs_per_variant']} runs, {check['seconds']} s")
            if check["status"] == "differ":
                shown = ", ".join(map(str, check["differ"][:10]))
                more = "" if len(check["differ"]) <= 10 else f" and {len(check['differ']) - 10} more"
                print(f"{f}: the runs differ from the base's for {len(check['differ'])} of "
                      f"{check['sets']} sets ({shown}{more}): the behaviour changed, so the "
                      "sample must be recalibrated; file left as it was")
                status = 1
                continue
            if args.check_only:
                print(f"{f}: identical runs ({what}); --check-only, not re-stamped")
                continue
            restamp(f, check, commit)
            print(f"{f}: identical runs ({what}); re-stamped "
                  f"{check['from'][:12]} -> {check['to'][:12]}")
        return status
    except Refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
