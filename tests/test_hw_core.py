"""SparseMMA in Amaranth's simulator against ``golden.tiles.core_model``.

Random operations with random valid gaps on ``a`` and ``b`` and random back-pressure on
``d``; the volume is small on purpose (the Python simulator is slow): the big random runs
are the cocotb/Verilator testbenches'.
"""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Fragment

from golden.tiles import TileOp, core_model, meta_bits
from hw.config import CoreConfig
from hw.core import SparseMMA
from hw.testing import quiet_unused, simulate, stream_get, stream_put


# --- stimulus --------------------------------------------------------------------------------

def make_ops(rng, cfg, count, *, p_first=0.4, p_last=0.4, p_invalid=0.0):
    """``count`` random operations for ``cfg``; some use the most negative values everywhere.

    A group's indices are a random valid choice, or with probability ``p_invalid`` any
    ``index_width``-bit values (mostly invalid).
    """
    a_lo, b_lo = -(1 << (cfg.a_width - 1)), -(1 << (cfg.b_width - 1))
    ops = []
    for number in range(count):
        values = rng.integers(a_lo, -a_lo, (cfg.tile_m, cfg.kept_k))
        b = rng.integers(b_lo, -b_lo, (cfg.b_rows, cfg.tile_n))
        if rng.random() < 0.1:  # most negative × most negative: widest products, wraps
            values[:], b[:] = a_lo, b_lo
        if cfg.sparse:
            idx = np.array([[np.sort(rng.choice(cfg.m, cfg.n, replace=False))
                             for _ in range(cfg.groups)] for _ in range(cfg.tile_m)])
            bad = rng.random((cfg.tile_m, cfg.groups)) < p_invalid
            idx[bad] = rng.integers(0, 1 << cfg.index_width, (int(bad.sum()), cfg.n))
        else:
            idx = np.zeros((cfg.tile_m, 0, 0), np.int64)
        ops.append(TileOp(values, idx, b, bool(rng.random() < p_first),
                          bool(rng.random() < p_last) or number == count - 1))
    return ops


def expected(cfg, ops):
    results = core_model(ops, n=cfg.n, m=cfg.m, acc_width=cfg.acc_width, sparse=cfg.sparse)
    sticky = any(core_model([op._replace(first=True, last=True)], n=cfg.n, m=cfg.m,
                            acc_width=cfg.acc_width, sparse=cfg.sparse)[0].error
                 for op in ops)
    return [(r.d, r.error) for r in results], sticky


def a_payload(cfg, op):
    payload = {"values": op.a_values.tolist(), "first": op.first, "last": op.last}
    if cfg.sparse:
        payload["meta"] = meta_bits(op.a_idx, cfg.m)
    return payload


def result(cfg, payload):
    d = np.array([[payload.data[r][c] for c in range(cfg.tile_n)] for r in range(cfg.tile_m)],
                 dtype=np.int64)
    return d, bool(payload.error)


def offer(ctx, dut, cfg, op):
    """Present ``op`` on both input streams."""
    ctx.set(dut.a.payload, a_payload(cfg, op))
    ctx.set(dut.b.payload, op.b.tolist())
    ctx.set(dut.a.valid, 1)
    ctx.set(dut.b.valid, 1)


async def push_collecting(ctx, dut, cfg, op, got):
    """Offer ``op`` until it is accepted, appending every result offered on d meanwhile."""
    offer(ctx, dut, cfg, op)
    while True:
        _, _, ready, d_valid, d = await ctx.tick().sample(
            dut.a.ready, dut.d.valid, dut.d.payload)
        if d_valid:
            got.append(result(cfg, d))
        if ready:
            return


def pauses(rng, p_go):
    """An endless pause pattern: each cycle goes with probability ``p_go``."""
    while True:
        yield rng.random() < p_go


def protocol_monitor(dut):
    """Background bench: ready only together and only when both inputs are valid."""
    async def monitor(ctx):
        async for _, _, a_valid, a_ready, b_valid, b_ready in ctx.tick().sample(
                dut.a.valid, dut.a.ready, dut.b.valid, dut.b.ready):
            assert a_ready == b_ready
            assert not a_ready or (a_valid and b_valid)
    return monitor


def run_core(cfg, ops, rng, *, p_a=0.7, p_b=0.7, p_d=0.6):
    """Drive ``ops`` with random gaps and back-pressure; return results and sticky error."""
    dut = SparseMMA(cfg)
    want = sum(op.last for op in ops)
    got = []
    sticky = []

    async def producer_a(ctx):
        pattern = pauses(rng, p_a)
        for op in ops:
            await stream_put(ctx, dut.a, a_payload(cfg, op), pattern=pattern)

    async def producer_b(ctx):
        pattern = pauses(rng, p_b)
        for op in ops:
            await stream_put(ctx, dut.b, op.b.tolist(), pattern=pattern)

    async def consumer(ctx):
        pattern = pauses(rng, p_d)
        for _ in range(want):
            got.append(result(cfg, await stream_get(ctx, dut.d, pattern=pattern)))
        # Nothing more comes out: no duplicated results.
        ctx.set(dut.d.ready, 1)
        for _ in range(dut.latency + 4):
            _, _, valid = await ctx.tick().sample(dut.d.valid)
            assert not valid
        sticky.append(ctx.get(dut.error))

    sim, _ = simulate(dut, producer_a, producer_b, consumer,
                      background=[protocol_monitor(dut)])
    sim.run()
    return got, bool(sticky[0])


def check(cfg, ops, rng, **kwargs):
    results, sticky = run_core(cfg, ops, rng, **kwargs)
    want, want_sticky = expected(cfg, ops)
    assert len(results) == len(want)
    for number, ((d, error), (want_d, want_error)) in enumerate(zip(results, want)):
        np.testing.assert_array_equal(d, want_d, strict=True, err_msg=f"result {number}")
        assert error == want_error, f"result {number}"
    assert sticky == want_sticky


# --- construction ----------------------------------------------------------------------------

def test_init():
    dut = SparseMMA(CoreConfig())
    assert dut.latency == CoreConfig().latency == 2
    assert dut.fifo_depth == 3
    assert dut.a.payload.shape().size == 4 * 8 * 8 + 4 * 16 + 2
    assert dut.b.payload.shape().size == 16 * 4 * 8
    assert dut.d.payload.shape().size == 4 * 4 * 32 + 1
    Fragment.get(dut, None)
    dense = SparseMMA(CoreConfig(sparse=False, pipeline=3))
    assert dense.latency == 4
    assert "meta" not in dict(dense.a.payload.shape())
    assert dense.b.payload.shape().size == 8 * 4 * 8
    Fragment.get(dense, None)


def test_init_wrong_config():
    with quiet_unused(), pytest.raises(TypeError,
                                       match=r"^config must be a CoreConfig, not 'default'$"):
        SparseMMA("default")
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^fifo_extra must be at least 0, not -1$"):
        SparseMMA(CoreConfig(), fifo_extra=-1)
    assert SparseMMA(CoreConfig(pipeline=11), fifo_extra=8).fifo_depth == 11 + 2 + 8


# --- simulation ------------------------------------------------------------------------------

@pytest.mark.parametrize("pipeline", [1, 2, 3, 7])
def test_sim_random(rng, pipeline):
    cfg = CoreConfig(pipeline=pipeline)
    check(cfg, make_ops(rng, cfg, 40, p_invalid=0.02), rng)


@pytest.mark.parametrize("pipeline", [1, 4, 6, 8])
def test_sim_dense(rng, pipeline):
    cfg = CoreConfig(tile_m=3, tile_n=2, sparse=False, pipeline=pipeline)
    check(cfg, make_ops(rng, cfg, 30), rng)


@pytest.mark.parametrize("n, m, tile_k, pipeline", [(1, 2, 8, 2), (4, 8, 16, 3)])
def test_sim_patterns(rng, n, m, tile_k, pipeline):
    cfg = CoreConfig(tile_m=2, tile_n=3, tile_k=tile_k, n=n, m=m, pipeline=pipeline)
    check(cfg, make_ops(rng, cfg, 30, p_invalid=0.1), rng)


@pytest.mark.parametrize("width, acc_width", [(4, 10), (16, 32)])
def test_sim_widths(rng, width, acc_width):
    # Small accumulators and extreme values: the sums wrap often.
    cfg = CoreConfig(tile_m=2, tile_n=2, a_width=width, b_width=width, acc_width=acc_width,
                     pipeline=2)
    check(cfg, make_ops(rng, cfg, 30, p_first=0.2, p_last=0.3), rng)


def test_sim_invalid_metadata(rng):
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=2)
    ops = make_ops(rng, cfg, 30, p_invalid=0.3)
    # At least one invalid op, and valid chains after it: per-result error resets on first.
    assert expected(cfg, ops)[1]
    check(cfg, ops, rng)


def test_sim_every_nibble_every_lane(rng):
    """Each of the 16 2:4 nibbles in each group lane of each row, one op each."""
    cfg = CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=1)
    ops = make_ops(rng, cfg, 16 * cfg.groups, p_first=1.0, p_last=1.0)
    for number, op in enumerate(ops):
        nibble, lane = divmod(number, cfg.groups)
        for row in range(cfg.tile_m):
            op.a_idx[row, lane] = [nibble & 3, nibble >> 2]
    check(cfg, ops, rng, p_a=1.0, p_b=1.0, p_d=1.0)


def test_sim_valid_error_sticky_only_on_invalid(rng):
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=1)
    check(cfg, make_ops(rng, cfg, 12, p_invalid=0.0), rng)


@pytest.mark.parametrize("pipeline", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
@pytest.mark.parametrize("sparse", [True, False])
def test_sim_latency(rng, pipeline, sparse):
    """N back-to-back operations with no back-pressure complete in N + latency cycles."""
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=pipeline, sparse=sparse)
    count = 8
    ops = make_ops(rng, cfg, count, p_first=1.0, p_last=1.0)
    dut = SparseMMA(cfg)
    assert dut.latency == pipeline + 1
    accepted, offered, done = [], [], []

    async def bench(ctx):
        ctx.set(dut.d.ready, 1)
        for cycle in itertools.count():
            if cycle < count:
                ctx.set(dut.a.payload, a_payload(cfg, ops[cycle]))
                ctx.set(dut.b.payload, ops[cycle].b.tolist())
            ctx.set(dut.a.valid, cycle < count)
            ctx.set(dut.b.valid, cycle < count)
            _, _, ready, d_valid, d = await ctx.tick().sample(dut.a.ready, dut.d.valid,
                                                              dut.d.payload)
            if ready:
                accepted.append(cycle)
            if d_valid:
                offered.append(cycle)
                done.append(result(cfg, d))
            if len(done) == count:
                break

    sim, _ = simulate(dut, bench)
    sim.run()
    assert accepted == list(range(count))                              # II = 1
    assert offered == [k + dut.latency for k in range(count)]          # exact latency
    assert offered[-1] + 1 == count + dut.latency                      # N + latency cycles
    want, _ = expected(cfg, ops)
    for (d, error), (want_d, want_error) in zip(done, want):
        np.testing.assert_array_equal(d, want_d, strict=True)
        assert error == want_error


@pytest.mark.parametrize("pipeline", [1, 3, 7])
def test_sim_error_timing(rng, pipeline):
    """The sticky error rises `latency` cycles after the invalid op is accepted, with d."""
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=pipeline)
    op = make_ops(rng, cfg, 1, p_first=1.0, p_last=1.0)[0]
    op.a_idx[1, 2] = [2, 1]  # one invalid group
    dut = SparseMMA(cfg)
    trace = []

    async def bench(ctx):
        ctx.set(dut.d.ready, 1)
        ctx.set(dut.a.payload, a_payload(cfg, op))
        ctx.set(dut.b.payload, op.b.tolist())
        ctx.set(dut.a.valid, 1)
        ctx.set(dut.b.valid, 1)
        for cycle in range(dut.latency + 3):
            _, _, ready, error, d_valid, d = await ctx.tick().sample(
                dut.a.ready, dut.error, dut.d.valid, dut.d.payload)
            trace.append((bool(error), bool(d_valid)))
            if d_valid:
                assert result(cfg, d)[1]
            if ready:
                ctx.set(dut.a.valid, 0)
                ctx.set(dut.b.valid, 0)

    sim, _ = simulate(dut, bench)
    sim.run()
    rise = dut.latency
    assert trace == ([(False, False)] * rise + [(True, True)] + [(True, False)] * 2)


@pytest.mark.parametrize("pipeline", [1, 3, 7])
def test_sim_backpressure_credits(rng, pipeline):
    """With d stalled, last ops stop after fifo_depth results; others still flow; none lost."""
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=pipeline)
    dut = SparseMMA(cfg)
    ops = make_ops(rng, cfg, dut.fifo_depth + 3, p_first=1.0, p_last=1.0)
    # Then a chain of ops without last, which needs no room in the FIFO.
    ops += [op._replace(first=False, last=False) for op in make_ops(rng, cfg, 3)]
    ops.append(ops[0]._replace(first=False, last=True))
    got = []

    async def bench(ctx):
        ctx.set(dut.d.ready, 0)
        accepted = []
        for cycle, op in enumerate(ops):
            offer(ctx, dut, cfg, op)
            for wait in range(3 * dut.latency + 4):
                _, _, ready = await ctx.tick().sample(dut.a.ready)
                if ready:
                    break
            accepted.append(bool(ready))
            if not ready:
                break
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)
        # Exactly fifo_depth last ops got in while d was stalled.
        assert accepted == [True] * dut.fifo_depth + [False]
        for _ in range(dut.latency):
            await ctx.tick()
        assert ctx.get(dut.d.valid)
        # Release d and push the rest.
        for op in ops[dut.fifo_depth:]:
            ctx.set(dut.d.ready, 1)
            await push_collecting(ctx, dut, cfg, op, got)
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)
        for _ in range(2 * dut.latency + 4):
            _, _, d_valid, d = await ctx.tick().sample(dut.d.valid, dut.d.payload)
            if d_valid:
                got.append(result(cfg, d))

    sim, _ = simulate(dut, bench)
    sim.run()
    want, _ = expected(cfg, ops)
    assert len(got) == len(want)
    for (d, error), (want_d, want_error) in zip(got, want):
        np.testing.assert_array_equal(d, want_d, strict=True)
        assert error == want_error


@pytest.mark.parametrize("pipeline", [1, 3, 7])
def test_sim_reset_mid_stream(rng, pipeline):
    """Reset drops everything in flight, clears accumulators and both error flags."""
    cfg = CoreConfig(tile_m=2, tile_n=2, pipeline=pipeline)
    dut = SparseMMA(cfg)
    # As many ops as the FIFO has room for, all invalid; the last one without last.
    before = make_ops(rng, cfg, dut.fifo_depth, p_first=1.0, p_last=1.0, p_invalid=1.0)
    before[-1] = before[-1]._replace(last=False)  # leaves the accumulators dirty
    after = make_ops(rng, cfg, 10, p_first=0.3, p_last=0.5)
    after[0] = after[0]._replace(first=False)  # must add onto cleared accumulators
    got = []

    async def bench(ctx):
        # Before: d stalled so results sit in the FIFO and the pipeline when reset comes.
        ctx.set(dut.d.ready, 0)
        for op in before:
            offer(ctx, dut, cfg, op)
            await ctx.tick().until(dut.a.ready)
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)
        for _ in range(dut.latency):
            await ctx.tick()
        assert ctx.get(dut.error)
        assert ctx.get(dut.d.valid)
        # Reset for one cycle while inputs are offered: nothing is accepted or offered.
        ctx.set(cd.rst, 1)
        ctx.set(dut.a.valid, 1)
        ctx.set(dut.b.valid, 1)
        ctx.set(dut.d.ready, 1)
        assert not ctx.get(dut.a.ready) and not ctx.get(dut.b.ready)
        assert not ctx.get(dut.d.valid)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)
        assert not ctx.get(dut.error)
        for _ in range(dut.latency + 2):
            _, _, d_valid = await ctx.tick().sample(dut.d.valid)
            assert not d_valid
        # After: a fresh core.
        for op in after:
            await push_collecting(ctx, dut, cfg, op, got)
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)
        for _ in range(dut.latency + 2):
            _, _, d_valid, d = await ctx.tick().sample(dut.d.valid, dut.d.payload)
            if d_valid:
                got.append(result(cfg, d))
        assert not ctx.get(dut.error)

    sim, cd = simulate(dut, bench)
    sim.run()
    want, _ = expected(cfg, after)
    assert len(got) == len(want)
    for (d, error), (want_d, want_error) in zip(got, want):
        np.testing.assert_array_equal(d, want_d, strict=True)
        assert error == want_error


#: The stand-alone core, and the build the GEMM engine makes (a deeper result FIFO whose
#: d.valid is a register and whose banks read at read-pointer copies, hw/gemm.py).
CORE_BUILDS = {"core": {}, "engine_core": {"fifo_extra": 8, "registered_valid": True}}


@pytest.mark.parametrize("build", CORE_BUILDS)
@pytest.mark.parametrize("pipeline", range(1, 14))
def test_sim_reset_every_phase(rng, pipeline, build):
    """A reset of 1 and of 2 cycles at every phase after the last accepted operation (0 …
    latency + 2 cycles), with d ready and with d stalled: results delivered before it are
    correct, none appears after it before a new operation is accepted, and with d stalled the
    core then accepts exactly fifo_depth operations with last and delivers exactly those,
    correct. The credit Asserts (checks=True) hold throughout."""
    cfg = CoreConfig(tile_m=1, tile_n=1, tile_k=4, pipeline=pipeline)
    dut = SparseMMA(cfg, checks=True, **CORE_BUILDS[build])
    depth, latency = dut.fifo_depth, dut.latency
    trials = []

    async def step(ctx):
        """One cycle: (offered op accepted at its edge, result transferred at it or None)."""
        _, _, ready, a_valid, d_valid, d_ready, d = await ctx.tick().sample(
            dut.a.ready, dut.a.valid, dut.d.valid, dut.d.ready, dut.d.payload)
        return bool(ready and a_valid), (result(cfg, d) if d_valid and d_ready else None)

    def idle(ctx):
        ctx.set(dut.a.valid, 0)
        ctx.set(dut.b.valid, 0)

    async def push(ctx, ops, *, d_ready, max_cycles):
        ctx.set(dut.d.ready, int(d_ready))
        accepted, delivered = 0, []
        for _ in range(max_cycles):
            if accepted == len(ops):
                break
            offer(ctx, dut, cfg, ops[accepted])
            took, d = await step(ctx)
            accepted += took
            if d is not None:
                delivered.append(d)
        idle(ctx)
        return accepted, delivered

    async def collect(ctx, cycles):
        ctx.set(dut.d.ready, 1)
        delivered = []
        for _ in range(cycles):
            _, d = await step(ctx)
            if d is not None:
                delivered.append(d)
        return delivered

    def same(got, ops):
        want, _ = expected(cfg, ops)
        assert len(got) == len(want)
        for (d, error), (want_d, want_error) in zip(got, want):
            np.testing.assert_array_equal(d, want_d, strict=True)
            assert error == want_error

    async def bench(ctx):
        for stalled in (False, True):
            for length in (1, 2):
                for phase in range(latency + 3):
                    burst = int(rng.integers(1, depth + 1))
                    ops = make_ops(rng, cfg, burst, p_first=1.0, p_last=1.0, p_invalid=0.1)
                    accepted, delivered = await push(ctx, ops, d_ready=not stalled,
                                                     max_cycles=4 * (burst + latency))
                    assert accepted == burst
                    for _ in range(phase):
                        _, d = await step(ctx)
                        if d is not None:
                            delivered.append(d)
                    same(delivered, ops[:len(delivered)])
                    ctx.set(cd.rst, 1)
                    ctx.set(dut.d.ready, 1)
                    for _ in range(length):
                        _, d = await step(ctx)
                        assert d is None, "a result transferred during reset"
                    ctx.set(cd.rst, 0)
                    assert not ctx.get(dut.error)
                    stale = await collect(ctx, latency + 3)
                    assert not stale, (f"{len(stale)} stale results after a reset of {length} "
                                       f"at phase {phase}")
                    ops = make_ops(rng, cfg, depth + 3, p_first=1.0, p_last=1.0)
                    accepted, delivered = await push(ctx, ops, d_ready=False,
                                                     max_cycles=depth + 4 * latency + 8)
                    assert not delivered
                    assert accepted == depth, (f"{accepted} accepted with d stalled after a "
                                               f"reset of {length} at phase {phase}")
                    same(await collect(ctx, depth + 2 * latency + 4), ops[:depth])
                    trials.append((stalled, length, phase))
                    ctx.set(cd.rst, 1)
                    await ctx.tick()
                    ctx.set(cd.rst, 0)

    sim, cd = simulate(dut, bench)
    sim.run()
    assert len(trials) == 2 * 2 * (latency + 3)
