"""Tables of an ensemble: the result, its format and how a table is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from experiments.errors import ExperimentError
from experiments.files import atomic_write as _atomic_write
from experiments.runner.tasks import FAILURE_COLUMNS

FLOAT_FORMAT = "%.10g"
"""printf format of floats in CSV tables: fixed, so tables are byte-identical across runs."""


@dataclass
class EnsembleResult:
    """What an ensemble produced.

    Attributes:
        runs: One row per finished run, sorted by ``run_id`` (failed runs have no row).
        series: Long monthly series ``(run_id, month, variable, value)``, or None.
        wall_time: Seconds from opening the executor to the last file written.
        files: Paths written, keyed ``"runs"``, ``"series"`` and ``"failures"``.
        failures: One record per failed run (:data:`FAILURE_COLUMNS` and inputs), sorted by
            ``run_id``; empty when every run finished.
        planned: Runs this ensemble (or shard) was asked for.
        reused: Runs taken from the run store of an interrupted attempt (``resume``).

    """

    runs: pd.DataFrame
    series: pd.DataFrame | None
    wall_time: float
    files: dict[str, Path] = field(default_factory=dict)
    failures: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(FAILURE_COLUMNS)))
    planned: int = 0
    reused: int = 0

    @property
    def n_failed(self) -> int:
        """How many runs failed."""
        return int(len(self.failures))


def check_format(fmt: str, writing: bool) -> None:
    """Refuse a table format other than csv or parquet, or parquet without pyarrow."""
    if fmt not in ("csv", "parquet"):
        raise ExperimentError(f"format: {fmt!r} is not supported; use csv or parquet")
    if fmt == "parquet" and writing:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ExperimentError("format parquet needs pyarrow, which is not installed; "
                                  "install it with: pip install -e .[parquet] "
                                  "(or use --format csv)") from None



def write_table(frame: pd.DataFrame, path: Path, fmt: str = "csv") -> Path:
    """Write a table atomically, as CSV with fixed float formatting or as Parquet.

    Args:
        frame: The table.
        path: Destination without suffix handling (the caller chooses the name).
        fmt: ``"csv"`` or ``"parquet"``.

    Returns:
        The path written.

    """
    path = Path(path)
    if fmt == "parquet":
        _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
    else:
        _atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False,
                                                     float_format=FLOAT_FORMAT,
                                                     lineterminator="\n"))
    return path


