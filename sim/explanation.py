"""Why a service closed: exact Shapley decomposition of the fall of its margin (ODD §7.22).

A closing decision compares the service's buffers and reserve with the pressure on it
(:mod:`sim.processes.buffers`). The *causes* of a closure are the contributions of named
groups of inputs (each buffer, the reserve's parts, each pressure term) to the fall of the
margin between a reference decision (the last one before it at which the margin was positive,
or go-live) and the fatal decision. The contributions are exact Shapley values over the
groups, so they sum to the fall of the margin exactly, whatever the form of the margin.

The events behind them (which leader left, the patron's departure, a grant step...) are kept
in the run's cause log as ``(month, kind)`` and each kind belongs to one group
(``EVENT_GROUP``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from math import factorial

import numpy as np

# The named groups, in a fixed order: each is one player of the Shapley decomposition. A
# positive contribution pushed the margin down (towards closure).
CAUSE_GROUPS: tuple[str, ...] = (
    "leadership_shield",     # leaders' protection: patron, informed supporters (b_L)
    "partnership_shield",    # the steering group (b_P)
    "system_leadership",     # the supervisor's / programme manager's advocacy (b_S)
    "evidence",              # locally visible evidence, savings fed back (reserve)
    "embeddedness",          # months operating, teams, programme manager (reserve)
    "grant_taper",           # the grant's share of cost stepping down
    "co_funding",            # a co-funding partner's share withdrawn
    "supervisor_departure",  # a viability review: full unsubsidised cost, review strictness
    "service_cost",          # the cost of the service itself (teams, posts, programme manager)
    "budget_cuts",           # austerity and in-year cuts to the discretionary budget
    "hostility",             # the climate of threat
    "opposition",            # opponents' influence
    "under_use",             # bounded under-use pressure
    "unit_cost",             # unit cost of a cut team (fixed block on fewer posts)
)

# Plain words for each group, as a commissioner would read them ("the ... had fallen").
CAUSE_LABELS: dict[str, str] = {
    "leadership_shield": "leadership shield",
    "partnership_shield": "partnership shield",
    "system_leadership": "system leadership",
    "evidence": "local evidence",
    "embeddedness": "embeddedness",
    "grant_taper": "grant taper",
    "co_funding": "co-funding",
    "supervisor_departure": "supervisor's departure (full-cost review)",
    "service_cost": "cost of the service",
    "budget_cuts": "budget cuts",
    "hostility": "hostility",
    "opposition": "opponents' influence",
    "under_use": "under-use",
    "unit_cost": "unit cost after cuts",
}

# Events recorded in a run's cause log, and the group each explains.
EVENT_GROUP: dict[str, str] = {
    "patron_left": "leadership_shield",        # the patron left; patronage ended
    "leader_left": "leadership_shield",        # another leader left
    "partner_replaced": "partnership_shield",  # a representative replaced
    "chair_lost": "partnership_shield",        # the steering group lost its leader chair
    "supervisor_left": "system_leadership",    # the supervisor left (also the review)
    "programme_manager_left": "system_leadership",
    "grant_step": "grant_taper",               # the grant's share stepped down
    "co_funder_withdrew": "co_funding",
    "budget_cut": "budget_cuts",               # an in-year cut (scripted or shock)
    "austerity": "budget_cuts",                # austerity began
    "post_cut": "unit_cost",                   # a therapist post was cut
    "trial_randomising": "under_use",          # the research trial began randomising
}
EVENT_LABELS: dict[str, str] = {
    "patron_left": "the patron left",
    "leader_left": "a senior leader left",
    "partner_replaced": "a partner's representative was replaced",
    "chair_lost": "the steering group lost its chair",
    "supervisor_left": "the supervisor left",
    "programme_manager_left": "the programme manager left",
    "grant_step": "the grant stepped down",
    "co_funder_withdrew": "a co-funder withdrew",
    "budget_cut": "an in-year budget cut",
    "austerity": "austerity began",
    "post_cut": "a therapist post was cut",
    "trial_randomising": "the research trial began randomising",
}


@lru_cache(maxsize=4)
def _coalitions(n: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """All 2**n coalitions, their Shapley weights, and each player's marginal pairs.

    The pairs are, per player, the coalitions without them, the same coalitions with them and
    those coalitions' weights. Constants of ``n``, cached: a closing run's explanation would otherwise rebuild them.
    """
    idx = np.arange(1 << n)
    masks = ((idx[:, None] >> np.arange(n)) & 1).astype(bool)
    sizes = masks.sum(axis=1)
    weights = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) if s < n else 0.0
                        for s in range(n + 1)])[sizes]
    pairs = []
    for j in range(n):
        without = idx[~masks[:, j]]
        pairs.append((without, without | (1 << j), weights[without]))
    return masks, weights, tuple(pairs)


def shapley(f: Callable[[Mapping[str, np.ndarray]], np.ndarray],
            reference: Mapping[str, float], final: Mapping[str, float],
            players: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Exact Shapley values of a change of ``f`` from ``reference`` to ``final`` inputs.

    Each player owns some of the inputs; a coalition takes its players' inputs at their final
    values and the rest at their reference values. ``f`` must accept arrays (one value per
    coalition), which it does if it uses only arithmetic and numpy functions.

    Args:
        f: The function of the inputs (a mapping of input name to array).
        reference: Inputs at the reference point.
        final: Inputs at the final point (same keys).
        players: Player name -> the inputs it owns; every input is owned by exactly one.

    Returns:
        Player -> contribution to ``f(final) - f(reference)``; the values sum to it exactly
        (up to floating-point rounding).
    """
    names = list(players)
    n = len(names)
    masks, _, pairs = _coalitions(n)
    x = {}
    for j, name in enumerate(names):
        column = masks[:, j]
        for key in players[name]:
            x[key] = np.where(column, float(final[key]), float(reference[key]))
    values = np.asarray(f(x), dtype=float)
    out = {}
    for name, (without, with_j, w) in zip(names, pairs, strict=True):
        out[name] = float(np.sum(w * (values[with_j] - values[without])))
    return out


@dataclass(frozen=True)
class Explanation:
    """Why one service closed: the fall of its margin, by cause group (MODEL.md §5.5).

    Attributes:
        reference_month: Month of the reference decision (the last one before the closure at
            which the margin was positive; 0 = go-live if there was none).
        closure_month: Month of the fatal decision.
        margin_reference: The margin at the reference decision.
        margin_final: The margin at the fatal decision.
        margin_fall: ``margin_reference - margin_final``.
        causes: Cause group -> contribution to the fall (every group of ``CAUSE_GROUPS``;
            positive pushed the margin down). They sum to ``margin_fall``.
        events: ``(month, kind)`` of the cause log in the window (reference, closure].
    """

    reference_month: int
    closure_month: int
    margin_reference: float
    margin_final: float
    margin_fall: float
    causes: dict[str, float]
    events: list[tuple[int, str]] = field(default_factory=list)

    def top(self, k: int = 2) -> list[str]:
        """The ``k`` groups that pushed the margin down most (positive contributions only)."""
        ranked = sorted(self.causes, key=lambda g: -self.causes[g])
        return [g for g in ranked[:k] if self.causes[g] > 0]


def explain(margin: Callable[[Mapping[str, np.ndarray]], np.ndarray],
            reference: Mapping[str, float], final: Mapping[str, float],
            input_groups: Mapping[str, str], *, reference_month: int, closure_month: int,
            events: Sequence[tuple[int, str]] = ()) -> Explanation:
    """Decompose the fall of ``margin`` from ``reference`` to ``final`` over the cause groups.

    Args:
        margin: The margin as a function of the inputs (arrays allowed).
        reference: Inputs at the reference decision.
        final: Inputs at the fatal decision.
        input_groups: Input name -> cause group (each group of ``CAUSE_GROUPS`` owns its inputs).
        reference_month: Month of the reference decision.
        closure_month: Month of the fatal decision.
        events: The cause log; only events in (reference_month, closure_month] are kept.
    """
    players = {g: [k for k, grp in input_groups.items() if grp == g] for g in CAUSE_GROUPS}
    # A group without inputs (none today) contributes nothing; shapley needs every input owned.
    players = {g: ks for g, ks in players.items() if ks}
    gains = shapley(margin, reference, final, players)
    m_ref = float(margin({k: np.asarray(v, dtype=float) for k, v in reference.items()}))
    m_fin = float(margin({k: np.asarray(v, dtype=float) for k, v in final.items()}))
    return Explanation(
        reference_month=reference_month, closure_month=closure_month,
        margin_reference=m_ref, margin_final=m_fin, margin_fall=m_ref - m_fin,
        causes={g: -gains.get(g, 0.0) for g in CAUSE_GROUPS},
        events=[(m, kind) for m, kind in events if reference_month < m <= closure_month])


def format_events(events: Sequence[tuple[int, str]]) -> str:
    """The cause log as ``kind@month`` joined by ``;`` (the run table's ``closure_events``)."""
    return ";".join(f"{kind}@{month}" for month, kind in events)
