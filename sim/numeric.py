"""Small numeric helpers shared by the submodels (no randomness of their own)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable


def clip(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """``x`` limited to ``[lo, hi]``."""
    return lo if x < lo else hi if x > hi else x


def logistic(x: float) -> float:
    """The logistic function, saturated beyond +-40."""
    if x < -40:
        return 0.0
    if x > 40:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


def poisson(r: random.Random, lam: float) -> int:
    """A Poisson draw from stream ``r`` by Knuth's method (small means only)."""
    return poisson_draw(r.random, lam)


def poisson_draw(random_: Callable[[], float], lam: float) -> int:
    """:func:`poisson` given a stream's bound ``random`` method (the same draws)."""
    if lam <= 0:
        return 0
    limit, k, prod = math.exp(-lam), 0, random_()
    while prod > limit:
        k += 1
        prod *= random_()
    return k


def fill_time(r: random.Random, mean: float) -> int:
    """Months until a post is filled: exponential with ``mean``, at least one (stream ``r``)."""
    return max(1, math.ceil(r.expovariate(1.0 / mean)))
