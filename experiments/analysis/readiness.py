"""Readiness assessment: how would an MST team fare in *this* authority, and what would help?

``python run.py assess my_authority.toml`` (a filled-in ``scenarios/template.toml``) answers
three questions for a commissioner, in the terminal and as an HTML page:

1. **Outlook.** The chance the service is still running at 2, 5 and 10 years, the median time
   to closure, the average months of service in the horizon (restricted mean survival) and the
   main closure causes, each with a 95% interval (seed variation; :mod:`experiments.analysis.survival`).
2. **Risk drivers.** A *local* Morris screening around the authority's own descriptors
   (:func:`experiments.analysis.factors.local_factors`: each descriptor one rubric step either side of
   its value, mechanism parameters at their defaults) finds the five descriptors that move the
   outlook most for this authority, with the direction and size of a one-step change.
   Drivers are ranked by their effect on the months the service runs (restricted mean over the
   horizon), which still responds when the 5-year survival of an authority far from the edge
   sits at 0% or 100%; the effect on 5-year survival is shown beside it.
3. **Levers.** Every lever of docs/ODD.md §7.18 that is not already in place is switched on alone,
   and the levers are ranked by how much each raises 5-year survival (ties by months of
   service), compared pair by pair with the authority as described (common random numbers:
   replicate r of every option shares its seed), with paired 95% intervals.

Several files can be assessed in one call; they are then also ranked from safest to riskiest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.analysis.factors import Factor
from sim.scenario import Scenario

YEARS = 5
TIMES = (24, 60, 120)

LEVER_OPTIONS: tuple[tuple[str, object, str], ...] = (
    ("succession_planning", True, "Plan supervisor succession (short vacancy, hand-over)"),
    ("programme_manager", "on", "Fund a programme manager from the start"),
    ("local_outcome_feedback", True, "Feed local outcomes back to leaders every quarter"),
    ("steering_group_induction", True, "Induct new steering-group members into the commitment"),
    ("champion_cultivation", True, "Cultivate new champions before old ones leave"),
    ("regional_network", True, "Join a regional network (joint boosters, peer support)"),
    ("referral_promotion", True, "Promote the service to referrer teams"),
    ("learning_climate", True, "Invest in a learning climate (masterclasses, evidence)"),
    ("balanced_launch", True, "Launch with balanced claims (no overselling)"),
    ("protected_funding_years", 3, "Protect the funding for the first three years"),
    ("co_funding", 0.3, "Health partner co-funds 30% of the cost (may withdraw)"),
)
"""Levers tried, with the value switched on and a commissioner's description."""


def lever_variants(base: Scenario, label: str) -> tuple[list[tuple[str, Scenario]],
                                                        list[tuple[str, str]], dict[str, str]]:
    """The authority as described plus one variant per lever not already in place.

    Args:
        base: The authority.
        label: Label of the baseline variant.

    Returns:
        ``(variants, tried, skipped)``: ``(label, scenario)`` pairs (baseline first), the
        ``(variant label, description)`` of each lever tried, and ``{lever: reason}`` for
        levers not tried.

    """
    variants = [(label, base)]
    tried, skipped = [], {}
    lv = base.levers
    for name, value, text in LEVER_OPTIONS:
        current = getattr(lv, name)
        if name == "balanced_launch" and base.site.launch_framing == "balanced":
            skipped[name] = "the launch is already balanced"
            continue
        if name == "protected_funding_years" and current >= value:
            skipped[name] = f"already protected for {current} years"
            continue
        if name == "co_funding" and current > 0:
            skipped[name] = f"already co-funded ({current:.0%})"
            continue
        if name == "programme_manager" and current == "on":
            skipped[name] = "already in place"
            continue
        if current is True:
            skipped[name] = "already in place"
            continue
        variants.append((f"+{name}", base.with_levers(**{name: value})))
        tried.append((f"+{name}", text))
    return variants, tried, skipped


def _step(f: Factor) -> float:
    """Size of one rubric step of a local factor, in the factor's units."""
    if f.scale == "turnover" or f.name == "looked_after_children":
        return (f.high - f.low) / 2
    return 0.2


@dataclass
class Driver:
    """A local risk driver."""

    factor: Factor
    months_per_step: float
    months_star: float
    months_low: float
    months_high: float
    points_per_step: float
    sigma: float
    rank: int


def driver_table(design, y_months: np.ndarray, y_alive: np.ndarray,
                  seed: int) -> list[Driver]:
    """The local drivers from a Morris screening: effect sizes in months and survival points, ranked."""
    from experiments.analysis.sensitivity import analyse

    tm = analyse(design, y_months, resamples=500, seed=seed)
    ta = analyse(design, y_alive, resamples=500, seed=seed)
    out = []
    if tm is None:
        return out
    for f in design.factors:
        r = tm.loc[f.name]
        # Morris effects are per full local range; rescale to one rubric step. An inspection
        # grade is rounded, so every elementary step of a 4-level design moves it exactly one
        # grade: its effect per grade is the elementary effect times the step (2/3 of range).
        delta = design.num_levels / (2 * (design.num_levels - 1))
        scale = delta if f.kind == "ofsted" else _step(f) / (f.high - f.low)
        pa = float(ta.loc[f.name, "mu"]) * scale if ta is not None else 0.0
        out.append(Driver(f, float(r.mu) * scale, float(r.mu_star) * scale,
                          float(r.mu_star_low) * scale, float(r.mu_star_high) * scale, pa,
                          float(r.sigma) * scale, int(r["rank"])))
    return sorted(out, key=lambda d: d.rank)


@dataclass
class Assessment:
    """One authority's assessment."""

    name: str
    stem: str
    outlook: pd.Series
    drivers: list[Driver]
    levers: pd.DataFrame
    skipped: dict[str, str]
    runs: pd.DataFrame
    out: Path
    screening_runs: int
    wall_time: float


def risk_band(p5: float) -> str:
    """A plain-words band for the 5-year survival chance (fixed thresholds, stated)."""
    if p5 >= 0.75:
        return "lower risk (at least 75% still running at 5 years)"
    if p5 >= 0.4:
        return "medium risk (40-75% still running at 5 years)"
    return "high risk (under 40% still running at 5 years)"
