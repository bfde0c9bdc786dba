"""The synthesis flow on a real Dask cluster, with a worker killed mid-run.

A ``dask scheduler`` and two ``dask worker`` processes (no nanny, one thread each) start
on 127.0.0.1 as separate processes, on ports the OS picks (``--port 0``; the scheduler
writes its address into a scheduler file). A small sweep (1×1×4 cores, sparse and dense,
three placement seeds each: two synthesis and six place-and-route tasks) runs through them
with :func:`bench.synth.run_plan`; while the first worker is running a task, its process
group (the worker and the tool it started) is killed with SIGKILL. Every (configuration,
seed) must still come back as a record, placed and routed by the surviving worker or
recorded as ``worker_lost``, and the client must hold its files. Run twice: with the
scheduler's default retries (the interrupted task is retried on the other worker) and with
none (it is recorded as ``worker_lost``). About a minute each.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest

from bench import synth

DASK = pathlib.Path(sys.executable).parent / "dask"
SEEDS = [1, 2, 3]
SPECS = ["sparse-1x1x4-a8-p1", "dense-1x1x4-a8-p1"]


def _start(argv, log, env=None):
    return subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **(env or {})})


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture(params=["retry", "no_retry"])
def cluster(tmp_path, request):
    """``(scheduler_file, {name: Popen}, mode)`` of a scheduler and workers ``w1``, ``w2``.

    ``retry``: the scheduler's defaults (a task survives 3 dead workers); ``no_retry``:
    ``allowed-failures`` 0, so the task the kill interrupts fails with KilledWorker."""
    failures = {"retry": {}, "no_retry": {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}}
    if not DASK.exists():
        pytest.fail(f"{DASK} is missing: install the dev extras (dask[distributed])")
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = {"scheduler": _start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", scheduler_file], log,
                                 env=failures[request.param])}
    try:
        deadline = time.monotonic() + 90
        while not scheduler_file.exists():
            if procs["scheduler"].poll() is not None or time.monotonic() > deadline:
                pytest.fail("dask scheduler did not start: "
                            + (tmp_path / "cluster.log").read_text()[-2000:])
            time.sleep(0.2)
        for name in ("w1", "w2"):
            procs[name] = _start(
                [DASK, "worker", "--scheduler-file", scheduler_file, "--host", "127.0.0.1",
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name,
                 "--local-directory", tmp_path / name], log,
                env={"SPARSECORE_TASK_DIR": str(tmp_path / f"{name}-tasks")})
        yield scheduler_file, procs, request.param
    finally:
        for proc in procs.values():
            _kill(proc)
        log.close()


@pytest.mark.synth
@pytest.mark.slow
def test_killed_worker_loses_no_record(cluster, tmp_path):
    from distributed import Client

    scheduler_file, procs, mode = cluster
    client = Client(scheduler_file=str(scheduler_file), timeout="60s")
    try:
        client.wait_for_workers(2, timeout=90)
        address = {info["name"]: addr
                   for addr, info in client.scheduler_info()["workers"].items()}
        plan = {}
        for spec in SPECS:
            job = synth.parse_spec(spec)
            plan[job.label] = (job, ["test"])
        outdir = tmp_path / "out"
        result, errors = {}, []

        def sweep():
            try:
                result["records"] = synth.run_plan(plan, synth.Options(), outdir=outdir,
                                                   progress=False, seeds=SEEDS, client=client)
            except BaseException as exc:   # re-raised below, in the test's thread
                errors.append(exc)

        thread = threading.Thread(target=sweep)
        thread.start()
        killed, deadline = [], time.monotonic() + 300
        while not killed and thread.is_alive() and time.monotonic() < deadline:
            if client.processing().get(address["w1"], []):
                time.sleep(1.0)            # the task's tool is running by now
                # Kill only if w1 is still busy: a task that finished during the second
                # would otherwise leave w1 dead with nothing interrupted.
                running = list(client.processing().get(address["w1"], []))
                if running:
                    _kill(procs["w1"])
                    killed = running
            time.sleep(0.1)
        thread.join(timeout=600)
        assert not thread.is_alive(), "the sweep did not finish within 10 minutes"
        if errors:
            raise errors[0]
        assert killed, "worker w1 never ran a task before the sweep ended"
        print(f"killed worker w1 while it ran {killed}")
        assert procs["w1"].poll() is not None
        assert len(client.scheduler_info()["workers"]) == 1    # only w2 is left
    finally:
        client.close()

    records = result["records"]
    assert [r["config"] for r in records] == list(plan)
    placed = lost = 0
    for record in records:
        # One entry per seed, each placed and routed (retried on w2) or recorded as lost.
        assert record["seeds"] == SEEDS
        assert set(record["status_by_seed"]) == {str(s) for s in SEEDS}
        for seed, status in record["status_by_seed"].items():
            assert status in ("ok", "timing_failed", "worker_lost"), (seed, status)
            if status == "worker_lost":
                assert "died" in record["message"]
                lost += 1
                continue
            placed += 1
            # The client holds the run's files and the cached record, from what the task
            # returned (the worker's own folder is private and gone).
            key = synth.cache_key(synth._emit(synth.parse_spec(record["config"])),
                                  synth.parse_spec(record["config"]),
                                  synth.Options(seed=int(seed)), synth.tool_versions())
            cached = json.loads((outdir / "cache" / f"{key}.json").read_text())
            assert cached["seed"] == int(seed) and cached["fmax_mhz"] > 0
            folder = pathlib.Path(cached["workdir"])
            assert folder.parent == outdir / "runs"
            assert (folder / f"{cached['name']}_pnr.log").stat().st_size > 0
            assert synth.parse_nextpnr_report((folder / f"{cached['name']}_pnr.json")
                                              .read_text())["fmax"]
        if record["seeds_placed"]:
            assert record["fmax_min"] <= record["fmax_mhz"] <= record["fmax_max"]
        else:
            assert record["status"] == "worker_lost" and record["fmax_mhz"] is None
    if mode == "retry":
        # One kill is below distributed.scheduler.allowed-failures (3): the task was retried.
        assert placed == len(SEEDS) * len(SPECS)
    else:
        # No retries: the interrupted task (a synthesis takes its seeds with it) is
        # recorded as lost, not cached, and everything else still places and routes.
        assert lost >= 1 and placed + lost == len(SEEDS) * len(SPECS)
        assert len(list((outdir / "cache").glob("????????????????.json"))) == placed
    # The workers' temporary folders were cleaned up by the tasks that finished.
    assert not list((tmp_path / "w2-tasks").glob("*"))
