"""Mutation testing in CI: a slice of ``make mutate`` (bench/mutate.py).

The unmutated core must pass the checks a mutant has to fail (else every mutant would be
"killed" and the kill rate would say nothing), and a slice of 5 sampled mutants of the
1×1×4 p = 1 core (seed from the ``seed`` fixture, replayable with ``SEED=``) each get a
verdict from the formal properties. The whole set, with the cocotb suite for the formal
survivors, is ``make mutate``.
"""

import pytest

from bench.mutate import BUILD, CONFIGS, check_mutant, list_mutants

pytestmark = pytest.mark.formal


def test_baseline_survives(seed):
    record = check_mutant("ci_p1", CONFIGS["p1"], 0, None, seed, use_cocotb=False)
    assert record["killed_by"] is None, record


def test_mutant_slice(seed):
    cfg = CONFIGS["p1"]
    commands = list_mutants(cfg, BUILD / "ci_p1", 5, seed % 1000 + 1)
    assert len(commands) == 5
    records = [check_mutant("ci_p1", cfg, 1 + i, c, seed, use_cocotb=False)
               for i, c in enumerate(commands)]
    for record in records:
        print(record["killed_by"] or "SURVIVED", record["mutation"])
        assert record["killed_by"] in (None, "formal"), record
    assert all(r.get("formal") in ("PASS", "FAIL") for r in records), records


def test_inverted_ready_is_killed(seed):
    # A mutant written by hand: a.ready stuck at 1 (the core then accepts without credit
    # and during reset). The formal check must kill it.
    cfg = CONFIGS["p1"]
    command, = list_mutants(cfg, BUILD / "p1_ready", 1, 1, filters="-mode const1 -wire a_ready")
    record = check_mutant("p1_ready", cfg, 1, command, seed, use_cocotb=False)
    assert record["killed_by"] == "formal", record
