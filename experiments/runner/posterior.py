"""The posterior sample: weighted parameter sets, read outside the model (MODEL §11).

Calibration (``python run.py calibrate``, ABC-SMC) writes a few hundred weighted parameter sets
with their provenance to ``calibration/posterior.json``; this module reads and writes that file
and says whether it still belongs to the model. The model itself never reads it: the runner
hands each run its parameter set as scenario overrides (:mod:`experiments.runner.tasks`).

A posterior is **stale** when the model's behaviour digest (:func:`behaviour_digest`) differs
from the one recorded at calibration: every command then says so in one line, and ``validate``
fails until the model is recalibrated.

The file (JSON, one object)::

    {"format": "mst-sustain posterior 1",
     "behaviour_digest": "...",           # of the model that was calibrated
     "parameters": ["name", ...],          # the calibrated parameters, in column order
     "particles": [{"values": [...], "weight": w, "distance": d}, ...],
     "point": i,                           # index of the point set (the best particle)
     "provenance": {...}}                  # command, seeds, code version, threshold, fit

Every parameter not listed keeps its registry default in every set.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from experiments.errors import ExperimentError
from experiments.files import atomic_write_text
from sim.parameters import PARAMETER_INDEX, PARAMETERS

FORMAT = "mst-sustain posterior 1"
"""The ``format`` value of a posterior file this code reads."""

ROOT = Path(__file__).resolve().parents[2]
POSTERIOR_FILE = ROOT / "calibration" / "posterior.json"
"""The committed posterior sample."""

RESAMPLE_KEY = (0, 1)
"""Spawn key of the weighted resampling stream: ``SeedSequence(root, spawn_key=(0, 1))``.

Replicate seeds use one-element keys ``(r,)``, so this stream never coincides with a run's."""


@dataclass(frozen=True)
class Posterior:
    """A weighted sample of parameter sets.

    Attributes:
        names: The calibrated parameters (columns of ``values``).
        values: ``n x len(names)`` parameter values.
        weights: ``n`` importance weights (summing to 1).
        distances: ``n`` distances of each set from the patterns at calibration.
        point: Index of the point set (the best particle, for ``--point``).
        behaviour_digest: :func:`behaviour_digest` of the model that was calibrated.
        provenance: Command, seeds, code version, threshold schedule and fit.
        source: The file it was read from (None if built in memory).
        digest: SHA-256 of the file's bytes (recorded in manifests).

    """

    names: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    point: int
    behaviour_digest: str
    provenance: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    digest: str = ""

    @property
    def size(self) -> int:
        """Number of parameter sets."""
        return len(self.weights)

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size, ``1 / sum(w²)``."""
        return float(1.0 / np.sum(self.weights ** 2))

    def overrides(self, index: int) -> dict[str, float]:
        """Parameter set ``index`` as scenario overrides (whole numbers rounded).

        Raises:
            ExperimentError: If ``index`` is not a set of the sample.

        """
        if isinstance(index, bool) or not 0 <= int(index) < self.size:
            raise ExperimentError(f"--draw: {index} is not a parameter set of the posterior; "
                                  f"allowed 0..{self.size - 1}")
        row = self.values[int(index)]
        out: dict[str, float] = {}
        for name, v in zip(self.names, row, strict=True):
            out[name] = int(round(v)) if PARAMETER_INDEX[name].integer else float(v)
        return out

    def resample(self, root_seed: int, k: int) -> np.ndarray:
        """``k`` set indices drawn with replacement by weight, from the root seed.

        The draws are prefix-stable (the first ``k`` of ``k + 1`` draws are the ``k`` draws), so
        a larger ensemble extends a smaller one, and they depend only on the root seed, so every
        variant of an ensemble gets the same sets (common random numbers).
        """
        rng = np.random.default_rng(np.random.SeedSequence(int(root_seed),
                                                           spawn_key=RESAMPLE_KEY))
        u = rng.random(int(k))
        cdf = np.cumsum(self.weights)
        return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"), self.size - 1)

    def is_stale(self) -> bool:
        """Whether the model changed since calibration (behaviour digests differ)."""
        return self.behaviour_digest != behaviour_digest()

    @property
    def shown_source(self) -> str:
        """Where the sample was read from, relative to the project when inside it."""
        if self.source is None:
            return "(in memory)"
        src = Path(self.source)
        return str(src.relative_to(ROOT) if src.is_absolute() and src.is_relative_to(ROOT)
                   else src)

    def stale_message(self) -> str:
        """The one line every command prints for a stale posterior."""
        return (f"warning: the posterior sample {self.shown_source} was calibrated on another version of "
                f"the model (behaviour digest {self.behaviour_digest[:12]} != "
                f"{behaviour_digest()[:12]}); its results are stale until "
                f"`python run.py calibrate` is run again")

    def to_json(self) -> str:
        """The file's text (what :func:`write_posterior` writes)."""
        particles = [{"values": [float(v) for v in row], "weight": float(w),
                      "distance": float(d)}
                     for row, w, d in zip(self.values, self.weights, self.distances, strict=True)]
        return json.dumps({"format": FORMAT, "behaviour_digest": self.behaviour_digest,
                           "parameters": list(self.names), "point": int(self.point),
                           "provenance": self.provenance, "particles": particles},
                          indent=1, allow_nan=False) + "\n"


def make_posterior(names, values, weights, distances, provenance: dict | None = None,
                   point: int | None = None) -> Posterior:
    """Build a posterior in memory (weights normalised; point = smallest distance by default).

    Raises:
        ExperimentError: On unknown parameters, values outside their ranges, or shapes that
            do not agree.

    """
    names = tuple(names)
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    distances = np.asarray(distances, dtype=float)
    _check(names, values, weights, distances, "posterior")
    w = weights / weights.sum()
    best = int(np.argmin(distances)) if point is None else int(point)
    return Posterior(names, values, w, distances, best, behaviour_digest(), dict(provenance or {}))


def _check(names, values, weights, distances, where: str) -> None:
    unknown = [n for n in names if n not in PARAMETER_INDEX]
    if unknown:
        raise ExperimentError(f"{where}: parameters: unknown parameter(s) {', '.join(unknown)}; "
                              f"allowed: the registry of sim/parameters.py")
    if len(set(names)) != len(names):
        raise ExperimentError(f"{where}: parameters: a parameter is listed twice")
    n = len(weights)
    if n == 0 or values.shape != (n, len(names)) or distances.shape != (n,):
        raise ExperimentError(f"{where}: particles: expected {n} rows of {len(names)} values, a "
                              f"weight and a distance each")
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(weights))
            and np.all(weights >= 0) and weights.sum() > 0):
        raise ExperimentError(f"{where}: particles: values and weights must be finite numbers "
                              f"and the weights non-negative, not all zero")
    for j, name in enumerate(names):
        p = PARAMETER_INDEX[name]
        col = values[:, j]
        if col.min() < p.low - 1e-9 or col.max() > p.high + 1e-9:
            raise ExperimentError(f"{where}: particles: {name} outside its range "
                                  f"[{p.low:g}, {p.high:g}] (the prior)")


def read_posterior(path: Path | str = POSTERIOR_FILE) -> Posterior:
    """Read a posterior file.

    Args:
        path: The file (default: the committed sample).

    Returns:
        The posterior.

    Raises:
        ExperimentError: One line naming the file and what is wrong.

    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no posterior sample here; run `python run.py calibrate` "
                              f"or use --point") from None
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read the posterior sample ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"{path}: not a posterior sample (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ExperimentError(f"{path}: format: expected {FORMAT!r}")
    try:
        names = tuple(data["parameters"])
        parts = data["particles"]
        values = np.array([p["values"] for p in parts], dtype=float).reshape(len(parts), len(names))
        weights = np.array([p["weight"] for p in parts], dtype=float)
        distances = np.array([p["distance"] for p in parts], dtype=float)
        point = int(data["point"])
        digest = str(data["behaviour_digest"])
        provenance = dict(data.get("provenance", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExperimentError(f"{path}: particles: malformed posterior sample ({exc})") from None
    _check(names, values, weights, distances, str(path))
    if not 0 <= point < len(weights):
        raise ExperimentError(f"{path}: point: {point} is not a particle; allowed "
                              f"0..{len(weights) - 1}")
    return Posterior(names, values, weights / weights.sum(), distances, point, digest,
                     provenance, path.resolve(), hashlib.sha256(raw).hexdigest())


def write_posterior(posterior: Posterior, path: Path | str = POSTERIOR_FILE) -> Path:
    """Write a posterior file atomically (the old file stays whole if this fails)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, posterior.to_json())
    return path


# --- is the posterior still the model's? ---------------------------------------------------------

class _StripDocstrings(ast.NodeTransformer):
    """Drop docstrings (comments are already gone from the syntax tree)."""

    def _strip(self, node):
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def canonical_dump(node) -> str:
    """The syntax tree as text, the same on every supported Python version.

    ``ast.dump`` is not: Python 3.13 leaves out fields that are None or empty lists, which
    3.12 prints, so the same source gave two digests. This writes every node as its type and
    its non-empty fields, in the grammar's field order, and ignores positions.
    """
    if isinstance(node, ast.AST):
        parts = [type(node).__name__]
        for name in node._fields:
            value = getattr(node, name, None)
            if value is None or (isinstance(value, list) and not value):
                continue
            parts.append(f"{name}={canonical_dump(value)}")
        return "(" + " ".join(parts) + ")"
    if isinstance(node, list):
        return "[" + ", ".join(canonical_dump(v) for v in node) + "]"
    return repr(node)


def behaviour_digest() -> str:
    """A digest of what decides the model's behaviour, for the posterior's staleness check.

    Unlike :func:`experiments.runner.tasks.model_digest` (which refuses resuming on any change
    of the source), it ignores what cannot change a run: comments, docstrings, the registry's
    labels, sources and reasons, and the Python version (the golden baseline holds on 3.12 and
    3.13). It covers the syntax of every module of ``sim/`` and ``agents/`` except the
    parameter registry, the registry's names, defaults, ranges and types, and the numpy and
    mesa versions. A speed-up that keeps runs bit-identical still changes it when it changes
    the code: recalibrating is then cheap insurance, and the golden baseline says whether the
    behaviour really changed.

    Returns:
        A SHA-256 hex digest (cached for the process).

    """
    return _behaviour_digest()


def _registry_text() -> str:
    return "\n".join(f"{p.name} {p.default!r} {p.low!r} {p.high!r} {p.integer} {p.shape}"
                     for p in PARAMETERS)


_CACHE: dict[str, str] = {}


def _behaviour_digest() -> str:
    if "digest" in _CACHE:
        return _CACHE["digest"]
    import agents
    import sim

    h = hashlib.sha256()
    for package in (sim, agents):
        base = Path(package.__file__).resolve().parent
        for path in sorted(base.rglob("*.py")):
            rel = f"{package.__name__}/{path.relative_to(base).as_posix()}"
            if rel == "sim/parameters.py":
                continue
            tree = _StripDocstrings().visit(ast.parse(path.read_bytes(), filename=rel))
            h.update(f"{rel}\0{canonical_dump(tree)}\0".encode())
    h.update(_registry_text().encode())
    for dist in ("numpy", "mesa"):
        try:
            h.update(f"{dist} {metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist} -\n".encode())
    _CACHE["digest"] = h.hexdigest()
    return _CACHE["digest"]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """Quantiles of a weighted sample (for posterior summaries)."""
    order = np.argsort(values)
    v = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.asarray(qs, dtype=float), cdf, v)


def summary(posterior: Posterior) -> list[dict]:
    """Per-parameter posterior summary: weighted mean, 5/50/95% quantiles and the prior range."""
    rows = []
    for j, name in enumerate(posterior.names):
        p = PARAMETER_INDEX[name]
        col = posterior.values[:, j]
        q05, q50, q95 = weighted_quantiles(col, posterior.weights, (0.05, 0.5, 0.95))
        width = (q95 - q05) / (p.high - p.low) if p.high > p.low else math.nan
        rows.append({"parameter": name, "mean": float(np.dot(col, posterior.weights)),
                     "q05": float(q05), "median": float(q50), "q95": float(q95),
                     "low": p.low, "high": p.high, "width_share": float(width)})
    return rows


# --- which parameter set each replicate runs -----------------------------------------------------

MODES = ("posterior", "point", "defaults")
"""Parameter modes: integrate over the sample, one set of it, or the registry defaults."""

DEFAULT_PER_DRAW = 5
"""Replicates per parameter draw in posterior mode (M of the nested K x M design)."""


@dataclass(frozen=True)
class ParameterPlan:
    """Which parameter set each replicate of an ensemble runs (MODEL §11).

    In ``posterior`` mode replicate ``r`` runs set ``draws[r // per_draw]``, where ``draws`` is
    the weighted resampling of :meth:`Posterior.resample` from the root seed: a nested design of
    K parameter draws x M replicates, from which the law of total variance splits the spread
    into parameter uncertainty and chance. Every variant of an ensemble gets the same sets and
    seeds, so what-ifs stay paired. In ``point`` mode every replicate runs one set of the sample
    (``draw``, or the best particle); in ``defaults`` mode the registry defaults (used when no
    posterior sample exists, and by tests).

    Attributes:
        mode: One of :data:`MODES`.
        posterior: The sample (None in ``defaults`` mode).
        draw: ``point`` mode: the set's index in the sample (None: the best particle).
        per_draw: ``posterior`` mode: replicates per parameter draw (M).

    """

    mode: str = "defaults"
    posterior: Posterior | None = None
    draw: int | None = None
    per_draw: int = DEFAULT_PER_DRAW

    def __post_init__(self):
        if self.mode not in MODES:
            raise ExperimentError(f"parameter mode: {self.mode!r} is not allowed; use "
                                  f"{', '.join(MODES)}")
        if self.mode != "defaults" and self.posterior is None:
            raise ExperimentError(f"parameter mode {self.mode}: needs a posterior sample")
        if isinstance(self.per_draw, bool) or not 1 <= int(self.per_draw) <= 10_000:
            raise ExperimentError(f"--per-draw: {self.per_draw} is not allowed; 1..10000 "
                                  f"replicates per parameter draw")
        if self.mode == "point" and self.draw is not None:
            self.posterior.overrides(self.draw)  # refuses a set outside the sample

    @property
    def point_set(self) -> int:
        """The set a ``point`` plan runs."""
        return self.posterior.point if self.draw is None else int(self.draw)

    def sets(self, replicates: int, root_seed: int) -> list[int]:
        """The set index of each replicate (-1: the registry defaults)."""
        if self.mode == "defaults":
            return [-1] * replicates
        if self.mode == "point":
            return [self.point_set] * replicates
        m = int(self.per_draw)
        draws = self.posterior.resample(root_seed, -(-replicates // m))
        return [int(draws[r // m]) for r in range(replicates)]

    def overrides(self, index: int) -> tuple[tuple[str, float], ...]:
        """Set ``index`` as sorted ``(name, value)`` pairs (empty for -1, the defaults)."""
        if index < 0:
            return ()
        return tuple(sorted(self.posterior.overrides(index).items()))

    def apply(self, scenario, index: int):
        """``scenario`` with set ``index`` under its own overrides (its explicit parameters win).

        Args:
            scenario: A :class:`sim.scenario.Scenario`.
            index: A set of the sample (-1: the registry defaults, ``scenario`` unchanged).

        Returns:
            The scenario the model runs.
        """
        own = dict(scenario.parameters)
        extra = {n: x for n, x in self.overrides(index) if n not in own}
        return scenario.with_parameters(**extra) if extra else scenario

    def label(self, replicates: int | None = None) -> str:
        """How results were made, in words (printed under every table)."""
        if self.mode == "defaults":
            return "the registry defaults (one point; no posterior sample)"
        if self.mode == "point":
            which = "the best particle" if self.draw is None else "a chosen draw"
            return (f"point mode, set {self.point_set} of the posterior sample "
                    f"({which}); intervals are chance alone")
        k = "" if replicates is None else f"{-(-replicates // self.per_draw)} draws x "
        return (f"posterior mode, {k}{self.per_draw} runs per draw from "
                f"{self.posterior.size} weighted sets; intervals cover parameter uncertainty "
                f"and chance")

    def describe(self) -> dict:
        """The manifest's record of the plan."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.posterior is not None:
            out.update({"posterior": str(self.posterior.source or "(in memory)"),
                        "posterior_sha256": self.posterior.digest,
                        "sets": self.posterior.size,
                        "behaviour_digest": self.posterior.behaviour_digest,
                        "stale": self.posterior.is_stale()})
        if self.mode == "point":
            out["set"] = self.point_set
        if self.mode == "posterior":
            out["per_draw"] = int(self.per_draw)
            out["resampling"] = (f"numpy.random.SeedSequence(root_seed, spawn_key={RESAMPLE_KEY})"
                                 f": weighted draws with replacement; replicate r runs draw "
                                 f"r // per_draw")
        return out


def resolve_plan(mode: str | None = None, *, draw: int | None = None,
                 per_draw: int = DEFAULT_PER_DRAW, path: Path | str | None = None,
                 default: str = "posterior", warn=None) -> ParameterPlan:
    """The plan a command runs: from its options, or its default when none is given.

    Without a posterior file the plan falls back to the registry defaults with a warning (a
    fresh clone has the committed sample, so this happens only in a tree without one or with
    ``--posterior`` naming a missing file, which is refused). A stale sample is used with a
    warning (see :meth:`Posterior.stale_message`).

    Args:
        mode: ``posterior``, ``point``, ``defaults`` or None (the command's default).
        draw: A set of the sample (implies ``point``).
        per_draw: Replicates per draw in posterior mode.
        path: A posterior file other than the committed one.
        default: The command's default mode (``posterior`` for ensembles, ``point`` for
            ``simulate`` and the dashboard's stepped run).
        warn: Called with each warning line (default: print to standard error).

    Returns:
        The plan.

    Raises:
        ExperimentError: On a named file that cannot be read, a bad draw or per-draw.

    """
    import sys

    def say(line: str) -> None:
        if warn is None:
            print(line, file=sys.stderr, flush=True)
        else:
            warn(line)

    if draw is not None:
        if mode not in (None, "point"):
            raise ExperimentError(f"--draw: picks one set (point mode); it cannot be combined "
                                  f"with --parameters {mode}")
        mode = "point"
    mode = default if mode is None else mode
    if mode not in MODES:
        raise ExperimentError(f"--parameters: {mode!r} is not allowed; use {', '.join(MODES)}")
    if mode == "defaults":
        return ParameterPlan("defaults", per_draw=per_draw)
    file = POSTERIOR_FILE if path is None else Path(path)
    if path is None and not file.exists():
        say(f"warning: no posterior sample ({file.relative_to(ROOT)}); running the registry "
            f"defaults as one point")
        return ParameterPlan("defaults", per_draw=per_draw)
    posterior = read_posterior(file)
    if posterior.is_stale():
        say(posterior.stale_message())
    return ParameterPlan(mode, posterior, draw, per_draw)
