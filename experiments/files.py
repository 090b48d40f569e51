"""Durable atomic files: the one way every writer in ``experiments`` puts a file on disk.

:func:`atomic_write` writes through a temporary file in the destination's folder, fsyncs it,
renames it into place with ``os.replace`` and fsyncs the folder, so a reader (or a crash) sees
the old file or the new one, never half of one. Every temporary file is named
``.<name>.<12 hex digits>.tmp`` (:func:`temporary_name`), the one pattern that
:func:`remove_stale_temporaries` and :data:`TEMPORARY` match, whatever is written (tables, text,
figures, manifests).
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
"""Names of the temporary files of :func:`atomic_write` (see :func:`temporary_name`)."""

KILL_AFTER_WRITES = "MST_TEST_KILL_AFTER_WRITES"
"""Test-only: with this environment variable set to N, the process kills itself (SIGKILL)
right after its N-th completed atomic write, so tests can crash a job at every point of its
finishing (tables, figures, report, manifest). Never set outside the test suite."""

_writes = 0


def count_write() -> None:
    """Count one completed atomic write (and apply the test-only :data:`KILL_AFTER_WRITES`)."""
    global _writes
    limit = os.environ.get(KILL_AFTER_WRITES)
    if not limit:
        return
    _writes += 1
    if _writes == int(limit):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def temporary_name(path: Path) -> Path:
    """Return a unique hidden name next to ``path`` for an atomic write.

    The file is created by the writer, so it gets the usual permissions (umask), unlike
    ``tempfile.mkstemp``'s owner-only files.

    Args:
        path: The final path.

    Returns:
        ``.<name>.<random>.tmp`` in the same folder (so ``os.replace`` is atomic).

    """
    path = Path(path)
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def fsync_file(path: Path) -> None:
    """Flush a written file's data to disk.

    Args:
        path: The file.

    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable; a no-op where unsupported.

    Args:
        path: The folder.

    """
    if sys.platform.startswith("win"):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write a file durably and atomically through ``write(tmp)``.

    Args:
        path: The final path (its folder is created if needed).
        write: Writes the whole file to the temporary path it is given.

    Returns:
        ``path``.

    Raises:
        OSError: If the file cannot be written (a full disk, no permission); its
            ``filename`` is ``path``, never the temporary name (which is removed), so the
            one-line message of the command line names the file the user knows.

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    count_write()
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text durably and atomically (no newline translation).

    Args:
        path: The final path.
        text: The whole text.

    Returns:
        ``path``.

    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    return atomic_write(path, write)


def atomic_save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure as PNG (120 dpi, tight box) durably and atomically.

    Args:
        fig: The figure.
        path: The final ``.png`` path.

    Returns:
        ``path``.

    """
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120,
                                                      bbox_inches="tight"))


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files left by an atomic write that was killed (``.NAME.XXXX.tmp``).

    Args:
        folder: The output folder.

    Returns:
        How many were removed.

    """
    n = 0
    for p in Path(folder).iterdir():
        if p.is_file() and TEMPORARY.match(p.name):
            p.unlink(missing_ok=True)
            n += 1
    return n


def atomic_write_csv(frame, path: Path, **to_csv) -> Path:
    """Write a pandas table as CSV durably and atomically.

    Args:
        frame: The DataFrame.
        path: The final path.
        **to_csv: Arguments of ``DataFrame.to_csv`` (``index``, ``float_format``, ...).

    Returns:
        ``path``.

    """
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, **to_csv))
