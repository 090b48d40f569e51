"""Diagnostics of an ABC-SMC calibration: PNG figures and a report (markdown and HTML).

Marginals of the posterior against the priors, pairwise plots of the strongest posterior
correlations, and the threshold and acceptance rate by generation (MODEL.md §11). The job
(:mod:`experiments.jobs.abc`) passes plain arrays and tables; nothing here runs the model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from experiments.files import atomic_write_text
from experiments.reports.figures import subplots
from experiments.reports.html import save_figure
from experiments.reports.templating import figure, render_page

MARGINALS_PNG = "marginals.png"
PAIRS_PNG = "pairs.png"
GENERATIONS_PNG = "generations.png"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def weighted_correlations(values: np.ndarray, weights: np.ndarray, names) -> pd.DataFrame:
    """Weighted Pearson correlations of every pair of parameters, strongest first.

    Returns:
        ``a``, ``b``, ``r`` (pairs with a constant column are left out).

    """
    w = np.asarray(weights, float) / np.sum(weights)
    x = np.asarray(values, float)
    mean = w @ x
    c = (x - mean).T @ ((x - mean) * w[:, None])
    sd = np.sqrt(np.diag(c))
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if sd[i] > 0 and sd[j] > 0:
                rows.append({"a": names[i], "b": names[j], "r": float(c[i, j] / (sd[i] * sd[j]))})
    out = pd.DataFrame(rows, columns=["a", "b", "r"])
    return out.reindex(out["r"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _marginals(path: Path, names, values, weights, prior_values, priors) -> Path:
    k = len(names)
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
    for a in axes.flat[k:]:
        a.set_visible(False)
    for ax, j in zip(axes.flat, range(k), strict=False):
        spec = priors[names[j]]
        lo, hi = spec["low"], spec["high"]
        if spec["space"] == "log":
            lo, hi = math.exp(lo), math.exp(hi)
        bins = np.linspace(lo, hi, 16)
        ax.hist(prior_values[:, j], bins=bins, density=True, color="0.8", label="prior")
        ax.hist(values[:, j], bins=bins, weights=weights, density=True, histtype="step",
                color="C0", linewidth=1.5, label="posterior")
        ax.set_title(names[j], fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Posterior (line) against the prior (grey, generation 0)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _pairs(path: Path, names, values, weights, pairs: pd.DataFrame) -> Path:
    top = pairs.head(6)
    n = max(len(top), 1)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for a in axes.flat[len(top):]:
        a.set_visible(False)
    index = {n: i for i, n in enumerate(names)}
    size = 200 * np.asarray(weights) / np.max(weights)
    for ax, r in zip(axes.flat, top.itertuples(), strict=False):
        ax.scatter(values[:, index[r.a]], values[:, index[r.b]], s=size, alpha=0.5)
        ax.set_xlabel(r.a, fontsize=8)
        ax.set_ylabel(r.b, fontsize=8)
        ax.set_title(f"weighted r = {r.r:+.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("Strongest posterior correlations (marker size = weight)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _generations_plot(path: Path, generations: list[dict]) -> Path:
    t = [g["t"] for g in generations]
    fig, (a, b) = subplots(1, 2, figsize=(8, 3))
    eps = [g["epsilon"] if math.isfinite(g["epsilon"]) else np.nan for g in generations]
    a.plot(t, eps, marker="o")
    a.set_xlabel("generation")
    a.set_ylabel("threshold (distance)")
    a.set_title("Threshold (generation 0: all prior draws)", fontsize=9)
    b.plot(t, [g["acceptance"] for g in generations], marker="o", label="acceptance rate")
    b.set_xlabel("generation")
    b.set_ylabel("acceptance rate")
    b.set_ylim(0, 1.05)
    b.set_title("Acceptance rate", fontsize=9)
    for ax in (a, b):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return save_figure(fig, path)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.3g}"
    return str(v)


def write_diagnostics(out: Path, *, names, values, weights, prior_values, priors: dict,
                      generations: list[dict], point_fit: list[dict], screening: dict,
                      truth: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write the figures, ``report.md`` and ``report.html`` of a calibration into ``out``.

    Args:
        out: The calibration folder.
        names: Calibrated parameters (columns of ``values``).
        values: Posterior particles (model scale).
        weights: Their weights.
        prior_values: Generation 0's particles (draws from the prior).
        priors: :func:`experiments.jobs.abc.prior_spec` of each parameter.
        generations: Threshold, acceptance, ESS and evaluations by generation.
        point_fit: The best particle's patterns: ``pattern``, ``value``, ``z``, ``held_out``.
        screening: The screening's table and fitted parameters.
        truth: Where a synthetic truth falls in the posterior (None: not a synthetic check).

    Returns:
        ``{"marginals", "pairs", "generations", "report", "report_html"}`` paths.

    """
    out = Path(out)
    values = np.asarray(values, float)
    weights = np.asarray(weights, float)
    fitted = [n for n in names if n in set(screening["fitted"])]
    idx = [names.index(n) for n in fitted]
    files = {"marginals": _marginals(out / MARGINALS_PNG, fitted, values[:, idx], weights,
                                     np.asarray(prior_values, float)[:, idx], priors)}
    pairs = weighted_correlations(values[:, idx], weights, fitted)
    files["pairs"] = _pairs(out / PAIRS_PNG, fitted, values[:, idx], weights, pairs)
    files["generations"] = _generations_plot(out / GENERATIONS_PNG, generations)

    w = weights / weights.sum()
    ess = 1.0 / float(np.sum(w ** 2))
    summary_rows = []
    for j, n in enumerate(names):
        col = values[:, j]
        order = np.argsort(col)
        cdf = np.cumsum(w[order])
        q = [float(col[order][min(np.searchsorted(cdf, p), len(col) - 1)]) for p in (0.05, 0.5, 0.95)]
        spec = priors[n]
        lo, hi = (math.exp(spec["low"]), math.exp(spec["high"])) if spec["space"] == "log" \
            else (spec["low"], spec["high"])
        share = (q[2] - q[0]) / (hi - lo) if hi > lo else math.nan
        kind = {"uniform": "uniform", "truncnorm": "truncated normal"}[spec["kind"]]
        kind = f"log-{kind}" if spec["space"] == "log" else kind
        summary_rows.append([n, "fitted" if n in fitted else "prior", kind,
                             _fmt(q[0]), _fmt(q[1]), _fmt(q[2]), f"{share:.2f}"])
    gen_rows = [[g["t"], _fmt(g["epsilon"]), f"{g['acceptance']:.3f}", f"{g['ess']:.0f}",
                 g["evaluations"], g["total_evaluations"], f"{g['wall_time_s']:.0f}"]
                for g in generations]
    fit_rows = [[f["pattern"], _fmt(f["value"]), f"{f['z']:.2f}",
                 "held out" if f["held_out"] else ("in range" if f["z"] == 0 else "missed")]
                for f in point_fit]
    screen_rows = [[r["parameter"], f"{r['rho']:+.2f}", f"{r['rho_centre']:+.2f}",
                    "fitted" if r["parameter"] in fitted else "prior"]
                   for r in screening["table"]]
    pair_rows = [[r.a, r.b, f"{r.r:+.2f}"] for r in pairs.head(10).itertuples()]
    sections = [
        {"title": "Threshold and acceptance by generation",
         "header": ["generation", "threshold", "acceptance", "ESS", "evaluations",
                    "evaluations so far", "wall time (s)"],
         "rows": gen_rows, "paragraphs": [
             "Generation 0 accepts every draw from the priors (threshold infinity); each later "
             "threshold is the weighted median of the previous generation's distances."],
         "figures": [figure(files["generations"], "threshold and acceptance by generation")]},
        {"title": "Posterior against prior",
         "header": ["parameter", "drawn", "prior", "5%", "median", "95%",
                    "90% width / prior range"],
         "rows": summary_rows, "paragraphs": [
             f"{len(w)} weighted particles, effective sample size {ess:.0f}. Parameters marked "
             "'prior' were screened out and drawn from their prior in every particle."],
         "figures": [figure(files["marginals"], "posterior marginals against the priors")]},
        {"title": "Strongest posterior correlations", "header": ["a", "b", "weighted r"],
         "rows": pair_rows, "paragraphs": [],
         "figures": [figure(files["pairs"], "pairwise plots of the strongest correlations")]},
        {"title": "Pattern fit of the best particle (calibration seeds)",
         "header": ["pattern", "value", "gap (MC standard errors)", "status"],
         "rows": fit_rows, "paragraphs": [
             "Each pattern's gap from its target range in Monte Carlo standard errors at the "
             "replicates used (0 inside the range); the distance is their root sum of squares."],
         "figures": []},
        {"title": "Screening on generation 0",
         "header": ["parameter", "rank corr. with distance", "with distance from centre",
                    "drawn"],
         "rows": screen_rows, "paragraphs": [
             f"Parameters whose rank correlation with the distance exceeds {screening['z']:g} "
             f"null standard errors ({screening['particles']} prior draws) are fitted (at most "
             f"the strongest {len(screening['fitted'])}); the others are drawn from the prior."],
         "figures": []},
    ]
    if truth is not None:
        sections.append({
            "title": "Synthetic truth: where the true values fall in the posterior",
            "header": ["parameter", "truth", "posterior quantile", "5%", "95%", "in 90%"],
            "rows": [[r.parameter, _fmt(r.truth), f"{r.quantile:.2f}", _fmt(r.q05),
                      _fmt(r.q95), "yes" if r.inside_90 else "no"]
                     for r in truth.itertuples()],
            "paragraphs": ["A parameter whose posterior is much narrower than its prior and "
                           "holds the truth is identified by the patterns; one whose posterior "
                           "is its prior is not."], "figures": []})
    lede = (f"ABC-SMC calibration: {len(generations)} generations, final threshold "
            f"{_fmt(generations[-1]['epsilon'])}, {len(w)} particles (ESS {ess:.0f}).")
    md = [f"# Calibration report\n\n{lede}\n"]
    for s in sections:
        md.append(f"## {s['title']}\n")
        md += [p + "\n" for p in s["paragraphs"]]
        if s["rows"]:
            md.append("| " + " | ".join(s["header"]) + " |")
            md.append("|" + "---|" * len(s["header"]))
            md += ["| " + " | ".join(str(c) for c in row) + " |" for row in s["rows"]]
            md.append("")
        md += [f"![{f.alt}]({name})\n" for f, name in
               zip(s["figures"], _figure_names(s["title"]), strict=False)]
    files["report"] = out / REPORT_MD
    atomic_write_text(files["report"], "\n".join(md) + "\n")
    files["report_html"] = out / REPORT_HTML
    atomic_write_text(files["report_html"], render_page(
        "calibration.html.j2", title="Calibration report", lede=lede, sections=sections,
        provenance=""))
    return files


def _figure_names(title: str) -> list[str]:
    return {"Threshold and acceptance by generation": [GENERATIONS_PNG],
            "Posterior against prior": [MARGINALS_PNG],
            "Strongest posterior correlations": [PAIRS_PNG]}.get(title, [])
