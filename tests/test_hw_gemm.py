"""Amaranth-simulator tests of the GEMM engine: sequencer, control, counters, bad jobs.

The engine runs through its flat-port wrapper with small tiles; the stimulus is packed by
the host driver's planner (``tb.gemm_driver.plan_gemm``), the same words the cocotb runs
load, and D is compared with the golden model.
"""

import gc
import itertools
import warnings

import numpy as np
import pytest
from amaranth.hdl import Fragment, ResetInserter, Signal, UnusedElaboratable
from amaranth.sim import Simulator

import golden
from hw.config import ConfigError, CoreConfig
from hw.gemm import (CHECK_CYCLES, COUNTERS, CSR_READ_LATENCY, OUTPUT_LATENCY, START_LATENCY,
                     Cause, Ctrl, GemmEngine, Reg, Status, busy_cycles)
from hw.gemm_top import FlatGemmEngine, emit_gemm
from tb.gemm_driver import GemmInputError, plan_gemm, run_gemms, unpack_elements

SMALL = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
TINY = CoreConfig(tile_m=1, tile_n=1, tile_k=4)
DEPTH = 32


def random_nm(rng, M, K, config):
    A = rng.integers(-(1 << (config.a_width - 1)), 1 << (config.a_width - 1), (M, K))
    keys = rng.random((M, K // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros(keys.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return A * mask.reshape(M, K)


def _int(raw):
    return int.from_bytes(np.asarray(raw, dtype=np.uint8).tobytes(), "little")


async def load_words(ctx, dut, prefix, base, fields):
    """Write buffer words through ``ld_<prefix>``, honouring ``ready`` (a word is written at
    an edge where valid and ready are both high)."""
    for i in range(fields[0][1].shape[0]):
        ctx.set(getattr(dut, f"ld_{prefix}_addr"), base + i)
        for port, words in fields:
            ctx.set(getattr(dut, port), _int(words[i]))
        ctx.set(getattr(dut, f"ld_{prefix}_valid"), 1)
        while True:
            _, _, ready = await ctx.tick().sample(getattr(dut, f"ld_{prefix}_ready"))
            if ready:
                break
    ctx.set(getattr(dut, f"ld_{prefix}_valid"), 0)


def rtl_jobs(jobs, config, *, depth=DEPTH, pattern=None, extra=None):
    """Run raw jobs on the engine in Amaranth's simulator; one result dict per job."""
    dut = FlatGemmEngine(config, a_depth=depth, b_depth=depth, checks=True)
    results = []

    async def write(ctx, addr, value):
        ctx.set(dut.csr_addr, addr)
        ctx.set(dut.csr_wdata, value)
        ctx.set(dut.csr_we, 1)
        await ctx.tick()
        ctx.set(dut.csr_we, 0)

    async def read(ctx, addr):
        ctx.set(dut.csr_addr, addr)
        ctx.set(dut.csr_re, 1)
        await ctx.tick()
        ctx.set(dut.csr_re, 0)
        await ctx.tick().repeat(CSR_READ_LATENCY - 1)
        return ctx.get(dut.csr_rdata)

    async def testbench(ctx):
        for job in jobs:
            await write(ctx, Reg.CTRL, Ctrl.CLEAR | Ctrl.CLEAR_COUNTERS)
            fields = [("ld_a_values", job["a_values"])]
            if config.sparse:
                fields.append(("ld_a_meta", job["a_meta"]))
            await load_words(ctx, dut, "a", job["a_load"], fields)
            await load_words(ctx, dut, "b", job["b_load"], [("ld_b_data", job["b_data"])])
            regs = (Reg.MODE, Reg.M_TILES, Reg.N_TILES, Reg.K_TILES, Reg.A_BASE, Reg.B_BASE)
            for reg, value in zip(regs, job["regs"]):
                await write(ctx, reg, value)
            if extra is not None:
                await extra(ctx, dut, write)
            await write(ctx, Reg.CTRL, Ctrl.START)
            ready = pattern() if pattern is not None else itertools.repeat(1)
            beats, errors, lasts, cycles = [], [], [], 0
            while True:
                ctx.set(dut.d_ready, next(ready))
                _, _, valid, rdy, data, err, last, done = await ctx.tick().sample(
                    dut.d_valid, dut.d_ready, dut.d_data, dut.d_error, dut.d_last, dut.done)
                if done:
                    break
                cycles += 1
                assert cycles < job["timeout"], "job did not finish"
                if valid and rdy:
                    beats.append(data)
                    errors.append(err)
                    lasts.append(last)
            ctx.set(dut.d_ready, 0)
            status = await read(ctx, Reg.STATUS)
            counters = {}
            for name, reg in COUNTERS:
                lo = await read(ctx, reg)
                counters[name] = lo | (await read(ctx, reg + 1)) << 32
            nbytes = (len(dut.d_data) + 7) // 8
            d_data = np.array([list(b.to_bytes(nbytes, "little")) for b in beats],
                              dtype=np.uint8).reshape(len(beats), nbytes)
            results.append(dict(beats=beats, errors=errors, lasts=lasts, run_cycles=cycles,
                                status=status, cause=status >> 8, d_data=d_data,
                                run_wall_s=0.0, d_last=lasts, **counters))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return results


def rtl_gemms(specs, config, *, depth=DEPTH, split=False, check=False, **kwargs):
    """The host driver's ``run_gemms`` with the Amaranth simulator as its back end;
    returns ``[(D, counters), ...]``, counters including the testbench's view
    (``beats``, ``errors``, ``lasts``) of a single engine job."""
    seen = []

    def runner(raw, *, config, a_depth, b_depth, build_name):
        results = rtl_jobs(raw, config, depth=depth, **kwargs)
        seen.extend(results)
        return results

    out = run_gemms(specs, config=config, a_depth=depth, b_depth=depth, split=split,
                    check=check, runner=runner)
    if not split:
        for (D, counters), res in zip(out, seen):
            counters.update((k, res[k]) for k in ("beats", "errors", "lasts"))
    return out


# --- construction -----------------------------------------------------------------------------

def test_init():
    engine = GemmEngine(SMALL, a_depth=16, b_depth=8)
    Fragment.get(engine, None)                  # elaborates (and marks it used)
    assert engine.a_depth == 16 and engine.b_depth == 8
    assert engine.ops_per_k_tile == 2
    assert engine.ld_a.payload.shape().size == 4 + 2 * 4 * 8 + 2 * 8


def _init_raises(exc, match, *args, **kwargs):
    """``GemmEngine(*args, **kwargs)`` raises; the half-built object is collected without
    Amaranth's "created but never used" warning leaking into a later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(exc, match=match):
            GemmEngine(*args, **kwargs)
        gc.collect()


def test_init_wrong_depth():
    _init_raises(ConfigError, r"^a_depth must be between 1 and 65536, not 0$",
                 SMALL, a_depth=0, b_depth=8)
    _init_raises(ConfigError, r"^b_depth must be between 1 and 65536, not 65537$",
                 SMALL, a_depth=8, b_depth=65537)
    _init_raises(ConfigError, r"^b_depth must be an integer, not 2.0$",
                 SMALL, a_depth=8, b_depth=2.0)


def test_init_wrong_config():
    _init_raises(TypeError, r"^config must be a CoreConfig, not 3$", 3, a_depth=8, b_depth=8)


# --- jobs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", [SMALL, TINY], ids=["2x2x8", "1x1x4"])
def test_sim_shapes(config, rng):
    """Random shapes (1×1×1, non-multiples of the tile), sparse and dense, bit-exact."""
    shapes = [(1, 1, 1), (1, 1, 4), (3, 5, 7), (2, 2, 8), (5, 3, 17)]
    specs = []
    for M, N, K in shapes:
        K4 = -(-K // 4) * 4
        A = random_nm(rng, M, K4, config)[:, :K]
        B = rng.integers(-128, 128, (K, N))
        specs.append(dict(A=A, B=B, sparse=True))
        specs.append(dict(A=A, B=B, sparse=False))
    for spec, (D, res) in zip(specs, rtl_gemms(specs, config, depth=64)):
        np.testing.assert_array_equal(D, golden.dense_mma(spec["A"], spec["B"]), strict=True)
        assert res["cause"] == 0 and res["status"] == Status.DONE


def test_sim_counters_exact(rng):
    """Counters of a small job are exact: busy = ops + START_LATENCY - 1 + latency + 1 (one
    operation per cycle from the first to the last; the output slice), nothing stalls out."""
    config = SMALL
    M, N, K = 4, 6, 16                   # 2 × 3 output tiles, 2 K tiles
    A = random_nm(rng, M, K, config)
    B = rng.integers(-128, 128, (K, N))
    values, metadata = golden.compress(A)
    specs = [dict(values=values, metadata=metadata, B=B), dict(A=A, B=B, sparse=False)]
    (Ds, rs), (Dd, rd) = rtl_gemms(specs, config)
    np.testing.assert_array_equal(Ds, golden.dense_mma(A, B), strict=True)
    np.testing.assert_array_equal(Dd, golden.dense_mma(A, B), strict=True)
    p = config.pipeline
    # 1 + check (17 multiply steps, sum, compare, verdict) + launch + 5 address stages
    # + read 3 (address copies, the block RAM, its output register: the core takes the
    # operands from the output registers)
    assert START_LATENCY == 30
    for res, ops, macs_per_op in ((rs, 12, 2 * 2 * 8), (rd, 24, 2 * 2 * 4)):
        assert res["tile_ops"] == ops
        assert res["macs"] == ops * macs_per_op == M * N * K
        assert res["busy_cycles"] == busy_cycles(ops, config) == ops + 29 + p + 1 + 1
        assert res["stall_in"] == 29 + p + 1 + 1
        assert res["run_cycles"] == res["busy_cycles"] and res["jobs"] == 1
        assert res["stall_out"] == 0
        assert res["d_tiles"] == 6
        assert res["cycles"] > res["busy_cycles"]
        assert res["lasts"] == [0] * 5 + [1]


@pytest.mark.parametrize("pipeline", [1, 3])
def test_sim_backpressure(pipeline, rng):
    """Random D back-pressure: D still exact; busy = ops + stall_in + stall_out."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=pipeline)
    pattern_rng = np.random.default_rng(rng.integers(1 << 32))

    def pattern():
        return iter(lambda: int(pattern_rng.random() < 0.4), None)

    specs = []
    for M, N, K in [(3, 7, 9), (4, 4, 8), (1, 5, 24)]:
        K4 = -(-K // 4) * 4
        A = random_nm(rng, M, K4, config)[:, :K]
        B = rng.integers(-128, 128, (K, N))
        specs += [dict(A=A, B=B), dict(A=A, B=B, sparse=False)]
    stalled = 0
    for spec, (D, res) in zip(specs, rtl_gemms(specs, config, pattern=pattern)):
        np.testing.assert_array_equal(D, golden.dense_mma(spec["A"], spec["B"]), strict=True)
        assert res["busy_cycles"] == res["tile_ops"] + res["stall_in"] + res["stall_out"]
        stalled += res["stall_out"]
    assert stalled > 0


@pytest.mark.parametrize("pipeline", [1, 11])
def test_sim_every_op_last(pipeline, rng):
    """A job whose every operation carries ``last`` (K = one tile): the engine issues them
    ahead of the core against the core's result credits, so with D ready it still runs one
    operation per cycle (exact busy cycles), and with D stalled at random the core never
    refuses an issued operation (the engine's ``checks`` assert it) and D stays exact."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=pipeline)
    M, N, K = 8, 14, 8                     # 4 × 7 tiles, one K tile: 28 operations, all last
    A = random_nm(rng, M, K, config)
    B = rng.integers(-128, 128, (K, N))
    (D, res), = rtl_gemms([dict(A=A, B=B)], config)
    np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)
    assert res["tile_ops"] == res["d_tiles"] == 28
    assert res["busy_cycles"] == busy_cycles(28, config) == 28 + 29 + pipeline + 1 + 1
    pattern_rng = np.random.default_rng(rng.integers(1 << 32))

    def pattern():
        return iter(lambda: int(pattern_rng.random() < 0.3), None)

    (D, res), = rtl_gemms([dict(A=A, B=B)], config, pattern=pattern)
    np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)
    assert res["stall_out"] > 0
    assert res["busy_cycles"] == res["tile_ops"] + res["stall_in"] + res["stall_out"]


def test_sim_extreme_values():
    """Most negative × most negative everywhere, accumulator wrap at a narrow width."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, acc_width=16)
    M, N, K = 2, 3, 24
    A = np.zeros((M, K), dtype=np.int64)
    A[:, 0::4] = -128
    A[:, 3::4] = -128
    B = np.full((K, N), -128)
    specs = [dict(A=A, B=B), dict(A=A, B=B, sparse=False)]
    for D, res in rtl_gemms(specs, config):
        np.testing.assert_array_equal(
            D, golden.dense_mma(A, B, acc_width=16), strict=True)


# --- bad jobs -----------------------------------------------------------------------------------

def _raw_job(config, regs, *, a_words=0, b_words=0):
    meta_bytes = -(-config.tile_m * config.meta_width // 8)
    vbytes = -(-config.tile_m * config.kept_k * config.a_width // 8)
    bbytes = -(-config.tile_k * config.tile_n * config.b_width // 8)
    return dict(a_values=np.zeros((a_words, vbytes), np.uint8),
                a_meta=np.full((a_words, meta_bytes), 0x44, np.uint8),   # 2:4 "(0, 1)"
                b_data=np.zeros((b_words, bbytes), np.uint8), a_load=0, b_load=0,
                regs=regs, timeout=100)


@pytest.mark.parametrize("regs, cause", [
    ([0, 0, 1, 1, 0, 0], Cause.ZERO_DIM),
    ([0, 1, 0, 1, 0, 0], Cause.ZERO_DIM),
    ([1, 1, 1, 0, 0, 0], Cause.ZERO_DIM),
    ([0, 33, 1, 1, 0, 0], Cause.A_RANGE),              # 33 A words > 32
    ([1, 17, 1, 1, 0, 0], Cause.A_RANGE),              # dense: 17 * 2 A words
    ([0, 1, 1, 1, 32, 0], Cause.A_RANGE),              # base at the end of the buffer
    ([0, 1, 8, 5, 0, 0], Cause.B_RANGE),               # 40 B words > 32
    ([0, 1, 1, 1, 0, 0xFFFF], Cause.B_RANGE),
    ([0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], Cause.A_RANGE | Cause.B_RANGE),
])
def test_sim_bad_descriptor(regs, cause):
    """Zero or over-limit dimensions end after the check with DONE and the cause; no D tile.
    BUSY is high from the cycle after START through the launch cycle that rejects it."""
    res, ok = rtl_jobs([_raw_job(SMALL, regs),
                        _raw_job(SMALL, [0, 1, 1, 1, 0, 0], a_words=1, b_words=1)], SMALL)
    assert res["cause"] == cause
    assert res["status"] == Status.DONE | Status.ERROR | cause << 8
    assert res["beats"] == [] and res["run_cycles"] == CHECK_CYCLES + 1
    assert res["busy_cycles"] == CHECK_CYCLES + 1 and res["tile_ops"] == 0
    assert res["jobs"] == 1
    # The engine takes the next job normally.
    assert ok["cause"] == 0 and len(ok["beats"]) == 1


def test_sim_mode_error_dense_core():
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, sparse=False)
    res, ok = rtl_jobs([_raw_job(config, [0, 1, 1, 1, 0, 0]),
                        _raw_job(config, [1, 1, 1, 1, 0, 0], a_words=2, b_words=1)], config)
    assert res["cause"] == Cause.MODE and res["beats"] == []
    assert ok["cause"] == 0 and len(ok["beats"]) == 1


def test_sim_dense_core(rng):
    """Dense jobs on a dense-baseline core give the same D."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, sparse=False)
    A = rng.integers(-128, 128, (3, 13))
    B = rng.integers(-128, 128, (13, 5))
    ((D, res),) = rtl_gemms([dict(A=A, B=B, sparse=False)], config)
    np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)
    assert res["busy_cycles"] == busy_cycles(res["tile_ops"], config)


def test_sim_invalid_metadata(rng):
    """Invalid metadata: the job completes, flagged tiles carry d_error, cause META."""
    config = SMALL
    M, N, K = 4, 4, 16
    A = random_nm(rng, M, K, config)
    B = rng.integers(-128, 128, (K, N))
    values, metadata = golden.compress(A)
    bad = metadata.copy()
    bad[3, 0] = (int(bad[3, 0]) & 0xFFF0) | 0x5       # row 3, group 0: indices (1, 1)
    ((D, res), (D2, res2)) = rtl_gemms(
        [dict(values=values, metadata=bad, B=B), dict(values=values, metadata=metadata, B=B)],
        config)
    assert res["cause"] == Cause.META
    assert res["status"] == Status.DONE | Status.ERROR | Cause.META << 8
    # Output tiles (mi=1, ni=0..1) hold row 3; the others are exact.
    assert res["errors"] == [0, 0, 1, 1]
    ref = golden.dense_mma(A, B)
    np.testing.assert_array_equal(D[:2], ref[:2], strict=True)
    np.testing.assert_array_equal(D[2], ref[2], strict=True)
    # The next job starts clean.
    assert res2["cause"] == 0
    np.testing.assert_array_equal(D2, ref, strict=True)


def test_sim_start_queues(rng):
    """START during a job queues the next one (registers written after it do not disturb
    either); a START while one already waits is refused with QUEUE. Both queued jobs run
    back to back, one idle issue cycle between them, each D tile run ending in ``last``."""
    config = SMALL
    A = random_nm(rng, 8, 16, config)           # 4 × 4 output tiles, 2 K tiles: 32 ops
    B = rng.integers(-128, 128, (16, 8))

    async def extra(ctx, dut, write):
        await write(ctx, Reg.CTRL, Ctrl.START)     # job 1 is checked in the queue
        await ctx.tick().repeat(CHECK_CYCLES + 1)  # ... and launched: the queue is free
        await write(ctx, Reg.CTRL, Ctrl.START)     # job 2 waits in the queue
        await write(ctx, Reg.M_TILES, 0)           # would be a bad job if it were taken
        await write(ctx, Reg.CTRL, Ctrl.START)     # refused: QUEUE

    # ``extra`` starts the jobs itself; the testbench's own START is refused too.
    job, _ = plan_gemm(B, A, config=config, a_depth=DEPTH, b_depth=DEPTH)
    (res,) = rtl_jobs([job], config, extra=extra)
    assert res["cause"] == Cause.QUEUE
    assert res["status"] == Status.DONE | Status.ERROR | Cause.QUEUE << 8
    assert res["jobs"] == 2 and res["lasts"] == ([0] * 15 + [1]) * 2
    ops = 4 * 4 * 2
    # Job 2 follows job 1 with one idle cycle.
    assert res["busy_cycles"] == busy_cycles(2 * ops, config) + 1
    nbytes = config.tile_m * config.tile_n * config.acc_width // 8
    raw = np.array([list(b.to_bytes(nbytes, "little")) for b in res["beats"]], np.uint8)
    tiles = unpack_elements(raw, config.acc_width, config.tile_m * config.tile_n)
    for half in (tiles[:16], tiles[16:]):
        D = half.reshape(4, 4, 2, 2).transpose(0, 2, 1, 3).reshape(8, 8)
        np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)


def test_sim_info_registers():
    results = {}

    async def extra(ctx, dut, write):
        for reg in (Reg.INFO, Reg.A_DEPTH, Reg.B_DEPTH, Reg.WIDTHS, Reg.M_TILES, 0x3F, 0xFF):
            ctx.set(dut.csr_addr, reg)
            ctx.set(dut.csr_re, 1)
            await ctx.tick()
            ctx.set(dut.csr_re, 0)
            await ctx.tick().repeat(CSR_READ_LATENCY - 1)
            results[reg] = ctx.get(dut.csr_rdata)

    rtl_jobs([_raw_job(SMALL, [0, 1, 1, 1, 0, 0], a_words=1, b_words=1)], SMALL, extra=extra)
    assert results[Reg.INFO] == 2 | 2 << 8 | 8 << 16 | 2 << 24 | 4 << 28
    assert results[Reg.A_DEPTH] == DEPTH and results[Reg.B_DEPTH] == DEPTH
    assert results[Reg.WIDTHS] == 8 | 8 << 8 | 32 << 16 | 1 << 24
    assert results[Reg.M_TILES] == 1
    assert results[0x3F] == 0 and results[0xFF] == 0


# --- host driver input checks ---------------------------------------------------------------------

def test_driver_errors():
    B = np.zeros((8, 2), dtype=np.int64)
    A = np.zeros((2, 8), dtype=np.int64)
    with pytest.raises(GemmInputError, match=r"^B has 8 rows but A has K=4 columns$"):
        plan_gemm(B, A[:, :4], config=SMALL)
    with pytest.raises(GemmInputError, match=r"^A\[0, 1\] = 200 does not fit 8-bit signed$"):
        plan_gemm(B, np.where(np.arange(8) == 1, 200, 0)[None].repeat(2, 0), config=SMALL)
    with pytest.raises(GemmInputError, match=r"^A needs 40 buffer words from a_base=0, "
                                             r"more than a_depth=32 \(M=80, K=8\)$"):
        plan_gemm(B, np.zeros((80, 8), np.int64), config=SMALL, a_depth=32)
    with pytest.raises(GemmInputError, match=r"^give either A or values and metadata"):
        plan_gemm(B, config=SMALL)
    with pytest.raises(GemmInputError, match=r"^a dense job \(sparse=False\) takes a dense A"):
        plan_gemm(B, values=np.zeros((2, 4)), metadata=np.zeros((2, 1), np.uint16),
                  sparse=False, config=SMALL)
    with pytest.raises(GemmInputError, match=r"^B must not be empty"):
        plan_gemm(np.zeros((8, 0), np.int64), A, config=SMALL)
    with pytest.raises(golden.NotNMSparseError):
        plan_gemm(B, np.ones((2, 8), np.int64), config=SMALL)


def test_sim_split(rng):
    """A GEMM larger than the buffers runs as several jobs (M, N and K chunks; K partial
    sums wrap at a narrow accumulator) and still equals the golden model."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=8, acc_width=16)
    M, N, K = 7, 9, 40
    A = random_nm(rng, M, K, config)
    B = rng.integers(-128, 128, (K, N))
    C = rng.integers(-2**15, 2**15, (M, N))
    specs = [dict(A=A, B=B, C=C), dict(A=A, B=B, C=C, sparse=False)]
    with pytest.raises(GemmInputError, match=r"^A needs 20 buffer words"):
        rtl_gemms(specs, config, depth=8)
    results = rtl_gemms(specs, config, depth=8, split=True)
    ref = golden.dense_mma(A, B, C, acc_width=16)
    for (D, counters), jobs, ops in zip(results, (20, 24), (100, 200)):
        np.testing.assert_array_equal(D, ref, strict=True)
        assert counters["jobs"] == jobs and counters["cause"] == 0
        assert counters["tile_ops"] == ops
        per_job = START_LATENCY - 1 + config.latency + OUTPUT_LATENCY
        assert counters["busy_cycles"] == ops + jobs * per_job


def test_sim_reset_mid_job(rng):
    """A reset in the middle of a job stops it (not busy, no D); the buffers keep their
    words, so the job run again from the same descriptor gives the right D."""
    config = SMALL
    A = random_nm(rng, 4, 32, config)
    B = rng.integers(-128, 128, (32, 4))
    job, _ = plan_gemm(B, A, config=config, a_depth=DEPTH, b_depth=DEPTH)
    dut = FlatGemmEngine(config, a_depth=DEPTH, b_depth=DEPTH, checks=True)
    rst = Signal()
    seen = {}

    async def write(ctx, addr, value):
        ctx.set(dut.csr_addr, addr)
        ctx.set(dut.csr_wdata, value)
        ctx.set(dut.csr_we, 1)
        await ctx.tick()
        ctx.set(dut.csr_we, 0)

    async def testbench(ctx):
        for prefix, fields in (("a", [("ld_a_values", job["a_values"]),
                                      ("ld_a_meta", job["a_meta"])]),
                               ("b", [("ld_b_data", job["b_data"])])):
            await load_words(ctx, dut, prefix, 0, fields)
        regs = (Reg.MODE, Reg.M_TILES, Reg.N_TILES, Reg.K_TILES, Reg.A_BASE, Reg.B_BASE)
        for reg, value in zip(regs, job["regs"]):
            await write(ctx, reg, value)
        await write(ctx, Reg.CTRL, Ctrl.START)
        await ctx.tick().repeat(5)
        assert ctx.get(dut.busy)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        assert not ctx.get(dut.busy) and not ctx.get(dut.done) and not ctx.get(dut.d_valid)
        for reg, value in zip(regs, job["regs"]):          # the reset cleared them
            await write(ctx, reg, value)
        await write(ctx, Reg.CTRL, Ctrl.START)
        ctx.set(dut.d_ready, 1)
        beats = []
        while True:
            _, _, valid, data, done = await ctx.tick().sample(dut.d_valid, dut.d_data, dut.done)
            if done:
                break
            if valid:
                beats.append(data)
        seen["beats"] = beats

    sim = Simulator(ResetInserter(rst)(dut))
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    nbytes = config.tile_m * config.tile_n * config.acc_width // 8
    raw = np.array([list(b.to_bytes(nbytes, "little")) for b in seen["beats"]], np.uint8)
    tiles = unpack_elements(raw, config.acc_width, config.tile_m * config.tile_n)
    D = tiles.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    np.testing.assert_array_equal(D, golden.dense_mma(A, B), strict=True)


def test_emit_gemm_flat_and_deterministic():
    """The emitted top has the documented flat ports and is byte-for-byte reproducible."""
    text = emit_gemm(TINY, a_depth=4, b_depth=4)
    assert text == emit_gemm(TINY, a_depth=4, b_depth=4)
    assert "module gemm_sparse2of4_1x1x4_a8b8acc32_p1_a4_b4(" in text
    for port, width in [("csr_addr", 8), ("csr_wdata", 32), ("csr_rdata", 32),
                        ("ld_a_addr", 2), ("ld_a_values", 16), ("ld_a_meta", 4),
                        ("ld_b_addr", 2), ("ld_b_data", 32), ("d_data", 32), ("cause", 8)]:
        assert f"[{width - 1}:0] {port};" in text, port
    for port in ("clk", "rst", "csr_we", "csr_re", "ld_a_valid", "ld_a_ready", "ld_b_valid",
                 "ld_b_ready", "d_valid", "d_ready", "d_error", "d_last", "busy", "done"):
        assert f" {port};" in text, port
    assert "/work/" not in text and "src =" not in text


@pytest.mark.parametrize("n, m, tile_k", [(1, 2, 4), (4, 8, 16)])
def test_sim_other_patterns(n, m, tile_k, rng):
    """1:2 and 4:8 cores: sparse and dense jobs, padded shapes, bit-exact."""
    config = CoreConfig(tile_m=2, tile_n=2, tile_k=tile_k, n=n, m=m)
    specs = []
    for M, N, K in [(3, 3, 2 * tile_k + m), (1, 2, m)]:
        A = random_nm(rng, M, K, config)
        B = rng.integers(-128, 128, (K, N))
        values, metadata = golden.compress(A, n, m)
        specs += [dict(values=values, metadata=metadata, B=B), dict(A=A, B=B, sparse=False)]
    for spec, (D, counters) in zip(specs, rtl_gemms(specs, config)):
        ref = golden.dense_mma(spec["A"], spec["B"]) if "A" in spec else golden.sparse_mma(
            spec["values"], spec["metadata"], spec["B"], n=n, m=m)
        np.testing.assert_array_equal(D, ref, strict=True)
        assert counters["cause"] == 0


# --- CSR port ---------------------------------------------------------------------------------

def test_sim_value_error():
    """A write that does not fit its register is not truncated: the register keeps its
    value, the next START is rejected with Cause.VALUE (no D), the one after runs."""
    seen = {}

    async def extra(ctx, dut, write):
        await write(ctx, Reg.M_TILES, 0x10001)           # would run as 1 if truncated
        ctx.set(dut.csr_addr, Reg.M_TILES)
        ctx.set(dut.csr_re, 1)
        await ctx.tick()
        ctx.set(dut.csr_re, 0)
        await ctx.tick().repeat(CSR_READ_LATENCY - 1)
        seen["m_tiles"] = ctx.get(dut.csr_rdata)

    job = _raw_job(SMALL, [0, 1, 1, 1, 0, 0], a_words=1, b_words=1)
    res, after = rtl_jobs([job, job], SMALL, extra=_once(extra))
    assert seen["m_tiles"] == 1
    assert res["cause"] == Cause.VALUE and res["beats"] == [] and res["tile_ops"] == 0
    assert res["status"] == Status.DONE | Status.ERROR | Cause.VALUE << 8
    assert after["cause"] == 0 and len(after["beats"]) == 1


def _once(extra):
    """``extra`` for the first job only."""
    calls = []

    async def wrapper(ctx, dut, write):
        if not calls:
            calls.append(1)
            await extra(ctx, dut, write)
    return wrapper


@pytest.mark.parametrize("reg, value", [(Reg.MODE, 2), (Reg.A_BASE, 1 << 16),
                                        (Reg.CTRL, 1 << 3), (Reg.K_TILES, 0x80000000)])
def test_sim_value_error_every_register(reg, value):
    """Every writable register checks its fields (CTRL included)."""
    async def extra(ctx, dut, write):
        await write(ctx, reg, value)

    job = _raw_job(SMALL, [0, 1, 1, 1, 0, 0], a_words=1, b_words=1)
    res, after = rtl_jobs([job, job], SMALL, extra=_once(extra))
    assert res["cause"] == Cause.VALUE
    assert after["cause"] == 0


def test_csr_read_latency_and_snapshot():
    """CsrFile alone: rdata exactly CSR_READ_LATENCY cycles after re; a LO read latches the
    high word, so LO then HI read one 64-bit value even if the counter moves between."""
    from hw.gemm_csr import CsrFile
    dut = CsrFile()
    got = {}

    async def read(ctx, addr):
        ctx.set(dut.addr, addr)
        ctx.set(dut.re, 1)
        await ctx.tick()
        ctx.set(dut.re, 0)
        ctx.set(dut.addr, 0)
        values = [None]                      # values[i]: rdata in cycle t + i (re in cycle t)
        for _ in range(CSR_READ_LATENCY):
            values.append(ctx.get(dut.rdata))
            await ctx.tick()
        return values

    async def testbench(ctx):
        ctx.set(dut.cnt_macs, 0x1_FFFF_FFFF)
        ctx.set(dut.ro_a_depth, 1234)
        got["depth"] = await read(ctx, Reg.A_DEPTH)
        got["lo"] = await read(ctx, Reg.MACS_LO)
        ctx.set(dut.cnt_macs, 0x2_0000_0005)                # carries into the high word
        got["hi"] = await read(ctx, Reg.MACS_HI)
        got["lo2"] = await read(ctx, Reg.MACS_LO)
        got["hi2"] = await read(ctx, Reg.MACS_HI)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    # Not there one cycle early, there at the latency.
    assert got["depth"][CSR_READ_LATENCY - 1] != 1234 and got["depth"][CSR_READ_LATENCY] == 1234
    assert got["lo"][CSR_READ_LATENCY] == 0xFFFF_FFFF and got["hi"][CSR_READ_LATENCY] == 1
    assert got["lo2"][CSR_READ_LATENCY] == 5 and got["hi2"][CSR_READ_LATENCY] == 2


def test_sim_load_ready_low_in_reset():
    """ld_a/ld_b ready is low during reset and the cycle after it (producers must wait)."""
    dut = FlatGemmEngine(TINY, a_depth=4, b_depth=4, checks=True)
    rst = Signal()
    seen = []

    async def testbench(ctx):
        ctx.set(rst, 1)
        await ctx.tick()
        seen.append((ctx.get(dut.ld_a_ready), ctx.get(dut.ld_b_ready)))
        ctx.set(rst, 0)
        await ctx.tick()
        seen.append((ctx.get(dut.ld_a_ready), ctx.get(dut.ld_b_ready)))

    sim = Simulator(ResetInserter(rst)(dut))
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [(0, 0), (1, 1)]


def test_registers_doc_current(capsys):
    """docs/registers.md is the text ``python -m hw.regmap`` writes (regenerate it if not)."""
    import pathlib

    from hw import regmap
    regmap.main([])
    generated = capsys.readouterr().out
    committed = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "registers.md")
    assert committed.read_text() == generated, "run: python -m hw.regmap > docs/registers.md"


def test_reg_enum_matches_map():
    """Reg is the register map's addresses (counter names alias their low words)."""
    from hw.gemm_regs import ENGINE_REGISTERS
    for reg in ENGINE_REGISTERS:
        assert Reg[reg.name] == reg.addr
    assert Reg.CYCLES == Reg.CYCLES_LO == 0x10 and Reg.D_TILES == 0x1C


def test_synth_engine_spec():
    """bench.synth's ``gemm-`` specs name a whole engine (default 2048-word buffers)."""
    from bench import synth
    job = synth.parse_spec("gemm-sparse-4x4x16-a8-p11-ecp5")
    assert job.engine_depth == synth.ENGINE_DEPTH == 2048
    assert job.config == CoreConfig(pipeline=11, dsp="ecp5")
    assert job.label == "gemm-sparse-4x4x16-a8-p11-ecp5-d2048"
    assert job.top == "gemm_sparse2of4_4x4x16_a8b8acc32_p11_ecp5_a2048_b2048"
    assert synth.parse_spec(job.label) == job
    assert synth.parse_spec("gemm-dense-2x2x8-d64").engine_depth == 64
    assert synth.parse_spec("sparse-4x4x16").engine_depth is None
    with pytest.raises(synth.SpecError, match=r"unknown part 'd64'"):
        synth.parse_spec("sparse-4x4x16-d64")          # a depth needs an engine
    plan, _ = synth.default_plan(False)
    assert {"gemm-sparse-4x4x16-a8-p11-ecp5-d2048",
            "gemm-dense-4x4x16-a8-p11-ecp5-d2048"} <= set(plan)


def test_init_wrong_memory():
    _init_raises(ConfigError, r"^memory must be one of 'generic', 'ecp5', not 'bram'$",
                 SMALL, a_depth=8, b_depth=8, memory="bram")
    _init_raises(ConfigError, r"^a_depth must be at most 16384 with memory='ecp5', not 20000$",
                 SMALL, a_depth=20000, b_depth=8, memory="ecp5")


@pytest.mark.parametrize("regs", [[0, 0, 1, 1, 0, 0], [0, 1, 1, 1, 0, 0]],
                         ids=["rejected", "runs"])
def test_sim_clear_in_every_cycle_of_a_job(regs):
    """A CLEAR written in any cycle of a job, up to and including the edge where it ends,
    leaves DONE high once the job ends; one written after the end clears it. (The formal
    ``job_outcome`` property found that a CLEAR at the ending edge used to hide DONE.)"""
    config = TINY
    ops = 0 if regs[1] == 0 else 1
    length = CHECK_CYCLES + 1 if ops == 0 else busy_cycles(ops, config)
    for offset in range(length + 2):
        dut = FlatGemmEngine(config, a_depth=4, b_depth=4, checks=True)
        seen = {}

        async def testbench(ctx, dut=dut, offset=offset, seen=seen):
            ctx.set(dut.d_ready, 1)
            for reg, value in zip((Reg.MODE, Reg.M_TILES, Reg.N_TILES, Reg.K_TILES,
                                   Reg.A_BASE, Reg.B_BASE), regs):
                ctx.set(dut.csr_addr, reg)
                ctx.set(dut.csr_wdata, value)
                ctx.set(dut.csr_we, 1)
                await ctx.tick()
            ctx.set(dut.csr_addr, Reg.CTRL)
            ctx.set(dut.csr_wdata, Ctrl.START)
            await ctx.tick()
            ctx.set(dut.csr_we, 0)
            busy = []
            for cycle in range(length + 4):
                # Cycle `cycle` after START's edge (0: the cycle right after it); BUSY is
                # high in cycles 0 ... length - 1, the job ends at the edge closing length - 1.
                if cycle == offset:
                    ctx.set(dut.csr_wdata, Ctrl.CLEAR)
                    ctx.set(dut.csr_we, 1)
                busy.append(ctx.get(dut.busy))
                await ctx.tick()
                ctx.set(dut.csr_we, 0)
            seen.update(busy=busy, done=ctx.get(dut.done))

        sim = Simulator(dut)
        sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        sim.run()
        assert seen["busy"] == [1] * length + [0] * 4, offset
        assert seen["done"] == (offset < length), offset
