"""Why a service closed: exact Shapley decomposition of the fall of its margin (ODD §7.22).

Known answers of :func:`sim.explanation.shapley`, the exactness of :func:`sim.explanation.explain`
on the model's margin over random decisions, and the explanation of real closures.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from mechanism_helpers import fix_margin, make_model, make_scenario
from test_buffers import inputs, params  # the same random decisions as the buffers' tests

from sim.explanation import CAUSE_GROUPS, EVENT_GROUP, explain, shapley
from sim.model import LocalAuthority
from sim.processes import buffers, closure, leadership


def test_shapley_of_an_additive_function_gives_each_player_its_own_change():
    def f(x):
        return 2.0 * x["a"] - 3.0 * x["b"] + 0.5 * x["c"] + x["d"]

    ref = {"a": 1.0, "b": 2.0, "c": -1.0, "d": 4.0}
    fin = {"a": 3.0, "b": 1.5, "c": 5.0, "d": 4.0}
    out = shapley(f, ref, fin, {"A": ["a"], "B": ["b"], "C": ["c", "d"]})
    assert out["A"] == pytest.approx(4.0)
    assert out["B"] == pytest.approx(1.5)
    assert out["C"] == pytest.approx(3.0)


def test_shapley_of_a_product_splits_the_interaction_symmetrically():
    def f(x):
        return x["x"] * x["y"]

    out = shapley(f, {"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 5.0}, {"X": ["x"], "Y": ["y"]})
    # Each gets its own change at the other's mean: 2 x (2 + 5) / 2 and 3 x (1 + 3) / 2.
    assert out["X"] == pytest.approx(7.0)
    assert out["Y"] == pytest.approx(6.0)
    assert out["X"] + out["Y"] == pytest.approx(15.0 - 2.0)
    # A player whose inputs do not change gets nothing, however the others interact.
    out = shapley(f, {"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 2.0}, {"X": ["x"], "Y": ["y"]})
    assert out == pytest.approx({"X": 4.0, "Y": 0.0})


@settings(max_examples=60, deadline=None)
@given(ref=inputs, fin=inputs, p=params)
def test_the_causes_sum_exactly_to_the_fall_of_the_margin(ref, fin, p):
    size = ref["size"]  # not a cause: the same authority at both decisions
    ref = {k: v for k, v in ref.items() if k != "size"}
    fin = {k: v for k, v in fin.items() if k != "size"}

    def margin(x):
        return buffers.margin_of({**x, "size": size}, p)

    e = explain(margin, ref, fin, buffers.INPUT_GROUPS, reference_month=3, closure_month=40,
                events=[(2, "leader_left"), (3, "grant_step"), (20, "patron_left"),
                        (40, "supervisor_left"), (41, "post_cut")])
    m_ref = buffers.margin_of({**ref, "size": size}, p)
    m_fin = buffers.margin_of({**fin, "size": size}, p)
    assert e.margin_fall == pytest.approx(m_ref - m_fin)
    assert set(e.causes) == set(CAUSE_GROUPS)
    assert sum(e.causes.values()) == pytest.approx(e.margin_fall, abs=1e-9)
    assert e.events == [(20, "patron_left"), (40, "supervisor_left")]


# A small, weakly defended authority that closes at a budget round within a few years.
WEAK = dict(
    site={"population": 100_000, "looked_after_children": 150, "collaboration_history": "low"},
    leaders=[{"role": "chief_executive", "stance": "sceptical"},
             {"role": "director_childrens_services", "stance": "neutral"}],
    partners=[{"agency": "camhs", "commitment": "low"}],
    run={"horizon_months": 72},
    status_quo=0.0, w_embedded=0.1, w_evidence=0.5, close_margin=-0.1, decision_scale=0.05)


def test_a_real_budget_round_closure_is_explained_within_its_window():
    scenario = make_scenario(**WEAK)
    closed = None
    for seed in range(40):
        m = LocalAuthority(scenario, seed)
        m.run()
        if m.closure_cause == "budget_round":
            closed = m
            break
    assert closed is not None, "no seed of the weak scenario closed at a budget round"
    e = closed.explanation
    assert e is not None and e.closure_month == closed.closure_month
    assert e.reference_month < e.closure_month
    assert sum(e.causes.values()) == pytest.approx(e.margin_reference - e.margin_final, abs=1e-9)
    assert e.margin_final < 0.0
    ref_month, ref_standing, ref_margin = closed.reference
    assert ref_month == e.reference_month
    assert e.margin_reference == pytest.approx(ref_margin)
    assert e.margin_reference > 0.0 or e.reference_month == 0  # go-live if nothing positive
    assert all(e.reference_month < month <= e.closure_month for month, _ in e.events)
    window = [(mo, k) for mo, k in closed.cause_log if e.reference_month < mo <= e.closure_month]
    assert e.events == window
    assert all(kind in EVENT_GROUP for _, kind in e.events)


def test_the_reference_is_the_last_positive_decision():
    m = make_model(close_margin=-0.5, decision_scale=0.05)
    team = m.teams[0]
    m.month = 14
    fix_margin(m, 0.3)
    positive = m.standing(0.5)
    assert closure.decide(m, positive, team)[0] == closure.CONTINUE
    assert m.reference == (14, positive, 0.3)
    # A negative decision that does not close (a cut) is not a reference.
    m.month = 20
    fix_margin(m, -0.2)
    assert closure.decide(m, m.standing(0.5), team)[0] == closure.CUT
    assert m.reference[0] == 14 and m.explanation is None
    # Things get worse, then a closing decision.
    m.month = 30
    leadership.leader_exit(m, m.leaders[1])
    fix_margin(m, -50.0)
    final = m.standing(0.0)
    assert closure.decide(m, final, team)[0] == closure.CLOSE
    e = m.explanation
    assert (e.reference_month, e.closure_month) == (14, 30)
    # The explanation uses the model's margin of each standing, not the fixed one.
    assert e.margin_reference == pytest.approx(buffers.margin_of(positive.inputs(), m.p))
    assert e.margin_final == pytest.approx(buffers.margin_of(final.inputs(), m.p))
    assert sum(e.causes.values()) == pytest.approx(e.margin_reference - e.margin_final, abs=1e-9)
    assert e.events == [(30, "leader_left")]  # the window is (14, 30]
    assert e.causes["grant_taper"] > 0.0  # the grant share fell from 0.5 to 0
    assert e.causes["leadership_shield"] > 0.0  # an informed supporter replaced by a newcomer
    assert e.causes["embeddedness"] < 0.0  # sixteen more months operating held it up
