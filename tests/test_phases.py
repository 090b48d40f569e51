"""Progress by phase: the steps of a job, its runs as they finish, and the commands' lines."""

from __future__ import annotations

import pytest

import run
from experiments.runner.execute import run_ensemble
from experiments.runner.phases import Phases, ProgressState
from experiments.runner.tasks import RunOutcome, make_tasks
from sim.scenario import load_scenario


def test_state_text_names_the_phase_and_its_runs():
    s = ProgressState(index=2, steps=4, name="drivers", done=340, total=800, runs_done=640,
                      runs_total=1100)
    assert s.text == "phase 2/4: drivers, 340/800 runs"
    assert ProgressState(4, 4, "report", 0, 0, 10, 10).text == "phase 4/4: report"
    assert s.fraction == pytest.approx(640 / 1100)


def test_a_phase_is_done_when_all_its_runs_are_in_whatever_the_order(capsys):
    seen, done = [], []
    p = Phases([("outlook", 3), ("levers", 2), ("report", 0)], on_progress=seen.append,
               on_phase_done=lambda name, rows: done.append((name, [r["run_id"] for r in rows])),
               echo=True, title="Mine")
    assert p.text == "Mine: phase 1/3: outlook, 0/3 runs"
    p.finished([RunOutcome(3, row={"run_id": 3}), RunOutcome(0, row={"run_id": 0})])
    assert p.text == "Mine: phase 1/3: outlook, 1/3 runs" and done == []
    p.finished([RunOutcome(2, row={"run_id": 2}), RunOutcome(1, failure={"run_id": 1})])
    assert done == [("outlook", [0, 2])]  # a failed run counts as finished, without a row
    assert p.text == "Mine: phase 2/3: levers, 1/2 runs"
    p.finished([4])
    assert done[-1] == ("levers", [3]) and seen[-1].runs_done == 5
    p.begin("report")
    assert capsys.readouterr().err == "Mine: phase 3/3: report\n"
    assert seen[-1].text == "phase 3/3: report"


def test_phases_refuse_bad_steps():
    with pytest.raises(ValueError):
        Phases([])
    with pytest.raises(ValueError):
        Phases([("a", 1), ("a", 2)])
    with pytest.raises(ValueError):
        Phases([("a", -1)])


def test_the_ensemble_reports_each_phase_and_a_listener_can_stop_it():
    sc = load_scenario("scenarios/template.toml")
    tasks = make_tasks([("a", sc), ("b", sc)], 3, 1)
    done = []
    phases = Phases([("first", 3), ("second", 3)],
                    on_phase_done=lambda name, rows: done.append((name, len(rows))))
    result = run_ensemble(tasks, progress=False, phases=phases)
    assert done == [("first", 3), ("second", 3)] and len(result.runs) == 6

    class Stop(Exception):
        pass

    def stop(name, rows):
        raise Stop(name)

    with pytest.raises(Stop):
        run_ensemble(tasks, progress=False, phases=Phases([("first", 3), ("second", 3)],
                                                          on_phase_done=stop))


def test_assess_prints_its_phases_and_ends_with_the_report(tmp_path, capsys):
    code = run.main(["assess", "scenarios/template.toml", "--replicates", "2",
                     "--trajectories", "2", "--screen-replicates", "1", "--out",
                     str(tmp_path / "a")])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out.rstrip("\n").splitlines()[-1] == f"report: {tmp_path / 'a' / 'report.html'}"
    # not a terminal: no bar, and no phase lines on standard error
    assert "phase" not in captured.err


def test_assess_listener_hears_every_part_in_order(tmp_path):
    from experiments.jobs.assess import assess_job
    from experiments.jobs.common import JobOptions

    heard = []
    opts = JobOptions(replicates=2, seed=4, out=str(tmp_path / "a"), progress=False)
    assess_job(["scenarios/template.toml"], opts, trajectories=2, screen_replicates=1,
               listener=lambda kind, value: heard.append(kind))
    parts = [k for k in heard if k != "progress"]
    assert parts == ["outlook", "levers", "drivers", "assessment"]
    assert heard.index("outlook") < heard.index("levers")


@pytest.mark.parametrize("argv", [
    ["sensitivity", "scenarios/template.toml", "--method", "morris", "--n", "2",
     "--replicates", "1", "--factors", "supervisor_exit_rate,gamma_system", "--resamples",
     "20"],
    ["interact", "scenarios/template.toml", "--replicates", "2", "--stressor", "budget_cut"],
])
def test_commands_that_write_a_report_end_with_its_line(tmp_path, capsys, argv):
    out = tmp_path / "x"
    assert run.main([*argv, "--no-progress", "--out", str(out)]) == 0
    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    assert last == f"report: {out / 'report.html'}"


def test_a_busy_port_gets_one_line_suggesting_port_0(capsys):
    import socket

    from dashboard.ports import port_problem

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert "--port 0" in port_problem("127.0.0.1", port)
        assert run.main(["dashboard", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use" in err and "--port 0" in err
    assert port_problem("127.0.0.1", 0) is None


def test_the_app_refuses_a_busy_port_in_one_line(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert run.main(["app", "--port", str(s.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: app: port") and err.count("\n") == 1 and "--port 0" in err
