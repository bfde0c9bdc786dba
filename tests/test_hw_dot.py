"""DotProductArray in Amaranth's simulator against NumPy, for every register placement."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from hw.dot import DotProductArray, register_plan
from hw.testing import quiet_unused, simulate


def numpy_dot(a, b):
    """``o[r][c] = Σ_j a[r][j] * b[r][j][c]`` in int64 (a: (M, K), b: (M, K, N))."""
    return np.einsum("rj,rjc->rc", a.astype(np.int64), b.astype(np.int64))


def rtl_dot(dut, cases, tile_n):
    """Stream ``cases`` in back to back; return the outputs and the cycles they appeared."""
    results = []

    async def producer(ctx):
        for a, b in cases:
            ctx.set(dut.i.payload, {"a": a.tolist(), "b": b.tolist()})
            ctx.set(dut.i.valid, 1)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        cycle = 0
        while len(results) < len(cases):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                results.append((cycle, np.array([[payload[r][c] for c in range(tile_n)]
                                                 for r in range(len(cases[0][0]))])))
            cycle += 1

    # A clock domain even for stages=0, where the array itself is combinational.
    sim, _ = simulate(dut, producer, consumer)
    sim.run()
    return results


def test_init():
    dut = DotProductArray(4, 4, 8, stages=2)
    assert dut.latency == 2
    assert dut.sum_width == 8 + 8 + 3
    Fragment.get(dut, None)


def test_init_wrong_kept_k():
    with quiet_unused(), pytest.raises(ValueError, match=r"^kept_k must be at least 1, not 0$"):
        DotProductArray(4, 4, 0)


def test_init_wrong_stages():
    with quiet_unused(), pytest.raises(ValueError, match=r"^stages must be at least 0, not -1$"):
        DotProductArray(4, 4, 8, stages=-1)


def test_register_plan():
    assert register_plan(0, 3) == (frozenset(), 0)
    assert register_plan(1, 3) == (frozenset({"prod"}), 0)
    assert register_plan(2, 3) == (frozenset({"prod", "sum"}), 0)
    assert register_plan(3, 4) == (frozenset({"prod", "sum", "opnd"}), 0)
    assert register_plan(4, 4) == (frozenset({"prod", "sum", "opnd", "prod_route"}), 0)
    assert register_plan(5, 4) == (frozenset({"prod", "sum", "opnd", "prod_route",
                                              "opnd_route"}), 0)
    assert register_plan(6, 4) == (frozenset({"prod", "sum", "opnd", "prod_route",
                                              "opnd_route", ("tree", 2)}), 0)
    assert register_plan(8, 3) == (frozenset({"prod", "sum", "opnd", "prod_route",
                                              "opnd_route", ("tree", 1), ("tree", 2),
                                              "prod_route2"}), 0)
    assert register_plan(9, 3) == (frozenset({"prod", "sum", "opnd", "prod_route",
                                              "opnd_route", ("tree", 1), ("tree", 2),
                                              "prod_route2"}), 1)
    assert register_plan(7, 0) == (frozenset({"prod", "sum", "opnd", "prod_route",
                                              "opnd_route", "prod_route2"}), 1)


@pytest.mark.parametrize("stages", [0, 1, 2, 3, 4, 5, 6, 8])
@pytest.mark.parametrize("shape, a_width, b_width", [
    ((2, 3, 8), 8, 8),
    ((3, 2, 5), 4, 16),
    ((2, 2, 1), 16, 4),
])
def test_sim_random(rng, stages, shape, a_width, b_width):
    tile_m, tile_n, kept_k = shape
    dut = DotProductArray(tile_m, tile_n, kept_k, a_width=a_width, b_width=b_width,
                          stages=stages)
    a_lo, b_lo = -(1 << (a_width - 1)), -(1 << (b_width - 1))
    cases = []
    for number in range(12):
        a = rng.integers(a_lo, -a_lo, (tile_m, kept_k))
        b = rng.integers(b_lo, -b_lo, (tile_m, kept_k, tile_n))
        if number == 0:  # most negative × most negative everywhere: the widest sum
            a[:], b[:] = a_lo, b_lo
        if number == 1:
            a[:], b[:] = a_lo, -b_lo - 1
        cases.append((a, b))
    results = rtl_dot(dut, cases, tile_n)
    # Back to back in, back to back out, exactly `stages` cycles later.
    assert [cycle for cycle, _ in results] == [stages + k for k in range(len(cases))]
    for (a, b), (_, got) in zip(cases, results):
        np.testing.assert_array_equal(got, numpy_dot(a, b), strict=True)
