"""Ensemble plots: survival curves, fan charts and closure causes (matplotlib `Figure` objects).

Every function returns a :class:`matplotlib.figure.Figure` and never shows it; the caller saves
it (e.g. with :func:`experiments.files.atomic_save_figure`); no pyplot, so nothing to close.

Months after a service closed are handled per variable in the fan charts:

* **Zero after closure** (:data:`ZERO_AFTER_CLOSURE`: teams, staff, therapists, referrals,
  caseload, waiting list, monthly cost and savings): a closed service has no teams, no staff
  and no cases, so the run counts as 0 from closure to the horizon. The fan then describes
  *all* runs, and its median drops to 0 once more than half the services have closed.
* **Excluded after closure** (every other variable, e.g. the buffers, reserve, pressure and
  partnership indices): an index has no meaning for a service that no longer exists, so the
  fan describes only the services *still open* in that month, and stops once fewer than
  ``min_open`` runs of a variant are open. Read it as "among the services still running".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib.ticker import MultipleLocator, PercentFormatter

from experiments.analysis.survival import KM, cause_label, closure_causes, variant_horizons
from experiments.reports import palette
from experiments.reports.figures import subplots

palette.use_in_matplotlib()  # colour-blind-safe default colours for every figure

ZERO_AFTER_CLOSURE = frozenset({"teams", "staff", "therapists", "referrals_month", "caseload",
                                "waiting_list", "cost_month", "savings_month"})

VARIABLE_LABELS = {
    "teams": "MST teams",
    "staff": "staff in post",
    "therapists": "therapists in post",
    "referrals_month": "referrals per month",
    "caseload": "open cases",
    "waiting_list": "families waiting",
    "leadership_shield": "leadership shield",
    "partnership_shield": "partnership shield",
    "system_leadership": "system leadership",
    "reserve": "reserve (evidence, embeddedness, status quo)",
    "exposure": "exposure (share of pressure getting through)",
    "pressure": "pressure before the buffers",
    "pressure_landing": "pressure getting through the buffers",
    "margin": "margin (reserve minus pressure getting through)",
    "partnership": "partnership index",
    "leader_support": "leader support",
    "leader_knowledge": "leader knowledge",
    "referrer_awareness": "referrer awareness",
    "referrer_attitude": "referrer attitude",
    "hostility": "hostility",
    "grant_share": "grant share of cost",
    "cost_month": "cost per month (£)",
    "savings_month": "placement savings per month (£)",
}

CAUSE_COLOURS = {  # colour-blind safe (experiments/reports/palette.py)
    "budget_round": palette.VERMILLION,
    "viability_review": palette.BLUE,
    "cut_proposal": palette.REDDISH_PURPLE,
    "staffing_collapse": palette.BLUISH_GREEN,
    "licence": palette.ORANGE,
    "co_funder_withdrawal": palette.SKY_BLUE,
}


def _colours(variants: Iterable[str]) -> dict[str, str]:
    return {v: palette.series_colour(i) for i, v in enumerate(variants)}


def _month_axis(ax, horizon: int) -> None:
    """Months on the bottom axis (ticks every year), years on the top axis."""
    step = 12 if horizon <= 180 else 24
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.set_xlim(0, max(horizon, 1))
    ax.set_xlabel("months since go-live")
    top = ax.secondary_xaxis("top", functions=(lambda m: m / 12, lambda y: y * 12))
    top.xaxis.set_major_locator(MultipleLocator(step / 12))
    top.set_xlabel("years since go-live")


def plot_survival(kms: Mapping[str, KM] | Iterable[KM], *, title: str | None = None):
    """Kaplan-Meier curves of several variants on one chart, with shaded 95% bands.

    Args:
        kms: ``{variant: KM}`` from :func:`experiments.analysis.survival.kaplan_meier`, or KM objects.
        title: Chart title (a default is used if None).

    Returns:
        The figure.

    """
    kms = list(kms.values()) if isinstance(kms, Mapping) else list(kms)
    fig, ax = subplots(figsize=(9, 5))
    colours = _colours(k.variant for k in kms)
    horizon = max((k.horizon for k in kms), default=120)
    for k in kms:
        c = colours[k.variant]
        ax.fill_between(k.months, k.low, k.high, step="post", color=c, alpha=0.18, lw=0)
        ax.step(k.months, k.sf, where="post", color=c, lw=2,
                label=f"{k.variant} (n={k.n}, {k.closed} closed)")
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":", zorder=0)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("services still running")
    _month_axis(ax, horizon)
    ax.grid(axis="y", color="0.92")
    if kms:
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title(title or "Chance the MST service is still running (shaded: 95% interval)")
    fig.tight_layout()
    return fig


def _run_variants(series_long: pd.DataFrame, runs: pd.DataFrame | None) -> pd.Series:
    """Variant of each run_id, from a ``variant`` column in the series or from ``runs``."""
    if "variant" in series_long.columns:
        return series_long.groupby("run_id")["variant"].first()
    if runs is not None and {"run_id", "variant"} <= set(runs.columns):
        return runs.drop_duplicates("run_id").set_index("run_id")["variant"]
    ids = pd.unique(series_long["run_id"])
    return pd.Series("all runs", index=ids)


def _matrix(series_long: pd.DataFrame, run_ids, horizon: int, zero_after: bool,
            own: int | None = None) -> np.ndarray:
    """Return a runs x months (0..horizon) array of one variable, closed months 0 or NaN.

    ``series_long`` must already be restricted to that one variable; months beyond the
    variant's ``own`` horizon stay NaN (nothing is known there, not even a closure).
    """
    sub = series_long[series_long["run_id"].isin(run_ids)]
    wide = sub.pivot_table(index="run_id", columns="month", values="value", aggfunc="first")
    wide = wide.reindex(columns=range(horizon + 1))
    v = wide.to_numpy(dtype=float, copy=True)
    if zero_after and v.size:
        seen = ~np.isnan(v)
        last = v.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
        last[~seen.any(axis=1)] = -1
        months = np.arange(v.shape[1])[None, :]
        v[(months > last[:, None]) & (months <= (horizon if own is None else own))] = 0.0
    return v


def _fan(v: np.ndarray, quantiles, min_open: int):
    counts = np.sum(~np.isnan(v), axis=0)
    out = np.full((len(quantiles), v.shape[1]), np.nan)
    ok = counts >= max(min_open, 1)
    if ok.any():
        out[:, ok] = np.nanquantile(v[:, ok], quantiles, axis=0)
    return out


def _draw_fan(ax, series_long, variable, groups, colours, horizon, zero_after, quantiles,
              min_open, label=None, colour=None, horizons=None):
    one = series_long[series_long["variable"] == variable]
    for variant, ids in groups.items():
        v = _matrix(one, ids, horizon, zero_after, (horizons or {}).get(variant))
        if not v.size:
            continue
        q = _fan(v, quantiles, 1 if zero_after else min_open)
        c = colour or colours[variant]
        m = np.arange(q.shape[1])
        ax.fill_between(m, q[0], q[-1], color=c, alpha=0.18, lw=0)
        ax.plot(m, q[len(quantiles) // 2], color=c, lw=2, label=label or str(variant))


def _groups(series_long, runs) -> dict[str, np.ndarray]:
    rv = _run_variants(series_long, runs)
    order = list(pd.unique(runs["variant"])) if runs is not None and "variant" in runs else []
    order += [v for v in pd.unique(rv) if v not in order]
    return {v: rv.index[rv == v].to_numpy() for v in order if (rv == v).any()}


def plot_fan(series_long: pd.DataFrame, variable: str, runs: pd.DataFrame | None = None, *,
             after_closure: str | None = None, quantiles=(0.1, 0.5, 0.9), min_open: int = 10,
             title: str | None = None):
    """Median and 10-90% band of one monthly variable per variant.

    Args:
        series_long: Long series ``(run_id, month, variable, value)``; a ``variant`` column,
            if present, is used instead of ``runs``.
        variable: The variable to plot (one of ``sim.simulate.SERIES_COLUMNS``).
        runs: The runs table, to map ``run_id`` to ``variant`` (all runs are one group if
            neither this nor a ``variant`` column is given).
        after_closure: ``"zero"`` (closed services count as 0) or ``"exclude"`` (only
            services still open); default by variable, see the module docstring.
        quantiles: Lower, middle and upper quantile (default 10%, median, 90%).
        min_open: With ``"exclude"``, months with fewer open runs than this are not drawn.
        title: Chart title (default from the variable name).

    Returns:
        The figure.

    """
    if after_closure is None:
        after_closure = "zero" if variable in ZERO_AFTER_CLOSURE else "exclude"
    if after_closure not in ("zero", "exclude"):
        raise ValueError("after_closure must be 'zero' or 'exclude'")
    groups = _groups(series_long, runs)
    colours = _colours(groups)
    horizon = int(series_long["month"].max()) if len(series_long) else 0
    fig, ax = subplots(figsize=(9, 4.5))
    own = variant_horizons(runs) if runs is not None and len(runs) else None  # mixed horizons
    _draw_fan(ax, series_long, variable, groups, colours, horizon, after_closure == "zero",
              quantiles, min_open, horizons=own)
    label = VARIABLE_LABELS.get(variable, variable.replace("_", " "))
    ax.set_ylabel(label)
    _month_axis(ax, horizon)
    ax.grid(axis="y", color="0.92")
    note = ("closed services count as 0" if after_closure == "zero"
            else "services still open only")
    lo, hi = quantiles[0], quantiles[-1]
    heading = f"{label[:1].upper()}{label[1:]}: median and {lo:.0%}-{hi:.0%} range ({note})"
    ax.set_title(title or heading, fontsize=10)
    if groups:
        ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_reserve_pressure(series_long: pd.DataFrame, runs: pd.DataFrame | None = None, *,
                          quantiles=(0.1, 0.5, 0.9), min_open: int = 10):
    """Fans of the reserve and of the pressure getting through the buffers, per variant.

    Only services still open in a month are included (indices are excluded after closure);
    the service is at risk when the pressure getting through rises above the reserve (a
    negative margin, ODD §7.13).

    Args:
        series_long: Long series ``(run_id, month, variable, value)``.
        runs: The runs table, to map ``run_id`` to ``variant`` (optional if ``series_long``
            has a ``variant`` column).
        quantiles: Lower, middle and upper quantile.
        min_open: Months with fewer open runs than this are not drawn.

    Returns:
        The figure.

    """
    groups = _groups(series_long, runs)
    n = max(len(groups), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = subplots(nrows, ncols, figsize=(4.2 * ncols + 1, 3.4 * nrows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    horizon = int(series_long["month"].max()) if len(series_long) else 0
    for ax, (variant, ids) in zip(axes.flat, groups.items(), strict=False):
        one = {variant: ids}
        _draw_fan(ax, series_long, "reserve", one, {}, horizon, False, quantiles, min_open,
                  label="reserve", colour=palette.GOOD)
        _draw_fan(ax, series_long, "pressure_landing", one, {}, horizon, False, quantiles,
                  min_open, label="pressure getting through", colour=palette.BAD)
        ax.set_title(str(variant), fontsize=10)
        _month_axis(ax, horizon)
        ax.grid(axis="y", color="0.92")
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("index")
    fig.suptitle(f"Reserve and pressure getting through, services still open (median, "
                 f"{quantiles[0]:.0%}-{quantiles[-1]:.0%} range)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_closure_causes(runs: pd.DataFrame, *, title: str | None = None):
    """Stacked horizontal bars: share of runs closed by each cause, and still running.

    Args:
        runs: The ensemble's runs.
        title: Chart title (a default is used if None).

    Returns:
        The figure.

    """
    table = closure_causes(runs)
    causes = [c[len("count_"):] for c in table.columns if c.startswith("count_")]
    variants = list(table.index)
    fig, ax = subplots(figsize=(10, 1.6 + 0.6 * len(variants)))
    y = np.arange(len(variants))[::-1]
    left = np.zeros(len(variants))
    def extra(i):
        return palette.series_colour(i)
    for i, c in enumerate(causes):
        share = table[f"share_{c}"].to_numpy(float)
        if not share.any():
            continue
        colour = CAUSE_COLOURS.get(c, extra(i))
        ax.barh(y, share, left=left, color=colour, label=cause_label(c), height=0.6)
        for yi, s, lft in zip(y, share, left, strict=True):
            if s >= 0.05:
                ax.text(lft + s / 2, yi, f"{s:.0%}", ha="center", va="center", fontsize=8,
                        color="white")
        left += share
    surv = table["share_survived"].to_numpy(float)
    ax.barh(y, surv, left=left, color="0.85", label="Still running at the horizon", height=0.6)
    for yi, s, lft in zip(y, surv, left, strict=True):
        if s >= 0.05:
            ax.text(lft + s / 2, yi, f"{s:.0%}", ha="center", va="center", fontsize=8)
    ax.set_yticks(y, [f"{v} (n={int(table.loc[v, 'n'])})" for v in variants])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("share of simulated services")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_title(title or "Why services closed", fontsize=11)
    fig.tight_layout()
    return fig
