"""Global sensitivity analysis of the MST survival model with SALib: which inputs drive risk?

The pipeline, for a stochastic model whose outcome (closure) is censored at the horizon:

1. **Design.** The factors of :mod:`experiments.analysis.factors` become a SALib
   :class:`~SALib.ProblemSpec`. :func:`make_design` samples it with ``sample_sobol`` (Saltelli's
   scheme on a scrambled Sobol' sequence; not the deprecated ``saltelli`` sampler),
   ``sample_morris`` (elementary-effect trajectories) or ``sample_latin`` (for PAWN).
2. **Evaluation.** Each design row becomes a scenario variant (:func:`design_variants`); the
   ensemble runner (:func:`experiments.runner.execute.run_ensemble`, any executor) runs every row
   ``R`` times. Replicate ``r`` of *every* row uses the same random stream (common random
   numbers), and results come back in design-row order, which SALib's Sobol' estimator needs.
3. **Outputs per design row** (:func:`row_outputs`), each a summary over the ``R`` replicates
   that is well defined under censoring: the share still running at ``years`` (no run is
   censored before the horizon, so this is exact), the restricted mean survival time (mean of
   ``min(T, horizon)``) and the median months to closure with runs still open at the horizon
   counted as the horizon (``median(min(T, h)) = min(median T, h)``, exact).
4. **Analysis** (:func:`analyse`): Sobol' first-order (S1), total-order (ST) and optionally
   second-order (S2) indices with bootstrap intervals; Morris mu*, mu and sigma with a bootstrap
   interval on mu*; PAWN's median Kolmogorov-Smirnov statistic with a bootstrap interval over
   design rows. Each table is ranked (1 = most influential).
5. **Seed noise** (:func:`noise_share`): the share of the output variance that is luck of the
   draw (variance between replicates of the same row), for single runs and for the replicate
   means that were analysed.
6. **Convergence** (:func:`convergence`, :func:`stability`): the indices and ranking at
   ``N, N/2, N/4 ...`` using the first rows of the same design (a Sobol' sequence, a set of
   Morris trajectories and a Latin hypercube sample are all extensible this way), and a verdict
   on whether the top five are the same at ``N`` and ``N/2``.

:func:`experiments.jobs.sensitivity.sensitivity_job` wires this to the command line and
:mod:`experiments.reports.sensitivity` presents it (tables, plots, ``report.html``). The analysis
functions are independent of the model; ``tests/test_sensitivity.py`` checks them
on SALib's Ishigami function against the analytic indices.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis.factors import Factor, apply_factors
from experiments.errors import ExperimentError
from sim.scenario import Scenario

METHODS = ("sobol", "morris", "pawn")

DEFAULTS = {"sobol": (512, 4), "morris": (20, 10), "pawn": (1024, 4)}
"""Default ``(n, replicates)`` per method: Sobol' base samples, Morris trajectories, PAWN rows."""

MIN_N = {"sobol": 16, "morris": 2, "pawn": 100}
"""Smallest ``n`` accepted per method (and the smallest size in a convergence check)."""

PAWN_SLIDES = 10
"""Conditioning intervals of PAWN (SALib's default)."""

TOP = 5
"""How many leading drivers the stability verdict compares."""


def _seed(root: int, purpose: int) -> int:
    """A positive 32-bit seed for one purpose, derived from the root seed by a SeedSequence.

    The replicates of the ensemble use ``SeedSequence(root, spawn_key=(r,))``; this uses the
    entropy ``(root, purpose)`` instead, so the two never coincide.
    """
    state = np.random.SeedSequence([int(root), 0x5A5A, int(purpose)]).generate_state(1)[0]
    return int(state) or 1


SAMPLING_SEED, BOOTSTRAP_SEED = 1, 2


# ---------------------------------------------------------------------------------------------
# Design
# ---------------------------------------------------------------------------------------------


@dataclass
class Design:
    """A sampled design: the factors, the SALib problem and the sample matrix.

    Attributes:
        method: ``sobol``, ``morris`` or ``pawn``.
        factors: The factors (columns of ``X``).
        n: Sobol' base samples, Morris trajectories or PAWN rows.
        X: Sampled factor values, one row per design row.
        problem: The SALib ``ProblemSpec`` (a dict).
        seed: The seed of the sampler.
        second_order: Whether the Sobol' design supports second-order indices.
        groups: Whether factors are analysed as groups.
        num_levels: Morris grid levels.

    """

    method: str
    factors: list[Factor]
    n: int
    X: np.ndarray
    problem: dict
    seed: int
    second_order: bool = False
    groups: bool = False
    num_levels: int = 4

    @property
    def units(self) -> list[str]:
        """Names of what is ranked: factor names, or group names when grouped."""
        if not self.groups:
            return [f.name for f in self.factors]
        return list(dict.fromkeys(f.group for f in self.factors))

    @property
    def block(self) -> int:
        """Design rows per base sample (Sobol'), per trajectory (Morris), or 1 (PAWN)."""
        d = len(self.units)
        if self.method == "sobol":
            return 2 * d + 2 if self.second_order else d + 2
        if self.method == "morris":
            return d + 1
        return 1

    @property
    def rows(self) -> int:
        """Number of design rows."""
        return len(self.X)

    def sizes(self) -> list[int]:
        """Sample sizes of the convergence check: ``n, n/2, n/4, ...`` down to the minimum."""
        out, k = [], self.n
        while k >= MIN_N[self.method]:
            out.append(k)
            if k % 2:
                break
            k //= 2
        return out


def _problem(factors: Sequence[Factor], groups: bool):
    from SALib import ProblemSpec

    spec = {"names": [f.name for f in factors], "bounds": [f.bounds for f in factors]}
    if groups:
        spec["groups"] = [f.group for f in factors]
    return ProblemSpec(spec)


def make_design(factors: Sequence[Factor], method: str, n: int, seed: int = 1, *,
                groups: bool = False, second_order: bool = False,
                num_levels: int = 4) -> Design:
    """Sample a design with SALib.

    Args:
        factors: The factors (at least two).
        method: ``sobol``, ``morris`` or ``pawn``.
        n: Sobol' base samples (a power of two), Morris trajectories or PAWN rows.
        seed: Root seed; the sampler's seed is derived from it.
        groups: Analyse factor groups instead of single factors (Sobol' and Morris sample by
            group; PAWN averages its members' indices, as SALib does).
        second_order: Sobol' only: also sample for second-order indices (``N(2D+2)`` rows).
        num_levels: Morris grid levels (even; 4 is usual).

    Returns:
        The :class:`Design`.

    Raises:
        ExperimentError: On an unknown method or an unsuitable ``n``.

    """
    if method not in METHODS:
        raise ExperimentError(f"--method: {method!r} is not a method; use one of "
                              f"{', '.join(METHODS)}")
    factors = list(factors)
    if len(factors) < 2:
        raise ExperimentError("sensitivity analysis needs at least two factors")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < MIN_N[method]:
        raise ExperimentError(f"--n: expected a whole number of at least {MIN_N[method]} for "
                              f"{method}, got {n!r}")
    if method == "sobol" and n & (n - 1):
        raise ExperimentError(f"--n: Sobol' sampling needs a power of two (e.g. 256, 512, "
                              f"1024), got {n}")
    if second_order and method != "sobol":
        raise ExperimentError("--second-order applies to --method sobol only")
    if method == "morris" and (num_levels < 2 or num_levels % 2):
        raise ExperimentError(f"--levels: Morris needs an even number of levels >= 2, "
                              f"got {num_levels}")
    sp = _problem(factors, groups)
    s = _seed(seed, SAMPLING_SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if method == "sobol":
            sp.sample_sobol(int(n), calc_second_order=second_order, seed=s)
        elif method == "morris":
            sp.sample_morris(int(n), num_levels=num_levels, seed=s)
        else:
            sp.sample_latin(int(n), seed=s)
    X = np.asarray(sp.samples, dtype=float)
    return Design(method=method, factors=factors, n=int(n), X=X, problem=sp, seed=s,
                  second_order=second_order, groups=groups, num_levels=num_levels)


def row_label(i: int, rows: int) -> str:
    """Variant label of design row ``i`` (zero-padded so labels sort in row order)."""
    return f"row {i:0{len(str(max(rows - 1, 1)))}d}"


def design_variants(base: Scenario, design: Design) -> list[tuple[str, Scenario]]:
    """One scenario variant per design row, in row order.

    Args:
        base: The authority whose scenario the factors modify.
        design: The design.

    Returns:
        ``(label, scenario)`` pairs for :func:`experiments.runner.tasks.make_tasks`.

    """
    return [(row_label(i, design.rows), apply_factors(base, design.factors, x))
            for i, x in enumerate(design.X)]


# ---------------------------------------------------------------------------------------------
# Outputs of a stochastic, censored model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One analysed output: a summary over a design row's replicates."""

    key: str
    label: str
    short: str
    per_run: str


def outputs_for(years: int) -> list[Output]:
    """The three analysed outputs for a survival time point of ``years`` years."""
    return [
        Output(f"p_alive_{years}y", f"Chance the service is still running at {years} years",
               f"P(running at {years}y)", f"alive_{years}y"),
        Output("rmst", "Average months running within the horizon (restricted mean survival)",
               "RMST (months)", "months_running"),
        Output("median_months", "Median months to closure (open at the horizon = horizon)",
               "median months", "months_running"),
    ]


@dataclass
class RowOutputs:
    """Outputs per design row plus the per-run matrices they summarise.

    Attributes:
        table: One row per design row: ``row`` and one column per :class:`Output`.
        per_run: ``{name: array (rows, replicates)}`` of the per-run quantities.
        horizon: The scenario horizon (months).
        years: The survival time point (years).

    """

    table: pd.DataFrame
    per_run: dict[str, np.ndarray]
    horizon: int
    years: int


def row_outputs(runs: pd.DataFrame, rows: int, replicates: int, horizon: int,
                years: int) -> RowOutputs:
    """Summarise an ensemble's runs per design row.

    Args:
        runs: The runs table of :func:`run_ensemble` (one row per run, ``run_id`` order,
            ``run_id = row * replicates + replicate``).
        rows: Number of design rows.
        replicates: Replicates per row.
        horizon: The scenario's horizon in months (every run is followed to closure or to it).
        years: Survival time point in years (``12 * years <= horizon``).

    Returns:
        The :class:`RowOutputs`.

    Raises:
        ExperimentError: If the runs do not form a complete rows x replicates design.

    """
    runs = runs.sort_values("run_id")
    if len(runs) != rows * replicates or not np.array_equal(
            runs["run_id"].to_numpy(), np.arange(rows * replicates)):
        raise ExperimentError(f"expected {rows * replicates} runs with ids 0..{rows * replicates - 1}"
                              f", got {len(runs)}")
    t = np.minimum(pd.to_numeric(runs["end_month"]).to_numpy(float), horizon)
    closed = ~runs["survived"].astype(bool).to_numpy()
    t = t.reshape(rows, replicates)
    closed = closed.reshape(rows, replicates)
    month = 12 * years
    alive = (~(closed & (t <= month))).astype(float)
    table = pd.DataFrame({
        "row": np.arange(rows),
        f"p_alive_{years}y": alive.mean(axis=1),
        "rmst": t.mean(axis=1),
        "median_months": np.median(t, axis=1),
    })
    return RowOutputs(table=table, per_run={f"alive_{years}y": alive, "months_running": t},
                      horizon=horizon, years=years)


def noise_share(per_run: np.ndarray) -> dict:
    """How much of an output's variance is seed noise (luck of the draw).

    With ``y[i, r]`` the per-run value of design row ``i``, replicate ``r``:
    ``within`` is the mean over rows of the variance between replicates (what the seed alone
    does at fixed inputs) and ``total`` the variance over all runs. ``single`` =
    ``within / total`` is the noise share of one run; ``mean`` = ``(within / R) / var(row
    means)`` is the noise share left in the replicate means that were analysed.

    Args:
        per_run: Array ``(rows, replicates)``.

    Returns:
        ``{"within", "total", "single", "mean", "replicates"}``; NaN shares with one replicate
        or no variance.

    """
    y = np.asarray(per_run, dtype=float)
    rows, reps = y.shape
    out = {"replicates": reps, "within": math.nan, "total": float(np.var(y, ddof=1)),
           "single": math.nan, "mean": math.nan}
    if reps < 2 or rows < 2:
        return out
    within = float(np.mean(np.var(y, axis=1, ddof=1)))
    out["within"] = within
    if out["total"] > 0:
        out["single"] = min(1.0, within / out["total"])
    var_mean = float(np.var(y.mean(axis=1), ddof=1))
    if var_mean > 0:
        out["mean"] = min(1.0, within / reps / var_mean)
    return out


# ---------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------


def _labels(design: Design) -> tuple[dict[str, str], dict[str, str]]:
    if design.groups:
        members: dict[str, list[str]] = {}
        for f in design.factors:
            members.setdefault(f.group, []).append(f.name)
        labels = {g: f"{g} ({len(m)} factors: {', '.join(m)})" for g, m in members.items()}
        return labels, {g: g for g in members}
    return ({f.name: f.label for f in design.factors},
            {f.name: f.group for f in design.factors})


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    table["rank"] = table["index"].rank(ascending=False, method="first").astype(int)
    return table.sort_values("rank")


def analyse(design: Design, y: np.ndarray, *, n: int | None = None, resamples: int = 1000,
            conf_level: float = 0.95, seed: int = 1) -> pd.DataFrame | None:
    """Sensitivity indices of one output, ranked.

    Args:
        design: The design.
        y: One output value per design row, in design-row order.
        n: Analyse only the first ``n`` base samples / trajectories / rows (convergence
            check); default all.
        resamples: Bootstrap resamples for the intervals.
        conf_level: Confidence level of the intervals.
        seed: Root seed; the bootstrap seed is derived from it.

    Returns:
        A DataFrame indexed by factor (or group), sorted by ``rank`` (1 = most influential),
        with ``label``, ``group``, the method's indices and their intervals, and the common
        columns ``index``, ``index_low``, ``index_high`` (the ranking measure: ST, mu* or the
        median KS statistic). Sobol' tables carry the second-order pairs, if computed, in
        ``attrs["S2"]``. None if the output does not vary over the rows used.

    """
    from SALib.analyze import morris, pawn, sobol

    n = design.n if n is None else int(n)
    rows = n * design.block
    y = np.asarray(y, dtype=float)[:rows]
    X = design.X[:rows]
    if len(y) != rows:
        raise ExperimentError(f"expected {rows} outputs, got {len(y)}")
    if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        return None
    bseed = _seed(seed, BOOTSTRAP_SEED)
    labels, groups = _labels(design)
    units = design.units
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if design.method == "sobol":
            si = sobol.analyze(design.problem, y, calc_second_order=design.second_order,
                               num_resamples=resamples, conf_level=conf_level, seed=bseed)
            t = pd.DataFrame({"S1": si["S1"], "S1_conf": si["S1_conf"], "ST": si["ST"],
                              "ST_conf": si["ST_conf"]}, index=units)
            t["S1_low"], t["S1_high"] = t.S1 - t.S1_conf, t.S1 + t.S1_conf
            t["ST_low"], t["ST_high"] = t.ST - t.ST_conf, t.ST + t.ST_conf
            t["index"], t["index_low"], t["index_high"] = t.ST, t.ST_low, t.ST_high
            if design.second_order:
                pairs = [{"a": units[j], "b": units[k], "S2": si["S2"][j, k],
                          "S2_conf": si["S2_conf"][j, k]}
                         for j in range(len(units)) for k in range(j + 1, len(units))]
                s2 = pd.DataFrame(pairs)
                t.attrs["S2"] = s2.sort_values("S2", ascending=False).reset_index(drop=True)
        elif design.method == "morris":
            si = morris.analyze(design.problem, X, y, num_resamples=resamples,
                                conf_level=conf_level, num_levels=design.num_levels,
                                seed=bseed)
            t = pd.DataFrame({"mu": np.asarray(si["mu"]), "mu_star": np.asarray(si["mu_star"]),
                              "mu_star_conf": np.asarray(si["mu_star_conf"]),
                              "sigma": np.asarray(si["sigma"])}, index=units)
            t["mu_star_low"] = np.maximum(0.0, t.mu_star - t.mu_star_conf)
            t["mu_star_high"] = t.mu_star + t.mu_star_conf
            t["index"], t["index_low"], t["index_high"] = t.mu_star, t.mu_star_low, \
                t.mu_star_high
        else:
            si = pawn.analyze(design.problem, X, y, S=PAWN_SLIDES)
            t = pd.DataFrame({"median": np.asarray(si["median"]),
                              "mean": np.asarray(si["mean"]),
                              "maximum": np.asarray(si["maximum"]),
                              "CV": np.asarray(si["CV"])}, index=units)
            lo, hi = _pawn_interval(design, X, y, resamples, conf_level, bseed)
            t["median_low"], t["median_high"] = lo, hi
            t["index"], t["index_low"], t["index_high"] = t["median"], lo, hi
            t.attrs["dummy"] = pawn_floor(X, y, bseed)
    t.insert(0, "group", [groups[u] for u in units])
    t.insert(0, "label", [labels[u] for u in units])
    t.index.name = "factor"
    return _rank(t)


def pawn_medians(X: np.ndarray, y: np.ndarray, slides: int = PAWN_SLIDES) -> np.ndarray:
    """PAWN's median KS statistic per column of ``X``, computed as SALib's ``pawn.analyze`` does.

    The same slides (quantile intervals ``[q_s, q_{s+1})`` of each factor) and the same
    two-sample Kolmogorov-Smirnov statistic between the output in a slide and all outputs, but
    only the statistic (no p-value), so that bootstrap resampling is affordable.
    ``tests/test_sensitivity.py`` checks it against SALib.

    Args:
        X: Factor values, one row per design row.
        y: Outputs.
        slides: Number of conditioning intervals.

    Returns:
        The median over slides of the KS statistic, one per factor.

    """
    y = np.asarray(y, dtype=float)
    ys = np.sort(y)
    cdf_all = np.searchsorted(ys, ys, side="right") / len(ys)
    seq = np.arange(0, 1 + 1 / slides, 1 / slides)
    out = np.full(X.shape[1], np.nan)
    for j in range(X.shape[1]):
        x = X[:, j]
        q = np.nanquantile(x, seq)
        ks = np.full(slides, np.nan)
        for s in range(slides):
            sel = np.sort(y[(x >= q[s]) & (x < q[s + 1])])
            if len(sel) == 0:
                continue
            cdf_sel = np.searchsorted(sel, ys, side="right") / len(sel)
            ks[s] = np.max(np.abs(cdf_sel - cdf_all))
        out[j] = np.nanmedian(ks)
    return out


def _pawn_interval(design: Design, X, y, resamples: int, conf_level: float, seed: int):
    """Interval of PAWN's median KS statistic: estimate +- z * bootstrap standard error.

    Design rows are resampled with replacement; as for SALib's Sobol' and Morris intervals,
    the half-width is ``z`` times the standard deviation of the bootstrap estimates. (Percentile
    intervals would not be centred: the KS statistic of a slide is biased upward by sampling
    noise, more so in a resample with repeated rows.)
    """
    rng = np.random.default_rng(seed)
    draws = np.empty((int(resamples), X.shape[1]))
    for i in range(int(resamples)):
        idx = rng.integers(0, len(y), len(y))
        draws[i] = pawn_medians(X[idx], y[idx])
    draws = _by_group(design, draws)
    est = _by_group(design, pawn_medians(X, y)[None, :])[0]
    half = stats.norm.ppf(0.5 + conf_level / 2) * np.nanstd(draws, axis=0, ddof=1)
    return np.maximum(0.0, est - half), est + half


def _by_group(design: Design, values: np.ndarray) -> np.ndarray:
    if not design.groups:
        return values
    names = [f.group for f in design.factors]
    return np.column_stack([values[:, [k for k, g in enumerate(names) if g == u]].mean(1)
                            for u in design.units])


def pawn_floor(X: np.ndarray, y: np.ndarray, seed: int, permutations: int = 20) -> float:
    """PAWN's median KS statistic of a dummy factor with no influence at all.

    The output is shuffled against one column of the design, many times, and the mean median
    KS is returned: a driver scoring about this much is indistinguishable from no influence
    at this sample size.
    """
    rng = np.random.default_rng(seed)
    vals = [pawn_medians(X[:, :1], rng.permutation(y))[0] for _ in range(permutations)]
    return float(np.mean(vals))


# ---------------------------------------------------------------------------------------------
# Convergence and stability of the ranking
# ---------------------------------------------------------------------------------------------


def convergence(design: Design, y: np.ndarray, *, resamples: int = 1000,
                conf_level: float = 0.95, seed: int = 1) -> pd.DataFrame:
    """Indices and ranks at ``n, n/2, n/4, ...``, reusing the first rows of the design.

    Args:
        design: The design.
        y: One output value per design row.
        resamples: Bootstrap resamples.
        conf_level: Confidence level.
        seed: Root seed.

    Returns:
        Long table: ``n``, ``rows``, ``factor``, ``index``, ``index_low``, ``index_high``,
        ``rank`` (sizes at which the output does not vary are left out).

    """
    parts = []
    for n in design.sizes():
        t = analyse(design, y, n=n, resamples=resamples, conf_level=conf_level, seed=seed)
        if t is None:
            continue
        part = t[["index", "index_low", "index_high", "rank"]].reset_index()
        part.insert(0, "rows", n * design.block)
        part.insert(0, "n", n)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=["n", "rows", "factor", "index", "index_low", "index_high",
                                     "rank"])
    return pd.concat(parts, ignore_index=True)


@dataclass
class Stability:
    """Whether the leading drivers are the same at ``n`` and ``n/2``.

    Attributes:
        stable: Same top-``k`` set, and any change of order is between drivers whose intervals
            at ``n`` overlap (a statistical tie).
        same_set: The top-``k`` drivers are the same set.
        same_order: ...and in the same order.
        n: The full size.
        n_half: The half size (0 if no comparison was possible).
        top: The top-``k`` at ``n``.
        top_half: The top-``k`` at ``n/2``.
        spearman: Rank correlation of the full rankings at ``n`` and ``n/2``.
        max_change: Largest absolute change of an index between ``n/2`` and ``n``.
        text: The verdict in one or two sentences.

    """

    stable: bool
    same_set: bool
    same_order: bool
    n: int
    n_half: int
    top: list[str] = field(default_factory=list)
    top_half: list[str] = field(default_factory=list)
    spearman: float = math.nan
    max_change: float = math.nan
    text: str = ""


def stability(conv: pd.DataFrame, design: Design, *, k: int = TOP,
              names: dict[str, str] | None = None) -> Stability:
    """Compare the ranking at the full size with the ranking at half the size.

    Args:
        conv: Output of :func:`convergence`.
        design: The design (for the sizes and the method's vocabulary).
        k: How many leading drivers to compare (at most the number of factors).
        names: Optional short names for the verdict text.

    Returns:
        The :class:`Stability` verdict.

    """
    unit = "N" if design.method == "sobol" else ("r" if design.method == "morris" else "n")
    sizes = sorted(conv["n"].unique(), reverse=True) if len(conv) else []
    if len(sizes) < 2:
        return Stability(False, False, False, int(sizes[0]) if sizes else design.n, 0,
                         text="Convergence could not be checked: the design is too small to "
                              "halve, or the output does not vary.")
    n, h = int(sizes[0]), int(sizes[1])
    full = conv[conv.n == n].set_index("factor").sort_values("rank")
    half = conv[conv.n == h].set_index("factor").sort_values("rank")
    k = min(k, len(full))
    top, top_h = list(full.index[:k]), list(half.index[:k])
    same_set = set(top) == set(top_h)
    same_order = top == top_h
    rho = float(stats.spearmanr(full["rank"], half.loc[full.index, "rank"]).statistic) \
        if len(full) > 2 else math.nan
    change = float(np.max(np.abs(full["index"] - half.loc[full.index, "index"])))
    nm = names or {}

    def name(f):
        return nm.get(f, f)

    ties_ok = True
    swapped = []
    if same_set and not same_order:
        for a in top:
            for b in top:
                if top.index(a) < top.index(b) and top_h.index(a) > top_h.index(b):
                    overlap = full.loc[a, "index_low"] <= full.loc[b, "index_high"]
                    swapped.append((a, b, overlap))
                    ties_ok &= bool(overlap)
    stable = same_set and (same_order or ties_ok)
    head = f"Top {k} at {unit} = {n} vs {unit} = {h}: "
    if same_order:
        text = head + "the same drivers in the same order. The ranking is STABLE."
    elif stable:
        pairs = "; ".join(f"{name(a)} / {name(b)}" for a, b, _ in swapped)
        text = (head + f"the same drivers; the order changes only between drivers whose "
                f"intervals overlap (statistical ties: {pairs}). The ranking is STABLE.")
    elif same_set:
        pairs = "; ".join(f"{name(a)} / {name(b)}" for a, b, ok in swapped if not ok)
        text = (head + f"the same drivers, but clearly separated drivers change places "
                f"({pairs}). The ranking is NOT yet stable: increase --n.")
    else:
        gone = [f for f in top if f not in top_h]
        new = [f for f in top_h if f not in top]
        text = (head + f"the top {k} differ (at {unit} = {n} but not {h}: "
                f"{', '.join(map(name, gone))}; at {h} only: {', '.join(map(name, new))}). "
                f"The ranking is NOT yet stable")
        # Is the difference a statistical tie at the boundary (place k)?
        kth = full.iloc[k - 1]
        tied = [f for f in gone + new if f in full.index
                and full.loc[f, "index_low"] <= kth["index_high"]
                and full.loc[f, "index_high"] >= kth["index_low"]]
        if len(tied) == len(gone) + len(new):
            same = next((i for i in range(k) if set(top[:i + 1]) != set(top_h[:i + 1])), k)
            text += (f": place {k} is a statistical tie ({', '.join(map(name, tied))} have "
                     f"overlapping intervals at {unit} = {n}); the first {same} are the same "
                     f"at both sizes. Separating the tie needs a larger --n or --replicates.")
        else:
            text += ": increase --n or --replicates."
    text += f" Rank correlation of all factors {rho:.2f}; largest index change {change:.3f}."
    return Stability(stable, same_set, same_order, n, h, top, top_h, rho, change, text)


# ---------------------------------------------------------------------------------------------
# Evaluating a function (tests, and any deterministic model)
# ---------------------------------------------------------------------------------------------


def evaluate_function(design: Design, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Evaluate a vectorised function on the design (e.g. SALib's Ishigami function)."""
    y = np.asarray(func(design.X), dtype=float)
    if y.shape != (design.rows,):
        raise ExperimentError(f"function returned shape {y.shape}, expected ({design.rows},)")
    return y


# ---------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    """Everything one output's analysis produced."""

    output: Output
    table: pd.DataFrame | None
    conv: pd.DataFrame
    stability: Stability | None
    noise: dict


def analyse_outputs(design: Design, ro: RowOutputs, *, resamples: int, seed: int,
                    conf_level: float = 0.95) -> list[Analysis]:
    """Analyse each output of :func:`row_outputs` (indices, convergence, stability, noise)."""
    results = []
    for out in outputs_for(ro.years):
        y = ro.table[out.key].to_numpy(float)
        table = analyse(design, y, resamples=resamples, conf_level=conf_level, seed=seed)
        conv = convergence(design, y, resamples=min(resamples, 500), conf_level=conf_level,
                           seed=seed) if table is not None else pd.DataFrame()
        short = ({f.name: f.name for f in design.factors} if not design.groups else None)
        stab = stability(conv, design, names=short) if table is not None else None
        results.append(Analysis(out, table, conv, stab, noise_share(ro.per_run[out.per_run])))
    return results


def screened_factors(table: pd.DataFrame, threshold: float = 0.1) -> list[str]:
    """Factors worth keeping after a Morris screening.

    Keeps every factor whose mu* interval reaches ``threshold`` times the largest mu* (a common
    screening rule: a factor that cannot move the output by a tenth of what the strongest one
    does is fixed at its default in later, more expensive analyses).

    Args:
        table: A Morris table from :func:`analyse`.
        threshold: Fraction of the largest mu*.

    Returns:
        Factor names in rank order.

    """
    cut = threshold * float(table["mu_star"].max())
    keep = table[table["mu_star_high"] >= cut].sort_values("rank")
    return list(keep.index)
