"""Readiness assessment: how would an MST team fare in *this* authority, and what would help?

``python run.py assess my_authority.toml`` (a filled-in ``scenarios/template.toml``) answers
three questions for a commissioner, in the terminal and as an HTML page:

1. **Outlook.** The chance the service is still running at 2, 5 and 10 years, the median time
   to closure, the average months of service in the horizon (restricted mean survival) and the
   main closure causes, each with a 95% interval (seed variation; :mod:`experiments.analysis.survival`).
2. **Drivers.** A *local* Morris screening around the authority's own descriptors
   (:func:`experiments.analysis.factors.local_factors`: each descriptor one step either side of
   its value, mechanism parameters at their defaults) gives each descriptor *one* number: the
   mean change in months of service (restricted mean to the horizon) for one step up, from
   the screening's elementary effects, with a bootstrap 95% interval; where the interval
   includes zero the direction is flagged as uncertain. Drivers are split into what the
   authority *can change* and its *context* (size, need, inspection rating, turnover record;
   :data:`experiments.analysis.factors.FACTOR_CLASSES`) and ranked within each by the size of
   that number.
3. **Levers.** Every lever of docs/ODD.md §7.18 that is not already in place is switched on alone
   and compared pair by pair with the authority as described (common random numbers:
   replicate r of every option shares its seed). Levers are ranked by the months of service
   they add (ties by 5-year survival) and shown with their cost: the extra cost of the service
   over the horizon (undiscounted, as the model counts it), the extra net cost after placement
   savings and the cost per extra year of service, each with a paired 95% interval.

Several files can be assessed in one call; they are then also ranked from safest to riskiest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


POINT_MODE = "registry defaults (one point; no posterior sample)"
"""The parameter mode of an assessment run at the calibrated default parameters (the only
mode so far; a posterior mode passes its own description)."""


def step_size(f: Factor) -> float:
    """Size of one step of a local factor, in the factor's model units.

    One rubric step (0.2) on a 0-1 level or a shift of people; the neighbouring turnover word
    (half the local range); one inspection grade; 25% of the children looked after (half the
    local range of -25% to +25%).
    """
    if f.kind == "ofsted":
        return 1.0
    if f.scale == "turnover" or f.name == "looked_after_children":
        return (f.high - f.low) / 2
    return 0.2


@dataclass
class Driver:
    """One descriptor's effect on the months of service, for one step up.

    Attributes:
        factor: The local factor (its ``base`` is the authority's own value).
        klass: ``changeable`` or ``context`` (:data:`experiments.analysis.factors.FACTOR_CLASSES`).
        effect: Mean change in months of service (restricted mean to the horizon) for one
            step up, signed: the one number shown for this driver.
        low: Lower end of its 95% interval (bootstrap over the screening's trajectories).
        high: Upper end.
        n_effects: Elementary effects averaged (one per trajectory).
        rank: Rank within its class by the size of ``effect`` (1 = largest).

    """

    factor: Factor
    klass: str
    effect: float
    low: float
    high: float
    n_effects: int
    rank: int

    @property
    def no_effect(self) -> bool:
        """Whether the screening saw no effect at all (every elementary effect zero)."""
        return self.effect == 0.0 and self.low == 0.0 and self.high == 0.0

    @property
    def uncertain(self) -> bool:
        """Whether the direction is uncertain: the interval reaches zero (or is undefined)."""
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            return True
        return self.low <= 0.0 <= self.high


def elementary_effects(design, y: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor's elementary effects in a Morris design, per step of :func:`step_size`.

    In a Morris trajectory consecutive rows differ in one factor; the change of the output
    divided by the change of that factor's *model* value (rounded and clipped as the model
    receives it) and multiplied by the factor's step is one elementary effect per step.

    Args:
        design: A Morris :class:`experiments.analysis.sensitivity.Design` (single factors).
        y: One output per design row, in row order.

    Returns:
        ``{factor name: effects}``, one effect per trajectory in which the factor moved.

    """
    from experiments.analysis.factors import row_frame

    values = row_frame(design.factors, design.X).drop(columns="row").to_numpy(float)
    y = np.asarray(y, dtype=float)
    k = len(design.factors)
    out: dict[str, list[float]] = {f.name: [] for f in design.factors}
    for t in range(len(design.X) // (k + 1)):
        for i in range(t * (k + 1), t * (k + 1) + k):
            j = int(np.argmax(np.abs(design.X[i + 1] - design.X[i])))
            dx = values[i + 1, j] - values[i, j]
            if dx == 0:
                continue
            f = design.factors[j]
            out[f.name].append((y[i + 1] - y[i]) / dx * step_size(f))
    return {name: np.asarray(v, dtype=float) for name, v in out.items()}


def driver_table(design, y_months: np.ndarray, seed: int) -> list[Driver]:
    """The local drivers from a Morris screening, split by class and ranked by their effect.

    Args:
        design: The local Morris design (:func:`experiments.analysis.factors.local_factors`).
        y_months: Mean months of service (restricted mean to the horizon) per design row.
        seed: Seed of the bootstrap (intervals are reproducible).

    Returns:
        Changeable drivers first, then context, each ranked by the absolute size of the
        effect (the number shown), larger first.

    """
    from scipy import stats

    from experiments.analysis.factors import CHANGEABLE, CONTEXT, factor_class

    effects = elementary_effects(design, y_months)
    rng = np.random.default_rng([int(seed), 15])
    found = []
    for f in design.factors:
        e = effects[f.name]
        mean = float(e.mean()) if len(e) else float("nan")
        lo = hi = float("nan")
        if len(e) >= 2 and np.ptp(e) > 0:
            ci = stats.bootstrap((e,), np.mean, n_resamples=2000, confidence_level=0.95,
                                 method="percentile", random_state=rng).confidence_interval
            lo, hi = float(ci.low), float(ci.high)
        elif len(e) >= 2:
            lo = hi = mean
        found.append((f, factor_class(f.name), mean, lo, hi, len(e)))
    out = []
    for klass in (CHANGEABLE, CONTEXT):
        mine = [x for x in found if x[1] == klass]
        mine.sort(key=lambda x: -abs(x[2]) if np.isfinite(x[2]) else 0.0)
        out += [Driver(f, c, m, lo, hi, n, rank)
                for rank, (f, c, m, lo, hi, n) in enumerate(mine, 1)]
    return out


@dataclass
class Assessment:
    """One authority's assessment.

    Attributes:
        name: The authority's name.
        stem: Its file's stem (the label of its runs as described).
        outlook: Its row of :func:`experiments.analysis.survival.survival_table`.
        drivers: :func:`driver_table`.
        levers: One row per lever tried, ranked (see :func:`lever_table`).
        skipped: ``{lever: reason}`` for levers not tried.
        runs: The runs of the authority as described and of its levers.
        out: Its output folder.
        screening_runs: Runs of the local screening.
        wall_time: Seconds the runs took.
        scenario: The authority as entered.
        provenance: Seed, commit, command, parameter mode, replicates (plain values).

    """

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
    scenario: Scenario | None = None
    provenance: dict = field(default_factory=dict)


def _paired_mean(x: np.ndarray, rng) -> tuple[float, float, float]:
    """Mean of paired differences with a percentile bootstrap 95% interval."""
    from scipy import stats

    mean = float(np.mean(x))
    if len(x) < 2 or np.ptp(x) == 0:
        return mean, mean, mean
    ci = stats.bootstrap((x,), np.mean, n_resamples=2000, confidence_level=0.95,
                         method="percentile", random_state=rng).confidence_interval
    return mean, float(ci.low), float(ci.high)


def lever_costs(runs: pd.DataFrame, baseline: str, variant: str, horizon: int,
                seed: int = 1) -> dict:
    """What a lever costs the authority, paired replicate by replicate with its baseline.

    ``cost`` and ``net_cost`` (cost less the placement savings) are the service's totals over
    its life in the horizon, undiscounted, as :func:`sim.simulate.simulate` counts them. The
    cost per extra year of service is the mean extra cost over the mean extra years of
    service (restricted mean to the horizon), with a paired bootstrap interval; it is left
    undefined (NaN) when the lever's gain in service is not clearly above zero.

    Args:
        runs: Runs of both variants (``variant``, ``replicate``, ``end_month``, ``cost``,
            ``net_cost``).
        baseline: The authority as described.
        variant: The lever's variant.
        horizon: The horizon, months.
        seed: Seed of the bootstrap.

    Returns:
        ``extra_cost``, ``extra_cost_low``, ``extra_cost_high``, ``extra_net_cost`` (and its
        bounds), ``cost_per_year`` (and its bounds), all in pounds.

    """
    b = runs[runs["variant"].astype(str) == str(baseline)].sort_values("replicate")
    v = runs[runs["variant"].astype(str) == str(variant)].sort_values("replicate")
    if not np.array_equal(b["replicate"].to_numpy(), v["replicate"].to_numpy()):
        raise ValueError(f"{variant} and {baseline} do not have the same replicates")
    rng = np.random.default_rng([int(seed), 16])
    dc = v["cost"].to_numpy(float) - b["cost"].to_numpy(float)
    dn = v["net_cost"].to_numpy(float) - b["net_cost"].to_numpy(float)
    dt = (np.minimum(v["end_month"].to_numpy(float), horizon)
          - np.minimum(b["end_month"].to_numpy(float), horizon)) / 12.0
    out = {}
    for key, x in (("extra_cost", dc), ("extra_net_cost", dn)):
        out[key], out[f"{key}_low"], out[f"{key}_high"] = _paired_mean(x, rng)
    years_mean, years_low, _ = _paired_mean(dt, rng)
    ratio = lo = hi = float("nan")
    if years_low > 0:
        ratio = float(dc.mean() / years_mean)
        n = len(dc)
        idx = rng.integers(0, n, size=(2000, n))
        num, den = dc[idx].mean(axis=1), dt[idx].mean(axis=1)
        ok = den > 0
        if ok.mean() >= 0.975:
            lo, hi = (float(q) for q in np.quantile(num[ok] / den[ok], [0.025, 0.975]))
    out["cost_per_year"], out["cost_per_year_low"], out["cost_per_year_high"] = ratio, lo, hi
    return out


def lever_table(runs: pd.DataFrame, baseline: str, tried: list[tuple[str, str]],
                horizon: int, seed: int = 1) -> pd.DataFrame:
    """The levers' effects and costs against the authority as described, ranked.

    Ranked by the gain in months of service (restricted mean to the horizon), then by the
    gain in 5-year survival.

    Args:
        runs: Runs of the baseline and of every lever tried.
        baseline: The baseline's label.
        tried: ``(variant label, description)`` of each lever tried.
        horizon: The horizon, months.
        seed: Seed of the bootstraps.

    Returns:
        One row per lever: ``rank``, ``lever``, ``description``, ``p_alive``, ``diff`` (5-year
        survival, proportion) with ``diff_low``/``diff_high``, ``mcnemar_p``, ``rmst_diff``
        (months) with its bounds, ``parameter_share`` and ``rmst_parameter_share`` (the share
        of each difference's run-to-run spread that is parameter uncertainty; NaN with one
        parameter set), and the costs of :func:`lever_costs`.

    """
    from experiments.analysis.survival import paired_difference

    rows = []
    for label, text in tried:
        d = paired_difference(runs, baseline, label, 12 * YEARS, horizon=horizon)
        rows.append({"lever": label.removeprefix("+"), "description": text,
                     "p_alive": d["p_variant"], "diff": d["diff"], "diff_low": d["diff_low"],
                     "diff_high": d["diff_high"], "mcnemar_p": d["mcnemar_p"],
                     "rmst_diff": d["rmst_diff"], "rmst_diff_low": d["rmst_diff_low"],
                     "rmst_diff_high": d["rmst_diff_high"],
                     "parameter_share": _share(d["parameter_share"]),
                     "rmst_parameter_share": _share(d["rmst_parameter_share"]),
                     **lever_costs(runs, baseline, label, horizon, seed)})
    levers = pd.DataFrame(rows)
    if len(levers):
        levers = levers.sort_values(["rmst_diff", "diff"], ascending=False, ignore_index=True)
        levers.insert(0, "rank", np.arange(1, len(levers) + 1))
    return levers


def _share(x) -> float:
    return float("nan") if x is None else float(x)


def risk_band(p5: float) -> str:
    """A plain-words band for the 5-year survival chance (fixed thresholds, stated)."""
    if p5 >= 0.75:
        return "lower risk (at least 75% still running at 5 years)"
    if p5 >= 0.4:
        return "medium risk (40-75% still running at 5 years)"
    return "high risk (under 40% still running at 5 years)"
