"""The GEMM engine's emitted Verilog under Verilator (cocotb), through the host driver.

Each test owns one build folder (one engine configuration), so xdist workers never share
one. Shapes run from 1×1×1 to the largest that fits the buffers, sparse and dense, with and
without C and with random D back-pressure; every D is compared bit-exactly with the golden
model, counters with their exact values, bad jobs with their error cause.
"""

import numpy as np
import pytest

import golden
from hw.config import CoreConfig
from hw.gemm import CHECK_CYCLES, OUTPUT_LATENCY, START_LATENCY, Cause, Status, busy_cycles
from tb.gemm_driver import (GemmJobError, plan_gemm, run_batch, run_gemm, run_gemms,
                             run_raw_jobs)

pytestmark = pytest.mark.sim


def random_nm(rng, M, K, config):
    """Random int matrix, N:M sparse along K (K padded up to a multiple of m, then cut)."""
    Kp = -(-K // config.m) * config.m
    A = rng.integers(-(1 << (config.a_width - 1)), 1 << (config.a_width - 1), (M, Kp))
    keys = rng.random((M, Kp // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros(keys.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return (A * mask.reshape(M, Kp))[:, :K]


def reference(spec, config):
    widths = dict(a_width=config.a_width, b_width=config.b_width, acc_width=config.acc_width)
    if "values" in spec:
        return golden.sparse_mma(spec["values"], spec["metadata"], spec["B"], spec.get("C"),
                                 n=config.n, m=config.m, **widths)
    return golden.dense_mma(spec["A"], spec["B"], spec.get("C"), **widths)


def test_gemm_small_tile(rng):
    """2×2×8 tile, 64-word buffers: random shapes, both modes, C, back-pressure, bad jobs."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
    depth = 64
    build = "gemm_test_small"
    # (M, N, K): 1×1×1, non-multiples of the tile, and the largest that fit.
    shapes = [(1, 1, 1), (1, 3, 5), (3, 2, 9), (2, 2, 8), (7, 5, 13), (16, 16, 64),
              (8, 16, 64)]
    specs = []
    for index, (M, N, K) in enumerate(shapes):
        A = random_nm(rng, M, K, config)
        B = rng.integers(-128, 128, (K, N))
        C = rng.integers(-2**31, 2**31, (M, N)) if index % 2 else None
        ready = [1.0, 0.5, 0.3][index % 3]
        seed = int(rng.integers(1 << 31))
        if K % config.m == 0:
            values, metadata = golden.compress(A)
            specs.append(dict(values=values, metadata=metadata, B=B, C=C, d_ready=ready,
                              seed=seed))
        else:
            specs.append(dict(A=A, B=B, C=C, d_ready=ready, seed=seed))
        if -(-M // 2) * -(-K // 8) * 2 <= depth:    # dense A needs twice the A words
            specs.append(dict(A=A, B=B, C=C, sparse=False, d_ready=ready, seed=seed))
    results = run_gemms(specs, config=config, a_depth=depth, b_depth=depth,
                        build_name=build)
    for spec, (D, counters) in zip(specs, results):
        ref = reference(spec, config)
        np.testing.assert_array_equal(D, ref, strict=True)
        assert counters["cause"] == 0
        assert counters["busy_cycles"] == (counters["tile_ops"] + counters["stall_in"]
                                           + counters["stall_out"])
        if spec["d_ready"] == 1.0:
            assert counters["stall_out"] == 0
            assert counters["busy_cycles"] == busy_cycles(counters["tile_ops"], config)

    # Exact counters of a small job: 4×6×16 → 2×3 tiles, 2 K tiles.
    A = random_nm(rng, 4, 16, config)
    B = rng.integers(-128, 128, (16, 6))
    D, counters = run_gemm(A, B, config=config, a_depth=depth, b_depth=depth,
                           build_name=build)
    np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)
    assert {k: counters[k] for k in ("busy_cycles", "stall_in", "stall_out", "tile_ops",
                                     "macs", "d_tiles", "status", "cause")} == {
        "busy_cycles": 12 + 29 + 2 + 1, "stall_in": 29 + 2 + 1, "stall_out": 0, "tile_ops": 12,
        "macs": 4 * 6 * 16, "d_tiles": 6, "status": Status.DONE, "cause": 0}

    # Bad jobs: each ends in its error status, none hangs, the engine recovers.
    good, _ = plan_gemm(B, A, config=config, a_depth=depth, b_depth=depth)
    bad = []
    for regs, cause in [([0, 0, 3, 2, 0, 0], Cause.ZERO_DIM),
                        ([0, 2, 0, 2, 0, 0], Cause.ZERO_DIM),
                        ([0, 2, 3, 0, 0, 0], Cause.ZERO_DIM),
                        ([0, 33, 1, 2, 0, 0], Cause.A_RANGE),
                        ([1, 2, 3, 2, 61, 0], Cause.A_RANGE),
                        ([0, 2, 3, 40, 0, 0], Cause.A_RANGE | Cause.B_RANGE),
                        ([0, 2, 3, 2, 0, 59], Cause.B_RANGE)]:
        bad.append((dict(good, regs=regs), cause))
    raw = run_raw_jobs([job for job, _ in bad] + [good], config=config, a_depth=depth,
                       b_depth=depth, build_name=build)
    for (job, cause), result in zip(bad, raw):
        assert result["cause"] == cause, job["regs"]
        assert result["status"] == Status.DONE | Status.ERROR | cause << 8
        assert result["d_data"].shape[0] == 0
        assert result["busy_cycles"] == CHECK_CYCLES + 1 and result["tile_ops"] == 0
    assert raw[-1]["cause"] == 0 and raw[-1]["d_data"].shape[0] == 6

    # Invalid metadata: D comes back flagged, the cause is META.
    values, metadata = golden.compress(A)
    metadata = metadata.copy()
    metadata[0, 0] = (int(metadata[0, 0]) & 0xFF0F) | 0x30   # row 0, group 1: (3, 0)
    with pytest.raises(GemmJobError) as info:
        run_gemm(values=values, metadata=metadata, B=B, config=config, a_depth=depth,
                 b_depth=depth, build_name=build)
    assert info.value.cause == Cause.META
    np.testing.assert_array_equal(info.value.D[2:], golden.dense_mma(A, B)[2:], strict=True)
    D, counters = run_gemm(values=values, metadata=metadata, B=B, config=config,
                           a_depth=depth, b_depth=depth, build_name=build, check=False)
    assert counters["status"] == Status.DONE | Status.ERROR | Cause.META << 8

    # Larger than the buffers: split into engine jobs on the host, still bit-exact.
    A = random_nm(rng, 24, 100, config)
    B = rng.integers(-128, 128, (100, 20))
    C = rng.integers(-2**31, 2**31, (24, 20))
    for sparse in (True, False):
        D, counters = run_gemm(A, B, C, sparse=sparse, config=config, a_depth=depth,
                               b_depth=depth, build_name=build, split=True)
        np.testing.assert_array_equal(D, golden.dense_mma(A, B, C), strict=True)
        assert counters["jobs"] > 1


def test_gemm_default_tile(rng):
    """Default 4×4×16 core: sparse and dense shapes up to 64×48×96, with back-pressure."""
    config = CoreConfig()
    specs = []
    for M, N, K, ready in [(1, 1, 1, 1.0), (5, 7, 20, 0.5), (64, 48, 96, 1.0),
                           (33, 17, 50, 0.7)]:
        A = random_nm(rng, M, K, config)
        B = rng.integers(-128, 128, (K, N))
        specs.append(dict(A=A, B=B, d_ready=ready, seed=M))
        specs.append(dict(A=A, B=B, sparse=False, d_ready=ready, seed=N))
    results = run_gemms(specs, config=config, a_depth=256, b_depth=256,
                        build_name="gemm_test_default")
    for spec, (D, counters) in zip(specs, results):
        np.testing.assert_array_equal(D, golden.dense_mma(spec["A"], spec["B"]), strict=True)
        Mp, Np, Kp = (-(-x // t) * t for x, t in zip(
            (spec["A"].shape[0], spec["B"].shape[1], spec["A"].shape[1]), (4, 4, 16)))
        assert counters["macs"] == Mp * Np * Kp


def test_gemm_ecp5_p11(rng):
    """The fast core (pipeline 11, MULT18X18D, TRELLIS_FF) in the engine with DP16KD buffers
    (their simulation models): single jobs with back-pressure, then a batch of 8
    back-to-back jobs loaded while the one before runs, with exact cycle counts."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=11, dsp="ecp5")
    depth = 256
    build = "gemm_test_ecp5_p11"
    specs = []
    for M, N, K, ready in [(1, 1, 1, 1.0), (5, 3, 20, 0.4), (8, 6, 32, 1.0)]:
        A = random_nm(rng, M, K, config)
        B = rng.integers(-128, 128, (K, N))
        specs.append(dict(A=A, B=B, d_ready=ready, seed=int(rng.integers(1 << 31))))
        specs.append(dict(A=A, B=B, sparse=False, d_ready=ready, seed=M))
    for spec, (D, counters) in zip(specs, run_gemms(specs, config=config, a_depth=depth,
                                                    b_depth=depth, build_name=build)):
        np.testing.assert_array_equal(D, reference(spec, config), strict=True)
        if spec["d_ready"] == 1.0:
            assert counters["busy_cycles"] == busy_cycles(counters["tile_ops"], config)

    # Batch: 16×16×64 jobs (512 sparse / 1 024 dense operations, 64 / 128 A words each),
    # long enough that the next job is loaded, programmed and checked before the running
    # one issues its last operation: then the jobs follow each other with one idle cycle.
    jobs, refs = [], []
    for index in range(8):
        A = random_nm(rng, 16, 64, config)
        B = rng.integers(-128, 128, (64, 16))
        jobs.append(dict(A=A, B=B, sparse=index % 3 != 2))
        refs.append(golden.dense_mma(A, B))
    Ds, counters = run_batch(jobs, config=config, a_depth=depth, b_depth=depth,
                             build_name=build)
    for D, ref in zip(Ds, refs):
        np.testing.assert_array_equal(D, ref, strict=True)
    ops = sum(512 if job["sparse"] else 1024 for job in jobs)
    assert counters["tile_ops"] == ops and counters["jobs"] == 8
    assert counters["busy_cycles"] == START_LATENCY - 1 + ops + 7 + config.latency + OUTPUT_LATENCY
    assert counters["stall_out"] == 0 and counters["cause"] == 0
    assert counters["d_tiles"] == 8 * 64
