"""Value for money: cost, savings and utilisation accounting (docs/ODD.md §7.17; 001:113).

Draws nothing.
"""

from __future__ import annotations


def account_month(model) -> None:
    """Step 10 (first): filled caseload slots, utilisation, the month's cost and savings."""
    p = model.p
    teams = model.teams
    # One pass over the teams for the (integer) counts: therapists, open cases, funded posts.
    staffed = load = posts = 0
    for t in teams:
        therapists = t.therapists
        staffed += len(therapists)
        for th in therapists:
            load += len(th.cases)
        posts += t.posts
    model.totals["slot_months"] += staffed * p.caseload_cap
    # Utilisation: a moving average of filled caseload slots over funded ones. Families the
    # trial randomised to usual care are not the team's work (001:5095): the trial squeezes.
    funded = posts * p.caseload_cap
    util = min(1.0, load / funded) if funded else 0.0
    model.utilisation += (util - model.utilisation) / 6.0
    if 13 <= model.month <= 24 and not model.cal.trial_randomising and teams:
        first = teams[0]
        slots = first.posts * p.caseload_cap
        model.year2_use.append(min(1.0, first.caseload / slots) if slots else 0.0)
    model.cost_month = model.annual_cost() / 12.0
    model.totals["cost"] += model.cost_month
    model.totals["savings"] += model.savings_month
