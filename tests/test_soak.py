"""The soak regression (bench/soak.py): task planning, and a small slice on a LocalCluster.

The slice (``make soak`` runs the full 10⁷ operations) runs four tasks on one Dask worker:
three seeded random-stream runs of two small configurations and one run too short for the
testbench's coverage check, which must come back as a ``failed`` record with its seed and
replay command, not vanish. About a minute (two Verilator builds).
"""

import pytest

from bench import soak
from tb.core_tb import PAUSES


def test_plan_tasks():
    tasks = soak.plan_tasks(100_000, ops_per_task=10_000, seed=7)
    ops = {name: sum(t.ops for t in tasks if t.name == name) for name in soak.SOAK_CONFIGS}
    assert sum(ops.values()) >= 100_000
    # Shares follow the weights (rounded up to whole tasks and stall scenarios).
    weight = sum(w for _, w in soak.SOAK_CONFIGS.values())
    for name, (_, w) in soak.SOAK_CONFIGS.items():
        assert 100_000 * w / weight <= ops[name] < 100_000 * w / weight + 10 * len(PAUSES)
    assert all(t.ops <= 10_000 + len(PAUSES) for t in tasks)
    assert len({t.seed for t in tasks}) == len(tasks)          # a seed per task
    assert [t.index for t in tasks] == list(range(len(tasks)))
    again = soak.plan_tasks(100_000, ops_per_task=10_000, seed=7)
    assert [t.seed for t in again] == [t.seed for t in tasks]   # replayable from the base
    assert [t.seed for t in soak.plan_tasks(100_000, ops_per_task=10_000, seed=8)] != \
        [t.seed for t in tasks]


@pytest.mark.parametrize("kwargs, message", [
    (dict(names=["minimal", "huge"]), "unknown huge"),
    (dict(ops_per_task=0), r"ops_per_task \(0\) must be positive"),
])
def test_plan_tasks_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        soak.plan_tasks(1000, **kwargs)


@pytest.mark.sim
@pytest.mark.slow
def test_soak_slice(seed):
    tasks = soak.plan_tasks(3000, names=["minimal", "nm1of2"], ops_per_task=1000, seed=seed)
    bad = soak.SoakTask("minimal", soak.SOAK_CONFIGS["minimal"][0], seed, 1, len(tasks))
    records = soak.run_soak([*tasks, bad], jobs=1, progress=False, build_root="soak_test")
    assert [r["index"] for r in records] == [t.index for t in [*tasks, bad]]
    for task, record in zip(tasks, records):
        assert record["status"] == "ok", record["message"]
        assert record["seed"] == task.seed
        assert record["ops_checked"] == task.ops == task.random * len(PAUSES)
        assert record["mismatches"] == 0 and record["results_checked"] > 0
    failed = records[-1]
    # One operation per stall scenario cannot cover every metadata pattern: the testbench
    # fails the run, and the soak records it with its seed and how to replay it.
    assert failed["status"] == "failed" and "failed" in failed["message"]
    assert failed["seed"] == seed and f"--replay {seed}" in failed["replay"]
    summary = soak.summarize(records, wall_s=10.0)
    assert summary["tasks"] == len(tasks) + 1 and summary["ok"] == len(tasks)
    assert summary["ops_checked"] == sum(r["ops_checked"] for r in records)
    assert summary["ops_checked"] >= 3000
    assert [r["index"] for r in summary["failures"]] == [bad.index]
    assert "replay: `python -m bench.soak --configs minimal --replay" in \
        soak.summary_markdown({**summary, "command": "x"})
