"""OperandFifo (hw/gemm_fifo.py) in Amaranth's simulator against a Python deque.

The writer keeps count like the engine's credits (never writes into a full FIFO); writes,
reads and resets come at random; every word read must be the oldest one written since the
last reset, with its control value, and nothing may be read that was written before a reset.
"""

import collections
import re

import pytest

from hw.gemm_fifo import OperandFifo
from hw.testing import quiet_unused, simulate


@pytest.mark.parametrize("width,depth,chunk", [(150, 8, 64), (7, 1, 64), (40, 3, 16)])
def test_sim_random_against_deque(rng, width, depth, chunk):
    dut = OperandFifo(width, depth, ctrl_width=3, chunk=chunk)
    cycles = 3000
    stats = collections.Counter()

    async def bench(ctx):
        ref = collections.deque()
        pending = None               # (data, ctrl) announced by w_next, written next cycle
        for _ in range(cycles):
            reset = rng.random() < 0.01
            # The values of this cycle (before the edge).
            if pending is not None:
                ctx.set(dut.w_data, pending[0])
                ctx.set(dut.w_ctrl, pending[1])
            assert ctx.get(dut.r_valid) == bool(ref), "r_valid disagrees with the count"
            if ref:
                assert (ctx.get(dut.r_data), ctx.get(dut.r_ctrl)) == ref[0]
            take = bool(rng.random() < 0.6)
            ctx.set(dut.r_en, take)
            # Announce the next write only while a slot is sure to be free for it.
            room = depth - len(ref) - (pending is not None)
            announce = not reset and room > 0 and rng.random() < 0.7
            ctx.set(dut.w_next, announce)
            ctx.set(cd.rst, reset)
            await ctx.tick()
            if reset:
                ref.clear()
                pending = None
                stats["resets"] += 1
                ctx.set(cd.rst, 0)
                continue
            if take and ref:
                ref.popleft()
                stats["reads"] += 1
            if pending is not None:
                ref.append(pending)
                stats["writes"] += 1
            pending = None
            if announce:
                word = int.from_bytes(rng.bytes(-(-width // 8)), "little") & ((1 << width) - 1)
                pending = (word, int(rng.integers(0, 8)))

    sim, cd = simulate(dut, bench)
    sim.run()
    print(dict(stats))
    assert stats["reads"] > cycles // 8 and stats["resets"] >= 1


@pytest.mark.parametrize("kwargs,exc,message", [
    (dict(width=0, depth=4, ctrl_width=1), ValueError, "width must be at least 1, not 0"),
    (dict(width=8, depth=0, ctrl_width=1), ValueError, "depth must be at least 1, not 0"),
    (dict(width=8, depth=4, ctrl_width=1, dsp="xilinx"), ValueError,
     "dsp must be one of 'generic', 'ecp5', not 'xilinx'"),
])
def test_init_errors(kwargs, exc, message):
    with quiet_unused(), pytest.raises(exc, match=f"^{re.escape(message)}$"):
        OperandFifo(**kwargs)
