"""Scenario discovery: which regions of the factor space lead to closure, as readable rules.

:func:`discover_job` samples the factors of :mod:`experiments.analysis.factors` with a Latin hypercube,
runs every design row through the ensemble runner (common random numbers across rows), marks
each run that closed within ``years`` years, and asks the Patient Rule Induction Method (PRIM;
Friedman & Fisher 1999, as used for scenario discovery by Bryant & Lempert 2010) for boxes —
ranges of a few factors — where closure is concentrated. PRIM is the EMA workbench's
implementation (``ema_workbench.analysis.prim``, optional extra ``pip install -e .[explore]``);
this module only chooses a box on PRIM's peeling trajectory and writes it in words.

A box is reported with its

* **coverage**: the share of all closures that fall inside the box (how much of the problem
  the rule explains);
* **density**: the share of runs inside the box that close (how reliably the rule predicts
  closure), to compare with the **base rate** over the whole design;
* **mass**: the share of all runs inside the box;
* **quasi-p values** of each restriction (one-sided binomial test, Bryant & Lempert 2010);
  restrictions that are not significant (all quasi-p >= 0.05) are dropped before reporting;
* **reproducibility**: in how many of 10 PRIM runs on random halves of the data the same
  factor is restricted (``PrimBox.resample``).

Choice of the box: among the boxes on the peeling trajectory that restrict at most
``max_dims`` factors and keep a coverage of at least ``min_coverage``, the densest; this is one
reasonable point on the coverage-density trade-off, which ``prim_trajectory.png`` shows in full.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.analysis.factors import Factor
from experiments.errors import ExperimentError

INSTALL_HINT = ("scenario discovery needs the EMA workbench (PRIM), which is not installed; "
                "install it with: pip install -e .[explore]")


def require_prim():
    """Import and return ``ema_workbench.analysis.prim``.

    Raises:
        ExperimentError: If the EMA workbench is not installed (one line with the install
            command).

    """
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ImportError:
        raise ExperimentError(INSTALL_HINT) from None
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim


@dataclass
class Rule:
    """One PRIM box in words.

    Attributes:
        conditions: ``(factor, low or None, high or None)`` per restricted factor; None means
            unrestricted on that side.
        coverage: Share of the cases of interest inside the box.
        density: Share of the runs inside the box that are cases of interest.
        mass: Share of all runs inside the box.
        n: Runs inside the box.
        qp: ``{factor: smallest quasi-p value}``.
        reproducibility: ``{factor: % of resampled PRIM runs restricting the factor}``.
        text: The rule as a sentence.
        significant: Whether every restriction has a quasi-p value below 0.05.

    """

    conditions: list[tuple[str, float | None, float | None]]
    coverage: float
    density: float
    mass: float
    n: int
    qp: dict[str, float] = field(default_factory=dict)
    reproducibility: dict[str, float] = field(default_factory=dict)
    text: str = ""
    significant: bool = True


def _condition_text(f: Factor, lo: float | None, hi: float | None) -> str:
    label = f.label[0].lower() + f.label[1:]
    if f.scale == "switch":  # a lever: PRIM's cut on 0..1 means on or off
        on = lo is not None and lo >= 0.5 or hi is None
        return f"{label.removeprefix('lever: ')}: {'on' if on else 'off'}"
    if lo is not None and hi is not None:
        return f"{label} between {f.describe(lo)} and {f.describe(hi)}"
    if lo is not None:
        return f"{label} > {f.describe(lo)}"
    return f"{label} < {f.describe(hi)}"


def rule_text(conditions, factors: dict[str, Factor], outcome: str, coverage: float,
              density: float, base_rate: float) -> str:
    """The sentence of a rule.

    E.g. ``closure within 5 years is likely when A > 1 AND B < 2 (coverage 0.71, density 0.83;
    base rate 0.45)``.
    """
    parts = " AND ".join(_condition_text(factors[name], lo, hi) for name, lo, hi in conditions)
    return (f"{outcome} is likely when {parts or '(no restriction)'} (coverage {coverage:.2f}, "
            f"density {density:.2f}; base rate {base_rate:.2f})")


def _restrictions(box_lim: pd.DataFrame, init: pd.DataFrame) -> list[tuple[str, float | None,
                                                                             float | None]]:
    out = []
    for col in box_lim.columns:
        lo, hi = float(box_lim[col].iloc[0]), float(box_lim[col].iloc[1])
        lo0, hi0 = float(init[col].iloc[0]), float(init[col].iloc[1])
        if lo > lo0 or hi < hi0:
            out.append((col, lo if lo > lo0 else None, hi if hi < hi0 else None))
    return out


def choose_box(trajectory: pd.DataFrame, p_values: list[dict] | None = None, *,
               max_dims: int, min_coverage: float, alpha: float = 0.05) -> tuple[int, bool]:
    """Index of the chosen box on a peeling trajectory (see the module docstring).

    Args:
        trajectory: ``PrimBox.peeling_trajectory`` (``coverage``, ``density``, ``res_dim``).
        p_values: ``PrimBox.p_values``: per box, ``{factor: [quasi-p lower, upper]}`` (-1 where
            a side is not restricted); None ignores significance.
        max_dims: Most restricted factors allowed.
        min_coverage: Least coverage allowed; relaxed step by step (0.1) if no box meets it.
        alpha: A box qualifies only if every restriction has a quasi-p value below ``alpha``.

    Returns:
        ``(index, significant)``: the densest admissible box, and whether all its restrictions
        are significant (if no box qualifies with significance, the densest without it).

    """
    t = trajectory.reset_index(drop=True)

    def significant(i: int) -> bool:
        if p_values is None:
            return True
        return all(min((v for v in vals if v >= 0), default=1.0) < alpha
                   for vals in p_values[i].values())

    for need_sig in (True, False):
        cov = min_coverage
        while cov >= -1e-9:
            ok = t[(t.res_dim <= max_dims) & (t.coverage >= cov - 1e-12) & (t.res_dim > 0)]
            ok = ok[[significant(i) for i in ok.index]] if need_sig else ok
            if len(ok):
                best = ok.sort_values(["density", "coverage"], ascending=False).index[0]
                return int(best), significant(int(best))
            cov -= 0.1
    return 0, significant(0)


def find_rules(x: pd.DataFrame, y: np.ndarray, factors: dict[str, Factor], outcome: str, *,
               max_boxes: int = 2, max_dims: int = 3, min_coverage: float = 0.5,
               peel_alpha: float = 0.05, resamples: int = 10, seed: int = 1,
               alpha: float = 0.05) -> tuple[list[Rule], list[pd.DataFrame]]:
    """Run PRIM and describe up to ``max_boxes`` boxes as rules.

    Args:
        x: Factor values per run (one column per factor).
        y: Whether each run is a case of interest (e.g. closed within five years).
        factors: Factors by name (for labels and words).
        outcome: What a case of interest is, for the sentence ("closure within 5 years").
        max_boxes: Boxes to find (each on the runs outside the previous ones).
        max_dims: Most factors a rule may restrict.
        min_coverage: Least coverage of a chosen box.
        peel_alpha: PRIM's peeling fraction.
        resamples: PRIM runs on random halves for the reproducibility check (0 skips it).
        seed: Seed of the resampling.
        alpha: Restrictions whose quasi-p values are all at least ``alpha`` are dropped.

    Returns:
        ``(rules, trajectories)``: the rules, and each box's peeling trajectory.

    """
    prim = require_prim()
    y = np.asarray(y, dtype=bool)
    base_rate = float(y.mean())
    rules: list[Rule] = []
    trajectories: list[pd.DataFrame] = []
    if y.sum() == 0 or y.all():
        return rules, trajectories
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(x.reset_index(drop=True), y.astype(int), peel_alpha=peel_alpha)
        for _ in range(max_boxes):
            box = p.find_box()
            if box is None:
                break
            traj = box.peeling_trajectory.copy()
            i, sig = choose_box(traj, box.p_values, max_dims=max_dims,
                                min_coverage=min_coverage, alpha=alpha)
            box.select(i)
            stats_row = traj.iloc[i]
            if rules and float(stats_row.density) <= base_rate:
                break  # what is left is no more likely to close than average: no further box
            conds = _restrictions(box.box_lims[i], box.box_lims[0])
            qp = {d: float(min(v for v in vals if v >= 0)) if any(v >= 0 for v in vals)
                  else float("nan") for d, vals in box.p_values[i].items()}
            repro: dict[str, float] = {}
            if resamples:
                counts = _resample_dims(prim, box, float(stats_row.coverage), resamples,
                                        peel_alpha, seed)
                repro = {d: counts.get(d, 0.0) for d, _, _ in conds}
            rule = Rule(conds, float(stats_row.coverage), float(stats_row.density),
                        float(stats_row.mass), int(stats_row.n), qp, repro, significant=sig)
            rule.text = rule_text(conds, factors, outcome, rule.coverage, rule.density,
                                  base_rate)
            rules.append(rule)
            trajectories.append(traj.assign(chosen=traj.index == i))
    return rules, trajectories


def _resample_dims(prim, box, coverage: float, iterations: int, peel_alpha: float,
                   seed: int) -> dict[str, float]:
    """% of PRIM runs on random halves of the box's data that restrict each factor.

    Like ``PrimBox.resample`` (Bryant & Lempert 2010's reproducibility check): on each half,
    the box on the peeling trajectory closest in coverage to the chosen one is inspected.
    (``PrimBox.resample`` itself mis-indexes the data of a second box, so it is redone here
    with the workbench's ``Prim``.)
    """
    x = box.prim.x.loc[box.yi_initial, :].reset_index(drop=True)
    y = np.asarray(box.prim.y)[box.yi_initial]
    rng = np.random.default_rng(seed)
    counts: dict[str, float] = {}
    for _ in range(iterations):
        idx = rng.choice(len(y), size=len(y) // 2, replace=False)
        yy = y[idx]
        if yy.sum() == 0 or yy.all():
            continue
        half = prim.Prim(x.iloc[idx].reset_index(drop=True), yy, peel_alpha=peel_alpha)
        b = half.find_box()
        if b is None:
            continue
        j = int((b.peeling_trajectory.coverage - coverage).abs().idxmin())
        for d in b.p_values[j]:
            counts[d] = counts.get(d, 0.0) + 100.0 / iterations
    return counts
