"""The Local Authority model and its environment processes."""

from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.simulate import RunResult, simulate

__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "simulate"]
