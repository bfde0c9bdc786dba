"""cocotb tests of the flat-port fp16 / bf16 cores (run by tests/test_sim_fp.py), bit for bit
against golden.fp.fp_core_model through tb.core_tb's drivers, monitor and scoreboard.

Environment as tb/tb_core.py: ``CORE_CONFIG``, ``TB_OPS`` (overrides :data:`FP_COUNTS`),
``TB_SUMMARY``, and ``SEED``: the run's seed, from which each test derives its own
(tests/test_sim_fp.py draws a fresh one per run and prints it); unset, each test's seed is a
stable hash of its name.
"""

import logging
import os
import zlib

import numpy as np

import cocotb
from cocotb import Param
from cocotb.triggers import ClockCycles

import golden
from golden.fp import fp32_from_bits, fp_dense_mma, fp_sparse_mma, from_bits, to_bits
from golden.tiles import assemble, split_dense_gemm, split_gemm
from hw.core import SparseMMA

from .core_tb import PAUSES, OpBatch, config_from_env, make_pause, op_counts, seed_for
from .fp_tb import cancelling_ops, fp_testbench, random_fp_ops

CONFIG = config_from_env()
#: Operations per test (per parametrized instance); TB_OPS overrides.
FP_COUNTS = {"random": 1000, "specials": 1000, "long": 1000, "cancel": 1000, "invalid": 400,
             "reset": 300, "reset_rounds": 3, "gemm": 2, "cycle": 200}
COUNTS = op_counts(FP_COUNTS)
HAS_INVALID = CONFIG.sparse and CONFIG.n >= 2
LATENCY = SparseMMA(CONFIG).latency


def test_seed(name):
    """The seed of test ``name``: derived from the run's ``SEED``, else :func:`seed_for`."""
    base = os.environ.get("SEED", "")
    if base == "":
        return seed_for(name)
    logging.getLogger("cocotb.tb").info("run seed %s (replay the run with SEED=%s)", base, base)
    return zlib.crc32(f"{int(base, 0)}:{name}".encode())


def make_tb(dut, name, stall="none"):
    seed = test_seed(f"{name}[{stall}]")
    pause_rng = np.random.default_rng([seed, 1])
    a, b, d = (make_pause(spec, pause_rng) for spec in PAUSES[stall])
    return fp_testbench(dut, CONFIG, seed=seed, a_pause=a, b_pause=b, d_pause=d)


@cocotb.test()
@cocotb.parametrize(stall=[Param(name, name=name) for name in PAUSES])
async def random_stream(dut, stall):
    """Random values of 12 binades, 5 % subnormals, 1 % zeros/Inf/NaN, random first/last,
    every metadata pattern in every lane, under the stall scenario."""
    tb = make_tb(dut, "fp_random_stream", stall)
    await tb.reset()
    tb.send(random_fp_ops(tb.rng, CONFIG, COUNTS["random"]))
    await tb.drain()
    tb.finish(f"random_stream[{stall}]")


@cocotb.test()
async def specials(dut):
    """20 % special values (±0, ±Inf, NaN), 20 % subnormals, and the whole exponent range
    (overflow to Inf, fp32 subnormal results)."""
    tb = make_tb(dut, "fp_specials", "mixed")
    await tb.reset()
    wide = 14 if CONFIG.dtype == "fp16" else 120
    tb.send(random_fp_ops(tb.rng, CONFIG, COUNTS["specials"], specials=0.2, subnormals=0.2,
                          binades=wide))
    tb.send(random_fp_ops(tb.rng, CONFIG, COUNTS["specials"] // 2, specials=0.0,
                          subnormals=0.3, binades=wide, flags="chains", chain=(2, 30)))
    await tb.drain()
    tb.finish("specials")


@cocotb.test()
async def long_accumulation(dut):
    """Chains of 64 … 512 operations of finite values (the accumulator grows until the
    products fall below its window and are truncated away)."""
    tb = make_tb(dut, "fp_long_accumulation", "mixed")
    await tb.reset()
    tb.send(random_fp_ops(tb.rng, CONFIG, COUNTS["long"], specials=0.0, flags="chains",
                          chain=(64, 512)))
    await tb.drain()
    tb.finish("long_accumulation")


@cocotb.test()
async def cancellation(dut):
    """Each operation followed by its negation: the accumulator cancels against the block's
    products (far left normalization shifts), in chains of 16 … 200."""
    tb = make_tb(dut, "fp_cancellation", "valid_gaps")
    await tb.reset()
    tb.send(cancelling_ops(tb.rng, CONFIG, COUNTS["cancel"], flags="chains", chain=(8, 100)))
    await tb.drain()
    tb.finish("cancellation")


@cocotb.test(skip=not HAS_INVALID)
async def invalid_metadata(dut):
    """Invalid groups read +0 from B, flag their results, the sticky error until reset."""
    tb = make_tb(dut, "fp_invalid_metadata", "mixed")
    await tb.reset()
    bad = random_fp_ops(tb.rng, CONFIG, COUNTS["invalid"], invalid_prob=0.05, specials=0.05)
    assert bad.invalid(CONFIG).any()
    tb.send(bad)
    await tb.drain()
    assert int(dut.error.value) == 1
    await tb.reset()
    tb.send(random_fp_ops(tb.rng, CONFIG, 50))
    await tb.drain()
    tb.finish("invalid_metadata")


@cocotb.test()
async def reset_mid_stream(dut):
    """Resets of 1 … 3 cycles at random points with operations queued and in flight."""
    tb = make_tb(dut, "fp_reset_mid_stream", "heavy")
    await tb.reset()
    count = COUNTS["reset"]
    for round_ in range(COUNTS["reset_rounds"]):
        batch = random_fp_ops(tb.rng, CONFIG, count)
        if round_:
            batch.first[0] = False
        tb.send(batch)
        await ClockCycles(dut.clk, int(tb.rng.integers(1, 2 * count)))
        await tb.reset(cycles=int(tb.rng.integers(1, 4)))
    batch = random_fp_ops(tb.rng, CONFIG, count)
    batch.first[0] = False
    tb.send(batch)
    await tb.drain()
    tb.finish("reset_mid_stream")


@cocotb.test()
async def cycle_exact(dut):
    """No stalls: II = 1 and every result exactly ``latency`` cycles after its operation."""
    tb = make_tb(dut, "fp_cycle_exact", "none")
    await tb.reset()
    count = COUNTS["cycle"]
    tb.send(random_fp_ops(tb.rng, CONFIG, count, flags="chains", chain=(1, 6)))
    await tb.drain()
    accepted = list(tb.a.accept_cycles)
    assert accepted == list(range(accepted[0], accepted[0] + count))
    for cycle, tag in tb.scoreboard.result_cycles:
        assert cycle - accepted[tag] == LATENCY
    tb.finish("cycle_exact")


@cocotb.test()
async def gemm(dut):
    """GEMMs cut by split_gemm (split_dense_gemm for the dense baseline), reassembled:
    bit for bit against golden.fp_sparse_mma / fp_dense_mma, and within docs/fp.md's bound
    of float64 NumPy."""
    cfg = CONFIG
    tb = make_tb(dut, "fp_gemm", "mixed")
    await tb.reset()
    rng = tb.rng
    dt = cfg.dtype
    for number in range(COUNTS["gemm"]):
        M = cfg.tile_m * int(rng.integers(1, 4))
        N = cfg.tile_n * int(rng.integers(1, 4))
        K = cfg.tile_k * int(rng.integers(2, 12))
        dense = from_bits(to_bits(rng.standard_normal((M, K)), dt), dt)
        B = from_bits(to_bits(rng.standard_normal((K, N)), dt), dt)
        bbits = to_bits(B, dt).astype(np.int64)
        if cfg.sparse:
            A, _ = golden.prune(dense, cfg.n, cfg.m)
            values, metadata = golden.compress(to_bits(A, dt).astype(np.int64), cfg.n, cfg.m)
            ops = split_gemm(values, metadata, bbits, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                             tile_k=cfg.tile_k, n=cfg.n, m=cfg.m)
            want = fp_sparse_mma(values, metadata, bbits, tile_k=cfg.tile_k, n=cfg.n, m=cfg.m,
                                 dtype=dt, guard=cfg.fp_guard)
            blocks = K // cfg.tile_k
        else:
            A = dense
            ops = split_dense_gemm(to_bits(A, dt).astype(np.int64), bbits, tile_m=cfg.tile_m,
                                   tile_n=cfg.tile_n, tile_k=cfg.kept_k)
            want = fp_dense_mma(to_bits(A, dt).astype(np.int64), bbits, block_k=cfg.kept_k,
                                dtype=dt, guard=cfg.fp_guard)
            blocks = K // cfg.kept_k
        tb.scoreboard.collect = []
        tb.send(OpBatch.from_ops(ops))
        await tb.drain()
        tiles = [np.array([(d >> (32 * i)) & 0xFFFFFFFF
                           for i in range(cfg.tile_m * cfg.tile_n)]).reshape(cfg.tile_m,
                                                                            cfg.tile_n)
                 for d in tb.scoreboard.collect]
        tb.scoreboard.collect = None
        D = assemble(tiles, M, N, tile_m=cfg.tile_m, tile_n=cfg.tile_n)
        np.testing.assert_array_equal(D, want, err_msg=f"GEMM {number} vs golden")
        ref = A.astype(np.float64) @ B.astype(np.float64)
        absref = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))
        gamma = blocks * ((cfg.kept_k + 1) * 2.0 ** (-22 - cfg.fp_guard) * 4 + 2.0 ** -23)
        err = np.abs(fp32_from_bits(D).astype(np.float64) - ref)
        assert (err <= gamma * absref).all(), f"GEMM {number}: {np.max(err / absref)} > {gamma}"
        tb.log.info("GEMM %d: %dx%dx%d in %d operations, max |D - A@B| / (|A||B|) = %.3g "
                    "(bound %.3g)", number, M, K, N, len(ops), np.max(err / absref), gamma)
    tb.finish("gemm")
