"""The execution layer of the synthesis flow and the soak regression: Dask distributed.

Where the runs go::

    with open_client(jobs=2) as client:               # a LocalCluster of 2 worker processes
    with open_client(scheduler="tcp://host:8786") as client:   # a running cluster

A :class:`distributed.LocalCluster` (``--jobs`` worker processes, one thread each, no
dashboard) needs nothing set up; ``--scheduler tcp://HOST:PORT`` connects to a cluster
started by ``dask scheduler`` / ``dask worker`` or by dask-jobqueue (docs/synth.md).

The tools stay subprocesses inside the tasks. A task runs in a private temporary folder on
its worker and returns everything the client keeps: the record and the small files (logs,
reports; the synthesized netlist compressed) as bytes. The client writes them into the
report folder and the cache, so the workers need no shared filesystem, only this package
installed (``pip install -e .[dev]`` of the same commit) and the tools (they come with it).

A worker that dies mid-task (killed, out of memory, machine lost) does not lose the run:
the scheduler gives its tasks to another worker, up to
``distributed.scheduler.allowed-failures`` times (3); past that the client receives
:class:`distributed.KilledWorker` and records the run as ``worker_lost``, never drops it.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile
import zlib

__all__ = ["open_client", "LazyClient", "task_folder", "pack_files", "unpack_files",
           "result_or_failure", "WORKDIR_ENV"]

#: Where tasks make their temporary folders on a worker (default: the system's temp folder).
WORKDIR_ENV = "SPARSECORE_TASK_DIR"


@contextlib.contextmanager
def open_client(*, jobs=1, scheduler=None, quiet=True):
    """A :class:`distributed.Client`: connected to ``scheduler`` (``tcp://HOST:PORT`` or a
    scheduler file written by ``dask scheduler --scheduler-file``), else to a new
    LocalCluster of ``jobs`` single-threaded worker processes (closed on exit)."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        if os.path.exists(scheduler):
            client = Client(scheduler_file=scheduler)
        else:
            client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    # No scheduler-side queuing (saturation inf): every ready task goes to a worker at once
    # and each worker runs its ready tasks in priority order. With queuing (the default
    # 1.1) the scheduler treats some place-and-route tasks as "root-ish" and holds them
    # back behind later, lower-priority ones.
    with dask.config.set({"distributed.scheduler.worker-saturation": "inf"}):
        cluster = LocalCluster(n_workers=max(1, int(jobs)), threads_per_worker=1,
                               processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR if quiet else logging.WARNING)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def task_folder(prefix):
    """A private temporary folder for one task (under ``$SPARSECORE_TASK_DIR`` if set)."""
    base = os.environ.get(WORKDIR_ENV) or None
    if base:
        pathlib.Path(base).mkdir(parents=True, exist_ok=True)
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pack_files(folder, names, *, limit=4 << 20, compress=()):
    """``{name: bytes}`` of the files ``names`` that exist in ``folder`` (a file larger than
    ``limit`` is cut to its last ``limit`` bytes; names in ``compress`` are zlib-compressed
    whole, and stored under ``name + '.z'``)."""
    files = {}
    for name in names:
        path = pathlib.Path(folder) / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if name in compress:
            files[name + ".z"] = zlib.compress(data, 6)
        else:
            files[name] = data[-limit:]
    return files


def unpack_files(files, folder):
    """Write ``{name: bytes}`` (from :func:`pack_files`) into ``folder``; ``.z`` files are
    written compressed, as they came."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / pathlib.Path(name).name).write_bytes(data)


def result_or_failure(future):
    """``(result, None)`` or ``(None, (status, message))`` for a finished future.

    ``worker_lost``: the scheduler gave up on the task after its workers died
    (:class:`distributed.KilledWorker`); ``task_error``: the task raised.
    """
    from distributed import KilledWorker

    try:
        return future.result(), None
    except KilledWorker as exc:
        return None, ("worker_lost", f"the workers running it died: {exc}")
    except Exception as exc:      # the task raised: a result too, not a crash of the sweep
        return None, ("task_error", f"{type(exc).__name__}: {exc}")


class LazyClient:
    """:func:`open_client` on first use (a sweep served from the cache starts no cluster).

    Use as a context manager; :attr:`client` starts or connects on first access.
    """

    def __init__(self, *, jobs=1, scheduler=None):
        self.jobs, self.scheduler = jobs, scheduler
        self._stack = contextlib.ExitStack()
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = self._stack.enter_context(open_client(jobs=self.jobs,
                                                                 scheduler=self.scheduler))
        return self._client

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stack.close()
        self._client = None
