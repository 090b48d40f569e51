"""mesa's step count and clock stay right when the model runs its months without mesa's events."""

from __future__ import annotations

import mesa
from mechanism_helpers import make_scenario

from sim.model import CLOSURE_CAUSES, LocalAuthority


class _PlainModel(mesa.Model):
    """A mesa model with mesa's own step wrapper, the reference for steps and time."""

    def step(self) -> None:
        pass


def test_step_counts_steps_and_time_as_mesa_does():
    plain, model = _PlainModel(rng=1), LocalAuthority(make_scenario(), 1)
    for k in range(1, 4):
        plain.step()
        model.step()
        assert (model.steps, model.time, model.month) == (plain.steps, plain.time, k)
        assert isinstance(model.time, float)


def test_steps_after_closure_count_but_do_not_run_a_month():
    model = LocalAuthority(make_scenario(), 3)
    for _ in range(5):
        model.step()
    model.close(CLOSURE_CAUSES[0])
    model.step()
    model.step()
    assert model.closed and model.month == 5
    assert (model.steps, model.time) == (7, 7.0)


def test_a_subclass_step_runs_on_every_model_step():
    calls = []

    class Counted(LocalAuthority):
        def step(self) -> None:
            calls.append(self.month)
            super().step()

    model = Counted(make_scenario(), 2)
    model.step()
    model.step()
    assert calls == [0, 1] and model.month == 2 and model.steps == 2


def test_manual_steps_and_run_give_the_same_run():
    a, b = LocalAuthority(make_scenario(), 5), LocalAuthority(make_scenario(), 5)
    a.run()
    while b.running and b.month < b.horizon:
        b.step()
    assert (a.month, a.closure_cause, a.totals) == (b.month, b.closure_cause, b.totals)
