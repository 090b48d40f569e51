"""Climate: hostility and collaboration, and the toxic trio (docs/ODD.md §7.16). Draws nothing."""

from __future__ import annotations

from sim.numeric import clip


def base_hostility(p, rating: str) -> float:
    """The climate of threat an inspection rating sets (parameters ``ofsted_hostility_*``)."""
    return getattr(p, f"ofsted_hostility_{rating}")


def climate_month(model) -> None:
    """Step 9: hostility and collaboration climate move toward their targets."""
    p = model.p
    changes = sum(model.past_year["changes"])
    depth = 1.0 - model.cal.budget_factor * model.scripted_budget_factor
    target = clip(base_hostility(p, model.ofsted) + 0.6 * depth + 0.05 * changes
                  - 0.3 * (model.collab_climate - 0.5))
    model.hostility += p.climate_adjust_rate * (target - model.hostility)
    # Collaboration is built slowly by sustained joint leadership (partners and informed
    # leaders together) and eroded by churn (001:1677, 001:1710).
    leaders = model.leaders
    knowledge = sum([ld.knowledge for ld in leaders]) / len(leaders) if leaders else 0.0
    climate_target = model.partnership * (0.5 + 0.5 * knowledge) - p.churn_climate_erosion * changes
    model.collab_climate = clip(model.collab_climate
                                + p.climate_adjust_rate * (climate_target - model.collab_climate))
    # Toxic trio: leadership change, weak partnership and dwindling money together (001:1746).
    if changes > 0 and model.partnership < 0.4 and depth > 0.05:
        model.totals["toxic_trio_months"] += 1
