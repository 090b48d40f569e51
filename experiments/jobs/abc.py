"""Calibration by ABC-SMC with pyabc (MODEL.md §11, docs/ODD.md §10).

Approximate Bayesian computation by sequential Monte Carlo: generation 0 draws particles
(parameter sets) from the priors; each later generation proposes particles by perturbing the
previous generation's and keeps those whose distance from the patterns is below a threshold
that falls from generation to generation (the median of the previous generation's distances).
The weighted particles of the last generation are the posterior sample (``posterior.json``).

* **Priors** (:func:`prior_spec`): uniform on the registry's range (log-uniform where the
  registry's ``shape`` is ``log``) for parameters whose source is an assumption or a thesis
  line; for *measured* parameters (:data:`MEASURED`, sources citing the national figures of
  research B. or anchors-peers) a normal centred on the default with a standard deviation of a
  quarter of the range, truncated to the range (in log space for ``log`` parameters). Whole
  numbers are continuous on ``[low - 0.5, high + 0.5]`` and rounded when run.
* **Distance**: :func:`experiments.analysis.calibration.pattern_distance` over the outcome and
  mechanism patterns (each gap in Monte Carlo standard errors, root sum of squares).
* **Screening** after generation 0 (all prior draws are accepted, threshold infinity): the
  parameters whose rank correlation with the distance is negligible
  (:func:`~experiments.analysis.calibration.screen_parameters`) are drawn from their prior in
  every particle (:class:`PriorTransition`), the others are perturbed by a multivariate normal
  kernel (pyabc's ``AggregatedTransition``).
* **Determinism** (:class:`CommonNumbersSampler`): the proposals of generation ``t`` come from
  numpy's global generator seeded by ``SeedSequence(seed, spawn_key=(t + 1, 0))``, are evaluated
  in batches through our executors on the calibration seeds (common random numbers: every
  particle sees the same histories), and are accepted in proposal order, so a calibration is
  identical for a seed whatever the executor or worker count.
* **Resume**: pyabc's SQLite history in the output folder; every generation is run by a fresh
  ``ABCSMC`` loaded from it (:class:`ResumableQuantileEpsilon` continues the threshold schedule
  from the stored population, where pyabc's ``QuantileEpsilon`` would restart at its initial
  value after ``ABCSMC.load``), so an interrupted calibration resumed with ``--resume`` runs the
  same code as an uninterrupted one and gives the same posterior.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.calibration import (
    SITES,
    pattern_distance,
    pattern_errors,
    pattern_keys,
    screen_parameters,
    synthetic_targets,
    truth_quantiles,
)
from experiments.errors import ExperimentError
from experiments.files import atomic_write_text
from experiments.jobs.calibrate import CALIBRATION_ROOT_SEED, SEARCHED, evaluate_sets
from experiments.jobs.common import JobOptions, output_job, prepare_out_dir
from experiments.reports.calibration import write_diagnostics
from experiments.runner.folders import folder_state
from experiments.runner.manifest import git_commit, git_dirty, write_manifest
from experiments.runner.posterior import make_posterior, write_posterior
from sim.parameters import PARAMETER_INDEX, PARAMETERS

HISTORY_FILE = "abc_history.sqlite"
SCREENING_FILE = "abc_screening.json"
POSTERIOR_NAME = "posterior.json"
TRUTH_FILE = "truth_quantiles.csv"
SYNTHETIC_ROOT_SEED = 4711
"""Root seed of the synthetic truth's own runs (never the calibration's, so the truth does not
meet its targets by sharing the particles' histories)."""


def _measured(p) -> bool:
    cites = "research B" in p.source or "anchors-peers" in p.source
    return cites and not p.source.lower().startswith("assumption")


MEASURED: tuple[str, ...] = tuple(p.name for p in PARAMETERS if _measured(p))
"""Parameters measured by national figures: their source cites research B. or anchors-peers and
does not start with "assumption" (so ``therapist_exit_rate``, ``assistant_director_exit_rate``
and ``fixed_cost``, whose sources say they are assumptions beside a citation, are not)."""

CALIBRATED: tuple[str, ...] = SEARCHED + tuple(n for n in MEASURED if n not in SEARCHED)
"""The space of the ABC calibration: :data:`~experiments.jobs.calibrate.SEARCHED` plus
:data:`MEASURED`."""

MAX_FITTED = 24
"""Most parameters perturbed by the kernel after screening (the strongest by rank correlation);
with a few hundred particles a multivariate normal kernel over many more dimensions is mostly
noise, so the rest are drawn from their prior."""

MIN_FITTED = 4
"""Fewest parameters fitted even if the screening finds fewer (the strongest ones)."""


# --- priors --------------------------------------------------------------------------------------

def internal_name(name: str) -> str:
    """The name pyabc uses: ``log_<name>`` for a log-shaped parameter (sampled in log space)."""
    return f"log_{name}" if PARAMETER_INDEX[name].shape == "log" else name


def prior_spec(name: str) -> dict:
    """The prior of one parameter, in the space pyabc samples (log space for ``log`` shapes).

    Returns:
        ``{"parameter", "space" ("linear"/"log"), "kind" ("uniform"/"truncnorm"), "low",
        "high"}`` plus ``"mean"``, ``"sd"`` for a truncated normal; bounds in that space (whole
        numbers widened by 0.5 either side).

    """
    p = PARAMETER_INDEX[name]
    log = p.shape == "log"
    lo, hi, mid = (math.log(p.low), math.log(p.high), math.log(p.default)) if log \
        else (float(p.low), float(p.high), float(p.default))
    if p.integer:
        lo, hi = lo - 0.5, hi + 0.5
    spec = {"parameter": name, "space": "log" if log else "linear", "low": lo, "high": hi}
    if name in MEASURED:
        spec.update(kind="truncnorm", mean=mid, sd=(hi - lo) / 4)
    else:
        spec.update(kind="uniform")
    return spec


def _rv(spec: dict):
    import pyabc

    lo, hi = spec["low"], spec["high"]
    if spec["kind"] == "uniform":
        return pyabc.RV("uniform", lo, hi - lo)
    m, sd = spec["mean"], spec["sd"]
    return pyabc.RV("truncnorm", (lo - m) / sd, (hi - m) / sd, loc=m, scale=sd)


def make_prior(names: Sequence[str]):
    """The joint prior (independent parameters) as a pyabc ``Distribution``, internal names."""
    import pyabc

    return pyabc.Distribution(**{internal_name(n): _rv(prior_spec(n)) for n in names})


def to_model(names: Sequence[str], particle) -> dict:
    """A particle in pyabc's space as scenario overrides (exp, rounding and clipping to range)."""
    out = {}
    for n in names:
        p = PARAMETER_INDEX[n]
        v = float(particle[internal_name(n)])
        if p.shape == "log":
            v = math.exp(v)
        v = min(max(v, p.low), p.high)
        out[n] = int(round(v)) if p.integer else v
    return out


# --- pyabc pieces: prior-drawn parameters, a resumable threshold, a deterministic sampler -----

def _pyabc_classes():
    """Define the pyabc subclasses (pyabc is an optional extra, imported only here)."""
    import pyabc
    from pyabc.sampler import Sampler
    from pyabc.transition import Transition

    class PriorTransition(Transition):
        """Draw some parameters from their prior in every generation (not fitted).

        Their proposal density equals the prior, so they drop out of the importance weights.
        """

        def __init__(self, prior=None):
            self.prior = prior

        def fit(self, X, w):  # noqa: D102 - nothing to fit
            pass

        def rvs_single(self):  # noqa: D102
            return self.prior.rvs()

        def pdf(self, x):  # noqa: D102
            if isinstance(x, pd.DataFrame):
                return np.array([self.prior.pdf(dict(row)) for _, row in x.iterrows()])
            return self.prior.pdf(dict(x))

    class ResumableQuantileEpsilon(pyabc.QuantileEpsilon):
        """pyabc's quantile threshold, continued from the stored population after a load.

        ``QuantileEpsilon`` with a numeric initial value does nothing in ``initialize``, so an
        ``ABCSMC`` loaded at generation ``t > 0`` would start again at the initial threshold;
        here ``initialize`` computes generation ``t``'s threshold from generation ``t - 1``'s
        weighted distances, as ``update`` does in an uninterrupted run.
        """

        def initialize(self, t, get_weighted_distances, get_all_records, max_nr_populations,
                       acceptor_config):  # noqa: D102
            if t > 0:
                self._update(t, get_weighted_distances())
                return
            super().initialize(t, get_weighted_distances, get_all_records, max_nr_populations,
                               acceptor_config)

    class CommonNumbersSampler(Sampler):
        """Propose in a fixed order from a seeded stream, evaluate in batches, accept in order.

        pyabc's ``simulate_one`` draws a proposal from numpy's global generator, runs the model
        and checks acceptance. Each batch is done twice from the same generator state: first
        with a stand-in model that only records the proposals, which are then evaluated
        together through our executors (:func:`evaluate_sets`); then again with the results,
        in proposal order. The draws do not depend on the results, so the particles, their
        order and which are accepted are those of a serial sampler, whatever the executor;
        sampling stops at the ``n``-th acceptance (later proposals of the batch are discarded
        and not counted).
        """

        def __init__(self, seed: int, evaluate, batch_hint: float = 1.0):
            super().__init__()
            self.seed = int(seed)
            self.evaluate = evaluate
            self.rate = float(batch_hint)
            self.evaluated_total = 0
            self._mode = "collect"
            self._pending: list[dict] = []
            self._results: list[dict] = []
            self._cursor = 0

        def model(self, parameter):
            """The model pyabc calls: a stand-in while collecting, the results when replaying."""
            if self._mode == "collect":
                self._pending.append(dict(parameter))
                return {"distance": math.inf}
            result = self._results[self._cursor]
            self._cursor += 1
            return result

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf,
                                    all_accepted=False, ana_vars=None):  # noqa: D102
            seq = np.random.SeedSequence(self.seed, spawn_key=(int(t) + 1, 0))
            np.random.seed(seq.generate_state(8))
            sample = self._create_empty_sample()
            accepted = evaluated = 0
            while accepted < n and evaluated < max_eval:
                need = n - accepted
                size = int(min(max(math.ceil(1.2 * need / max(self.rate, 0.01)), 4), 10 * n))
                if math.isfinite(max_eval):
                    size = int(min(size, max_eval - evaluated))
                state = np.random.get_state()
                self._mode, self._pending = "collect", []
                for _ in range(size):
                    simulate_one()
                self._results = self.evaluate(self._pending)
                self.evaluated_total += size
                np.random.set_state(state)
                self._mode, self._cursor = "replay", 0
                for _ in range(size):
                    particle = simulate_one()
                    evaluated += 1
                    sample.append(particle)
                    accepted += bool(particle.accepted)
                    if accepted >= n or evaluated >= max_eval:
                        break
                self._mode = "collect"
            self.nr_evaluations_ = evaluated
            self.rate = max(accepted / max(evaluated, 1), 0.01)
            if accepted < n:
                sample.ok = False
            return sample

    return PriorTransition, ResumableQuantileEpsilon, CommonNumbersSampler


def _need_pyabc():
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise ExperimentError("calibrate: ABC-SMC needs pyabc, the calibrate extra: pip install "
                              "-e '.[calibrate]' (or use --method hypercube)") from None


# --- the job -------------------------------------------------------------------------------------

def check_abc_options(population: int, generations: int, runs: int,
                      leave_out: Sequence[str], params: Sequence[str] | None) -> None:
    """Refuse ABC options outside their ranges (one line naming the option)."""
    if population < 2:
        raise ExperimentError(f"--population: {population} is too small; allowed 2 or more")
    if generations < 1:
        raise ExperimentError(f"--generations: {generations} is not allowed; at least 1")
    if runs < 1:
        raise ExperimentError(f"--runs: {runs} is not allowed; at least 1 run per variant")
    bad = sorted(set(leave_out) - set(SITES))
    if bad:
        raise ExperimentError(f"--leave-out: unknown site(s) {', '.join(bad)}; allowed "
                              f"{', '.join(SITES)}")
    unknown = sorted(set(params or ()) - set(PARAMETER_INDEX))
    if unknown:
        raise ExperimentError(f"--params: unknown parameter(s) {', '.join(unknown)}; see "
                              f"docs/ODD.md (parameters)")


def read_truth(text: str) -> dict:
    """The synthetic truth's parameter set: ``defaults`` or a JSON file of overrides.

    Raises:
        ExperimentError: One line naming the file and what is wrong.

    """
    if text == "defaults":
        return {}
    path = Path(text)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"--synthetic-truth: {path}: no such file; give 'defaults' or a "
                              f"JSON file of parameter values") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"--synthetic-truth: {path}: not a JSON object of parameter "
                              f"values ({exc})") from None
    if not isinstance(data, dict):
        raise ExperimentError(f"--synthetic-truth: {path}: expected a JSON object of parameter "
                              f"values")
    for name, v in data.items():
        p = PARAMETER_INDEX.get(name)
        if p is None:
            raise ExperimentError(f"--synthetic-truth: {path}: unknown parameter {name!r}")
        if isinstance(v, bool) or not isinstance(v, int | float) or not p.low <= v <= p.high:
            raise ExperimentError(f"--synthetic-truth: {path}: {name}: {v!r} is not a number in "
                                  f"its range [{p.low:g}, {p.high:g}]")
    return data


def _progress_line(gen: dict) -> str:
    return (f"generation {gen['t']}: threshold {gen['epsilon']:.3g}, acceptance "
            f"{gen['acceptance']:.2f} ({gen['accepted']}/{gen['evaluations']}), ESS "
            f"{gen['ess']:.0f}, evaluations {gen['total_evaluations']}, elapsed "
            f"{gen['elapsed_s']:.0f} s")


def _generations(history) -> list[dict]:
    from pyabc.weighted_statistics import effective_sample_size

    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].sort_values("t")
    rows, total, elapsed = [], 0, 0.0
    for r in pops.itertuples():
        w = history.get_weighted_distances(t=int(r.t))["w"].to_numpy(float)
        total += int(r.samples)
        elapsed += float(r.wall_time or 0.0)
        rows.append({"t": int(r.t), "epsilon": float(r.epsilon), "accepted": int(r.particles),
                     "evaluations": int(r.samples),
                     "acceptance": float(r.particles) / max(int(r.samples), 1),
                     "ess": float(effective_sample_size(w)), "total_evaluations": total,
                     "elapsed_s": elapsed, "wall_time_s": float(r.wall_time or 0.0)})
    return rows


@output_job
def abc_job(opts: JobOptions, *, population: int = 200, generations: int = 8, runs: int = 40,
            root: int = CALIBRATION_ROOT_SEED, params: Sequence[str] | None = None,
            max_walltime: float | None = None, min_epsilon: float = 0.0,
            min_acceptance: float = 0.0, leave_out: Sequence[str] = (),
            synthetic_truth: str | None = None, posterior_path: str | None = None,
            screen_z: float = 2.5) -> tuple[str, Path]:
    """Calibrate by ABC-SMC; write the posterior sample, diagnostics and report.

    Args:
        opts: Executor and folder options; ``seed`` seeds the proposals, ``resume`` continues
            the calibration in ``out`` after its last finished generation.
        population: Particles per generation.
        generations: Generations in all (generation 0 from the priors included).
        runs: Replicates per validation variant and particle (15 variants).
        root: Root seed of the particles' runs (the same for every particle).
        params: Parameters calibrated (default :data:`CALIBRATED`).
        max_walltime: No new generation starts after this many minutes of this invocation.
        min_epsilon: Stop once a generation's threshold is at or below this.
        min_acceptance: Stop when a generation would need more than population / this
            evaluations (0: never).
        leave_out: Sites whose patterns are left out of the distance (held out).
        synthetic_truth: ``defaults`` or a JSON file of a parameter set whose simulated
            patterns (+- 2 Monte Carlo errors) replace the targets.
        posterior_path: Also write the posterior sample here.
        screen_z: Screening threshold in null standard errors of a rank correlation.

    Returns:
        ``(terminal text, output folder)``.

    """
    _need_pyabc()
    names = tuple(params or CALIBRATED)
    leave_out = tuple(leave_out)
    check_abc_options(population, generations, runs, leave_out, names)
    truth = read_truth(synthetic_truth) if synthetic_truth else None
    import pyabc

    PriorTransition, ResumableQuantileEpsilon, CommonNumbersSampler = _pyabc_classes()
    for name in ("ABC", "pyabc", "ABC.History", "ABC.Sampler", "ABC.Transition"):
        logging.getLogger(name).setLevel(logging.WARNING)

    out = prepare_out_dir(opts.out, "calibrate", opts.force, opts.resume)
    history_path = out / HISTORY_FILE
    if opts.resume and folder_state(out).state == "complete":
        return f"calibration already complete in {out}", out
    if opts.resume and not history_path.exists():
        raise ExperimentError(f"--resume: {out} holds no calibration history ({HISTORY_FILE}); "
                              f"start it without --resume")
    manifest_path = out / "manifest.json"
    args = {"method": "abc", "population": population, "generations": generations,
            "runs": runs, "root": root, "seed": opts.seed, "params": list(names),
            "leave_out": list(leave_out), "synthetic_truth": synthetic_truth,
            "min_epsilon": min_epsilon, "min_acceptance": min_acceptance, "screen_z": screen_z}
    old: dict = {}
    if opts.resume:
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        before = {k: v for k, v in old.get("job", {}).get("args", {}).items()
                  if k not in ("generations", "min_epsilon", "min_acceptance")}
        now = {k: v for k, v in args.items()
               if k not in ("generations", "min_epsilon", "min_acceptance")}
        if before and before != now:
            changed = sorted(k for k in now if before.get(k) != now.get(k))
            raise ExperimentError(f"--resume: {', '.join(changed)} differ from the interrupted "
                                  f"calibration in {out}; resume with the same options (only "
                                  f"--generations, --min-epsilon, --min-acceptance, "
                                  f"--max-walltime may change)")
    manifest = {"manifest_version": 2, "status": "running", "command": " ".join(opts.command),
                "argv": list(opts.command), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                     time.gmtime()),
                "root_seed": int(root), "replicates": runs, "workers": opts.workers,
                "dask_scheduler": opts.dask_scheduler, "git_commit": git_commit(),
                "git_dirty": git_dirty(), "job": {"name": "calibrate", "args": args},
                "files": {"history": HISTORY_FILE, "posterior": POSTERIOR_NAME}}
    if opts.resume and old:
        manifest["started"] = old.get("started", manifest["started"])
        manifest["attempts"] = old.get("attempts", [{"started": old.get("started"),
                                                     "command": old.get("command")}])
        manifest["attempts"].append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime()),
                                     "command": manifest["command"], "workers": opts.workers})
    write_manifest(manifest_path, manifest)

    targets, truth_values = None, None
    if truth is not None:
        truth_values = {n: PARAMETER_INDEX[n].default for n in names} | truth
        [truth_table] = evaluate_sets([truth], runs, SYNTHETIC_ROOT_SEED, opts)
        targets = synthetic_targets(truth_table)

    keys = pattern_keys()

    def evaluate(particles: list[dict]) -> list[dict]:
        sets = [to_model(names, par) for par in particles]
        tables = evaluate_sets(sets, runs, root, opts)
        results = []
        for table in tables:
            errors = pattern_errors(table, targets)
            stat = {"distance": pattern_distance(table, targets, leave_out)}
            for i, r in enumerate(errors.itertuples()):
                stat[f"v{i}"] = float(r.value)
                stat[f"z{i}"] = float(r.z)
            results.append(stat)
        return results

    prior = make_prior(names)
    sampler = CommonNumbersSampler(opts.seed, evaluate)

    def distance(x, x0):
        return x["distance"]

    db = f"sqlite:///{history_path.resolve()}"
    x0 = {"distance": 0.0}

    def smc(transition):
        return pyabc.ABCSMC(sampler.model, prior, distance, population_size=population,
                            transitions=transition, sampler=sampler,
                            eps=ResumableQuantileEpsilon(initial_epsilon=math.inf, alpha=0.5))

    start = time.perf_counter()
    lines: list[str] = []

    # generation 0: every prior draw is accepted (threshold infinity), for the screening
    history = pyabc.History(db) if history_path.exists() else None
    if history is None or history.max_t < 0:
        if history_path.exists():
            history_path.unlink()  # killed before generation 0 was stored: start it again
        abc = smc(pyabc.MultivariateNormalTransition())
        abc.new(db, x0)
        abc.run(max_nr_populations=1)
        history = abc.history
    screening = _screening(out, history, names, screen_z)
    fitted = [internal_name(n) for n in screening["fitted"]]
    rest = [internal_name(n) for n in names if n not in screening["fitted"]]
    mapping = {tuple(fitted): pyabc.MultivariateNormalTransition()}
    if rest:
        mapping[tuple(rest)] = PriorTransition(pyabc.Distribution(
            **{k: prior[k] for k in rest}))
    transition = pyabc.AggregatedTransition(mapping)
    gens = _generations(history)
    lines += [_progress_line(g) for g in gens]
    for line in lines:
        print(line, flush=True)
    stop = "generations"
    while True:
        gens = _generations(history)
        last = gens[-1]
        if len(gens) >= generations:
            stop = f"--generations {generations}"
            break
        if last["epsilon"] <= min_epsilon and last["t"] > 0:
            stop = f"--min-epsilon {min_epsilon:g}"
            break
        if max_walltime is not None and time.perf_counter() - start > max_walltime * 60:
            stop = f"--max-walltime {max_walltime:g} min"
            break
        sampler.rate = last["acceptance"]
        abc = smc(transition)
        abc.load(db, 1, observed_sum_stat=x0)
        t_before = abc.history.max_t
        abc.run(max_nr_populations=1, min_acceptance_rate=min_acceptance)
        history = abc.history
        if history.max_t == t_before:
            stop = f"--min-acceptance {min_acceptance:g} (generation {t_before + 1} not filled)"
            break
        line = _progress_line(_generations(history)[-1])
        lines.append(line)
        print(line, flush=True)
    text = _finish(out, history, names, keys, screening, opts, runs, root, leave_out,
                   truth_values, posterior_path, stop, args)
    return text, out


def _finite(value):
    """``value`` with every non-finite number as None (JSON has no infinity).

    Generation 0's threshold is infinite (every prior draw accepted).
    """
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _screening(out: Path, history, names: Sequence[str], z: float) -> dict:
    """Screen the parameters on generation 0 (kept in :data:`SCREENING_FILE` for a resume)."""
    path = out / SCREENING_FILE
    if path.exists():
        return json.loads(path.read_text())
    pop = history.get_population(t=0)
    values = pd.DataFrame([[float(p.parameter[internal_name(n)]) for n in names]
                           for p in pop.particles], columns=list(names))
    distances = np.array([p.distance for p in pop.particles], dtype=float)
    table = screen_parameters(values, distances, z=z)
    fitted = list(table.loc[table["fitted"], "parameter"])[:MAX_FITTED]
    if len(fitted) < MIN_FITTED:
        fitted = list(table["parameter"])[:min(MIN_FITTED, len(names))]
    table["fitted"] = table["parameter"].isin(fitted)
    result = {"z": z, "particles": len(distances), "fitted": fitted,
              "table": table.to_dict(orient="records")}
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    return result


def _finish(out: Path, history, names, keys, screening, opts, runs, root, leave_out,
            truth_values, posterior_path, stop, args) -> str:
    """Write the posterior sample, the diagnostics and the report; return the closing text."""
    import pyabc

    gens = _generations(history)
    t = history.max_t
    pop = history.get_population(t=t)
    particles = pop.particles
    values = np.array([[to_model(names, p.parameter)[n] for n in names] for p in particles],
                      dtype=float)
    weights = np.array([p.weight for p in particles], dtype=float)
    distances = np.array([p.distance for p in particles], dtype=float)
    best = int(np.argmin(distances))
    stat = particles[best].sum_stat
    fit = [{"pattern": k, "value": float(stat.get(f"v{i}", math.nan)),
            "z": float(stat.get(f"z{i}", math.nan)),
            "held_out": bool(k.split(":")[0] in leave_out or (leave_out and k.startswith("all")))}
           for i, k in enumerate(keys)]
    prior0 = history.get_population(t=0)
    prior_values = np.array([[to_model(names, p.parameter)[n] for n in names]
                             for p in prior0.particles], dtype=float)
    provenance = {
        "command": " ".join(opts.command), "method": "ABC-SMC (pyabc "
        f"{pyabc.__version__}), quantile threshold alpha 0.5, multivariate normal kernel on "
        "the screened parameters, the rest drawn from the prior",
        "seeds": {"proposals": int(opts.seed), "runs_root": int(root),
                  "runs": f"SeedSequence({root}, spawn_key=(r,)), r < {runs}, every particle"},
        "git_commit": git_commit(), "git_dirty": git_dirty(),
        "replicates_per_variant": runs, "variants": 15, "population": len(particles),
        "generations": gens, "stopped_by": stop, "threshold": gens[-1]["epsilon"],
        "distance": "root sum of squares of each pattern's gap from its target range in Monte "
                    "Carlo standard errors (experiments.analysis.calibration.pattern_distance)",
        "leave_out": list(leave_out), "synthetic_truth": args.get("synthetic_truth"),
        "priors": [prior_spec(n) for n in names], "fitted": screening["fitted"],
        "point_fit": fit, "total_evaluations": gens[-1]["total_evaluations"],
        "model_runs": gens[-1]["total_evaluations"] * 15 * runs,
    }
    posterior = make_posterior(names, values, weights, distances, _finite(provenance),
                               point=best)
    write_posterior(posterior, out / POSTERIOR_NAME)
    extra = ""
    if posterior_path:
        write_posterior(posterior, posterior_path)
        extra = f"\nposterior also written to {posterior_path}"
    truth_table = None
    if truth_values is not None:
        truth_table = truth_quantiles(names, values, posterior.weights, truth_values)
        atomic_write_text(out / TRUTH_FILE, truth_table.to_csv(index=False))
    files = write_diagnostics(out, names=list(names), values=values, weights=posterior.weights,
                              prior_values=prior_values,
                              priors={n: prior_spec(n) for n in names}, generations=gens,
                              point_fit=fit, screening=screening, truth=truth_table)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.update(status="finishing", finished=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()),
                    generations=len(gens), stopped_by=stop)
    manifest["files"].update({k: Path(v).name for k, v in files.items()})
    if truth_table is not None:
        manifest["files"]["truth"] = TRUTH_FILE
    write_manifest(out / "manifest.json", manifest)
    held = sum(1 for f in fit if not f["held_out"])
    met = sum(1 for f in fit if not f["held_out"] and f["z"] == 0)
    return (f"stopped by {stop} after {len(gens)} generations; threshold "
            f"{gens[-1]['epsilon']:.3g}, ESS {posterior.effective_size:.0f} of "
            f"{posterior.size}; {gens[-1]['total_evaluations']} particles evaluated "
            f"({provenance['model_runs']} model runs)\n"
            f"best particle: distance {distances[best]:.3g}, {met}/{held} fitted patterns in "
            f"their target range\nposterior: {out / POSTERIOR_NAME}{extra}\n"
            f"report: {files['report_html']}")
