"""An MST team: a supervisor slot and therapist posts with vacancies (docs/ODD.md §2.3 Team)."""

from __future__ import annotations


class Team:
    """One team of the service.

    Attributes:
        index: 0 for the first team.
        posts: Funded therapist posts.
        supervisor: The supervisor in post (permanent or interim), or None.
        therapists: Therapists in post.
        vacancy_timers: Months until each vacant therapist post is filled.
        supervisor_timer: Months until a permanent supervisor arrives; None if not recruiting.
        months_without_cover: Consecutive months with no supervisor at all.
        months_understaffed: Consecutive months with one therapist or fewer.
        handover: System leadership handed over by a planned succession, if any.
        operating: Has delivered (a supervisor and two therapists in post) at least once.
    """

    def __init__(self, index: int, posts: int):
        self.index = index
        self.posts = posts
        self.supervisor = None
        self.therapists: list = []
        self.vacancy_timers: list[int] = []
        self.supervisor_timer: int | None = None
        self.months_without_cover = 0
        self.months_understaffed = 0
        self.handover: float | None = None
        self.operating = False

    @property
    def vacancies(self) -> int:
        """Funded therapist posts with nobody in them."""
        return self.posts - len(self.therapists)

    def drop_timer(self) -> None:
        """Stop recruiting to one vacant post (the one furthest from being filled)."""
        if self.vacancy_timers:
            self.vacancy_timers.remove(max(self.vacancy_timers))

    @property
    def caseload(self) -> int:
        """Open cases across the team."""
        return sum(len(t.cases) for t in self.therapists)
