"""OperandSelector in Amaranth's simulator against a NumPy gather written in the test."""

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hw.selector import OperandSelector
from hw.testing import quiet_unused


def numpy_select(b, idx, invalid, n, m):
    """Gathered rows: kept element (g, s) takes B row g*m + idx[g][s]; zero if g is invalid."""
    groups = idx.shape[0]
    rows = (np.arange(groups)[:, None] * m + idx).reshape(-1)
    out = b[rows].copy()
    out[np.repeat(invalid, n)] = 0
    return out


def rtl_select(dut, cases):
    results = []

    async def testbench(ctx):
        for b, idx, invalid in cases:
            ctx.set(dut.b, [[int(x) for x in row] for row in b])
            ctx.set(dut.idx, [[int(x) for x in group] for group in idx])
            ctx.set(dut.invalid, sum(int(flag) << g for g, flag in enumerate(invalid)))
            results.append(np.array([[ctx.get(dut.o[j][c]) for c in range(b.shape[1])]
                                     for j in range(idx.size)], dtype=np.int64))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return results


def test_init():
    dut = OperandSelector(4, groups=4)
    assert dut.b.shape().size == 16 * 4 * 8
    assert dut.o.shape().size == 8 * 4 * 8
    Fragment.get(dut, None)


def test_init_wrong_tile_n():
    with quiet_unused(), pytest.raises(ValueError, match=r"^tile_n must be at least 1, not 0$"):
        OperandSelector(0, groups=4)


def test_init_wrong_b_width():
    with quiet_unused(), pytest.raises(ValueError, match=r"^b_width must be at least 2, not 1$"):
        OperandSelector(4, groups=4, b_width=1)


def test_init_wrong_pattern():
    with quiet_unused(), pytest.raises(
            ValueError, match=r"^n:m must be one of 1:2, 2:4, 4:8, not 3:4$"):
        OperandSelector(4, groups=4, n=3, m=4)


@pytest.mark.parametrize("n, m, groups, tile_n, b_width", [
    (2, 4, 4, 4, 8),
    (1, 2, 4, 3, 4),
    (4, 8, 2, 2, 16),
])
def test_sim_random(rng, n, m, groups, tile_n, b_width):
    dut = OperandSelector(tile_n, groups=groups, n=n, m=m, b_width=b_width)
    lo, hi = -(1 << (b_width - 1)), 1 << (b_width - 1)
    cases = []
    for number in range(24):
        b = rng.integers(lo, hi, (groups * m, tile_n))
        if number == 0:
            b[:] = lo  # extreme values pass through unchanged
        # Any index pattern, including out-of-order ones; the invalid flags are independent
        # inputs here (the decoder computes them in the core).
        idx = rng.integers(0, m, (groups, n))
        invalid = rng.random(groups) < 0.25
        cases.append((b, idx, invalid))
    for (b, idx, invalid), got in zip(cases, rtl_select(dut, cases)):
        np.testing.assert_array_equal(got, numpy_select(b, idx, invalid, n, m), strict=True)
