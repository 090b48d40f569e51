"""The service's phase, an output (docs/ODD.md §7.20). Draws nothing."""

from __future__ import annotations

PHASES = ("mobilisation", "operational", "research", "post_research", "sustainability")


def advance_phase(model) -> None:
    """Step 1: the phase moves on with treatment, the trial and the end of the grant."""
    cal = model.cal
    phase = model.phase
    if model.totals["treated"] > 0 or model.month >= 3:
        phase = max(phase, 1)
    if cal.trial_randomising:
        phase = max(phase, 2)
    elif phase == 2:
        phase = 3
    if cal.grant_share == 0.0 and not cal.trial_randomising and phase >= 1:
        phase = max(phase, 4)
    model.phase = phase
