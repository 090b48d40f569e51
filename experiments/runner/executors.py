"""The executor seam: where an ensemble's runs execute.

Every ensemble goes through one :class:`concurrent.futures.Executor`, chosen by
:func:`open_backend` (or :func:`open_executor`, which yields the bare executor):

- ``workers=1``: :class:`InlineExecutor`, which runs each call at once in this process;
- ``workers>1``: a :class:`~concurrent.futures.ProcessPoolExecutor` on this machine (workers
  started by a fork server, never forked from this process; :func:`process_context`), whose
  workers die with the main process (even after ``kill -9``) and which is replaced by a fresh
  pool if a worker crashes (:meth:`Backend.restart`);
- ``dask_scheduler="tcp://host:port"``: a :class:`DaskExecutor` over a Dask
  ``distributed.Client`` connected to that scheduler (optional extra
  ``pip install -e .[distributed]``); a worker that dies has its tasks rerun elsewhere, and
  :meth:`Backend.problem` notices a lost scheduler or a cluster left without workers.

The model code knows nothing about any of them: the executor only ever receives the
module-level, picklable chunk function of :mod:`experiments.runner.tasks`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

from experiments.errors import ExperimentError

MAX_WORKERS = 256

NO_WORKERS_TIMEOUT = 1800.0
"""Seconds a Dask cluster may have no worker at all before an ensemble stops (resumable).

Long enough for a batch queue to start replacement workers (dask-jobqueue, Kubernetes)."""


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


def _settler(future: Future):
    """A done-callback for a Dask future that settles ``future`` with its outcome.

    Dask runs it in a thread of its own once the remote task finished, erred or was cancelled;
    ``remote.result()`` (public API) then gathers the result, waiting through any rescheduling,
    and a failure of any kind becomes ``future``'s exception.
    """
    def settle(remote) -> None:
        try:
            result = remote.result()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting side
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)

    return settle


class DaskExecutor(Executor):
    """A :class:`concurrent.futures.Executor` over a Dask ``distributed.Client``.

    Like ``Client.get_executor(pure=False)``, but every future completes: Dask's own adapter
    (distributed 2026.8) leaves a future pending for ever when a finished result is lost with
    its worker and gathering it then fails (``KilledWorker`` raised while rescheduling). Here
    each remote future gets a done-callback (public ``Future.add_done_callback``) that gathers
    its result and turns any failure into the future's exception, so the ensemble runner can
    retry the chunk.
    """

    def __init__(self, client) -> None:
        self._client = client
        self._futures: list = []
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Submit ``fn(*args, **kwargs)`` to the cluster (``pure=False``: never deduplicated).

        Args:
            fn: A picklable, module-level callable.
            *args: Positional arguments for ``fn``.
            **kwargs: Keyword arguments for ``fn``.

        Returns:
            A future that completes with the result or the exception.

        Raises:
            RuntimeError: If the executor has been shut down.

        """
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future = Future()
        remote = self._client.submit(fn, *args, pure=False, **kwargs)
        self._futures = [f for f in self._futures if not f.done()] + [remote]
        remote.add_done_callback(_settler(future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further work; cancel what is still queued when ``cancel_futures``."""
        self._shutdown = True
        if cancel_futures or not wait:
            pending = [f for f in self._futures if not f.done()]
            if pending:
                self._client.cancel(pending)
        self._futures = []


def _error(message: str) -> Exception:
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


def _process_pool(workers: int) -> ProcessPoolExecutor:
    ctx = process_context()
    if ctx.get_start_method() == "forkserver":
        start_forkserver()
    # A forked worker's parent is this process; a forkserver's is the server, itself a child.
    parent = os.getpid() if ctx.get_start_method() == "fork" else None
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                               initializer=_worker_started, initargs=(parent,))


def _worker_started(parent: int | None) -> None:
    """Initializer of local worker processes: die with the main process.

    Pool workers block on a queue whose write end their siblings also hold, so they would
    outlive a main process killed with SIGKILL (holding memory, CPU and inherited files). On
    Linux they ask the kernel for SIGKILL when their parent dies (``PR_SET_PDEATHSIG``).

    A fork server's worker has the server as its parent, and the server lives until every
    holder of its "alive" pipe has closed it: the main process and, since each child is handed
    a copy, every worker. So a worker first closes its copy; the server then ends with the main
    process, and the kernel ends the workers with the server.

    Args:
        parent: Process id of the process that forked this worker, when known.

    """
    _release_forkserver()
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # it died before the request
        os._exit(1)


def _release_forkserver() -> None:
    """Close this worker's copy of the fork server's "alive" pipe, if it was handed one.

    CPython's fork server (3.12, 3.13) gives every child the write end of the pipe on whose
    end-of-file the server exits (``multiprocessing.forkserver._forkserver._forkserver_alive_fd``,
    a private name: absent, this does nothing). A worker never starts processes itself, so it
    does not need it, and holding it keeps the server, and so the worker, alive after the main
    process is killed.
    """
    try:
        from multiprocessing import forkserver
    except ImportError:  # pragma: no cover - platforms without it
        return
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if not isinstance(fd, int) or multiprocessing.parent_process() is None:
        return  # not a child process handed the pipe
    try:
        os.close(fd)
    except OSError:
        pass
    server._forkserver_alive_fd = None


FORKSERVER_PRELOAD = ["experiments.runner.tasks"]
"""Modules the fork server imports once, so that its workers start in milliseconds (the model,
numpy, pandas and scipy: everything the chunk function of :mod:`experiments.runner.tasks`
needs)."""

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "JE_ARROW_MALLOC_CONF": "background_thread:false"}
"""Environment of the fork server: no native thread pools (OpenBLAS, OpenMP, MKL, pyarrow's
jemalloc), so that the one process that forks runs a single thread. The workers inherit it,
which suits processes that each run one model at a time."""

_server_lock = threading.Lock()


def start_forkserver() -> None:
    """Start the fork server (once; again if it died) single-threaded, with the model loaded.

    It is started with :data:`SINGLE_THREADED` in its environment (set only while it starts,
    then restored in this process) and imports :data:`FORKSERVER_PRELOAD`, so each worker it
    forks is ready at once and no process with other threads running is ever forked.
    """
    from multiprocessing import forkserver

    with _server_lock:
        forkserver.set_forkserver_preload(FORKSERVER_PRELOAD)
        saved = {k: os.environ.get(k) for k in SINGLE_THREADED}
        os.environ.update(SINGLE_THREADED)
        try:
            forkserver.ensure_running()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def start_forkserver_early() -> None:
    """Start the fork server now if local pools use one (see :func:`process_context`).

    For a command that will open a process pool: the server's import of the model then runs
    beside this process's own start-up instead of delaying the first pool.
    """
    if process_context().get_start_method() == "forkserver":
        start_forkserver()


def process_context() -> multiprocessing.context.BaseContext:
    """Choose the start method for local worker processes.

    - ``forkserver`` on Linux: workers are forked from a small server process (started by
      :func:`start_forkserver`, single-threaded, with the model preloaded), never from this
      process, which may run threads of its own (numpy's OpenBLAS pool, pyarrow's allocator,
      a Dask client, a progress bar): forking a multi-threaded process can deadlock the child
      (Python 3.12 warns about it, and 3.14 makes ``forkserver`` the default for this reason).
      Its first pool takes a fraction of a second to start the server, later pools
      milliseconds.
    - ``spawn`` elsewhere (macOS, Windows) or where ``forkserver`` is missing.

    Results do not depend on the start method: every run's seed is explicit.

    Returns:
        A multiprocessing context.

    """
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
"""Address schemes a Dask scheduler may use (``tcp`` when none is given)."""

_ADDRESS = re.compile(r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
                      r":(?P<port>\d{1,5})$")


def check_scheduler_address(address) -> str:
    """Validate the address of a Dask scheduler.

    Args:
        address: ``[SCHEME://]HOST:PORT`` with SCHEME one of :data:`SCHEDULER_SCHEMES`, e.g.
            ``tcp://10.0.0.5:8786`` (or any ``inproc://`` address of an in-process cluster).

    Returns:
        The address, stripped.

    Raises:
        ExperimentError: If it is not such an address.

    """
    example = "e.g. tcp://127.0.0.1:8786"
    if not isinstance(address, str) or not address.strip():
        raise _error(f"--dask-scheduler: expected an address such as tcp://HOST:PORT "
                     f"({example}), got {address!r}")
    text = address.strip()
    if text.startswith("inproc://"):
        return text
    m = _ADDRESS.match(text)
    if not m:
        raise _error(f"--dask-scheduler: {text!r} is not an address; use [SCHEME://]HOST:PORT, "
                     f"{example}")
    scheme = m.group("scheme")
    if scheme is not None and scheme not in SCHEDULER_SCHEMES:
        raise _error(f"--dask-scheduler: scheme {scheme!r} is not supported; use one of "
                     f"{', '.join(SCHEDULER_SCHEMES)}")
    port = int(m.group("port"))
    if not 1 <= port <= 65535:
        raise _error(f"--dask-scheduler: port {port} is out of range; allowed 1..65535")
    return text


class Backend:
    """An open executor and what the ensemble runner needs to drive it.

    Attributes:
        kind: ``"inline"``, ``"processes"`` or ``"dask"``.
        executor: The :class:`concurrent.futures.Executor` in use.
        generation: How many times the executor has been replaced (a broken process pool is
            replaced by a fresh one; futures of an older generation are lost).
        client: The Dask client, or None.

    """

    def __init__(self, kind: str, make, client=None, address: str | None = None,
                 workers: int = 1) -> None:
        self.kind = kind
        self._make = make
        self.client = client
        self.address = address
        self.workers = workers
        self.executor: Executor = make()
        self.generation = 0
        self._seen_workers = time.monotonic()

    @property
    def slots(self) -> int:
        """How many chunks can run at once (see :func:`parallelism`)."""
        return parallelism(self.executor)

    def restart(self) -> None:
        """Replace a broken process pool with a fresh one (other executors never break)."""
        if self.kind != "processes":
            return
        try:
            self.executor.shutdown(wait=False, cancel_futures=True)
        except Exception:  # noqa: BLE001 - the old pool is broken anyway
            pass
        self.executor = self._make()
        self.generation += 1

    def healthy(self) -> bool:
        """Whether the executor can still run work (see :meth:`problem`)."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the executor cannot run work any more, or None if it can.

        A Dask client that lost its scheduler, or a cluster without any worker for
        :data:`NO_WORKERS_TIMEOUT` seconds, cannot; local executors always can.
        """
        if self.client is None:
            return None
        if getattr(self.client, "status", "running") != "running":
            return f"the connection to the Dask scheduler at {self.address} was lost"
        try:
            workers = len(self.client.nthreads())
        except Exception as exc:  # noqa: BLE001 - any failure to ask means no scheduler
            return f"the Dask scheduler at {self.address} does not answer ({exc})"
        now = time.monotonic()
        if workers:
            self._seen_workers = now
        elif now - self._seen_workers > NO_WORKERS_TIMEOUT:
            return (f"the Dask cluster at {self.address} has had no workers for "
                    f"{now - self._seen_workers:.0f} s")
        return None

    def describe(self) -> str:
        """Readable name, e.g. ``2 local processes`` or ``Dask scheduler tcp://...``."""
        if self.kind == "dask":
            return f"Dask scheduler {self.address}"
        if self.kind == "processes":
            return f"{self.workers} local processes"
        return "this process"

    def close(self, cancel: bool = False) -> None:
        """Shut the executor down (cancelling queued work if ``cancel``)."""
        self.executor.shutdown(wait=not cancel, cancel_futures=cancel)


@contextmanager
def open_backend(workers: int = 1, dask_scheduler: str | None = None) -> Iterator[Backend]:
    """Open the executor an ensemble runs on, as a :class:`Backend`, and close it afterwards.

    Args:
        workers: 1 for serial runs in this process, 2..256 for a local process pool. Ignored
            when ``dask_scheduler`` is given (the cluster decides).
        dask_scheduler: Address of a running Dask scheduler (``tcp://host:port``), or None.

    Yields:
        A :class:`Backend`.

    Raises:
        ExperimentError: On a bad worker count or address, if ``distributed`` is not
            installed, or if the scheduler cannot be reached.

    """
    workers = check_workers(workers)
    if dask_scheduler is not None:
        with _dask_backend(dask_scheduler) as backend:
            yield backend
        return
    if workers == 1:
        backend = Backend("inline", InlineExecutor)
    else:
        backend = Backend("processes", lambda: _process_pool(workers), workers=workers)
    try:
        yield backend
    except BaseException:
        backend.close(cancel=True)
        raise
    else:
        backend.close()


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
    with open_backend(workers, dask_scheduler) as backend:
        yield backend.executor


DASK_LOGGERS = ("distributed", "tornado", "asyncio")
"""Loggers silenced while our Dask client runs (see :func:`quiet_dask_logs`)."""


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def quiet_dask_logs(names: tuple[str, ...] = DASK_LOGGERS) -> Iterator[None]:
    """Silence Dask's own log records (and their tracebacks) while our client runs.

    A lost or unreachable scheduler makes ``distributed`` log tracebacks from its event-loop
    thread before our runner notices and reports the problem in one line; the user should see
    only that line. Every existing logger of the ``names`` families and every handler they
    hold gets a filter that drops all records, and the family roots stop propagating (so a
    handler of the root logger does not print them either). Everything is restored on exit.

    Args:
        names: The logger families, e.g. ``("distributed",)``.

    Yields:
        Nothing; the loggers are quiet inside the ``with`` block.

    """
    drop = _DropAll()
    loggers = [logging.getLogger(n) for n in names]
    loggers += [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)
                if any(n.startswith(f"{root}.") for root in names)]
    handlers = {h for lg in loggers for h in lg.handlers}
    propagate = [(lg, lg.propagate) for lg in loggers[:len(names)]]
    for item in (*loggers, *handlers):
        item.addFilter(drop)
    for lg, _ in propagate:
        lg.propagate = False
    try:
        yield
    finally:
        for item in (*loggers, *handlers):
            item.removeFilter(drop)
        for lg, was in propagate:
            lg.propagate = was


@contextmanager
def _dask_backend(address: str) -> Iterator[Backend]:
    address = check_scheduler_address(address)
    try:
        import distributed
    except ImportError:
        raise _error("a Dask scheduler was given but the 'distributed' package is not "
                     "installed; install it with: pip install -e .[distributed]") from None
    with quiet_dask_logs():
        with _dask_client(distributed, address) as backend:
            yield backend


@contextmanager
def _dask_client(distributed, address: str) -> Iterator[Backend]:
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise _error(f"--dask-scheduler: cannot connect to {address}: {exc}") from None
    try:
        # A worker that dies has its tasks rescheduled by the scheduler (up to its
        # distributed.scheduler.allowed-failures, 3 by default, then KilledWorker).
        backend = Backend("dask", lambda: DaskExecutor(client), client=client, address=address)
        try:
            yield backend
        finally:
            backend.executor.shutdown(wait=False)
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
