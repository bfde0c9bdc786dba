"""FlatSparseMMA: the flat Verilog ports of architecture.md §6, bit packing checked by hand."""

import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape
from amaranth.lib import wiring
from amaranth.sim import Simulator

from golden.tiles import TileOp, core_model, meta_bits
from hw.config import CoreConfig
from hw.testing import quiet_unused
from hw.top import FlatSparseMMA


def ports(dut):
    return {name: (member.flow, Shape.cast(member.shape).width)
            for name, member in dut.signature.members.items()}


def test_init():
    In, Out = wiring.In, wiring.Out
    dut = FlatSparseMMA(CoreConfig())
    assert dut.latency == 2
    assert ports(dut) == {
        "a_valid": (In, 1), "a_ready": (Out, 1),
        "a_values": (In, 4 * 8 * 8), "a_meta": (In, 4 * 16),
        "a_first": (In, 1), "a_last": (In, 1),
        "b_valid": (In, 1), "b_ready": (Out, 1), "b_data": (In, 16 * 4 * 8),
        "d_valid": (Out, 1), "d_ready": (In, 1), "d_data": (Out, 4 * 4 * 32),
        "d_error": (Out, 1), "error": (Out, 1),
    }
    Fragment.get(dut, None)
    dense = FlatSparseMMA(CoreConfig(sparse=False))
    assert "a_meta" not in ports(dense)
    assert ports(dense)["b_data"] == (In, 8 * 4 * 8)
    Fragment.get(dense, None)


def test_init_wrong_config():
    with quiet_unused(), pytest.raises(TypeError, match=r"^config must be a CoreConfig, not 3$"):
        FlatSparseMMA(3)


def pack(array, width):
    """Row-major, element 0 at the least-significant bits (architecture.md §6)."""
    mask = (1 << width) - 1
    return sum((int(x) & mask) << (i * width) for i, x in enumerate(np.ravel(array)))


def unpack(value, shape, width):
    flat = [(value >> (i * width)) & ((1 << width) - 1) for i in range(int(np.prod(shape)))]
    flat = [x - (1 << width) if x >> (width - 1) else x for x in flat]
    return np.array(flat, dtype=np.int64).reshape(shape)


@pytest.mark.parametrize("cfg", [
    CoreConfig(tile_m=2, tile_n=3, pipeline=2),
    CoreConfig(tile_m=2, tile_n=3, tile_k=16, n=4, m=8, a_width=4, b_width=16, acc_width=24),
    CoreConfig(tile_m=3, tile_n=2, sparse=False),
])
def test_sim_flat_packing(rng, cfg):
    a_lo, b_lo = -(1 << (cfg.a_width - 1)), -(1 << (cfg.b_width - 1))
    ops = []
    for number in range(4):
        idx = (np.array([[np.sort(rng.choice(cfg.m, cfg.n, replace=False))
                          for _ in range(cfg.groups)] for _ in range(cfg.tile_m)])
               if cfg.sparse else np.zeros((cfg.tile_m, 0, 0), np.int64))
        ops.append(TileOp(rng.integers(a_lo, -a_lo, (cfg.tile_m, cfg.kept_k)), idx,
                          rng.integers(b_lo, -b_lo, (cfg.b_rows, cfg.tile_n)),
                          number % 2 == 0, number % 2 == 1))
    if cfg.sparse:  # one invalid group in the last op
        ops[-1].a_idx[0, 0, :] = 0 if cfg.n > 1 else ops[-1].a_idx[0, 0, :]
    want = core_model(ops, n=cfg.n, m=cfg.m, acc_width=cfg.acc_width, sparse=cfg.sparse)
    dut = FlatSparseMMA(cfg)
    got = []

    async def bench(ctx):
        ctx.set(dut.d_ready, 1)
        for op in ops:
            ctx.set(dut.a_values, pack(op.a_values, cfg.a_width))
            if cfg.sparse:
                rows = meta_bits(op.a_idx, cfg.m)
                ctx.set(dut.a_meta, sum(row << (r * cfg.meta_width)
                                        for r, row in enumerate(rows)))
            ctx.set(dut.a_first, op.first)
            ctx.set(dut.a_last, op.last)
            ctx.set(dut.b_data, pack(op.b, cfg.b_width))
            ctx.set(dut.a_valid, 1)
            ctx.set(dut.b_valid, 1)
            await ctx.tick().until(dut.a_ready)
        ctx.set(dut.a_valid, 0)
        ctx.set(dut.b_valid, 0)
        for _ in range(dut.latency + 2):
            await ctx.tick()
        assert ctx.get(dut.error) == any(r.error for r in want)

    async def consumer(ctx):
        async for _, _, valid, data, error in ctx.tick().sample(dut.d_valid, dut.d_data,
                                                                 dut.d_error):
            if valid:
                got.append((unpack(data, (cfg.tile_m, cfg.tile_n), cfg.acc_width), error))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(consumer, background=True)
    sim.run()
    assert len(got) == len(want)
    for (d, error), r in zip(got, want):
        np.testing.assert_array_equal(d, r.d, strict=True)
        assert bool(error) == r.error
