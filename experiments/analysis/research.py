"""What research should measure next: which mechanism parameters the forecast hangs on.

Not a risk-driver ranking (MODEL §12): a commissioner cannot change a mechanism parameter, but
a researcher can measure it. Across the posterior sample (MODEL §11), each parameter set gives
a different forecast for an authority (e.g. its chance of running five years). This module
ranks the calibrated parameters by the share of that forecast variance each one explains.

Posterior draws are correlated (calibration ties parameters together), so the method must not
assume independent inputs: we use a given-data estimate of the first-order index
``Var(E[Y | X_i]) / Var(Y)`` on the draws themselves (quantile bins of ``X_i``, with the
usual correction for the noise of bin means), where ``Y`` is each draw's forecast from its M
runs. Because the draws are correlated a parameter's share includes what it carries of the
parameters correlated with it, so shares need not sum to one; SALib's moment-independent
delta (a given-data method too) is reported beside it as a check on the ranking. Each draw's
forecast also holds the chance of its M runs; the shares are divided by the reliability of the
draw means (the share of their variance that is not chance, from the nested design), so they
are shares of the parameter part of the forecast variance.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.analysis.uncertainty import nested_spread
from sim.parameters import PARAMETER_INDEX


def binned_first_order(x: np.ndarray, y: np.ndarray, bins: int | None = None) -> float:
    """Given-data first-order index of ``y`` on ``x``: ``Var(E[y | x]) / Var(y)``.

    ``x`` is cut at its quantiles into ``bins`` groups (default about the cube root of the
    sample size, at least 3); the variance of the bin means, less the part expected from the
    noise of a mean of that size, over the variance of ``y``. Clipped to [0, 1].
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(y)
    total = float(y.var())
    if n < 6 or total <= 0:
        return math.nan
    k = bins or max(3, round(n ** (1 / 3)))
    ranks = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    label = (ranks * k) // n
    counts = np.bincount(label, minlength=k).astype(float)
    ok = counts > 1
    means = np.bincount(label, weights=y, minlength=k)[ok] / counts[ok]
    within = np.bincount(label, weights=y * y, minlength=k)[ok] / counts[ok] - means ** 2
    w = counts[ok] / counts[ok].sum()
    between = float(np.sum(w * (means - y.mean()) ** 2))
    noise = float(np.sum(w * within / np.maximum(counts[ok] - 1, 1)))
    return float(min(1.0, max(0.0, (between - noise) / total)))


def measure_next(values: np.ndarray, names: Sequence[str], outcome: np.ndarray,
                 slots: np.ndarray, *, delta: bool = True, seed: int = 0) -> pd.DataFrame:
    """Rank parameters by the share of the forecast's parameter variance each explains.

    Args:
        values: ``K x d`` parameter values of the K draws (slots) of the nested design.
        names: The d parameter names.
        outcome: One value per run (e.g. 1 if alive at five years).
        slots: The draw slot (0..K-1) of each run.
        delta: Also compute SALib's delta and its S1 (given-data) as a check.
        seed: Seed of SALib's bootstrap (reproducible tables).

    Returns:
        One row per parameter, most important first: ``parameter``, ``label``, ``group``,
        ``share`` (first-order share of the parameter part of the forecast variance, corrected
        for the draws' chance), ``delta`` and ``delta_ci`` (if computed), ``rank``; and in
        ``attrs``: ``parameter_share`` (of the run-to-run spread), ``reliability``, ``draws``.

    """
    y = np.asarray(outcome, dtype=float)
    s = np.asarray(slots, dtype=int)
    k = int(s.max()) + 1
    counts = np.bincount(s, minlength=k).astype(float)
    means = np.bincount(s, weights=y, minlength=k) / np.maximum(counts, 1)
    spread = nested_spread(y, s)
    between_obs = float(means.var(ddof=1)) if k > 1 else 0.0
    noise = float(np.mean([np.var(y[s == j], ddof=1) if np.sum(s == j) > 1 else 0.0
                           for j in range(k)])) * float(np.mean(1 / np.maximum(counts, 1)))
    reliability = max(0.0, between_obs - noise) / between_obs if between_obs > 0 else 0.0
    rows = []
    for j, name in enumerate(names):
        raw = binned_first_order(values[:, j], means)
        share = raw / reliability if reliability > 0 and math.isfinite(raw) else math.nan
        p = PARAMETER_INDEX[name]
        rows.append({"parameter": name, "label": p.label, "group": p.group,
                     "share": min(1.0, share) if math.isfinite(share) else math.nan})
    table = pd.DataFrame(rows)
    if delta and k >= 20 and between_obs > 0:
        from SALib.analyze import delta as salib_delta

        keep = [j for j in range(len(names)) if np.ptp(values[:, j]) > 0]
        problem = {"num_vars": len(keep), "names": [names[j] for j in keep],
                   "bounds": [[PARAMETER_INDEX[names[j]].low, PARAMETER_INDEX[names[j]].high]
                              for j in keep]}
        # SALib prints binning notices and warns with its own filter ("once"), so record them
        # (and drop them) rather than let them reach the terminal.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True):
            res = salib_delta.analyze(problem, values[:, keep], means, num_resamples=50,
                                      seed=seed, print_to_console=False)
        key = "delta" if "delta" in res else "delta_raw"  # SALib 1.6 names the raw estimate so
        d = dict(zip(problem["names"], res[key], strict=True))
        ci = dict(zip(problem["names"], res[f"{key}_conf"], strict=True))
        table["delta"] = [d.get(n, math.nan) for n in table["parameter"]]
        table["delta_ci"] = [ci.get(n, math.nan) for n in table["parameter"]]
    table = table.sort_values(["share", "parameter"], ascending=[False, True],
                              na_position="last").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.attrs.update({"parameter_share": spread.parameter_share, "reliability": reliability,
                        "draws": k, "runs": len(y)})
    return table
