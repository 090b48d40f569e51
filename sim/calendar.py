"""The national calendar (docs/ODD.md §3 step 1, §7.12).

Grant taper, austerity, regional structures, competing programmes,
the national research trial and its results (docs/ODD.md §3 step 1, §7.12).
"""

from __future__ import annotations

from dataclasses import dataclass

GRANT_SHARES = (1.0, 0.67, 0.33)  # share of team cost paid by the grant, by financial year (001:1156)
APRIL = 4


def month_index(year: int, month: int) -> int:
    """Months since year 0 for a calendar year and month (1-12)."""
    return year * 12 + (month - 1)


def financial_year(index: int) -> int:
    """The financial year (starting in April) that contains a month index."""
    year, month = divmod(index, 12)
    return year if month + 1 >= APRIL else year - 1


AUSTERITY_START = month_index(2010, 4)
REGIONAL_SUPPORT_END = month_index(2011, 4)
COMPETING_PROGRAMME = month_index(2012, 4)   # Troubled Families
TRIAL_START = month_index(2010, 2)           # national trial randomised Feb 2010 ...
TRIAL_END = month_index(2012, 9)             # ... to Sep 2012 (research B.2)
TRIAL_RESULTS = month_index(2018, 1)         # null result published (research B.2)
TRIAL_MIN_MONTHS = 6                         # a team must have run six months (001:81)

# Calendar states are frozen and depend only on the start, the austerity rate, the month and
# the research trial, so runs share them (every run reads one a month). Bounded: cleared when full.
_STATES: dict[tuple, CalendarState] = {}
_STATES_MAX = 50_000


@dataclass(frozen=True, slots=True)
class CalendarState:
    """What the national context looks like in one month."""

    index: int
    is_april: bool
    grant_share: float
    grant_share_next_year: float
    budget_factor: float
    regional_support_ended: bool
    competing_programme: bool
    trial_randomising: bool
    trial_protocol: bool
    trial_results_out: bool


class Calendar:
    """Maps model months to national events for a run starting at a given calendar month."""

    def __init__(self, start_year: int, start_month: int, austerity_rate: float):
        self.start = month_index(start_year, start_month)
        self.start_fy = financial_year(self.start)
        self.austerity_rate = austerity_rate

    def grant_share_for_fy(self, fy: int) -> float:
        """Grant share of team cost in a financial year (three-year taper from go-live)."""
        k = fy - self.start_fy
        return GRANT_SHARES[k] if 0 <= k < len(GRANT_SHARES) else 0.0

    def austerity_factor(self, index: int) -> float:
        """Real discretionary-budget factor from April 2010 (1.0 before)."""
        if index < AUSTERITY_START:
            return 1.0
        years = financial_year(index) - financial_year(AUSTERITY_START) + 1
        return (1.0 - self.austerity_rate) ** years

    def state(self, month: int, research_trial: bool) -> CalendarState:
        """The national context in model month ``month`` (0 = go-live); memoised."""
        key = (self.start, self.austerity_rate, month, research_trial)
        state = _STATES.get(key)
        if state is None:
            if len(_STATES) >= _STATES_MAX:
                _STATES.clear()
            state = _STATES[key] = self.compute_state(month, research_trial)
        return state

    def compute_state(self, month: int, research_trial: bool) -> CalendarState:
        """The national context in model month ``month``, computed afresh (see :meth:`state`)."""
        idx = self.start + month
        fy = financial_year(idx)
        return CalendarState(
            index=idx,
            is_april=(idx % 12) == APRIL - 1,
            grant_share=self.grant_share_for_fy(fy),
            grant_share_next_year=self.grant_share_for_fy(fy + 1),
            budget_factor=self.austerity_factor(idx),
            regional_support_ended=idx >= REGIONAL_SUPPORT_END,
            competing_programme=idx >= COMPETING_PROGRAMME,
            trial_randomising=(research_trial and TRIAL_START <= idx <= TRIAL_END
                               and month >= TRIAL_MIN_MONTHS),
            # Taking part in the trial was part of the pilot's deal (research B.1): the protocol
            # fixes the service from go-live until randomisation ends (001:5118).
            trial_protocol=research_trial and idx <= TRIAL_END,
            trial_results_out=idx >= TRIAL_RESULTS,
        )

    def label(self, month: int) -> str:
        """Calendar label ``YYYY-MM`` of a model month."""
        y, m = divmod(self.start + month, 12)
        return f"{y:04d}-{m + 1:02d}"
