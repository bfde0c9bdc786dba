"""cocotb tests of the flat-port core (run by tests/test_sim_core.py, one configuration each).

Environment (set by the pytest sweep through ``extra_env``):

``CORE_CONFIG``
    JSON of the :class:`hw.config.CoreConfig` fields the Verilog was generated from.
``TB_OPS``
    JSON object overriding the operation counts in :data:`COUNTS`.
``SEED``
    Replays a run: every test then uses this seed (default: a fresh random seed per test and
    run, logged as ``seed N (replay with SEED=N)``).
``TB_SUMMARY``
    Path of the JSON summary the tests add their figures to.
"""

import time

import numpy as np
import pytest

import cocotb
from cocotb import Param
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

import golden
from golden.tiles import assemble, dense_as_sparse, split_dense_gemm, split_gemm
from hw.core import SparseMMA

from .core_tb import (DEFAULT_COUNTS, PAUSES, CoreTB, ModelStream, OpBatch, config_from_env,
                      long_chain_ops, make_pause, op_counts, pack_a, pack_b, pack_d,
                      random_ops, record_summary, seed_for, unpack_fields, valid_patterns,
                      wrap_chain_length)

CONFIG = config_from_env()
#: Operations per test (per parametrized instance); TB_OPS overrides.
COUNTS = op_counts(DEFAULT_COUNTS)
#: Whether invalid metadata exists at all: 1:2 has one 1-bit index per group, always valid.
HAS_INVALID = CONFIG.sparse and CONFIG.n >= 2
LATENCY = SparseMMA(CONFIG).latency


def skip_without_invalid():
    # skip= is ignored when COCOTB_TEST_FILTER selects the test; skip from inside too.
    if not HAS_INVALID:
        pytest.skip(f"{CONFIG.n}:{CONFIG.m} has no invalid metadata encoding")


def make_tb(dut, name, stall="none"):
    """A testbench seeded for ``name`` with the pause generators of stall scenario ``stall``."""
    seed = seed_for(f"{name}[{stall}]")
    pause_rng = np.random.default_rng([seed, 1])
    a, b, d = (make_pause(spec, pause_rng) for spec in PAUSES[stall])
    return CoreTB(dut, CONFIG, seed=seed, a_pause=a, b_pause=b, d_pause=d)


def check_coverage(tb, batch):
    """Every (row, group) lane saw every valid pattern; groups with each count of non-zeros
    below n occur; some operation is most-negative everywhere."""
    cfg = tb.config
    if cfg.sparse:
        patterns = valid_patterns(cfg.n, cfg.m)
        weights = cfg.m ** np.arange(cfg.n)
        codes = (batch.a_idx * weights).sum(axis=-1)            # (count, tm, groups)
        wanted = np.sort(patterns @ weights)
        for r in range(cfg.tile_m):
            for g in range(cfg.groups):
                seen = np.unique(codes[:, r, g])
                missing = np.setdiff1d(wanted, seen)
                assert missing.size == 0, f"lane ({r}, {g}) never saw patterns {missing}"
        shape = (len(batch), cfg.tile_m, cfg.groups, cfg.n)
        nonzeros = (batch.a_values.reshape(shape) != 0).sum(axis=-1)
        for count in range(cfg.n):          # groups with 0, 1, … n-1 non-zeros
            assert (nonzeros == count).any(), f"no group with {count} non-zeros"
    lo_a, lo_b = -(1 << (cfg.a_width - 1)), -(1 << (cfg.b_width - 1))
    all_min = (batch.a_values == lo_a).all(axis=(1, 2)) & (batch.b == lo_b).all(axis=(1, 2))
    assert all_min.any(), "no operation with most-negative operands only"


# --- random streams under every stall scenario --------------------------------------------------

@cocotb.test()
@cocotb.parametrize(stall=[Param(name, name=name) for name in PAUSES])
async def random_stream(dut, stall):
    """Random operations: all patterns in every lane, sparse groups, extremes, random
    first/last, under the stall scenario's valid gaps and back-pressure."""
    tb = make_tb(dut, "random_stream", stall)
    await tb.reset()
    batch = random_ops(tb.rng, CONFIG, COUNTS["random"])
    check_coverage(tb, batch)
    tb.send(batch)
    await tb.drain()
    tb.finish(f"random_stream[{stall}]")


# --- long accumulations and accumulator wrap-around ---------------------------------------------

@cocotb.test()
async def long_accumulation(dut):
    """Accumulation chains of 64 … 512 operations (``long`` operations in all), then one
    chain whose every product is most-negative², long enough to overflow the signed
    accumulator range twice when ``wrap_max`` allows (architecture.md §1: sums wrap)."""
    tb = make_tb(dut, "long_accumulation", "mixed")
    await tb.reset()
    tb.send(random_ops(tb.rng, CONFIG, COUNTS["long"], flags="chains", chain=(64, 512),
                       extreme_prob=0.3))
    length, overflow_after = wrap_chain_length(CONFIG, COUNTS)
    crossings = length // overflow_after
    tb.log.info("most-negative² chain of %d operations: the sum leaves the signed %d-bit range "
                "after %d operations and reaches %d times its bound%s", length,
                CONFIG.acc_width, overflow_after, crossings,
                "" if crossings else " (no wrap: raise wrap_max to wrap)")
    tb.send(long_chain_ops(tb.rng, CONFIG, length), constant=True)
    await tb.drain()
    tb.finish("long_accumulation")


# --- invalid metadata ---------------------------------------------------------------------------

@cocotb.test(skip=not HAS_INVALID)
async def invalid_metadata(dut):
    """Invalid groups: products dropped, d_error per result, sticky error until reset."""
    skip_without_invalid()
    tb = make_tb(dut, "invalid_metadata", "mixed")
    count = COUNTS["invalid"]
    await tb.reset()
    tb.send(random_ops(tb.rng, CONFIG, count // 4))
    await tb.drain()                       # checks: sticky error still low
    bad = random_ops(tb.rng, CONFIG, count // 2, invalid_prob=0.05)
    assert bad.invalid(CONFIG).any()
    tb.send(bad)
    await tb.drain()                       # checks: d_error per result, sticky error high
    clean = random_ops(tb.rng, CONFIG, count // 4, flags="chains")
    tb.send(clean)
    await tb.drain()                       # results clean again, sticky error stays high
    assert int(dut.error.value) == 1
    await tb.reset()                       # checks: sticky error low after reset
    tb.send(random_ops(tb.rng, CONFIG, 50))
    await tb.drain()
    tb.finish("invalid_metadata")


# --- reset in the middle of a stream ------------------------------------------------------------

@cocotb.test()
@cocotb.parametrize(stall=[Param(name, name=name) for name in ("none", "heavy")])
async def reset_mid_stream(dut, stall):
    """Reset at random points with operations queued, in flight and results stalled: the
    results delivered before the reset match, nothing stale comes out after it, the
    accumulators and the sticky error restart from zero."""
    tb = make_tb(dut, "reset_mid_stream", stall)
    await tb.reset()
    count = COUNTS["reset"]
    for round_ in range(COUNTS["reset_rounds"]):
        batch = random_ops(tb.rng, CONFIG, count, invalid_prob=0.02 if HAS_INVALID else 0.0)
        if round_:
            batch.first[0] = False         # accumulates onto the cleared accumulators
        tb.send(batch)
        wait = int(tb.rng.integers(1, 2 * count))
        await ClockCycles(dut.clk, wait)
        tb.log.info("round %d: reset after %d cycles, %d of %d operations accepted", round_,
                    wait, tb.a.accepted, count)
        await tb.reset(cycles=int(tb.rng.integers(1, 4)))
    batch = random_ops(tb.rng, CONFIG, count)
    batch.first[0] = False
    tb.send(batch)
    await tb.drain()
    tb.finish(f"reset_mid_stream[{stall}]")


# --- GEMMs through split_gemm / assemble --------------------------------------------------------

def _wrap_int(x, width):
    """Independent wrap of Python ints (object arrays) to signed ``width`` bits."""
    half = 1 << (width - 1)
    return np.vectorize(lambda v: (v + half) % (1 << width) - half, otypes=[object])(x)


def _exact(A, B, C, width):
    """``wrap(A @ B + C)`` with Python integers: a path independent of golden.mma."""
    D = A.astype(object) @ B.astype(object) + C.astype(object)
    return _wrap_int(D, width).astype(np.int64)


def _random_nm(rng, M, K, cfg):
    """A random N:M-sparse M×K matrix: random pattern per group, some groups sparser,
    full-range values with a few most-negative."""
    lo, hi = -(1 << (cfg.a_width - 1)), (1 << (cfg.a_width - 1)) - 1
    patterns = valid_patterns(cfg.n, cfg.m)
    groups = K // cfg.m
    keep = np.zeros((M, groups, cfg.m), bool)
    choice = patterns[rng.integers(0, len(patterns), (M, groups))]
    np.put_along_axis(keep, choice, True, axis=-1)
    keep &= rng.random(keep.shape) > 0.15
    A = rng.integers(lo, hi + 1, (M, groups, cfg.m))
    A[rng.random(A.shape) < 0.05] = lo
    return np.where(keep, A, 0).reshape(M, K)


async def _run_gemm(tb, ops):
    """Drive ``ops``; returns the output tiles as received."""
    cfg = tb.config
    tb.scoreboard.collect = []
    tb.send(OpBatch.from_ops(ops))
    await tb.drain()
    count = cfg.tile_m * cfg.tile_n
    tiles = [unpack_fields(d, count, cfg.acc_width).reshape(cfg.tile_m, cfg.tile_n)
             for d in tb.scoreboard.collect]
    tb.scoreboard.collect = None
    return tiles


def _gemm_shape(rng, cfg, k_unit):
    M = cfg.tile_m * int(rng.integers(1, 4))
    N = cfg.tile_n * int(rng.integers(1, 4))
    K = k_unit * int(rng.integers(1, 6))
    return M, N, K


@cocotb.test()
async def gemm(dut):
    """GEMMs cut by split_gemm (split_dense_gemm on the dense baseline), reassembled with
    assemble, against golden.sparse_mma / dense_mma and plain Python integer matmul."""
    cfg = CONFIG
    tb = make_tb(dut, "gemm", "mixed")
    await tb.reset()
    rng = tb.rng
    hi_c = (1 << (cfg.acc_width - 1))
    for number in range(COUNTS["gemm"]):
        B_rows_unit = cfg.tile_k if cfg.sparse else cfg.kept_k
        M, N, K = _gemm_shape(rng, cfg, B_rows_unit)
        lo_b = -(1 << (cfg.b_width - 1))
        B = rng.integers(lo_b, -lo_b, (K, N))
        C = rng.integers(-hi_c, hi_c, (M, N))
        if cfg.sparse:
            A = _random_nm(rng, M, K, cfg)
            values, metadata = golden.compress(A, cfg.n, cfg.m)
            ops = split_gemm(values, metadata, B, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                             tile_k=cfg.tile_k, n=cfg.n, m=cfg.m)
            want = golden.sparse_mma(values, metadata, B, C, n=cfg.n, m=cfg.m,
                                     a_width=cfg.a_width, b_width=cfg.b_width,
                                     acc_width=cfg.acc_width)
        else:
            lo_a = -(1 << (cfg.a_width - 1))
            A = rng.integers(lo_a, -lo_a, (M, K))
            ops = split_dense_gemm(A, B, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                                   tile_k=cfg.kept_k)
            want = golden.dense_mma(A, B, C, a_width=cfg.a_width, b_width=cfg.b_width,
                                    acc_width=cfg.acc_width)
        tiles = await _run_gemm(tb, ops)
        D = golden.wrap(assemble(tiles, M, N, tile_m=cfg.tile_m, tile_n=cfg.tile_n) + C,
                        cfg.acc_width)
        np.testing.assert_array_equal(D, want, strict=False,
                                      err_msg=f"GEMM {number} ({M}x{K}x{N}) vs golden")
        np.testing.assert_array_equal(D, _exact(A, B, C, cfg.acc_width),
                                      err_msg=f"GEMM {number} ({M}x{K}x{N}) vs Python ints")
        tb.log.info("GEMM %d: %dx%dx%d in %d tile operations", number, M, K, N, len(ops))
    tb.finish("gemm")


@cocotb.test()
async def dense_operands(dut):
    """Dense A: on the sparse core through dense_as_sparse (twice the operations of an N:M
    A of the same shape, n/m in general), on the dense baseline through split_dense_gemm."""
    cfg = CONFIG
    tb = make_tb(dut, "dense_operands", "none")
    await tb.reset()
    rng = tb.rng
    lo_a, lo_b = -(1 << (cfg.a_width - 1)), -(1 << (cfg.b_width - 1))
    for number in range(COUNTS["dense"]):
        M, N, K = _gemm_shape(rng, cfg, cfg.tile_k)
        A = rng.integers(lo_a, -lo_a, (M, K))
        A[rng.random(A.shape) < 0.05] = lo_a
        B = rng.integers(lo_b, -lo_b, (K, N))
        B[rng.random(B.shape) < 0.05] = lo_b
        C = np.zeros((M, N), np.int64)
        if cfg.sparse:
            values, metadata, spread = dense_as_sparse(A, B, cfg.n, cfg.m)
            ops = split_gemm(values, metadata, spread, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                             tile_k=cfg.tile_k, n=cfg.n, m=cfg.m)
            sv, sm = golden.compress(_random_nm(rng, M, K, cfg), cfg.n, cfg.m)
            sparse_ops = split_gemm(sv, sm, B, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                                    tile_k=cfg.tile_k, n=cfg.n, m=cfg.m)
            assert len(ops) * cfg.n == len(sparse_ops) * cfg.m, (
                f"dense A takes {len(ops)} operations, N:M A {len(sparse_ops)}: "
                f"not m/n = {cfg.m}/{cfg.n} times as many")
            start = tb.a.accepted
            await _run_gemm(tb, sparse_ops)
            sparse_cycles = tb.a.accept_cycles[-1] - tb.a.accept_cycles[start] + 1
        else:
            ops = split_dense_gemm(A, B, tile_m=cfg.tile_m, tile_n=cfg.tile_n,
                                   tile_k=cfg.kept_k)
        start = tb.a.accepted
        tiles = await _run_gemm(tb, ops)
        cycles = tb.a.accept_cycles[-1] - tb.a.accept_cycles[start] + 1
        D = assemble(tiles, M, N, tile_m=cfg.tile_m, tile_n=cfg.tile_n)
        np.testing.assert_array_equal(
            D, golden.dense_mma(A, B, a_width=cfg.a_width, b_width=cfg.b_width,
                                acc_width=cfg.acc_width))
        np.testing.assert_array_equal(D, _exact(A, B, C, cfg.acc_width))
        if cfg.sparse:
            tb.log.info("dense %dx%dx%d: %d operations in %d cycles; N:M A of the same shape: "
                        "%d operations in %d cycles", M, K, N, len(ops), cycles,
                        len(sparse_ops), sparse_cycles)
            assert cycles == len(ops) and sparse_cycles == len(sparse_ops)
        else:
            tb.log.info("dense baseline %dx%dx%d: %d operations in %d cycles", M, K, N,
                        len(ops), cycles)
    tb.finish("dense_operands")


# --- cycle-exact timing -------------------------------------------------------------------------

@cocotb.test()
@cocotb.parametrize(flags=[Param(name, name=name)
                           for name in ("every_op_last", "chains", "random")])
async def cycle_exact(dut, flags):
    """No stalls: operations are accepted back to back (II = 1), every result is offered
    exactly ``latency`` cycles after its last operation, and N operations complete in
    N + latency cycles (latency = pipeline + 1, from hw.core.SparseMMA.latency)."""
    tb = make_tb(dut, f"cycle_exact[{flags}]", "none")
    await tb.reset()
    count = COUNTS["cycle"]
    if flags == "every_op_last":
        batch = random_ops(tb.rng, CONFIG, count, flags="chains", chain=(1, 1))
    elif flags == "chains":
        batch = random_ops(tb.rng, CONFIG, count, flags="chains", chain=(1, 6))
    else:
        batch = random_ops(tb.rng, CONFIG, count, flags="random")
    tb.send(batch)
    await tb.drain()
    accepted = list(tb.a.accept_cycles)
    start = accepted[0]
    assert accepted == list(range(start, start + count)), "operations not accepted back to back"
    for cycle, tag in tb.scoreboard.result_cycles:
        assert cycle - accepted[tag] == LATENCY, (
            f"result of operation {tag} delivered {cycle - accepted[tag]} cycles after its "
            f"acceptance, not latency={LATENCY}")
    total = tb.scoreboard.result_cycles[-1][0] - start + 1
    assert total == count + LATENCY, f"{count} operations took {total} cycles"
    tb.log.info("%d operations (%s) complete in %d cycles = N + latency %d", count, flags,
                total, LATENCY)
    tb.finish(f"cycle_exact[{flags}]")


@cocotb.test(skip=not HAS_INVALID)
async def sticky_error_timing(dut):
    """The sticky error rises exactly ``latency`` cycles after the first operation with an
    invalid group is accepted (the cycle its result, if ``last``, is first offered;
    docs/hw.md) and stays high, under valid gaps and back-pressure."""
    skip_without_invalid()
    tb = make_tb(dut, "sticky_error_timing", "mixed")
    await tb.reset()
    count = COUNTS["cycle"]
    batch = random_ops(tb.rng, CONFIG, count)
    bad = int(tb.rng.integers(count // 4, count // 2))
    row, group = (int(tb.rng.integers(0, k)) for k in (CONFIG.tile_m, CONFIG.groups))
    batch.a_idx[bad, row, group, 1] = batch.a_idx[bad, row, group, 0]   # repeated index
    assert batch.invalid(CONFIG).tolist() == [i == bad for i in range(count)]
    tb.error_trace = {}
    tb.send(batch)
    await tb.drain()
    rise = tb.a.accept_cycles[bad] + LATENCY
    trace = tb.error_trace
    early = [c for c, e in trace.items() if e and c < rise]
    late = [c for c, e in trace.items() if not e and c >= rise]
    assert not early and not late, (
        f"operation {bad} (invalid group at row {row}, group {group}) accepted in cycle "
        f"{tb.a.accept_cycles[bad]}: error expected from cycle {rise}; high before in "
        f"{early[:5]}, low after in {late[:5]}")
    tb.log.info("invalid operation %d accepted in cycle %d; sticky error high from cycle %d",
                bad, tb.a.accept_cycles[bad], rise)
    tb.finish("sticky_error_timing")


# --- reset at every pipeline phase (drives the pins itself, cycle by cycle) --------------------

class _PinDriver:
    """Direct per-cycle access to the flat core's pins, on the timing of tb/core_tb.py: inputs
    are set after a rising edge, handshakes sampled at the falling edge before the next one."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.error = 0

    def offer(self, item, b):
        dut = self.dut
        values, meta, first, last = item
        dut.a_values.value = values
        if CONFIG.sparse:
            dut.a_meta.value = meta
        dut.a_first.value = first
        dut.a_last.value = last
        dut.b_data.value = b
        dut.a_valid.value = dut.b_valid.value = 1

    def idle(self):
        self.dut.a_valid.value = self.dut.b_valid.value = 0

    async def step(self):
        """One cycle: returns ``(accepted, d)`` — whether the offered operation transfers on
        the coming edge, and ``(d_data, d_error)`` if a result transfers on it (else None).
        ``self.error`` is the sticky ``error`` output sampled in the same cycle."""
        dut = self.dut
        await FallingEdge(dut.clk)
        self.error = int(dut.error.value)
        accepted = bool(int(dut.a_valid.value) and int(dut.a_ready.value))
        d = None
        if int(dut.d_valid.value) and int(dut.d_ready.value):
            d = (int(dut.d_data.value), int(dut.d_error.value))
        await RisingEdge(dut.clk)
        self.cycle += 1
        return accepted, d


@cocotb.test()
async def reset_every_phase(dut):
    """A reset of 1 and of 2 cycles at every phase relative to the last accepted operation
    (0 … latency + 2 cycles after it), with ``d_ready`` high and with ``d`` stalled. Results
    delivered before the reset match the model; after it no result appears before a new
    operation is accepted; with ``d`` stalled the core then accepts exactly ``fifo_depth``
    operations with ``last`` and delivers exactly those, correct (docs/hw.md, "Reset")."""
    tb = make_tb(dut, "reset_every_phase", "none")
    await tb.reset()
    tb._loop.cancel()                       # this test drives the pins itself
    tb._loop = None
    wall0 = time.perf_counter()
    pins = _PinDriver(dut)
    dut.d_ready.value = 0
    pins.idle()
    await RisingEdge(dut.clk)
    fifo_depth = SparseMMA(CONFIG).fifo_depth
    stats = {"ops_checked": 0, "random_ops_checked": 0, "results_checked": 0,
             "constant_results_checked": 0, "mismatches": 0, "ops_accepted": 0}
    failures = []

    def predict(batch):
        results, _ = ModelStream(CONFIG).predict(batch)
        return [(int(p), int(r.error)) for p, r in
                zip(pack_d(CONFIG, np.stack([r.d for r in results])), results)]

    def check(got, want, where):
        if got != want:
            stats["mismatches"] += 1
            differ = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
            failures.append(f"{where}: got {len(got)} results, model {len(want)}; they "
                            f"differ at {differ[:5]}")
        else:
            stats["results_checked"] += len(got)
            stats["random_ops_checked"] += len(got)
            stats["ops_checked"] += len(got)

    async def push(batch, *, d_ready, max_cycles):
        """Offer ``batch`` in order until accepted or ``max_cycles`` pass; returns
        (accepted count, results delivered meanwhile)."""
        items = list(zip(pack_a(CONFIG, batch), pack_b(CONFIG, batch)))
        dut.d_ready.value = int(d_ready)
        accepted, delivered = 0, []
        for _ in range(max_cycles):
            if accepted == len(items):
                break
            pins.offer(*items[accepted])
            took, d = await pins.step()
            accepted += took
            if d is not None:
                delivered.append(d)
        pins.idle()
        return accepted, delivered

    async def collect(cycles, *, error_low=False):
        dut.d_ready.value = 1
        delivered = []
        for _ in range(cycles):
            _, d = await pins.step()
            assert not (error_low and pins.error), "sticky error high after reset"
            if d is not None:
                delivered.append(d)
        return delivered

    for stalled in (False, True):
        for length in (1, 2):
            for phase in range(LATENCY + 3):
                where = (f"reset of {length} at phase {phase}, "
                         f"d {'stalled' if stalled else 'ready'}")
                burst = int(tb.rng.integers(1, fifo_depth + 1))
                batch = random_ops(tb.rng, CONFIG, burst, flags="chains", chain=(1, 1),
                                   invalid_prob=0.05 if HAS_INVALID else 0.0, cover=False)
                want = predict(batch)
                accepted, delivered = await push(batch, d_ready=not stalled,
                                                 max_cycles=4 * burst + 4 * LATENCY)
                assert accepted == burst, f"{where}: only {accepted} of {burst} accepted"
                stats["ops_accepted"] += accepted
                # `phase` more cycles, then reset; d keeps its state (ready or stalled).
                for _ in range(phase):
                    _, d = await pins.step()
                    if d is not None:
                        delivered.append(d)
                check(delivered, want[:len(delivered)], f"{where}, before the reset")
                dut.rst.value = 1
                dut.d_ready.value = 1
                for _ in range(length):
                    _, d = await pins.step()
                    assert d is None, f"{where}: a result transferred during reset"
                dut.rst.value = 0
                # Nothing may come out before a new operation is accepted; error stays low.
                stale = await collect(LATENCY + 3, error_low=True)
                assert not stale, f"{where}: {len(stale)} stale results after the reset"
                # Credits restart from zero: with d stalled exactly fifo_depth results fit.
                batch = random_ops(tb.rng, CONFIG, fifo_depth + 3, flags="chains",
                                   chain=(1, 1), cover=False)
                accepted, delivered = await push(batch, d_ready=False,
                                                 max_cycles=fifo_depth + 4 * LATENCY + 8)
                assert not delivered
                assert accepted == fifo_depth, (
                    f"{where}: {accepted} operations with last accepted with d stalled, "
                    f"not fifo_depth={fifo_depth}")
                stats["ops_accepted"] += accepted
                got = await collect(2 * LATENCY + 4)
                check(got, predict(batch)[:fifo_depth], f"{where}, after the reset")
                # Leave the core empty and clean for the next round.
                dut.rst.value = 1
                await pins.step()
                dut.rst.value = 0
    stats.update(cycles=pins.cycle, wall_s=round(time.perf_counter() - wall0, 3),
                 seed=tb.seed)
    record_summary("reset_every_phase", CONFIG, stats)
    tb.log.info("reset_every_phase: %s", stats)
    assert not failures, "\n".join(failures[:5]) + f"\n(replay with SEED={tb.seed})"
