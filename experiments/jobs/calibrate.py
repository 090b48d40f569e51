"""The calibration procedure, reproducible.

A Latin-hypercube search of the shared mechanism
parameters within their documented ranges, scored by the distance from every pattern of
docs/ODD.md §10 (outcome and mechanism patterns alike) on calibration seeds; the chosen point is
then checked on other seeds (``python run.py validate``). Each point runs the variants of
:func:`validation_variants`: the sites, the neutral authority and Isolated Coastal with each
lever on alone. The folder holds ``calibration_search.jsonl`` and the manifest.

Usage::

    python run.py calibrate --points 200 --runs 120 --shrink 0.5 --out results/calibration

Every site uses the same parameter values: the search varies the shared parameters only, never
a site file. ``--shrink`` narrows the box around the current defaults (1 = the full ranges).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import qmc

from experiments.analysis.calibration import (
    LEVER_SITE,
    SITES,
    check_patterns,
    lever_label,
    loss,
    summary_line,
)
from experiments.analysis.readiness import lever_variants
from experiments.errors import ExperimentError
from experiments.files import atomic_write_text
from experiments.jobs.common import ROOT, JobOptions, output_job, prepare_out_dir
from experiments.runner.execute import run_ensemble
from experiments.runner.folders import check_resume, folder_state
from experiments.runner.manifest import build_manifest, finish_manifest, write_manifest
from experiments.runner.tasks import make_tasks
from sim.parameters import PARAMETER_INDEX
from sim.scenario import Scenario, load_scenario

SEARCH_FILE = "calibration_search.jsonl"
CALIBRATION_ROOT_SEED = 1000  # validation (run.py validate) uses other seeds

# The parameters searched: decision weights and thresholds, and the workforce and partnership
# rates with the weakest evidence (assumptions).
SEARCHED = (
    # buffers against pressure and the decision rule (ODD §7.13)
    "leader_shield", "newcomer_shield", "patron_boost", "exposure_floor", "gamma_leadership",
    "gamma_partnership", "gamma_system", "status_quo", "opposition_pressure", "under_use_weight",
    "w_evidence", "w_embedded", "burden_elasticity", "hostility_pressure", "unit_cost_penalty",
    "close_margin", "decision_scale", "expand_margin", "review_strictness", "embed_months",
    "savings_evidence",
    # leaders' views and patronage (ODD §7.2, §7.3)
    "culture_attraction", "hostile_newcomer_shift", "stance_evidence_rate", "coalition_pull",
    "patron_review_relief", "patron_strain_relief", "trial_credibility_cost",
    # the workforce and partnership rates with the weakest evidence (assumptions)
    "supervisor_exit_rate", "advocacy_memory_months", "strain_exit_multiplier",
    "supervisor_strain_cap", "carrying_strain", "supervisor_churn_strain",
    "partner_turnover_rate", "uninformed_attendance", "grant_pull", "isolation_strain",
    "churn_climate_erosion", "climate_adjust_rate", "successor_system_leadership",
    "patron_loss_resentment", "resentment_recovery_months", "staffing_collapse_months",
    # the referral pipeline (Isolated Coastal was "performing well", 001:1919)
    "eligible_per_lac", "referral_propensity", "promotion_awareness_gain", "awareness_decay",
    "referrers_per_100_lac",
)

def validation_variants(overrides: dict | None = None) -> list[tuple[str, Scenario]]:
    """The variants every pattern is measured on (``validate`` and each calibration point).

    The three sites and the neutral authority, then :data:`LEVER_SITE` with each lever of
    ``readiness.LEVER_OPTIONS`` switched on alone, labelled ``lever_label(site, lever)``.
    Replicate ``r`` of every variant shares its seed, so a lever variant is paired with its
    base site (common random numbers).

    Args:
        overrides: Mechanism parameters set in every variant (None: the defaults).

    Returns:
        ``(label, scenario)`` pairs.

    """
    def load(path):
        sc = load_scenario(ROOT / path)
        return sc.with_parameters(**overrides) if overrides else sc

    variants = [(site, load(path)) for site, path in SITES.items()]
    base = dict(variants)[LEVER_SITE]
    levers, _, _ = lever_variants(base, LEVER_SITE)
    variants += [(lever_label(LEVER_SITE, label.removeprefix("+")), sc)
                 for label, sc in levers[1:]]
    return variants


def score(overrides: dict, runs: int, root: int, opts: JobOptions) -> tuple[float, pd.DataFrame]:
    """Run every validation variant with the given overrides; return the loss and pattern table.

    Replicate ``r`` of every variant uses ``SeedSequence(root, spawn_key=(r,))`` (the ensemble
    seed scheme), on the executor the options choose.
    """
    variants = validation_variants(overrides)
    result = run_ensemble(make_tasks(variants, runs, root), workers=opts.workers,
                          dask_scheduler=opts.dask_scheduler, progress=False)
    table = check_patterns(result.runs)
    return loss(table), table


def set_tasks(sets: Sequence[dict], runs: int, root: int, distinct_seeds: bool = False):
    """The tasks of every validation variant for each parameter set, as one ensemble.

    Set ``i``'s runs follow set ``i - 1``'s (``run_id`` from ``i * 15 * runs``). With common
    random numbers (the default) replicate ``r`` of every variant of every set uses
    ``SeedSequence(root, spawn_key=(r,))``, so sets are compared on the same histories (the
    calibration); with ``distinct_seeds`` set ``i`` uses replicates ``i * runs ..`` so every
    set has seeds of its own (posterior predictive checks).

    Returns:
        ``(tasks, runs per set)``.

    """
    tasks, per = [], 0
    for i, overrides in enumerate(sets):
        own = make_tasks(validation_variants(overrides), runs, root)
        per = len(own)
        shift = i * runs if distinct_seeds else 0
        tasks += [replace(t, run_id=i * per + t.run_id, replicate=t.replicate + shift)
                  for t in own]
    return tasks, per


def run_sets(sets: Sequence[dict], runs: int, root: int, opts: JobOptions, *,
             distinct_seeds: bool = False, out_dir: Path | None = None, resume: bool = False):
    """Run :func:`set_tasks` on the executor the options choose.

    Args:
        sets: Parameter overrides, one dictionary per set.
        runs: Replicates per variant and set.
        root: Root seed of the runs.
        opts: Executor options (``workers``, ``dask_scheduler``).
        distinct_seeds: Seeds of their own per set (see :func:`set_tasks`).
        out_dir: Folder for the runs table and run store (None: in memory).
        resume: Keep the finished runs of ``out_dir``'s store.

    Returns:
        ``(result, set index of each row of result.runs)``; identical whatever the executor.

    """
    tasks, per = set_tasks(sets, runs, root, distinct_seeds)
    result = run_ensemble(tasks, workers=opts.workers, dask_scheduler=opts.dask_scheduler,
                          progress=False if out_dir is None else opts.progress,
                          out_dir=out_dir, resume=resume, keep_store=out_dir is not None)
    return result, result.runs["run_id"].to_numpy() // per


def evaluate_sets(sets: Sequence[dict], runs: int, root: int,
                  opts: JobOptions) -> list[pd.DataFrame]:
    """Pattern tables of parameter sets, each from its own mini-ensemble (:func:`run_sets`).

    Returns:
        :func:`check_patterns` tables, in the order of ``sets``.

    """
    if not sets:
        return []
    result, which = run_sets(sets, runs, root, opts)
    return [check_patterns(result.runs[which == i]) for i in range(len(sets))]


PPC_DRAWS = 50
"""Parameter sets drawn from the posterior by ``validate`` (K of the K x M design)."""

PPC_REPLICATES = 20
"""Runs per variant and parameter set in ``validate``'s posterior predictive checks (M)."""


@output_job
def predictive_job(opts: JobOptions, posterior, draws: int = PPC_DRAWS) -> tuple[str, Path, bool]:
    """Posterior predictive checks: every pattern over ``draws`` sets of the posterior sample.

    Set ``k`` (drawn by weight from ``opts.seed``, :meth:`Posterior.resample`) runs every
    validation variant ``opts.replicates`` times on seeds of its own
    (``SeedSequence(seed, spawn_key=(k * M + m,))``), never the calibration's (root 1000). For
    each pattern: the value pooled over all runs with its 95% interval (runs treated as draws
    from the predictive distribution), the 5-95% range of the sets' values (parameter
    uncertainty and chance), and the share of sets whose own runs meet the target.

    Args:
        opts: Executor, folder and seed options; ``replicates`` is M.
        posterior: A :class:`experiments.runner.posterior.Posterior` (not stale).
        draws: K, the parameter sets drawn.

    Returns:
        ``(text, folder, ok)``; ``ok`` is False when a pooled pattern misses its target.

    """
    if draws < 1:
        raise ExperimentError(f"--draws: {draws} is not allowed; at least 1")
    out = prepare_out_dir(opts.out, "validate", opts.force, opts.resume)
    if opts.resume and folder_state(out).state == "complete":
        return f"{out}: already complete; nothing to resume (use --force to run it again)", \
            out, True
    index = posterior.resample(opts.seed, draws)
    sets = [posterior.overrides(int(i)) for i in index]
    if opts.resume:  # a wrong --resume leaves the interrupted folder as it was
        check_resume(out, set_tasks(sets, opts.replicates, opts.seed, True)[0])
    variants = validation_variants()
    manifest = build_manifest(list(opts.command), variants, opts.seed,
                              opts.replicates * draws, opts.workers, opts.dask_scheduler)
    manifest["job"] = {"name": "validate-posterior", "args": {
        "draws": draws, "replicates": opts.replicates, "posterior": str(posterior.source),
        "posterior_sha256": posterior.digest, "sets": [int(i) for i in index]}}
    write_manifest(out / "manifest.json", manifest)
    result, which = run_sets(sets, opts.replicates, opts.seed, opts, distinct_seeds=True,
                             out_dir=out, resume=opts.resume)
    result.files.pop("store", None)
    finish_manifest(manifest, result)
    pooled = check_patterns(result.runs)
    per_set = [check_patterns(result.runs[which == k]) for k in range(draws)]
    values = np.array([t["value"].to_numpy(float) for t in per_set])
    passed = np.array([t["passed"].to_numpy(bool) for t in per_set])
    table = pooled[["kind", "site", "pattern", "target", "value", "low", "high", "n", "unit",
                    "passed", "testable"]].copy()
    with warnings.catch_warnings():  # a pattern no set could measure: NaN, as it should be
        warnings.simplefilter("ignore", RuntimeWarning)
        # "never" (inf) is a value like any other: quantiles without interpolation keep it
        table["sets_q05"] = np.nanquantile(values, 0.05, axis=0, method="inverted_cdf")
        table["sets_q95"] = np.nanquantile(values, 0.95, axis=0, method="inverted_cdf")
    table["share_of_sets"] = passed.mean(axis=0)
    atomic_write_text(out / "ppc.csv", table.to_csv(index=False, float_format="%.6g"))
    manifest["files"] = {**manifest.get("files", {}), "ppc": "ppc.csv"}
    write_manifest(out / "manifest.json", manifest)
    ok = bool(table["passed"].all())
    text = format_predictive(table, draws, opts.replicates, posterior)
    return text + f"\nresults: {out}", out, ok


def format_predictive(table: pd.DataFrame, draws: int, replicates: int, posterior) -> str:
    """The posterior predictive checks as a fixed-width text table."""
    from experiments.analysis.calibration import format_value as fmt

    lines = [f"Posterior predictive checks: {draws} parameter sets drawn by weight from "
             f"{posterior.shown_source} ({posterior.size} sets, ESS {posterior.effective_size:.0f}) x "
             f"{replicates} runs per variant, on seeds never used while fitting",
             f"{'site':<17} {'pattern':<60} {'target':<18} {'pooled':>7} {'95% CI':<14} "
             f"{'sets 5-95%':<14} {'sets ok':>7} result"]
    for r in table.itertuples():
        ci = "" if math.isnan(r.low) else f"{fmt(r.low, r.unit)}-{fmt(r.high, r.unit)}"
        spread = "" if math.isnan(r.sets_q05) else \
            f"{fmt(r.sets_q05, r.unit)}-{fmt(r.sets_q95, r.unit)}"
        result = "pass" if r.passed else "FAIL"
        if not r.testable:
            result = "pass (not testable)"
        lines.append(f"{r.site:<17} {r.pattern[:60]:<60} {r.target:<18} "
                     f"{fmt(r.value, r.unit):>7} {ci:<14} {spread:<14} {r.share_of_sets:>7.2f} "
                     f"{result}")
    held = int(table["passed"].sum())
    lines.append(f"\n{held}/{len(table)} patterns hold on the pooled predictive runs.")
    return "\n".join(lines)


def check_options(points: int, runs: int, shrink: float, params: Sequence[str] | None) -> None:
    """Refuse calibration options outside their ranges (one line naming the option)."""
    if points < 0:
        raise ExperimentError(f"--points: {points} is negative; allowed 0 or more")
    if runs < 1:
        raise ExperimentError(f"--runs: {runs} is not allowed; at least 1 run per site")
    if not 0 < shrink <= 1:
        raise ExperimentError(f"--shrink: {shrink} is not in (0, 1]")
    unknown = sorted(set(params or ()) - set(PARAMETER_INDEX))
    if unknown:
        raise ExperimentError(f"--params: unknown parameter(s) {', '.join(unknown)}; see "
                              f"docs/ODD.md (parameters)")


@output_job
def calibrate_job(opts: JobOptions, *, points: int = 200, runs: int = 120, shrink: float = 0.5,
                  params: Sequence[str] | None = None, root: int = CALIBRATION_ROOT_SEED,
                  method: str = "hypercube") -> tuple[str, Path]:
    """Run the search and write one JSON line per evaluated point (``calibration_search.jsonl``).

    Args:
        opts: Executor and folder options (``seed`` is the seed of the Latin hypercube).
        points: Latin hypercube points (the current defaults are evaluated first).
        runs: Runs per site per point.
        shrink: Width of the box around the defaults (1 = the documented ranges); with
            ``method="refine"``, the first step size as a share of each range.
        params: Parameters searched (default :data:`SEARCHED`).
        root: Root seed of the calibration runs.
        method: ``hypercube`` (a Latin hypercube in the box) or ``refine`` (a (1+1)
            evolution strategy from the defaults: each point perturbs a few parameters of the
            best point so far, within their ranges; the step grows after a success and shrinks
            after a failure). Both use the same calibration seeds for every point (common
            random numbers), so points are compared on the same histories.

    Returns:
        ``(terminal text, output folder)``.

    """
    check_options(points, runs, shrink, params)
    if method not in ("hypercube", "refine"):
        raise ExperimentError(f"--method: {method!r} is not allowed; use hypercube or refine")
    if opts.resume:
        raise ExperimentError("--resume: the calibration search cannot be resumed; run it again "
                              "with --force (its points are quick to recompute)")
    chosen = [PARAMETER_INDEX[n] for n in (params or SEARCHED)]
    lo, hi = [], []
    for p in chosen:
        half = (p.high - p.low) * shrink / 2
        lo.append(max(p.low, p.default - half))
        hi.append(min(p.high, p.default + half))
    start = np.array([p.default for p in chosen], dtype=float)
    if method == "hypercube":
        design = qmc.scale(qmc.LatinHypercube(d=len(chosen), seed=opts.seed).random(points), lo, hi)
        design = np.vstack([start, design])  # the current defaults first
    out = prepare_out_dir(opts.out, "calibrate", opts.force)
    variants = validation_variants()
    manifest = build_manifest(list(opts.command), variants, root, runs, opts.workers,
                              opts.dask_scheduler)
    manifest["job"] = {"name": "calibrate", "args": {
        "points": points, "runs": runs, "shrink": shrink, "method": method, "seed": opts.seed,
        "params": [p.name for p in chosen]}}
    manifest["files"] = {"search": SEARCH_FILE}
    write_manifest(out / "manifest.json", manifest)
    best, best_line = math.inf, ""
    lines: list[str] = []
    rng = np.random.default_rng(opts.seed)
    low = np.array([p.low for p in chosen])
    high = np.array([p.high for p in chosen])
    best_row, step = start, shrink
    for i in range(points + 1):
        if method == "hypercube":
            row = design[i]
        elif i == 0:
            row = start
        else:  # perturb a few parameters of the best point so far, within their ranges
            row = best_row.copy()
            k = max(2, len(chosen) // 8)
            for j in rng.choice(len(chosen), size=k, replace=False):
                row[j] = np.clip(row[j] + rng.normal(0.0, step) * (high[j] - low[j]),
                                 low[j], high[j])
        overrides = {p.name: (int(round(v)) if p.integer else float(v))
                     for p, v in zip(chosen, row, strict=True)}
        value, table = score(overrides, runs, root, opts)
        passed = int(table["passed"].sum())
        by_kind = table.groupby("kind")["passed"].sum().astype(int).to_dict()
        accepted = value < best
        lines.append(json.dumps({"point": i, "loss": value, "passed": passed,
                                 "passed_outcome": by_kind.get("outcome", 0),
                                 "passed_mechanism": by_kind.get("mechanism", 0),
                                 "accepted": accepted, "step": step,
                                 "overrides": overrides}) + "\n")
        atomic_write_text(out / SEARCH_FILE, "".join(lines))  # every point kept as it finishes
        if accepted:
            best, best_row = value, row
            best_line = f"point {i}: loss {value:.3f}; {summary_line(table)}"
            print(best_line, flush=True)
            step = min(0.3, step * 1.5)
        elif i > 0:
            step = max(0.01, step * 0.95)
    return f"best {best_line}\nresults: {out / SEARCH_FILE}", out
