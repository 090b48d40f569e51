"""Buffers against pressure and the cut-before-close rule, on the decision functions (ODD §7.13).

Property tests of :func:`sim.processes.buffers.margin_of` and
:func:`sim.processes.closure.decision_rule` over random inputs and random parameters drawn
inside their registry ranges (MODEL.md §5.1): buffers stand in for one another, exposure stays
between its floor and 1, the margin falls with every pressure term and rises with every buffer,
under-use pressure is bounded, and a negative margin cuts before it closes.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mechanism_helpers import make_model

from sim.numeric import logistic
from sim.parameters import PARAMETER_INDEX, mechanism_params
from sim.processes import buffers, closure

BUFFERS = ("leadership", "partnership", "system")
GAMMA = {"leadership": "gamma_leadership", "partnership": "gamma_partnership",
         "system": "gamma_system"}
# The parameters of the margin, drawn anywhere inside their plausible ranges.
MARGIN_PARAMS = ("exposure_floor", "gamma_leadership", "gamma_partnership", "gamma_system",
                 "status_quo", "w_evidence", "w_embedded", "burden_elasticity", "cut_elasticity",
                 "hostility_pressure", "opposition_pressure", "under_use_weight",
                 "unit_cost_penalty")


def in_range(name):
    q = PARAMETER_INDEX[name]
    return st.floats(q.low, q.high, allow_nan=False)


params = st.fixed_dictionaries({n: in_range(n) for n in MARGIN_PARAMS}).map(mechanism_params)
unit = st.floats(0.0, 1.0, allow_nan=False)
inputs = st.fixed_dictionaries({
    "leadership": unit, "partnership": unit, "system": unit,
    "evidence": st.floats(-1.0, 1.0), "embeddedness": unit,
    "grant_share": unit, "co_funding": st.floats(0.0, 0.5), "review": st.sampled_from([0.0, 1.0]),
    "review_extra": st.floats(0.0, 1.0), "cost": st.floats(50_000.0, 2_000_000.0),
    "budget_factor": st.floats(0.4, 1.2), "hostility": unit, "opposition": st.floats(0.0, 3.0),
    "under_use": unit, "unit_cost": st.floats(0.0, 2.0), "size": st.floats(0.1, 5.0),
})
FEW = settings(max_examples=300, deadline=None)


def with_(x, **changes):
    return {**x, **changes}


# ------------------------------------------------------------------ buffers stand in for one another
@FEW
@given(x=inputs, p=params, j=st.sampled_from(BUFFERS), lo=unit, hi=unit,
       weak=st.floats(0.0, 0.95), gap=st.floats(0.05, 1.0))
def test_a_buffer_is_worth_more_when_the_other_buffers_are_weak(x, p, j, lo, hi, weak, gap):
    lo, hi = min(lo, hi), max(lo, hi)
    strong = min(1.0, weak + gap)
    others = [k for k in BUFFERS if k != j]

    def value(level):
        base = with_(x, **{k: level for k in others})
        return (buffers.margin_of(with_(base, **{j: hi}), p)
                - buffers.margin_of(with_(base, **{j: lo}), p))

    v_weak, v_strong = value(weak), value(strong)
    assert v_weak >= v_strong - 1e-12
    assert v_strong >= -1e-12  # a stronger buffer never hurts
    pressure = buffers.pressure_of(x, p)
    if pressure > 1e-3 and hi - lo >= 0.05 and all(getattr(p, GAMMA[k]) > 0 for k in others):
        assert v_weak > v_strong


def test_substitution_known_answer():
    """One strong buffer keeps most pressure off; with all three weak the full pressure lands."""
    p = mechanism_params({"exposure_floor": 0.1, "gamma_leadership": 1.0,
                          "gamma_partnership": 1.0, "gamma_system": 1.0})
    x = {"leadership": 0.0, "partnership": 0.0, "system": 0.0}
    assert buffers.exposure_of(x, p) == pytest.approx(1.0)
    assert buffers.exposure_of(with_(x, leadership=0.9), p) == pytest.approx(0.1 + 0.9 * 0.1)
    assert buffers.exposure_of(with_(x, leadership=0.5, partnership=0.5), p) == pytest.approx(
        0.1 + 0.9 * 0.25)


@FEW
@given(x=inputs, p=params)
def test_exposure_lies_between_its_floor_and_one(x, p):
    e = buffers.exposure_of(x, p)
    assert p.exposure_floor - 1e-12 <= e <= 1.0 + 1e-12
    assert buffers.exposure_of(with_(x, leadership=0.0, partnership=0.0, system=0.0),
                               p) == pytest.approx(1.0)
    assert buffers.exposure_of(with_(x, leadership=1.0), p) == pytest.approx(p.exposure_floor)


# Each pressure input and the direction in which it raises pressure (+1: more is worse).
PRESSURE_TERMS = {"cost": +1, "hostility": +1, "opposition": +1, "under_use": +1,
                  "unit_cost": +1, "review_extra": +1, "review": +1,
                  "budget_factor": -1, "grant_share": -1, "co_funding": -1}
# Terms whose weight is positive everywhere in the registry ranges: the margin falls strictly.
STRICT = ("opposition", "under_use", "review_extra")


@FEW
@given(x=inputs, p=params, term=st.sampled_from(sorted(PRESSURE_TERMS)),
       step=st.floats(0.01, 0.5))
def test_the_margin_falls_with_every_pressure_term(x, p, term, step):
    sign = PRESSURE_TERMS[term]
    if term == "review":
        worse = with_(x, review=1.0)
        x = with_(x, review=0.0)
    elif term in ("cost", "budget_factor"):  # positive quantities: scaled, not shifted
        worse = with_(x, **{term: x[term] * (1.0 + sign * step)})
    else:  # shares and levels stay within 0-1 (opposition and unit cost are unbounded above)
        top = 1.0 if term in ("grant_share", "hostility", "under_use") else float("inf")
        worse = with_(x, **{term: min(top, max(0.0, x[term] + sign * step))})
    m, m_worse = buffers.margin_of(x, p), buffers.margin_of(worse, p)
    assert m_worse <= m + 1e-12
    if term in STRICT and abs(worse[term] - x[term]) > 1e-6:
        assert m_worse < m


@FEW
@given(x=inputs, p=params, j=st.sampled_from(BUFFERS), step=st.floats(0.01, 1.0))
def test_the_margin_rises_with_each_buffer(x, p, j, step):
    better = with_(x, **{j: min(1.0, x[j] + step)})
    assert buffers.margin_of(better, p) >= buffers.margin_of(x, p) - 1e-12
    assert buffers.reserve_of(better, p) == buffers.reserve_of(x, p)


@FEW
@given(x=inputs, p=params)
def test_under_use_pressure_is_bounded_by_its_weight(x, p):
    extra = (buffers.pressure_of(with_(x, under_use=1.0), p)
             - buffers.pressure_of(with_(x, under_use=0.0), p))
    assert extra == pytest.approx(p.under_use_weight)
    assert (buffers.pressure_of(x, p) - buffers.pressure_of(with_(x, under_use=0.0), p)
            <= p.under_use_weight + 1e-12)


@pytest.mark.parametrize(("use", "expected"), [(0.0, 1.0), (0.375, 0.5), (0.75, 0.0), (1.0, 0.0)])
def test_under_use_of_the_standing_is_a_share_and_nil_when_the_team_performs_well(use, expected):
    m = make_model()
    m.utilisation = use
    assert m.standing(0.5).under_use == pytest.approx(expected)


# ------------------------------------------------------------------ cut before close
margins = st.floats(-5.0, 5.0, allow_nan=False)
close_margins = in_range("close_margin")
scales = in_range("decision_scale")
draws = st.floats(0.0, 1.0, exclude_max=True)


@settings(max_examples=500, deadline=None)
@given(margin=margins, can_cut=st.booleans(), close_margin=close_margins, scale=scales, u=draws)
def test_cut_before_close(margin, can_cut, close_margin, scale, u):
    outcome = closure.decision_rule(margin, can_cut, close_margin, scale, u)
    prob = logistic((close_margin - margin) / scale)
    if margin >= 0.0:
        assert outcome == closure.CONTINUE
    elif margin >= close_margin and can_cut:
        assert outcome == closure.CUT  # a small negative margin never closes a service that can cut
    elif u < prob:
        assert outcome == closure.CLOSE
    else:
        assert outcome == (closure.CUT if can_cut else closure.CONTINUE)


@settings(max_examples=200, deadline=None)
@given(margin=st.floats(-3.0, -1e-6), can_cut=st.booleans(), close_margin=close_margins,
       scale=scales)
def test_the_closure_probability_is_logistic_in_the_margin(margin, can_cut, close_margin, scale):
    """The draw threshold is where the outcome switches from close to not close."""
    if can_cut and margin >= close_margin:
        return  # the cut band: no draw decides it (tested above)
    prob = logistic((close_margin - margin) / scale)
    assert prob == pytest.approx(1.0 / (1.0 + math.exp(-(close_margin - margin) / scale)))
    below, above = prob * (1 - 1e-9) - 1e-12, min(prob * (1 + 1e-9) + 1e-12, 1.0)
    if below >= 0.0:
        assert closure.decision_rule(margin, can_cut, close_margin, scale, below) == closure.CLOSE
    if above < 1.0:
        assert closure.decision_rule(margin, can_cut, close_margin, scale, above) != closure.CLOSE


def test_the_decision_bands_known_answers():
    rule = closure.decision_rule
    assert rule(0.0, False, -0.5, 0.1, 0.0) == closure.CONTINUE
    assert rule(-0.2, True, -0.5, 0.1, 0.0) == closure.CUT
    assert rule(-0.2, False, -0.5, 0.1, 0.04) == closure.CLOSE     # logistic(-3) = 0.047
    assert rule(-0.2, False, -0.5, 0.1, 0.05) == closure.CONTINUE
    assert rule(-0.8, True, -0.5, 0.1, 0.95) == closure.CLOSE      # logistic(3) = 0.953
    assert rule(-0.8, True, -0.5, 0.1, 0.96) == closure.CUT


# ------------------------------------------------------------------ savings in the evidence
def _evidence_at(m, savings_per_cost):
    m.totals["cost"] = 400_000.0
    m.totals["savings"] = savings_per_cost * 400_000.0
    return m.evidence()


def test_placement_savings_raise_the_evidence_when_fed_back():
    m = make_model(levers={"local_outcome_feedback": True}, savings_evidence=0.5)
    low, even, high = (_evidence_at(m, r) for r in (0.5, 1.0, 1.5))
    assert low < even < high
    assert high - low == pytest.approx(0.5 * (0.5 - (-0.5)))  # savings_evidence x value change
    none = make_model(levers={"local_outcome_feedback": True}, savings_evidence=0.0)
    assert _evidence_at(none, 0.5) == _evidence_at(none, 1.5)


def test_without_feedback_or_a_learning_climate_savings_are_not_seen():
    m = make_model(site={"learning_climate": 0.0}, savings_evidence=1.0,
                   levers={"local_outcome_feedback": False, "learning_climate": False})
    assert m.learning == 0.0
    assert _evidence_at(m, 0.2) == _evidence_at(m, 1.0) == _evidence_at(m, 3.0)
    # A learning climate lets leaders see some of it anyway.
    seen = make_model(site={"learning_climate": 0.8}, savings_evidence=1.0,
                      levers={"local_outcome_feedback": False, "learning_climate": False})
    assert _evidence_at(seen, 0.2) < _evidence_at(seen, 1.0)
