"""Formal checks in CI: a stated subset of ``make formal`` and the broken-core test.

The subset (:func:`tb.formal.jobs.ci_jobs`): the ResultFIFO of depth 3 and of depth 8 in two
banks, and the 1×1×4 core at p = 1 (every job at full depth) and at p = 7 (result stage):
``dsp="generic"`` every job, ``dsp="ecp5"`` (DSP and flip-flop models) all but the bounded
control job; the p = 7 ``bmc`` and ``cover`` jobs to ``latency + fifo depth + 2`` cycles
(the full depth is ``make formal``'s); the GEMM engine's control to 26 cycles, the end of a
rejected job (``job_ends``, bounded to 48 cycles, is ``make formal``'s).
"""

import dataclasses

import pytest

from hw.config import CoreConfig
from hw.core import SparseMMA
from tb.formal.core_props import CoreHarness
from tb.formal.jobs import ci_jobs, core_jobs
from tb.formal.run import run_job
from tb.formal.sby import run_sby

pytestmark = pytest.mark.formal

SMALL = dict(tile_m=1, tile_n=1, tile_k=4, a_width=2, b_width=2, acc_width=4)


@pytest.mark.parametrize("job", ci_jobs(), ids=lambda job: job.name)
def test_formal_ci(job):
    result = run_job(job)
    print(result)
    assert result["status"] == "PASS", result
    assert not result["failed"] and not result["unreached"], result
    if job.mode == "cover":
        assert result["reached"], "no cover reached: the cover job checked nothing"


@pytest.mark.parametrize("dsp", ["generic", "ecp5"])
def test_reset_bug_fails_the_proof(dsp):
    # The reset bug of c35385d (result-write copies not gated by reset, p >= 7): a result in
    # flight when a one-cycle reset comes is still written, so d.valid rises after the reset
    # with no result owed. The bounded check must find it; the fixed core passes the same.
    cfg = CoreConfig(pipeline=7, dsp=dsp, **SMALL)
    broken, = core_jobs(cfg, core_kwargs={"_fault": "reset_write_copies"}, suffix="_fault.ci",
                        kinds=("bmc",))
    broken.depth = cfg.latency + 6
    result = run_job(broken)
    assert result["status"] == "FAIL", result
    assert "conservation" in result["failed"], result
    fixed, = core_jobs(cfg, suffix="_fixed.ci", kinds=("bmc",))
    fixed.depth = broken.depth
    assert run_job(fixed)["status"] == "PASS"


def test_fault_name_is_checked():
    with pytest.raises(ValueError, match="_fault must be None or 'reset_write_copies', "
                                         "not 'nope'"):
        SparseMMA(CoreConfig(**SMALL), _fault="nope")


def test_harness_rejects_what_it_cannot_check():
    with pytest.raises(ValueError, match="the core harness checks the sparse core only"):
        CoreHarness(CoreConfig(sparse=False, **SMALL))
    with pytest.raises(ValueError, match=r"unknown properties \['nope'\]"):
        CoreHarness(CoreConfig(**SMALL), properties=("data", "nope"))


def test_sby_mode_is_checked():
    harness = CoreHarness(CoreConfig(**SMALL))
    with pytest.raises(ValueError, match="mode must be one of prove, bmc, cover, not 'live'"):
        run_sby("bad_mode", harness, harness.ports, mode="live", depth=1)


def test_gemm_harness_rejects_unknown_properties():
    from tb.formal.gemm_props import GemmHarness, small_config
    with pytest.raises(ValueError, match=r"unknown properties \['nope'\]"):
        GemmHarness(small_config(), properties=("job_ends", "nope"))


def test_gemm_bound_is_the_documented_job_latency():
    # Two-word buffers admit at most 4 tile operations (2x2 tiles of one K tile, or a dense
    # 1x2 of two halves); a 4-entry table adds a scan of 4 + 5 cycles. From docs/gemm.md §7:
    # busy = START_LATENCY - 1 + T + latency + OUTPUT_LATENCY, START_LATENCY = 30.
    from tb.formal.gemm_props import SMALL_ENGINE, job_bound, small_config
    cfg = small_config(pipeline=1)
    assert job_bound(cfg, starts=1, **SMALL_ENGINE) == 30 - 1 + 4 + cfg.latency + 1 + 4 + 5
    assert job_bound(cfg, starts=2, **SMALL_ENGINE) == 2 * job_bound(cfg, **SMALL_ENGINE)


def test_engine_clear_bug_fails_the_proof():
    # The engine bug job_outcome found (a CLEAR at the edge where a job ends cleared DONE),
    # re-introduced: the CI job's check must fail on it, on job_outcome.
    from tb.formal.gemm_props import GemmHarness, small_config
    job = next(j for j in ci_jobs() if j.name.startswith("ci.gemm"))
    broken = dataclasses.replace(
        job, name="ci.gemm_fault.bmc",
        build=lambda: GemmHarness(small_config(), starts=1,
                                  engine_kwargs={"_fault": "clear_hides_done"}))
    result = run_job(broken)
    assert result["status"] == "FAIL", result
    assert "job_outcome" in result["failed"], result


def test_engine_fault_name_is_checked():
    from hw.gemm import GemmEngine
    from tb.formal.gemm_props import small_config
    with pytest.raises(ValueError, match="_fault must be None or 'clear_hides_done', "
                                         "not 'nope'"):
        GemmEngine(small_config(), a_depth=2, b_depth=2, _fault="nope")
