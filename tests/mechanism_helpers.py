"""Helpers of the submodel tests (tests/test_<submodel>.py): small scenarios built in code.

Each test builds a small scenario and drives one mechanism directly through the public
functions of :mod:`sim.processes` and the agents' verbs. Parameter defaults are being tuned, so
no test relies on a default value: the parameters a test depends on are pinned with
``Scenario.with_parameters`` (inside their plausible range), or, where a mechanism has to be
forced beyond that range (e.g. a certain exit), by replacing ``model.p`` on the test's own model
(:func:`force`). Decision rules are isolated by fixing the margin on the instance
(:func:`fix_margin`).
"""

from __future__ import annotations

import dataclasses

from sim.cases import Case
from sim.model import LocalAuthority
from sim.processes import budget, leadership, partnership, value_for_money
from sim.scenario import parse_scenario

LEADER_ROLES = (r"(chief executive|director childrens services|assistant director"
                r"|head of service|partner director)")


def make_scenario(site=None, leaders=None, partners=None, supervisor=None, levers=None,
                  events=None, run=None, **params):
    """A small neutral authority; every section can be replaced, parameters pinned by keyword."""
    data = {
        "site": {"name": "Test LA", "population": 250_000, "looked_after_children": 500,
                 **(site or {})},
        "leaders": leaders if leaders is not None else [
            {"role": "chief_executive", "stance": "neutral"},
            {"role": "director_childrens_services", "stance": "supportive"},
            {"role": "assistant_director", "stance": "supportive", "chairs_steering_group": True},
        ],
        "partners": partners if partners is not None else [
            {"agency": "camhs"}, {"agency": "yos"}, {"agency": "education"}],
        "supervisor": supervisor or {},
        "levers": levers or {},
        "events": events or [],
    }
    if run:
        data["run"] = run
    sc = parse_scenario(data)
    return sc.with_parameters(**params) if params else sc


def make_model(seed=0, **kw) -> LocalAuthority:
    return LocalAuthority(make_scenario(**kw), seed)


def force(m: LocalAuthority, **params) -> None:
    """Set parameters on one model, beyond their plausible range if need be (test-only)."""
    m.p = dataclasses.replace(m.p, **params)


def fix_margin(m: LocalAuthority, value: float) -> None:
    """Isolate a decision rule: every decision's margin is ``value`` (``model.margin_at``)."""
    m.margin_at = lambda standing: value


def give_cases(m: LocalAuthority, team, per_therapist: int, referred: int = 0) -> None:
    for th in team.therapists:
        th.cases = [Case(None, referred, start=referred, planned_end=999)
                    for _ in range(per_therapist)]


def leader_by_role(m, role):
    return next(ld for ld in m.leaders if ld.role == role)



def learn_month(m: LocalAuthority) -> None:
    """Step 8 of the month: leaders, partners and champion cultivation learn (ODD §3)."""
    leadership.leaders_learn(m)
    partnership.partners_learn(m)
    leadership.cultivate_patron(m)


def money_month(m: LocalAuthority) -> None:
    """Step 10 of the month: the accounts, then the budget round or a cut proposal (ODD §3)."""
    value_for_money.account_month(m)
    budget.budget_round_or_cut_proposal(m)
