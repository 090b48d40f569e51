"""The factors of sensitivity analysis and scenario discovery, declared in one place.

A *factor* is one uncertain input that an experiment varies over a range: a mechanism parameter
(its range, label and group come from the registry :data:`sim.parameters.PARAMETERS`, never
repeated here), a site descriptor of docs/ODD.md §5.1-5.2 (leadership turnover history, collaboration
history, regional network ...), or a description of the authority's initial people (the
supervisor's system leadership, the partners' commitment, the leaders' stance).

Every factor has a readable label and one of the groups ``leadership``, ``partnership``,
``money``, ``workforce``, ``referrals`` or ``outcomes``; analyses can rank single factors or
whole groups.

Factor sets (``--factors`` on the command line):

* ``drivers`` (default): the factors of :data:`DRIVERS`, what a commissioner can observe or
  change (MODEL §12): the authority's descriptors and people (:data:`SITE_FACTORS`), its
  context (size, inspection rating; :data:`CONTEXT_FACTORS`), a money event (an in-year cut)
  and the levers (:data:`LEVER_FACTORS`). No mechanism parameter is a risk driver: in
  posterior mode they are drawn from the calibrated sample, so a ranking holds across what the
  evidence leaves uncertain; ``run.py research`` ranks them separately, as what research should
  measure next;
* ``site``: the descriptors and people only;
* ``mechanisms``: every mechanism parameter of the registry;
* ``all``: both;
* a comma-separated list of names (``supervisor_exit_rate,collaboration_history``);
* ``@FILE``: the names in a file, one a line (``#`` starts a comment), e.g. the
  ``screened_factors.txt`` that a Morris screening writes.

:func:`local_factors` builds the factors of a *local* screening around one authority's own
descriptors (one rubric step either side), used by the readiness assessment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from experiments.errors import ExperimentError
from sim.parameters import PARAMETER_INDEX, PARAMETERS
from sim.scenario import LEVELS, OFSTED, STANCES, TURNOVER, Event, Scenario

GROUPS = ("leadership", "partnership", "money", "workforce", "referrals", "outcomes")
"""The factor groups, in display order."""

KINDS = ("parameter", "site", "supervisor", "partners", "leaders", "ofsted", "size", "lever",
         "event")
"""How a factor acts on a scenario (see :func:`apply_factors`)."""


@dataclass(frozen=True)
class Factor:
    """One factor: an input varied over a range.

    Attributes:
        name: Identifier (a mechanism parameter's name, a site descriptor's name, or one of
            the people factors).
        label: Readable description for tables, plots and rules.
        low: Lower end of the range.
        high: Upper end of the range.
        group: One of :data:`GROUPS`.
        kind: How it acts on a scenario, one of :data:`KINDS`:
            ``parameter`` overrides the mechanism parameter; ``site`` sets the site descriptor;
            ``supervisor`` sets the first supervisor's attribute; ``partners`` shifts every
            partner's go-live commitment by the value (clipped to 0-1); ``leaders`` shifts every
            founding leader's stance by the value (clipped to -1..1); ``ofsted`` sets the
            inspection rating by its position in ``outstanding, good, adequate, inadequate``
            (0-3, rounded); ``size`` multiplies the population and the children looked after
            by the value; ``lever`` sets the lever of that name (a switch is on at 0.5 or more;
            ``programme_manager`` is ``auto`` below 0.5, ``on`` above; numbers as they are);
            ``event`` adds an in-year budget cut of that fraction at month 36.
        source: Evidence or ``assumption`` (parameters) or the docs/ODD.md section.
        integer: Whether values are rounded to whole numbers.
        scale: How values read in words: ``level`` (the rubric's none..very high), ``turnover``
            (stable..very high), ``stance``, ``shift`` (rubric steps), ``ofsted`` or ``""``.
        base: The authority's own value, for local factors (NaN otherwise).

    """

    name: str
    label: str
    low: float
    high: float
    group: str
    kind: str
    source: str = ""
    integer: bool = False
    scale: str = ""
    base: float = math.nan

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"factor {self.name}: unknown group {self.group!r}")
        if self.kind not in KINDS:
            raise ValueError(f"factor {self.name}: unknown kind {self.kind!r}")
        if not self.low < self.high:
            raise ValueError(f"factor {self.name}: empty range {self.low}..{self.high}")

    @property
    def bounds(self) -> list[float]:
        """``[low, high]`` as SALib wants it."""
        return [float(self.low), float(self.high)]

    def value(self, x: float) -> float:
        """The value the model receives for a sampled ``x`` (rounded if integer, clipped)."""
        x = min(max(float(x), self.low), self.high)
        return float(round(x)) if self.integer or self.kind == "ofsted" else x

    def describe(self, x: float) -> str:
        """The value in words where a rubric applies, e.g. ``"0.25 (very low-low)"``."""
        return describe_value(self.scale, x)


# ---------------------------------------------------------------------------------------------
# Words for values
# ---------------------------------------------------------------------------------------------

_SCALES = {"level": LEVELS, "turnover": TURNOVER, "stance": STANCES}


def describe_value(scale: str, x: float) -> str:
    """Format a factor value with the rubric's words where one applies.

    Args:
        scale: ``level``, ``turnover``, ``stance``, ``shift``, ``ofsted``, ``switch`` (a
            lever: off below 0.5, on above) or ``""``.
        x: The value.

    Returns:
        E.g. ``"0.70 (high)"``, ``"0.40 (low-medium)"``, ``"+0.2 (one step up)"``, ``"good"``,
        or a plain number.

    """
    if scale == "ofsted":
        return OFSTED[int(min(max(round(x), 0), len(OFSTED) - 1))]
    if scale == "switch":
        return "on" if x >= 0.5 else "off"
    if scale == "shift":
        steps = x / 0.2
        return f"{x:+.2f} ({steps:+.1f} rubric steps)"
    table = _SCALES.get(scale)
    if table is None:
        return _number(x)
    words = sorted(table.items(), key=lambda kv: kv[1])
    for word, v in words:
        if abs(x - v) < 0.025:
            return f"{x:.2f} ({word})"
    below = [w for w, v in words if v < x]
    above = [w for w, v in words if v > x]
    if below and above:
        return f"{x:.2f} ({below[-1]}-{above[0]})"
    return f"{x:.2f} ({(below or above)[-1 if below else 0]})"


def _number(x: float) -> str:
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


def _parameter_factor(name: str) -> Factor:
    p = PARAMETER_INDEX[name]
    return Factor(name=p.name, label=p.label, low=p.low, high=p.high, group=p.group,
                  kind="parameter", source=p.source, integer=p.integer)


SITE_FACTORS: tuple[Factor, ...] = (
    Factor("leadership_turnover_history", "Leadership turnover history (x national exit rates)",
           TURNOVER["stable"], TURNOVER["very high"], "leadership", "site",
           "ODD 5.2; 001:1752, 001:2086", scale="turnover"),
    Factor("leader_support", "Senior leaders' backing at go-live (shift of every stance)",
           -0.4, 0.4, "leadership", "leaders", "ODD 9 (initial people)", scale="shift"),
    Factor("learning_climate", "Learning climate (masterclasses, evidence culture)",
           LEVELS["very low"], LEVELS["very high"], "leadership", "site",
           "ODD 5.2; 001:1462, 001:2345", scale="level"),
    Factor("collaboration_history", "Collaboration history of social care, CAMHS and YOS",
           LEVELS["very low"], LEVELS["very high"], "partnership", "site",
           "ODD 5.2; 001:1270-1278, 001:1677", scale="level"),
    Factor("partner_commitment", "Partner agencies' commitment at go-live (shift of every "
           "partner)", -0.4, 0.4, "partnership", "partners", "ODD 9 (initial people)",
           scale="shift"),
    Factor("regional_network", "Regional network (nearby MST teams, joint boosters)",
           LEVELS["very low"], LEVELS["very high"], "workforce", "site",
           "ODD 5.2; 001:1818-1830", scale="level"),
    Factor("supervisor_system_leadership", "Supervisor's system leadership",
           LEVELS["very low"], LEVELS["very high"], "workforce", "supervisor",
           "ODD 2.2; 001:1828", scale="level"),
    Factor("values_fit", "Fit between the host's culture and MST", LEVELS["very low"],
           LEVELS["very high"], "referrals", "site", "ODD 5.2; 001:1852, 001:5769",
           scale="level"),
)
"""Descriptors of the authority and its people that a commissioner can observe (docs/ODD.md §5.2,
§9), over their rubric ranges (very low to very high; stable to very high turnover)."""

CONTEXT_FACTORS: tuple[Factor, ...] = (
    Factor("ofsted_rating", "Inspection (Ofsted) rating (0 outstanding .. 3 inadequate)", -0.49,
           3.49, "leadership", "ofsted", "ODD 5.2; 001:1225", scale="ofsted"),
    Factor("authority_size", "Size of the authority (population and children looked after, x "
           "the authority's own)", 0.5, 3.0, "referrals", "size", "ODD 5.2 (Table 14)"),
)
"""The authority's context a commissioner observes but cannot change (size and need, rating)."""

MONEY_FACTORS: tuple[Factor, ...] = (
    Factor("budget_cut_year3", "In-year budget cut in the third year (share of the budget)",
           0.0, 0.3, "money", "event", "ODD 7.19 (scripted events); 001:1557"),
)
"""Money events: an in-year cut (ODD §7.19) of a share of the budget at month 36."""

_SWITCH = {"scale": "switch", "low": 0.0, "high": 1.0}
LEVER_FACTORS: tuple[Factor, ...] = (
    Factor("succession_planning", "Lever: succession planning for the supervisor",
           group="workforce", kind="lever", source="ODD 7.18; 001:1586", **_SWITCH),
    Factor("programme_manager", "Lever: fund a programme manager from the start",
           group="leadership", kind="lever", source="ODD 7.18; 001:1999", **_SWITCH),
    Factor("local_outcome_feedback", "Lever: feed local outcomes back to leaders",
           group="outcomes", kind="lever", source="ODD 7.18; 001:2333", **_SWITCH),
    Factor("steering_group_induction", "Lever: induct new steering-group members",
           group="partnership", kind="lever", source="ODD 7.18; 001:1933", **_SWITCH),
    Factor("champion_cultivation", "Lever: cultivate a champion among senior leaders",
           group="leadership", kind="lever", source="ODD 7.18; 001:1605", **_SWITCH),
    Factor("referral_promotion", "Lever: promote the service to referrers",
           group="referrals", kind="lever", source="ODD 7.18; 001:1475", **_SWITCH),
    Factor("balanced_launch", "Lever: a balanced launch (referrals from every agency)",
           group="referrals", kind="lever", source="ODD 7.18", **_SWITCH),
    Factor("protected_funding_years", "Lever: years of protected funding after the grant",
           0.0, 3.0, "money", "lever", "ODD 7.18", integer=True),
    Factor("co_funding", "Lever: partners' share of the cost (co-funding)", 0.0, 0.6, "money",
           "lever", "ODD 7.18; research B.1"),
)
"""The levers of ODD §7.18 a commissioner can pull, as factors (switches 0 = off, 1 = on)."""

MECHANISM_FACTORS: tuple[Factor, ...] = tuple(_parameter_factor(p.name) for p in PARAMETERS)
"""Every mechanism parameter over its registry range."""

COMMISSIONER_FACTORS: tuple[Factor, ...] = (*SITE_FACTORS, *CONTEXT_FACTORS, *MONEY_FACTORS,
                                            *LEVER_FACTORS)
"""What a commissioner can observe or change (MODEL §12)."""

FACTORS: dict[str, Factor] = {f.name: f for f in (*COMMISSIONER_FACTORS, *MECHANISM_FACTORS)}
"""Every factor by name."""

DRIVERS: tuple[str, ...] = tuple(f.name for f in COMMISSIONER_FACTORS)
"""The default factor set: what a commissioner can observe or change (the module docstring)."""

FACTOR_SETS: dict[str, tuple[str, ...]] = {
    "drivers": DRIVERS,
    "site": tuple(f.name for f in SITE_FACTORS),
    "levers": tuple(f.name for f in LEVER_FACTORS),
    "mechanisms": tuple(f.name for f in MECHANISM_FACTORS),
    "all": tuple(FACTORS),
}
"""Named factor sets for ``--factors``."""


CHANGEABLE = "changeable"
CONTEXT = "context"
MECHANISM = "mechanism"

FACTOR_CLASSES: dict[str, str] = {
    # What a commissioner and the authority can work on before and after go-live.
    "leader_support": CHANGEABLE,               # secure senior leaders' backing
    "learning_climate": CHANGEABLE,             # masterclasses, evidence culture
    "collaboration_history": CHANGEABLE,        # build joint working of the agencies
    "partner_commitment": CHANGEABLE,           # bring the partner agencies on board
    "regional_network": CHANGEABLE,             # join or build a regional network
    "supervisor_system_leadership": CHANGEABLE,  # recruit or develop the supervisor
    "values_fit": CHANGEABLE,                   # prepare the host's culture for MST
    # The authority as it is: its size and need, its inspection rating, its record.
    "looked_after_children": CONTEXT,
    "population": CONTEXT,
    "deprived_share": CONTEXT,
    "ofsted_rating": CONTEXT,
    "leadership_turnover_history": CONTEXT,
    "authority_size": CONTEXT,
    "budget_cut_year3": CONTEXT,                # a money event that happens to the authority
    # The levers (ODD §7.18): what a commissioner decides.
    **{name: CHANGEABLE for name in ("succession_planning", "programme_manager",
                                     "local_outcome_feedback", "steering_group_induction",
                                     "champion_cultivation", "referral_promotion",
                                     "balanced_launch", "protected_funding_years", "co_funding")},
}
"""Whether an authority's descriptor is something it *can change* or its *context*.

``changeable``: what a commissioner and the authority can work on (leaders' backing, the
partners, the supervisor, joint working, the learning climate, the network). ``context``: the
authority as it is (size and need, the inspection rating, its record of leadership turnover),
shown beside the changeable ones but never as a "risk driver" to act on. Every mechanism
parameter is ``mechanism`` (shared by all authorities; see :func:`factor_class`). Shared by the
readiness assessment and, later, sensitivity and discovery reports.
"""

CLASS_TITLES: dict[str, str] = {CHANGEABLE: "What you can change",
                                CONTEXT: "Context (the authority as it is)",
                                MECHANISM: "Mechanism parameters (shared by every authority)"}
"""Headings of the three classes, in display order."""


def factor_class(name: str) -> str:
    """The class of a factor: ``changeable``, ``context`` or ``mechanism``.

    Args:
        name: A factor's name (a descriptor, a people factor or a mechanism parameter).

    Returns:
        Its class (:data:`FACTOR_CLASSES`; ``mechanism`` for a mechanism parameter).

    Raises:
        KeyError: For a name that is neither a descriptor of :data:`FACTOR_CLASSES` nor a
            mechanism parameter.

    """
    if name in FACTOR_CLASSES:
        return FACTOR_CLASSES[name]
    if name in PARAMETER_INDEX:
        return MECHANISM
    raise KeyError(f"unknown factor {name!r}")


def select_factors(spec: str | Sequence[str] | None = None) -> list[Factor]:
    """Resolve a factor specification into factors.

    Args:
        spec: A set name (``drivers``, ``site``, ``mechanisms``, ``all``), comma-separated
            factor names, ``@FILE`` (names one a line, ``#`` comments), a list of names, or
            None for ``drivers``.

    Returns:
        The factors, in the order given (duplicates dropped).

    Raises:
        ExperimentError: On an unknown set or name, an unreadable file, or fewer than two
            factors.

    """
    if spec is None:
        names: Sequence[str] = DRIVERS
    elif isinstance(spec, str):
        text = spec.strip()
        if text in FACTOR_SETS:
            names = FACTOR_SETS[text]
        elif text.startswith("@"):
            names = _read_names(Path(text[1:]))
        else:
            names = [n.strip() for n in text.split(",") if n.strip()]
    else:
        names = list(spec)
    out: list[Factor] = []
    for name in names:
        f = FACTORS.get(name)
        if f is None:
            raise ExperimentError(
                f"--factors: unknown factor {name!r}; use a set ({', '.join(FACTOR_SETS)}) or "
                f"names from `python run.py sensitivity --list-factors`")
        if f not in out:
            out.append(f)
    if len(out) < 2:
        raise ExperimentError("--factors: give at least two factors")
    return out


def _read_names(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"--factors: cannot read {path} ({exc.__class__.__name__})") \
            from None
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.extend(n.strip() for n in line.split(",") if n.strip())
    return names


def list_factors_text(factors: Sequence[Factor] | None = None) -> str:
    """A fixed-width listing of factors: name, group, range and label.

    Args:
        factors: The factors to list; default every factor, with the ``drivers`` marked.

    Returns:
        Text for the terminal.

    """
    factors = list(FACTORS.values()) if factors is None else list(factors)
    width = max(len(f.name) for f in factors)
    lines = [f"{'factor':<{width}}  {'set':<7}  {'group':<11}  {'range':<23}  label"]
    for f in factors:
        mark = "drivers" if f.name in DRIVERS else ("site" if f.kind != "parameter" else "")
        rng = f"{_number(f.low)} .. {_number(f.high)}"
        lines.append(f"{f.name:<{width}}  {mark:<7}  {f.group:<11}  {rng:<23}  {f.label}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Applying factor values to a scenario
# ---------------------------------------------------------------------------------------------


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _lever_value(f: Factor, v: float):
    """A lever factor's value as the lever takes it (switches on at 0.5 or more)."""
    if f.name == "programme_manager":
        return "on" if v >= 0.5 else "auto"
    if f.scale == "switch":
        return bool(v >= 0.5)
    return int(v) if f.integer else float(v)


def apply_factors(scenario: Scenario, factors: Sequence[Factor], values: Sequence[float],
                  *, keep_text: bool = False) -> Scenario:
    """Return the scenario with every factor set to its value (one design row).

    Parameter factors go through :meth:`Scenario.with_parameters`, which validates them
    against the registry; descriptors and people are replaced in the frozen dataclasses.

    Args:
        scenario: The base scenario (an authority).
        factors: The factors.
        values: One value per factor (as sampled; rounded and clipped by :meth:`Factor.value`).
        keep_text: Keep the scenario file's text (off by default: an experiment's thousands of
            variants need not carry it; the manifest records the base scenario's text).

    Returns:
        A new scenario.

    Raises:
        ExperimentError: If the number of values does not match the factors.

    """
    if len(values) != len(factors):
        raise ExperimentError(f"design row has {len(values)} values for {len(factors)} factors")
    params: dict[str, float] = {}
    site: dict[str, object] = {}
    sup: dict[str, object] = {}
    levers: dict[str, object] = {}
    events: list[Event] = []
    sc = scenario
    for f, raw in zip(factors, values, strict=True):
        v = f.value(raw)
        if f.kind == "parameter":
            params[f.name] = int(v) if f.integer else v
        elif f.kind == "site":
            site[f.name] = int(v) if f.integer else v
        elif f.kind == "ofsted":
            site["ofsted_rating"] = OFSTED[int(v)]
        elif f.kind == "supervisor":
            sup[f.name.removeprefix("supervisor_")] = v
        elif f.kind == "partners":
            sc = replace(sc, partners=tuple(
                replace(p, commitment=_clip(p.commitment + v, 0.0, 1.0)) for p in sc.partners))
        elif f.kind == "leaders":
            sc = replace(sc, leaders=tuple(
                replace(ld, stance=_clip(ld.stance + v, -1.0, 1.0)) for ld in sc.leaders))
        elif f.kind == "size":
            site["population"] = max(10_000, round(scenario.site.population * v))
            site["looked_after_children"] = max(20, round(scenario.site.looked_after_children * v))
        elif f.kind == "lever":
            levers[f.name] = _lever_value(f, v)
        elif f.kind == "event" and v > 0:
            events.append(Event(month=36, kind="budget_cut", fraction=float(v)))
    if levers:
        sc = replace(sc, levers=replace(sc.levers, **levers))
    if events:
        sc = replace(sc, events=tuple(sorted((*sc.events, *events), key=lambda e: e.month)))
    if site:
        sc = replace(sc, site=replace(sc.site, **site))
    if sup:
        sc = replace(sc, supervisor=replace(sc.supervisor, **sup))
    if params:
        sc = sc.with_parameters(**params)
    if not keep_text:
        sc = replace(sc, text="")
    return sc


# ---------------------------------------------------------------------------------------------
# Local factors around one authority (readiness assessment)
# ---------------------------------------------------------------------------------------------

_LEVEL_STEP = 0.2
"""One rubric step of a 0-1 level (low 0.3 -> medium 0.5)."""


def _turnover_neighbours(x: float) -> tuple[float, float]:
    steps = sorted(TURNOVER.values())
    lower = [v for v in steps if v < x - 1e-9]
    upper = [v for v in steps if v > x + 1e-9]
    lo = lower[-1] if lower else max(0.3, x - (steps[1] - steps[0]))
    hi = upper[0] if upper else min(3.0, x + (steps[-1] - steps[-2]))
    return lo, hi


def local_factors(scenario: Scenario) -> list[Factor]:
    """Factors for a local screening around an authority's own descriptors.

    Each descriptor varies one rubric step either side of the authority's value (0.2 on 0-1
    levels; the neighbouring turnover words; one inspection grade), clipped to what the
    scenario loader allows. People factors shift every partner's commitment or leader's stance
    by up to one step, and move the supervisor's system leadership one step. Mechanism
    parameters stay at their defaults: this asks what about *this authority* drives its risk.

    Args:
        scenario: The authority.

    Returns:
        The local factors; each has ``base`` set to the authority's own value.

    """
    s = scenario.site
    out: list[Factor] = []
    for f in SITE_FACTORS:
        if f.kind == "site":
            x = float(getattr(s, f.name))
            if f.scale == "turnover":
                lo, hi = _turnover_neighbours(x)
            else:
                lo, hi = max(0.0, x - _LEVEL_STEP), min(1.0, x + _LEVEL_STEP)
        elif f.kind == "supervisor":
            x = float(getattr(scenario.supervisor, f.name.removeprefix("supervisor_")))
            lo, hi = max(0.0, x - _LEVEL_STEP), min(1.0, x + _LEVEL_STEP)
        elif f.kind == "partners":
            if not scenario.partners:
                continue
            x, lo, hi = 0.0, -_LEVEL_STEP, _LEVEL_STEP
        elif f.kind == "leaders":
            if not scenario.leaders:
                continue
            x, lo, hi = 0.0, -_LEVEL_STEP, _LEVEL_STEP
        else:  # pragma: no cover - every site factor kind is handled above
            continue
        out.append(replace(f, low=lo, high=hi, base=x))
    grade = OFSTED.index(s.ofsted_rating)
    lo, hi = max(0, grade - 1), min(len(OFSTED) - 1, grade + 1)
    out.append(Factor("ofsted_rating", "Inspection (Ofsted) rating", lo - 0.49, hi + 0.49,
                      "leadership", "ofsted", "ODD 5.2; 001:1225", scale="ofsted",
                      base=float(grade)))
    lac = s.looked_after_children
    out.append(Factor("looked_after_children", "Children looked after (need for MST)",
                      max(20, round(lac * 0.75)), min(20_000, round(lac * 1.25)), "referrals",
                      "site", "ODD 5.2 (Table 14)", integer=True, base=float(lac)))
    return out


def row_frame(factors: Sequence[Factor], X: np.ndarray):
    """The design as a table of model values (rounded and clipped), one column per factor.

    Args:
        factors: The factors.
        X: Sampled values, one row per design row.

    Returns:
        A pandas DataFrame with a ``row`` column and one column per factor.

    """
    import pandas as pd

    data = {"row": np.arange(len(X))}
    for j, f in enumerate(factors):
        col = X[:, j].astype(float)
        if f.integer or f.kind == "ofsted":
            col = np.round(np.clip(col, f.low, f.high))
        data[f.name] = col
    return pd.DataFrame(data)
