"""Ensembles, comparisons, calibration, sensitivity analysis, executors and outputs."""
