"""Long random regression of the core on Dask (``make soak``, issue #17).

Random operation streams (the ``random_stream`` cocotb tests of tb/tb_core.py: every stall
scenario of ``tb.core_tb.PAUSES``, checked against the golden model operation by operation)
over a sweep of core configurations, split into tasks with a seed each and run on the
same Dask client as the synthesis flow (:mod:`bench.dask_exec`: a LocalCluster of
``--jobs`` workers, or ``--scheduler``)::

    python -m bench.soak [--ops 10000000] [--ops-per-task 50000] [--configs NAME ...]
                         [--seed S] [--jobs N] [--scheduler ADDRESS] [--out reports/soak]
    python -m bench.soak --configs minimal --replay SEED --ops-per-task N   # one task again

The operations are shared out by each configuration's weight (:data:`SOAK_CONFIGS`: most go
to the cheap configurations). Task seeds come from one base seed (``--seed``, default a
fresh one, printed) through :class:`numpy.random.SeedSequence`, so the whole soak replays
from the base seed and any one task from its own seed (``--replay``). Every task ends in a
record, ``ok`` (no mismatch), ``failed`` (the testbench reported mismatches or protocol
errors; the record has the seed and the replay command), ``worker_lost`` or
``task_error``; the run exits non-zero unless every task is ``ok`` and the checked
operations reach ``--ops``.

Each worker builds each configuration once, in a Verilator build folder of its own
(``sim_build/soak/<worker>/core_<config>/``), and reuses it for its later tasks. A task
returns its summary (operations and results checked, mismatches, cycles, wall time); the
client writes ``results.json`` and ``summary.md`` under ``--out``.
"""

import argparse
import dataclasses
import json
import os
import pathlib
import re
import sys
import time

from hw.config import CoreConfig

__all__ = ["SOAK_CONFIGS", "SOAK_TESTCASE", "plan_tasks", "soak_task", "run_soak", "main"]

#: name -> (configuration, weight): the share of the operations each configuration gets.
#: The cheap configurations take most of the volume; the ECP5-primitive one runs the
#: MULT18X18D / TRELLIS_FF simulation models.
SOAK_CONFIGS = {
    "minimal": (CoreConfig(tile_m=1, tile_n=1, tile_k=4), 6),
    "nm1of2": (CoreConfig(tile_m=1, tile_n=2, tile_k=8, n=1, m=2), 2),
    "nm4of8": (CoreConfig(tile_m=1, tile_n=2, tile_k=16, n=4, m=8), 2),
    "int4": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, a_width=4, b_width=4, acc_width=16), 2),
    "int16": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, a_width=16, b_width=16,
                         acc_width=40), 1),
    "dense": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, sparse=False), 1),
    "p3": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=3), 1),
    "ecp5_p5": (CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=5, dsp="ecp5"), 1),
    "default": (CoreConfig(), 1),
}

#: The cocotb tests a soak task runs (one per stall scenario).
SOAK_TESTCASE = "random_stream"

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRIMITIVE_MODELS = {"generic": [], "ecp5": [ROOT / "hw" / "sim_models" / "MULT18X18D.v",
                                          ROOT / "hw" / "sim_models" / "TRELLIS_FF.v"]}


@dataclasses.dataclass(frozen=True)
class SoakTask:
    """One simulator run: ``random`` operations per stall scenario of ``config``."""

    name: str
    config: CoreConfig
    seed: int
    random: int
    index: int = 0

    @property
    def ops(self):
        from tb.core_tb import PAUSES
        return self.random * len(PAUSES)


def plan_tasks(total_ops, *, names=None, ops_per_task=50_000, seed=0):
    """Tasks that check at least ``total_ops`` operations over ``names`` (default: all of
    :data:`SOAK_CONFIGS`), shared by weight, at most ``ops_per_task`` each (rounded up to
    whole stall scenarios); task seeds from ``SeedSequence(seed)``.

    Raises
    ------
    ValueError
        If a name is not in :data:`SOAK_CONFIGS` or a count is not positive.
    """
    import numpy as np

    from tb.core_tb import PAUSES

    names = list(names or SOAK_CONFIGS)
    unknown = [n for n in names if n not in SOAK_CONFIGS]
    if unknown:
        raise ValueError(f"soak configs: unknown {', '.join(unknown)} (known: "
                         f"{', '.join(SOAK_CONFIGS)})")
    if total_ops <= 0 or ops_per_task <= 0:
        raise ValueError(f"soak: ops ({total_ops}) and ops_per_task ({ops_per_task}) must be "
                         f"positive")
    weights = {n: SOAK_CONFIGS[n][1] for n in names}
    scale = sum(weights.values())
    scenarios = len(PAUSES)
    shares = []
    for name in names:
        share = -(-total_ops * weights[name] // scale)             # ceil
        tasks = max(1, -(-share // ops_per_task))
        per = -(-share // (tasks * scenarios))                     # random count per scenario
        shares.append((name, tasks, per))
    count = sum(t for _, t, _ in shares)
    seeds = np.random.SeedSequence(seed).generate_state(count).tolist()
    out, index = [], 0
    for name, tasks, per in shares:
        for _ in range(tasks):
            out.append(SoakTask(name, SOAK_CONFIGS[name][0], int(seeds[index]), per, index))
            index += 1
    return out


def _worker_tag():
    try:
        from distributed import get_worker
        name = str(get_worker().name)
    except (ImportError, ValueError):
        name = f"pid{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def soak_task(task, *, build_root="soak"):
    """Dask task: build ``task.config`` (once per worker) and run the random streams.

    Returns the record: ``status`` ``ok`` or ``failed``, the summary totals, the seed and
    the replay command. Never raises for a failing simulation.
    """
    from hw.gen import emit
    from tb.core_tb import config_to_env
    from tb.runner import SIM_BUILD, SimulationFailed, run_cocotb

    build_name = f"{build_root}/{_worker_tag()}/core_{task.config.name}"
    folder = SIM_BUILD / build_name
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{task.config.name}.v"
    text = emit(task.config)
    if not source.exists() or source.read_text() != text:
        source.write_text(text)
    summary_path = folder / f"summary_{task.index}_{task.seed}.json"
    summary_path.unlink(missing_ok=True)
    env = {"CORE_CONFIG": config_to_env(task.config), "SEED": str(task.seed),
           "TB_OPS": json.dumps({"random": task.random}), "TB_SUMMARY": str(summary_path),
           # A regex searched in each test's name (random_stream/<stall scenario>).
           "COCOTB_TEST_FILTER": SOAK_TESTCASE}
    record = {"name": task.name, "config": task.config.name, "seed": task.seed,
              "index": task.index, "random": task.random, "ops_planned": task.ops,
              "replay": f"python -m bench.soak --configs {task.name} --replay {task.seed} "
                        f"--ops-per-task {task.ops}",
              "worker": _worker_tag(), "status": "ok", "message": ""}
    start = time.monotonic()
    try:
        run_cocotb(sources=[*PRIMITIVE_MODELS[task.config.dsp], source],
                   toplevel=task.config.name, test_module="tb.tb_core",
                   build_name=build_name, extra_env=env)
    except SimulationFailed as exc:
        record.update(status="failed", message=str(exc))
    except SystemExit as exc:
        # cocotb's runner exits instead of returning when it runs under pytest (the
        # worker inherits PYTEST_CURRENT_TEST) or when the simulator fails; in a task
        # that would take the worker down with it.
        record.update(status="failed", message=f"cocotb tests failed or the simulator "
                                               f"exited with {exc.code} (log in {folder})")
    record["task_s"] = round(time.monotonic() - start, 1)
    totals = {}
    if summary_path.exists():
        totals = json.loads(summary_path.read_text()).get("totals", {})
        summary_path.unlink()
    for key in ("results_checked", "mismatches", "cycles"):
        record[key] = int(totals.get(key, 0))
    # Random operations only: a constant wrap chain would be one check, not its length.
    record["ops_checked"] = int(totals.get("random_ops_checked", 0))
    record["sim_wall_s"] = round(float(totals.get("wall_s", 0.0)), 2)
    if record["status"] == "ok" and record["ops_checked"] < task.ops:
        record.update(status="failed", message=f"{record['ops_checked']} operations checked, "
                                               f"fewer than the {task.ops} planned")
    return record


def run_soak(tasks, *, client=None, jobs=1, scheduler=None, progress=True,
             build_root="soak"):
    """Run ``tasks`` (from :func:`plan_tasks`) on ``client`` (default: :func:`open_client`);
    returns one record per task, in task order."""
    from distributed import as_completed

    from .dask_exec import LazyClient, open_client, result_or_failure

    if client is None:
        with open_client(jobs=jobs, scheduler=scheduler) as client:
            return run_soak(tasks, client=client, progress=progress, build_root=build_root)
    if isinstance(client, LazyClient):
        client = client.client
    futures = {client.submit(soak_task, task, build_root=build_root,
                             key=f"soak-{task.name}-{task.index}-{task.seed}",
                             priority=-task.index): task for task in tasks}
    records = {}
    for future in as_completed(list(futures)):
        task = futures.pop(future)
        record, failure = result_or_failure(future)
        if failure is not None:
            record = {"name": task.name, "config": task.config.name, "seed": task.seed,
                      "index": task.index, "random": task.random, "ops_planned": task.ops,
                      "status": failure[0], "message": failure[1], "ops_checked": 0,
                      "results_checked": 0, "mismatches": 0, "cycles": 0}
        records[task.index] = record
        future.release()
        if progress:
            print(f"soak {record['name']} seed {record['seed']}: {record['status']}, "
                  f"{record['ops_checked']} ops checked"
                  + (f" in {record['task_s']} s" if record.get("task_s") else "")
                  + (f" — {record['message'][:200]}" if record["message"] else ""),
                  file=sys.stderr)
    return [records[t.index] for t in tasks]


def summarize(records, *, wall_s, jobs=None, seed=None, command=None):
    """Totals of a soak: per configuration and overall, with the rate."""
    by = {}
    for r in records:
        entry = by.setdefault(r["name"], {"config": r["config"], "tasks": 0, "ops_checked": 0,
                                          "results_checked": 0, "mismatches": 0,
                                          "not_ok": 0, "sim_wall_s": 0.0})
        entry["tasks"] += 1
        entry["not_ok"] += r["status"] != "ok"
        for key in ("ops_checked", "results_checked", "mismatches"):
            entry[key] += r.get(key, 0)
        entry["sim_wall_s"] += r.get("sim_wall_s", 0.0)
    ops = sum(r.get("ops_checked", 0) for r in records)
    return {"command": command, "seed": seed, "jobs": jobs, "wall_s": round(wall_s, 1),
            "tasks": len(records), "ok": sum(r["status"] == "ok" for r in records),
            "ops_checked": ops,
            "results_checked": sum(r.get("results_checked", 0) for r in records),
            "mismatches": sum(r.get("mismatches", 0) for r in records),
            "ops_per_s": round(ops / wall_s, 1) if wall_s else None,
            "configs": by,
            "failures": [r for r in records if r["status"] != "ok"]}


def summary_markdown(summary):
    rows = ["| configuration | tasks | not ok | operations checked | results checked "
            "| mismatches | testbench s | ops/s in the testbench |",
            "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for name, e in summary["configs"].items():
        rate = e["ops_checked"] / e["sim_wall_s"] if e["sim_wall_s"] else 0
        rows.append(f"| {name} (`{e['config']}`) | {e['tasks']} | {e['not_ok']} "
                    f"| {e['ops_checked']} | {e['results_checked']} | {e['mismatches']} "
                    f"| {e['sim_wall_s']:.1f} | {rate:.0f} |")
    lines = [f"Command: `{summary['command']}` (base seed {summary['seed']}, "
             f"{summary['jobs'] or '?'} workers)", "", "\n".join(rows), "",
             f"Total: {summary['ops_checked']} operations checked in {summary['tasks']} tasks "
             f"({summary['ok']} ok), {summary['mismatches']} mismatches, "
             f"{summary['wall_s']} s wall = {summary['ops_per_s']} ops/s."]
    for r in summary["failures"]:
        lines.append(f"* {r['name']} seed {r['seed']}: {r['status']}: {r['message'][:300]} "
                     f"(replay: `{r.get('replay', '')}`)")
    return "\n".join(lines) + "\n"


def main(argv=None):
    from .synth import default_jobs

    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000_000,
                        help="operations to check in all (10 000 000)")
    parser.add_argument("--ops-per-task", type=int, default=50_000,
                        help="operations per task at most (50 000)")
    parser.add_argument("--configs", nargs="+", metavar="NAME",
                        help=f"configurations (default all: {', '.join(SOAK_CONFIGS)})")
    parser.add_argument("--seed", type=int, help="base seed (default: a fresh one, printed)")
    parser.add_argument("--replay", type=int, metavar="SEED",
                        help="run one task per configuration with this task seed")
    parser.add_argument("--jobs", "-j", type=int, default=default_jobs(),
                        help="Dask workers of the LocalCluster (default: cores/2)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on this Dask cluster (tcp://HOST:PORT or a scheduler file)")
    parser.add_argument("--out", default="reports/soak", help="report folder (reports/soak)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    try:
        if args.replay is not None:
            from tb.core_tb import PAUSES
            per = -(-args.ops_per_task // len(PAUSES))
            tasks = [SoakTask(name, SOAK_CONFIGS[name][0], args.replay, per, i)
                     for i, name in enumerate(args.configs or SOAK_CONFIGS)]
        else:
            tasks = plan_tasks(args.ops, names=args.configs, ops_per_task=args.ops_per_task,
                               seed=seed)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    planned = sum(t.ops for t in tasks)
    print(f"soak: {len(tasks)} tasks, {planned} operations, base seed {seed} (replay the "
          f"whole soak with --seed {seed})", file=sys.stderr)
    start = time.monotonic()
    records = run_soak(tasks, jobs=args.jobs, scheduler=args.scheduler,
                       progress=not args.no_progress)
    command = " ".join(["python -m bench.soak", *(argv if argv is not None else sys.argv[1:])])
    summary = summarize(records, wall_s=time.monotonic() - start, jobs=args.jobs, seed=seed,
                        command=command)
    summary["records"] = records
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    print(summary_markdown(summary))
    print(f"wrote {out / 'results.json'}, {out / 'summary.md'}", file=sys.stderr)
    target = planned if args.replay is not None else args.ops
    return 0 if summary["ok"] == len(records) and summary["ops_checked"] >= target else 1


if __name__ == "__main__":
    sys.exit(main())
