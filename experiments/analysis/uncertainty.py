"""How much of an answer's spread is parameter uncertainty and how much is chance (MODEL §11).

In posterior mode an ensemble is a nested design: K parameter sets drawn from the calibrated
sample, M runs (seeds) each. For a per-run outcome Y (alive at a month, months of service, a
paired difference between a lever and its base), the law of total variance splits

    Var(Y) = Var(E[Y | θ]) + E[Var(Y | θ)]
           = parameter part  + chance part,

estimated from the groups of runs that share a parameter set: the within-set variance W
estimates the chance part, and the variance of the set means, less W/M, the parameter part
(the method of moments of a one-way random-effects model). The **plausible range** of the
expected outcome is the 2.5–97.5% range of the set means shrunk towards the grand mean by the
share of their spread that is not chance, widened where needed to the Monte Carlo interval of
the grand mean, so it never claims more precision than the runs give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Spread:
    """The spread of an outcome over parameter sets and chance.

    Attributes:
        mean: The pooled mean (the answer).
        low: Lower end of the 95% plausible range (or of the Monte Carlo interval of the mean
            when one parameter set ran).
        high: Upper end.
        parameter_share: Share of the run-to-run variance that is parameter uncertainty
            (None with one parameter set).
        sets: Distinct parameter sets.
        runs: Runs.

    """

    mean: float
    low: float
    high: float
    parameter_share: float | None
    sets: int
    runs: int

    @property
    def chance_share(self) -> float | None:
        """Share of the run-to-run variance that is chance (who leaves when)."""
        return None if self.parameter_share is None else 1.0 - self.parameter_share

    def shares_text(self) -> str:
        """E.g. ``"parameters 35%, chance 65% of the spread"`` (empty for one set)."""
        if self.parameter_share is None:
            return ""
        p = round(100 * self.parameter_share)
        return f"parameters {p}%, chance {100 - p}% of the spread"


def nested_spread(values, groups, bounds: tuple[float, float] | None = None) -> Spread:
    """Split the spread of per-run values by the parameter set each run used.

    Args:
        values: One value per run (numbers; NaN dropped with its group label).
        groups: The parameter set of each run (any labels; -1 when all ran the defaults).
        bounds: The values the expected outcome can take, e.g. ``(0, 1)`` for a chance: the
            range is clipped to them (a normal interval of a mean near 0 would otherwise
            reach below it).

    Returns:
        The :class:`Spread`. With one set, ``low``/``high`` are the normal 95% interval of the
        mean and the shares are None.

    """
    y = np.asarray(values, dtype=float)
    g = np.asarray(groups)
    keep = np.isfinite(y)
    y, g = y[keep], g[keep]
    n = len(y)
    if n == 0:
        return Spread(math.nan, math.nan, math.nan, None, 0, 0)
    mean = float(y.mean())
    labels, inverse = np.unique(g, return_inverse=True)
    k = len(labels)
    if k < 2:
        half = Z95 * float(y.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        lo, hi = _clip(mean - half, mean + half, bounds)
        return Spread(mean, lo, hi, None, 1, n)
    counts = np.bincount(inverse).astype(float)
    if counts.max() < 2:
        # One run per set (M = 1): parameter uncertainty and chance cannot be told apart, so
        # give the Monte Carlo interval of the pooled mean (runs are independent draws of both)
        # and no shares.
        half = Z95 * float(y.std(ddof=1)) / math.sqrt(n)
        lo, hi = _clip(mean - half, mean + half, bounds)
        return Spread(mean, lo, hi, None, k, n)
    sums = np.bincount(inverse, weights=y)
    means = sums / counts
    dev2 = np.bincount(inverse, weights=(y - means[inverse]) ** 2)
    dof = float(np.sum(counts - 1))
    within = float(dev2.sum() / dof) if dof > 0 else 0.0
    between_obs = float(means.var(ddof=1))
    between = max(0.0, between_obs - within * float(np.mean(1.0 / counts)))
    total = between + within
    share = between / total if total > 0 else 0.0
    noise = within * float(np.mean(1.0 / counts))
    shrink = math.sqrt(between / (between + noise)) if between + noise > 0 else 0.0
    centre = float(means.mean())
    shrunk = centre + shrink * (means - centre)
    lo, hi = (float(v) for v in np.quantile(shrunk, [0.025, 0.975]))
    se = math.sqrt(between_obs / k)  # the grand mean's error, from the set means (cluster-robust)
    lo, hi = min(lo, mean - Z95 * se), max(hi, mean + Z95 * se)
    lo, hi = _clip(lo, hi, bounds)
    return Spread(mean, lo, hi, share, k, n)


def _clip(lo: float, hi: float, bounds) -> tuple[float, float]:
    if bounds is None:
        return lo, hi
    return max(lo, bounds[0]), min(hi, bounds[1])
