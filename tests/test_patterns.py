"""Mechanism patterns (MODEL.md §9) beside the outcome patterns, on run tables with known answers.

The model on this branch does not yet record a closure's explanation, so the tests fabricate
the columns of issue 12 (``cause_<group>``, ``utilisation_year2``, the shields at the
supervisor's exit): on synthetic tables for each pattern, and added to a real small validation
ensemble for the combined table, its text and the loss.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.analysis.calibration import (
    CAUSE_COLUMNS,
    LEVER_SITE,
    MECHANISM_PATTERNS,
    MIN_CLOSURES,
    PATTERNS,
    cause_ranks,
    check_patterns,
    explained_closures,
    format_table,
    lever_label,
    lever_survival,
    loss,
    summary_line,
)
from experiments.analysis.readiness import LEVER_OPTIONS
from experiments.jobs.calibrate import validation_variants
from experiments.runner.execute import run_ensemble
from experiments.runner.tasks import make_tasks
from sim.explanation import CAUSE_GROUPS

PATTERN = {(p.site, p.name): p for p in MECHANISM_PATTERNS}


def mechanism(site: str, start: str):
    """The mechanism pattern of ``site`` whose name starts with ``start``."""
    found = [p for (s, name), p in PATTERN.items() if s == site and name.startswith(start)]
    assert len(found) == 1, (site, start)
    return found[0]


def closure(variant: str, month: int = 30, **causes: float) -> dict:
    """A closed run explained by ``causes`` (every other group contributes 0)."""
    row = {"variant": variant, "survived": False, "closure_month": float(month)}
    row.update({f"cause_{g}": float(causes.get(g, 0.0)) for g in CAUSE_GROUPS})
    row["margin_fall"] = sum(causes.values())
    return row


def survivor(variant: str) -> dict:
    """A run that survived: NaN causes, as the spec says."""
    row = {"variant": variant, "survived": True, "closure_month": math.nan}
    row.update({c: math.nan for c in CAUSE_COLUMNS})
    row["margin_fall"] = math.nan
    return row


def table(rows: list[dict], **columns) -> pd.DataFrame:
    """A run table of ``rows`` with extra columns given as lists (one value per row)."""
    df = pd.DataFrame(rows)
    for name, values in columns.items():
        df[name] = values
    return df


# --- cause ranks -------------------------------------------------------------------------------

def test_cause_ranks_ties_share_a_rank_and_non_positive_groups_are_no_cause():
    runs = table([closure("x", grant_taper=0.3, supervisor_departure=0.3, hostility=0.1,
                          evidence=-0.2)])
    ranks = cause_ranks(explained_closures(runs)).iloc[0]
    assert ranks["grant_taper"] == ranks["supervisor_departure"] == 1
    assert ranks["hostility"] == 3
    assert math.isnan(ranks["evidence"]) and math.isnan(ranks["under_use"])  # <= 0: no cause


def test_unexplained_closures_are_left_out_of_the_cause_patterns():
    collapse = closure("isolated_coastal")
    collapse.update({c: math.nan for c in CAUSE_COLUMNS})  # staffing collapse: no decision
    runs = table([closure("isolated_coastal", supervisor_departure=0.5), collapse,
                  survivor("isolated_coastal")])
    assert len(explained_closures(runs)) == 1
    m, ok = mechanism("isolated_coastal", "closures with supervisor").check(runs)
    assert (m.value, m.n, ok) == (1.0, 1, True)


# --- Isolated Coastal --------------------------------------------------------------------------

def test_coastal_supervisor_among_top_two_passes_and_fails():
    pat = mechanism("isolated_coastal", "closures with supervisor")
    v = "isolated_coastal"
    good = table([closure(v, supervisor_departure=0.4, grant_taper=0.3),
                  closure(v, grant_taper=0.4, system_leadership=0.3, hostility=0.1),
                  closure(v, grant_taper=0.5, hostility=0.3, supervisor_departure=0.1)])
    m, ok = pat.check(good)
    assert ok and m.value == pytest.approx(2 / 3) and m.n == 3
    bad = table([closure(v, grant_taper=0.4, hostility=0.3, supervisor_departure=0.2),
                 closure(v, supervisor_departure=0.4),
                 closure(v, budget_cuts=0.5, grant_taper=0.2, system_leadership=-0.1)])
    m, ok = pat.check(bad)
    assert not ok and m.value == pytest.approx(1 / 3)


def test_coastal_half_is_not_most():
    v = "isolated_coastal"
    runs = table([closure(v, supervisor_departure=0.4), closure(v, grant_taper=0.4)])
    m, ok = mechanism(v, "closures with supervisor").check(runs)
    assert m.value == 0.5 and not ok


def test_coastal_year_two_utilisation_counts_closed_runs_that_reached_year_two():
    pat = mechanism("isolated_coastal", "closed runs with year-2")
    v = "isolated_coastal"
    rows = [closure(v) for _ in range(6)] + [survivor(v)]
    # Two of three closed runs with a value are well used; NaN (closed before month 24) and the
    # survivor (however well used) do not count.
    good = table(rows, utilisation_year2=[0.7, 0.6, 0.3, np.nan, np.nan, np.nan, 0.1])
    m, ok = pat.check(good)
    assert ok and m.n == 3 and m.value == pytest.approx(2 / 3)
    assert "3 of 6 closed runs" in m.note
    bad = table(rows, utilisation_year2=[0.7, 0.59, 0.3, np.nan, np.nan, np.nan, 0.9])
    m, ok = pat.check(bad)
    assert not ok and m.value == pytest.approx(1 / 3)


# --- Expanded City -----------------------------------------------------------------------------

def test_expanded_both_shields_among_top_three_passes_and_fails():
    pat = mechanism("expanded_city", "closures with both shields")
    v = "expanded_city"
    good = table([closure(v, leadership_shield=0.3, partnership_shield=0.2, grant_taper=0.25),
                  closure(v, partnership_shield=0.4, leadership_shield=0.1, budget_cuts=0.05),
                  closure(v, leadership_shield=0.5, grant_taper=0.3, hostility=0.2,
                          partnership_shield=0.1)])
    m, ok = pat.check(good)
    assert ok and m.value == pytest.approx(2 / 3)
    # Only one shield in the top three in two of three closures.
    bad = table([closure(v, leadership_shield=0.3, partnership_shield=0.2),
                 closure(v, leadership_shield=0.5, grant_taper=0.3, hostility=0.2,
                         budget_cuts=0.15, partnership_shield=0.1),
                 closure(v, partnership_shield=0.5, grant_taper=0.3, hostility=0.2,
                         budget_cuts=0.15)])
    m, ok = pat.check(bad)
    assert not ok and m.value == pytest.approx(1 / 3)


def test_expanded_supervisor_among_top_three_in_at_least_a_third():
    pat = mechanism("expanded_city", "closures with supervisor")
    v = "expanded_city"
    others = dict(leadership_shield=0.5, partnership_shield=0.4, grant_taper=0.3)
    one_of_three = table([closure(v, **others, supervisor_departure=0.35),
                          closure(v, **others, system_leadership=0.1),
                          closure(v, **others)])
    m, ok = pat.check(one_of_three)
    assert ok and m.value == pytest.approx(1 / 3)  # the boundary holds
    one_of_four = table([closure(v, **others, system_leadership=0.45),
                         closure(v, **others), closure(v, **others), closure(v, **others)])
    m, ok = pat.check(one_of_four)
    assert not ok and m.value == 0.25


# --- Metro City --------------------------------------------------------------------------------

def test_metro_closures_not_driven_by_size_or_under_use():
    pat = mechanism("metro_city", "closures whose top cause")
    v = "metro_city"
    good = [closure(v, leadership_shield=0.4, under_use=0.2) for _ in range(4)] + \
        [closure(v, under_use=0.4), closure(v, service_cost=0.5, evidence=0.1)]
    m, ok = pat.check(table(good + [survivor(v)] * 10))
    assert ok and m.testable and m.n == 6 and m.value == pytest.approx(4 / 6)
    bad = [closure(v, under_use=0.4, leadership_shield=0.2) for _ in range(3)] + \
        [closure(v, service_cost=0.3)] + [closure(v, grant_taper=0.3) for _ in range(2)]
    m, ok = pat.check(table(bad))
    assert not ok and m.value == pytest.approx(2 / 6)


def test_metro_with_few_closures_is_not_testable_and_says_so():
    pat = mechanism("metro_city", "closures whose top cause")
    v = "metro_city"
    rows = [closure(v, under_use=0.5) for _ in range(MIN_CLOSURES - 1)] + [survivor(v)] * 20
    m, ok = pat.check(table(rows))
    assert ok and not m.testable  # all four closures are under-use, yet it passes: untestable
    assert m.n == MIN_CLOSURES - 1
    assert m.note.startswith(f"not testable: {MIN_CLOSURES - 1} explained closure(s) of 24 runs")
    text = format_table(check_patterns_rows(pat, m, ok))
    assert "pass (not testable)" in text and "not testable: 4" in text


def check_patterns_rows(pat, m, ok) -> pd.DataFrame:
    """A one-row pattern table as check_patterns builds it."""
    return pd.DataFrame([{"kind": pat.kind, "site": pat.site, "pattern": pat.name,
                          "target": pat.target, "value": m.value, "low": m.low,
                          "high": m.high, "n": m.n, "unit": pat.unit, "passed": ok,
                          "testable": m.testable, "note": m.note}])


def test_metro_shields_up_through_the_supervisor_turnover():
    pat = mechanism("metro_city", "supervisor exits")
    v = "metro_city"
    rows = [survivor(v) for _ in range(6)]
    # Supervisor left in four runs (NaN: never left); three had a shield up.
    good = table(rows, leadership_shield_at_supervisor_exit=[0.6, 0.2, 0.3, 0.1, np.nan, np.nan],
                 partnership_shield_at_supervisor_exit=[0.1, 0.5, 0.7, 0.2, np.nan, np.nan])
    m, ok = pat.check(good)
    assert ok and m.n == 4 and m.value == 0.75
    bad = table(rows, leadership_shield_at_supervisor_exit=[0.6, 0.2, 0.3, 0.49, np.nan, np.nan],
                partnership_shield_at_supervisor_exit=[0.1, 0.3, 0.2, 0.49, np.nan, np.nan])
    m, ok = pat.check(bad)
    assert not ok and m.value == 0.25


# --- levers ------------------------------------------------------------------------------------

def lever_runs(alive: dict[str, int], n: int = 100) -> pd.DataFrame:
    """``n`` runs per variant of which ``alive[lever]`` are alive at month 60 ("" = the site)."""
    rows = []
    for lever, k in alive.items():
        v = lever_label(LEVER_SITE, lever) if lever else LEVER_SITE
        rows += [{"variant": v, "survived": i < k // 2, "closure_month":
                  math.nan if i < k // 2 else (90.0 if i < k else 20.0)} for i in range(n)]
    return pd.DataFrame(rows)


LEVER = mechanism(LEVER_SITE, "highest P(alive")


def test_no_single_lever_makes_the_failing_site_safe():
    alive = {"": 10} | {name: 10 + 5 * i for i, (name, _, _) in enumerate(LEVER_OPTIONS)}
    alive["programme_manager"] = 79
    runs = pd.concat([lever_runs(alive), table([closure("metro_city")])])  # other sites ignored
    m, ok = LEVER.check(runs)
    assert ok and m.value == 0.79 and m.n == 100
    lines = m.note.splitlines()
    assert len(lines) == 2 + len(LEVER_OPTIONS)  # heading, the site, one line per lever
    assert lines[1].startswith(f"{LEVER_SITE} as described") and "0.10" in lines[1]
    pm = next(x for x in lines if x.startswith("programme_manager"))
    low, high = lever_survival(runs).set_index("lever").loc["programme_manager", ["low", "high"]]
    assert "0.79" in pm and f"{low:.2f}-{high:.2f}" in pm


def test_a_lever_that_makes_the_site_safe_fails_the_pattern():
    m, ok = LEVER.check(lever_runs({"": 10, "succession_planning": 30, "co_funding": 80}))
    assert not ok and m.value == 0.8
    table_ = lever_survival(lever_runs({"": 10, "succession_planning": 30, "co_funding": 80}))
    assert list(table_["lever"]) == ["", "succession_planning", "co_funding"]
    assert list(table_["value"]) == [0.1, 0.3, 0.8]


def test_without_lever_variants_the_lever_pattern_is_not_measured():
    m, ok = LEVER.check(lever_runs({"": 10}))
    assert not ok and math.isnan(m.value) and m.note.startswith("not measured")


def test_missing_columns_fail_with_a_note_rather_than_pass():
    runs = pd.DataFrame([{"variant": "metro_city", "survived": False, "closure_month": 30.0}])
    for pat in MECHANISM_PATTERNS[:-1]:
        m, ok = pat.check(runs.assign(variant=pat.site))
        assert not ok and m.note.startswith("not measured: the run table has no column")


def test_validation_variants_pair_each_lever_with_the_base_site():
    variants = validation_variants()
    labels = [label for label, _ in variants]
    base = dict(variants)[LEVER_SITE]
    levers = [(label, sc) for label, sc in variants if label.startswith(LEVER_SITE + " +")]
    assert [label for label, _ in levers] == [lever_label(LEVER_SITE, n)
                                             for n, _, _ in LEVER_OPTIONS]
    for (label, sc), (name, value, _) in zip(levers, LEVER_OPTIONS, strict=True):
        changed = [f for f in type(base.levers).__dataclass_fields__
                   if getattr(sc.levers, f) != getattr(base.levers, f)]
        assert changed == [name] and getattr(sc.levers, name) == value, label
        assert sc.site == base.site and sc.parameters == base.parameters
    tasks = make_tasks(variants, 3, 7)
    seeds = {}
    for t in tasks:
        seeds.setdefault(t.variant, []).append(t.seed_key)
    assert all(seeds[label] == seeds[LEVER_SITE] for label in labels)  # common random numbers


# --- one table of both kinds -------------------------------------------------------------------

@pytest.fixture(scope="module")
def fabricated_runs():
    """A real small validation ensemble with the issue-12 columns filled with chosen values."""
    runs = run_ensemble(make_tasks(validation_variants(), 4, 31), progress=False).runs.copy()
    closed = ~runs["survived"].astype(bool)
    for c in CAUSE_COLUMNS:
        runs[c] = np.where(closed, 0.0, np.nan)
    # Every closure: shields first, the supervisor's departure third.
    runs.loc[closed, "cause_leadership_shield"] = 0.3
    runs.loc[closed, "cause_partnership_shield"] = 0.2
    runs.loc[closed, "cause_supervisor_departure"] = 0.1
    runs["utilisation_year2"] = 0.7
    runs["leadership_shield_at_supervisor_exit"] = 0.8
    runs["partnership_shield_at_supervisor_exit"] = 0.8
    return runs


def test_check_patterns_returns_both_kinds_in_one_table(fabricated_runs):
    t = check_patterns(fabricated_runs)
    assert list(t["kind"]) == ["outcome"] * (len(PATTERNS) + 1) + \
        ["mechanism"] * len(MECHANISM_PATTERNS)
    mech = t[t["kind"] == "mechanism"].set_index("pattern")
    assert not mech.loc["closures with supervisor exit/system leadership in top 2", "passed"]
    assert mech.loc["closures with supervisor exit/system leadership in top 3", "passed"]
    assert mech.loc["closures with both shields among the top 3 causes", "passed"]
    text = format_table(t)
    assert text.index("Outcome patterns") < text.index("Mechanism patterns")
    assert text.count("site              pattern") == 2
    outcome = t[t["kind"] == "outcome"]
    line = summary_line(t)
    assert line.startswith(f"{int(outcome['passed'].sum())}/{len(outcome)} outcome, "
                           f"{int(mech['passed'].sum())}/{len(mech)} mechanism patterns hold")


def test_loss_weighs_mechanism_patterns_like_outcome_patterns(fabricated_runs):
    t = check_patterns(fabricated_runs)
    outcome_row = t.index[(t["kind"] == "outcome") & (t["unit"] == "share")
                          & t["passed"]][0]
    mech_row = t.index[(t["kind"] == "mechanism") & t["passed"] & t["testable"]][0]
    base = loss(t)
    increments = []
    for i in (outcome_row, mech_row):
        worse = t.copy()
        worse.loc[i, ["value", "passed"]] = [-0.2, False]  # 0.2 (one scale) below any range here
        increments.append(loss(worse) - base)
    lo = {("outcome", p.site, p.name): p.lo for p in PATTERNS} | \
        {("mechanism", p.site, p.name): p.lo for p in MECHANISM_PATTERNS}
    expected = [((lo[tuple(t.loc[i, ["kind", "site", "pattern"]])] + 0.2) / 0.2) ** 2 + 0.3
                for i in (outcome_row, mech_row)]
    assert increments == pytest.approx(expected)
    unmeasured = t.copy()
    unmeasured.loc[mech_row, ["value", "passed"]] = [math.nan, False]
    assert loss(unmeasured) - base == pytest.approx(0.3)


def test_validate_prints_both_kinds_and_counts_them(tmp_path, capsys):
    import run

    out = tmp_path / "v"
    status = run.main(["validate", "--point", "--replicates", "3", "--no-progress", "--out", str(out)])
    text = capsys.readouterr().out
    patterns = pd.read_csv(out / "patterns.csv")
    assert status == (0 if patterns["passed"].all() else 1)
    assert set(patterns["kind"]) == {"outcome", "mechanism"}
    assert (patterns["kind"] == "mechanism").sum() == len(MECHANISM_PATTERNS)
    assert "Outcome patterns" in text and "Mechanism patterns" in text
    assert summary_line(patterns) in text and "mechanism patterns hold" in text
    for name, _, _ in LEVER_OPTIONS:  # each lever's P(alive at 60) printed under its pattern
        assert f"\n{' ' * 19}{name} " in text
    runs = pd.read_csv(out / "runs.csv")
    keys = runs.groupby("variant")["seed_key"].apply(list)
    assert keys[lever_label(LEVER_SITE, "succession_planning")] == keys[LEVER_SITE]
