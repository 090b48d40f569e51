"""Value for money: cost, savings and utilisation accounting (docs/ODD.md §7.17; 001:113).

Draws nothing.
"""

from __future__ import annotations


def account_month(model) -> None:
    """Step 10 (first): filled caseload slots, utilisation, the month's cost and savings."""
    p = model.p
    teams = model.teams
    staffed = sum(len(t.therapists) for t in teams)
    load = sum(t.caseload for t in teams)
    model.totals["slot_months"] += staffed * p.caseload_cap
    # Utilisation: a moving average of filled caseload slots over funded ones. During a trial,
    # families the panel randomised to usual care in the last episode count as demand the
    # service handled (assumption: the LA knows the protocol halves allocation).
    funded = sum(t.posts for t in teams) * p.caseload_cap
    usual_care = model.past_year["usual_care"]
    recent = [usual_care[(model.month - k) % 12] for k in range(int(round(p.episode_months)))]
    util = min(1.0, (load + sum(recent)) / funded) if funded else 0.0
    model.utilisation += (util - model.utilisation) / 6.0
    model.cost_month = model.annual_cost() / 12.0
    model.totals["cost"] += model.cost_month
    model.totals["savings"] += model.savings_month
