"""The executor seam: where an ensemble's runs execute.

Every ensemble goes through one :class:`concurrent.futures.Executor`, chosen by
:func:`open_executor`:

- ``workers=1``: :class:`InlineExecutor`, which runs each call at once in this process;
- ``workers>1``: a :class:`~concurrent.futures.ProcessPoolExecutor` on this machine;
- ``dask_scheduler="tcp://host:port"``: the executor of a Dask ``distributed.Client`` connected
  to that scheduler (optional extra ``pip install -e .[distributed]``).

The model code knows nothing about any of them: the executor only ever receives the
module-level, picklable chunk function of :mod:`experiments.ensemble`.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

MAX_WORKERS = 256


class InlineExecutor(Executor):
    """A serial executor: ``submit`` runs the call immediately and returns a completed future.

    Exceptions raised by the call are stored in the future, as a real executor would do, so
    callers handle serial and parallel runs the same way.
    """

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Run ``fn(*args, **kwargs)`` now and return its completed future.

        Args:
            fn: The callable.
            *args: Positional arguments for ``fn``.
            **kwargs: Keyword arguments for ``fn``.

        Returns:
            A future that is already done (with a result or an exception).

        Raises:
            RuntimeError: If the executor has been shut down.

        """
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - stored in the future, like a pool does
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further submissions (nothing is ever pending)."""
        self._shutdown = True


def _error(message: str) -> Exception:
    # Imported here: experiments.ensemble imports this module.
    from experiments.ensemble import ExperimentError

    return ExperimentError(message)


def check_workers(workers) -> int:
    """Validate a worker count.

    Args:
        workers: The requested number of worker processes.

    Returns:
        The count, as an int.

    Raises:
        ExperimentError: If it is not a whole number from 1 to 256.

    """
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise _error(f"workers: expected a whole number from 1 to {MAX_WORKERS}, "
                     f"got {workers!r}")
    if not 1 <= workers <= MAX_WORKERS:
        raise _error(f"workers: {workers} is out of range; allowed 1..{MAX_WORKERS} "
                     f"(1 runs serially in this process)")
    return workers


def process_context() -> multiprocessing.context.BaseContext:
    """Choose the start method for local worker processes.

    - ``fork`` on Linux when this process runs no other Python thread: workers start in
      milliseconds and inherit the imported model.
    - ``forkserver`` on Linux when other threads run (a Dask client, a progress monitor):
      forking a threaded process can deadlock (Python 3.12 warns about it), so workers are
      forked from a clean server process instead, which preloads the model once (its first
      pool takes about a second, later pools milliseconds).
    - ``spawn`` elsewhere (macOS, Windows).

    Returns:
        A multiprocessing context.

    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux"):
        if "fork" in methods and threading.active_count() == 1:
            return multiprocessing.get_context("fork")
        if "forkserver" in methods:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["experiments.ensemble"])
            return ctx
    return multiprocessing.get_context("spawn")


@contextmanager
def open_executor(workers: int = 1, dask_scheduler: str | None = None) -> Iterator[Executor]:
    """Open the executor an ensemble runs on, and close it afterwards.

    Args:
        workers: 1 for serial runs in this process, 2..256 for a local process pool. Ignored
            when ``dask_scheduler`` is given (the cluster decides).
        dask_scheduler: Address of a running Dask scheduler (``tcp://host:port``), or None.

    Yields:
        A :class:`concurrent.futures.Executor`.

    Raises:
        ExperimentError: On a bad worker count, if ``distributed`` is not installed, or if the
            scheduler cannot be reached.

    """
    workers = check_workers(workers)
    if dask_scheduler is not None:
        with _dask_executor(dask_scheduler) as executor:
            yield executor
        return
    if workers == 1:
        executor: Executor = InlineExecutor()
    else:
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=process_context())
    try:
        yield executor
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        executor.shutdown(wait=True)


@contextmanager
def _dask_executor(address: str) -> Iterator[Executor]:
    if not isinstance(address, str) or not address.strip():
        raise _error(f"dask scheduler: expected an address such as tcp://127.0.0.1:8786, "
                     f"got {address!r}")
    try:
        import distributed
    except ImportError:
        raise _error("a Dask scheduler was given but the 'distributed' package is not "
                     "installed; install it with: pip install -e .[distributed]") from None
    try:
        client = distributed.Client(address.strip(), timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise _error(f"dask scheduler: cannot connect to {address}: {exc}") from None
    try:
        # pure=False: every chunk is submitted once; no hashing of its arguments is needed.
        executor = client.get_executor(pure=False)
        try:
            yield executor
        finally:
            executor.shutdown(wait=False)
    finally:
        client.close()


def parallelism(executor: Executor) -> int:
    """How many chunks the executor can run at once (used to size chunks).

    Args:
        executor: An executor from :func:`open_executor`.

    Returns:
        1 for the inline executor, the pool size for a process pool, the total number of
        worker threads for a Dask cluster (at least 1).

    """
    if isinstance(executor, InlineExecutor):
        return 1
    if isinstance(executor, ProcessPoolExecutor):
        return max(1, int(getattr(executor, "_max_workers", 1)))
    client = getattr(executor, "_client", None)
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - sizing is only a hint
            return 1
    return 1
