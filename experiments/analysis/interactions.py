"""Do stressors interact? A full factorial experiment over named stressors.

The three-site study explains closure by a "toxic trio" of leadership change, weak partnership
and dwindling money (docs/ODD.md §1.1, 001:1746) and says the trio must *emerge* in the model: any
one stressor leaves a positive margin, together they do not. :func:`interaction_job` tests that
(or any other combination): every subset of the named stressors is applied to one authority
(by default the neutral ``scenarios/template.toml``), all ``2^k`` cells run with common random
numbers (replicate ``r`` of every cell has the same seed), and the job reports

* each cell's chance of closing within ``years`` (and its restricted mean survival);
* each stressor's effect **alone** (cell with only that stressor minus the cell with none);
* the effect of all stressors **together**;
* the **interaction**: the joint effect minus the sum of the separate effects ("excess over
  additivity"; positive = the stressors do more harm together than their sum, synergy), and
  the factorial interaction contrast of every pair (and triple ...), each with a 95% interval.

Because the cells share seeds, every contrast is computed replicate by replicate and its
interval is a paired t interval over replicates (the replicates are independent draws). In
posterior mode replicate ``r`` of every cell also shares its parameter set, so the replicates
come in groups; each contrast's interval is then the 95% plausible range of
:func:`~experiments.analysis.uncertainty.nested_spread` (parameter uncertainty and chance), with
the parameter share of its spread, and its p comes from the parameter sets' mean contrasts (a
cluster t test, since replicates that share a set are not independent).
Effects are on the additive (risk-difference) scale: a chance cannot exceed 100%, so when the
stressors together push closure close to certainty the excess is forced down (saturation);
the job says so when it happens.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from experiments.analysis.factors import FACTORS, apply_factors
from experiments.analysis.uncertainty import nested_spread
from experiments.errors import ExperimentError
from sim.scenario import Event, Scenario


@dataclass(frozen=True)
class Stressor:
    """A named stressor: a change to an authority's scenario.

    Attributes:
        name: Identifier used on the command line.
        label: Readable description.
        apply: Function from scenario to stressed scenario.

    """

    name: str
    label: str
    apply: Callable[[Scenario], Scenario]


def _site(**changes) -> Callable[[Scenario], Scenario]:
    def apply(sc: Scenario) -> Scenario:
        return replace(sc, site=replace(sc.site, **changes))
    return apply


def _partnership_weakness(sc: Scenario) -> Scenario:
    sc = replace(sc, site=replace(sc.site, collaboration_history=0.1))
    return replace(sc, partners=tuple(replace(p, commitment=min(p.commitment, 0.3))
                                      for p in sc.partners))


def _event(**fields) -> Callable[[Scenario], Scenario]:
    def apply(sc: Scenario) -> Scenario:
        month = fields["month"]
        if month >= sc.horizon_months:
            raise ExperimentError(f"stressor needs month {month} within the horizon "
                                  f"({sc.horizon_months} months)")
        events = tuple(sorted((*sc.events, Event(**fields)), key=lambda e: e.month))
        return replace(sc, events=events)
    return apply


STRESSORS: dict[str, Stressor] = {s.name: s for s in (
    Stressor("leadership_churn", "Leadership churn: turnover history 'very high' (2x national "
             "exit rates)", _site(leadership_turnover_history=2.0)),
    Stressor("partnership_weakness", "Weak partnership: collaboration history 'very low', "
             "partners' commitment at most 'low'", _partnership_weakness),
    Stressor("budget_cut", "Budget cut: the discretionary budget cut by 20% in month 24, with "
             "an in-year decision", _event(month=24, kind="budget_cut", fraction=0.2)),
    Stressor("supervisor_leaves", "The first supervisor leaves in month 18",
             _event(month=18, kind="supervisor_departs")),
    Stressor("director_leaves", "The director of children's services leaves in month 12; a "
             "sceptical successor", _event(month=12, kind="leader_departs",
                                           role="director_childrens_services",
                                           successor_stance=-0.2)),
    Stressor("isolation", "Isolation: regional network 'very low'", _site(regional_network=0.1)),
    Stressor("oversold_launch", "Oversold launch ('no further services' promise)",
             _site(launch_framing="oversold")),
    Stressor("inadequate_inspection", "An 'inadequate' inspection in month 12",
             _event(month=12, kind="inspection", rating="inadequate")),
)}
"""Named stressors. ``NAME=VALUE`` (a factor of :mod:`experiments.analysis.factors`) defines others."""

TOXIC_TRIO = ("leadership_churn", "partnership_weakness", "budget_cut")
"""The default stressors: the three-site study's toxic trio."""

MAX_STRESSORS = 5


def parse_stressor(text: str) -> Stressor:
    """A named stressor, or ``FACTOR=VALUE`` setting one factor (descriptor or parameter).

    Args:
        text: A name of :data:`STRESSORS` or ``FACTOR=VALUE``, e.g.
            ``collaboration_history=0.1`` or ``supervisor_exit_rate=0.3``.

    Returns:
        The stressor.

    Raises:
        ExperimentError: On an unknown name or factor, or a value outside the factor's range.

    """
    text = text.strip()
    if text in STRESSORS:
        return STRESSORS[text]
    if "=" in text:
        name, raw = (s.strip() for s in text.split("=", 1))
        f = FACTORS.get(name)
        if f is None:
            raise ExperimentError(f"--stressor: {name!r} is not a factor; see "
                                  f"`python run.py sensitivity --list-factors`")
        try:
            value = float(raw)
        except ValueError:
            raise ExperimentError(f"--stressor: {text!r}: {raw!r} is not a number") from None
        if not f.low <= value <= f.high:
            raise ExperimentError(f"--stressor: {name}={value:g} is outside its range "
                                  f"{f.low:g}..{f.high:g}")
        return Stressor(text, f"{f.label} = {f.describe(value)}",
                        lambda sc: apply_factors(sc, [f], [value], keep_text=True))
    raise ExperimentError(f"--stressor: unknown stressor {text!r}; use one of "
                          f"{', '.join(STRESSORS)} or FACTOR=VALUE")


def factorial_cells(stressors: Sequence[Stressor]) -> list[tuple[str, tuple[int, ...]]]:
    """All ``2^k`` cells as ``(label, levels)``: ``"none"``, ``"a"``, ``"a + b"`` ..."""
    k = len(stressors)
    cells = []
    for size in range(k + 1):
        for combo in itertools.combinations(range(k), size):
            levels = tuple(1 if i in combo else 0 for i in range(k))
            label = " + ".join(stressors[i].name for i in combo) or "none"
            cells.append((label, levels))
    return cells


def factorial_variants(base: Scenario, stressors: Sequence[Stressor]):
    """The scenario of every cell, as ``[(label, scenario)]`` and the levels of each cell."""
    variants, levels = [], []
    for label, lv in factorial_cells(stressors):
        sc = base
        for s, on in zip(stressors, lv, strict=True):
            if on:
                sc = s.apply(sc)
        variants.append((label, sc))
        levels.append(lv)
    return variants, levels


@dataclass
class Contrast:
    """A paired contrast over replicates with its 95% t interval."""

    estimate: float
    low: float
    high: float
    p: float
    parameter_share: float | None = None


def paired_contrast(values: np.ndarray, groups=None) -> Contrast:
    """Mean of per-replicate contrasts, 95% interval and two-sided p (H0: mean 0).

    Args:
        values: One contrast value per replicate.
        groups: The parameter set of each replicate (posterior mode), or None. With two or
            more distinct sets the interval is the plausible range of
            :func:`~experiments.analysis.uncertainty.nested_spread` and ``p`` a t test of the
            sets' mean contrasts; otherwise a paired t interval over replicates.

    Returns:
        The :class:`Contrast` (NaN interval with fewer than two replicates).

    """
    v = np.asarray(values, dtype=float)
    est = float(v.mean())
    if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
        g = np.asarray(groups)
        sp = nested_spread(v, g)
        means = np.array([v[g == k].mean() for k in np.unique(g)])
        sd = float(means.std(ddof=1))
        p = 1.0 if est == 0 else 0.0
        if sd > 1e-12 * max(1.0, abs(est)):
            p = float(stats.ttest_1samp(means, 0.0).pvalue)
        return Contrast(est, sp.low, sp.high, p, sp.parameter_share)
    if len(v) < 2:
        return Contrast(est, math.nan, math.nan, math.nan)
    sd = float(v.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(est)):  # identical contrasts (up to rounding)
        return Contrast(est, est, est, 1.0 if est == 0 else 0.0)
    half = float(stats.t.ppf(0.975, len(v) - 1)) * sd / math.sqrt(len(v))
    p = float(stats.ttest_1samp(v, 0.0).pvalue)
    return Contrast(est, est - half, est + half, p)


def outcome_matrices(runs: pd.DataFrame, labels: list[str], replicates: int, horizon: int,
                      month: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed-by-``month`` indicators and months running, shape (cells, replicates)."""
    closed = np.zeros((len(labels), replicates))
    months = np.zeros((len(labels), replicates))
    for i, lab in enumerate(labels):
        sub = runs[runs["variant"] == lab].sort_values("replicate")
        if len(sub) != replicates:
            raise ExperimentError(f"cell {lab!r}: {len(sub)} of {replicates} runs finished "
                                  "(see failures.csv); the contrasts need every run")
        t = np.minimum(pd.to_numeric(sub["end_month"]).to_numpy(float), horizon)
        c = ~sub["survived"].astype(bool).to_numpy()
        closed[i] = c & (t <= month)
        months[i] = t
    return closed, months


def replicate_sets(runs: pd.DataFrame, label: str) -> np.ndarray | None:
    """The parameter set of each replicate of one cell (None when the table has none).

    Every cell of a factorial runs replicate ``r`` with the same seed and set, so one cell's
    sets serve all of them.
    """
    if "parameter_set" not in runs.columns:
        return None
    sub = runs[runs["variant"] == label].sort_values("replicate")
    return pd.to_numeric(sub["parameter_set"]).to_numpy(int)


def interaction_effects(y: np.ndarray, levels: list[tuple[int, ...]],
                        names: Sequence[str], groups=None) -> pd.DataFrame:
    """Alone, together, excess-over-additivity and factorial interaction contrasts.

    Args:
        y: Outcome per cell and replicate, shape ``(cells, replicates)``.
        levels: Levels (0/1 per stressor) of each cell, in the order of ``y``.
        names: Stressor names.
        groups: The parameter set of each replicate (the same in every cell), or None; see
            :func:`paired_contrast`.

    Returns:
        One row per effect: ``effect``, ``kind`` (``alone``, ``together``, ``sum_alone``,
        ``excess``, ``interaction``), ``estimate``, ``low``, ``high``, ``p`` and
        ``parameter_share`` (NaN unless several parameter sets ran).

    """
    k = len(names)
    index = {lv: i for i, lv in enumerate(levels)}
    none = y[index[(0,) * k]]

    def cell(on: Sequence[int]) -> np.ndarray:
        return y[index[tuple(1 if i in on else 0 for i in range(k))]]

    rows = []

    def add(effect, kind, values):
        c = paired_contrast(values, groups)
        share = math.nan if c.parameter_share is None else c.parameter_share
        rows.append({"effect": effect, "kind": kind, "estimate": c.estimate, "low": c.low,
                     "high": c.high, "p": c.p, "parameter_share": share})

    alone = []
    for i, n in enumerate(names):
        d = cell([i]) - none
        alone.append(d)
        add(f"{n} alone", "alone", d)
    if k >= 2:
        together = cell(range(k)) - none
        add("all together", "together", together)
        add("sum of the separate effects", "sum_alone", np.sum(alone, axis=0))
        add("interaction: together minus the sum (excess over additivity)", "excess",
            together - np.sum(alone, axis=0))
        for size in range(2, k + 1):
            for combo in itertools.combinations(range(k), size):
                # Difference of differences with the other stressors absent.
                contrast = np.zeros(y.shape[1])
                for sub_size in range(size + 1):
                    for sub in itertools.combinations(combo, sub_size):
                        contrast += (-1) ** (size - sub_size) * cell(sub)
                if size == k and k == 2:
                    continue  # identical to the excess above
                add(" x ".join(names[i] for i in combo), "interaction", contrast)
    return pd.DataFrame(rows)


def logit_interaction(closed: np.ndarray, levels: list[tuple[int, ...]], *, resamples: int = 2000,
                      seed: int = 0, groups=None) -> Contrast:
    """The excess over additivity on the log-odds scale, free of the probability's ceiling.

    ``[logit p(all) - logit p(none)] - sum_i [logit p(i alone) - logit p(none)]`` with each
    cell's closure probability pooled over replicates (a half count added to every cell so that
    0 and 1 stay finite). The 95% interval is a paired percentile bootstrap: replicates are
    resampled together across cells, keeping the common random numbers; ``p`` is the two-sided
    bootstrap share on the other side of 0. With ``groups`` (posterior mode, two or more
    parameter sets) whole parameter sets are resampled with their replicates (a cluster
    bootstrap), so the interval covers parameter uncertainty too.

    Args:
        closed: Closed-by indicators, shape ``(cells, replicates)``, cells in ``levels`` order.
        levels: Levels (0/1 per stressor) of each cell.
        resamples: Bootstrap resamples.
        seed: Seed of the bootstrap (``numpy.random.default_rng``).
        groups: The parameter set of each replicate, or None.

    Returns:
        The :class:`Contrast` on the log-odds scale.
    """
    k = len(levels[0])
    index = {lv: i for i, lv in enumerate(levels)}
    rows = [index[(0,) * k], index[(1,) * k]] + [
        index[tuple(1 if j == i else 0 for j in range(k))] for i in range(k)]

    def excess(x: np.ndarray) -> np.ndarray:
        n = x.shape[-1]
        p = (x.sum(axis=-1) + 0.5) / (n + 1.0)
        lo = np.log(p / (1.0 - p))
        none, together, alone = lo[..., 0], lo[..., 1], lo[..., 2:]
        return (together - none) - (alone - none[..., None]).sum(axis=-1)

    x = np.asarray(closed, dtype=float)[rows]
    est = float(excess(x))
    n = x.shape[1]
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    clusters = None
    if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
        g = np.asarray(groups)
        clusters = [np.flatnonzero(g == k) for k in np.unique(g)]
    for b in range(resamples):
        if clusters is None:
            pick = rng.integers(0, n, n)
        else:
            pick = np.concatenate([clusters[i] for i in rng.integers(0, len(clusters),
                                                                      len(clusters))])
        draws[b] = excess(x[:, pick])
    low, high = np.percentile(draws, [2.5, 97.5])
    p = float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))
    return Contrast(est, float(low), float(high), p)
