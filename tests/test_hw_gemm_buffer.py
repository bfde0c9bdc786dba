"""OperandBuffer (hw/gemm_buffer.py) in Amaranth's simulator against a Python list.

The ``"generic"`` build here; the ``"ecp5"`` build (DP16KD and TRELLIS_FF models) runs
under Verilator inside every ``dsp="ecp5"`` engine test (tests/test_sim_tilewise.py,
tests/test_model_cli.py), with the same timing.
"""

import pytest

from hw.config import ConfigError
from hw.gemm_buffer import READ_LATENCY, WRITE_DELAY, OperandBuffer
from hw.testing import quiet_unused, simulate


def test_latencies():
    # A tier of address register copies, then the block RAM's read latch and its output
    # register; writes pass the same tier.
    assert (READ_LATENCY, WRITE_DELAY) == (3, 1)


@pytest.mark.parametrize("width, depth", [(9, 16), (40, 5)])
def test_sim_against_list(rng, width, depth):
    """Random writes and reads every cycle: ``r_data`` in cycle ``t + READ_LATENCY`` is the
    word at the ``r_addr`` of cycle ``t`` after every write presented before cycle ``t``; a
    write presented in the same cycle is not seen (both reach the block RAM at one edge,
    WRITE_DELAY cycles later, and the read returns the old word)."""
    dut = OperandBuffer(width, depth)
    words = [0] * depth
    expected = {}              # cycle -> word due on r_data
    checked = 0

    async def bench(ctx):
        nonlocal checked
        for cycle in range(400):
            w_en = int(rng.random() < 0.5)
            w_addr, r_addr = int(rng.integers(depth)), int(rng.integers(depth))
            w_word = int(rng.integers(1 << width))
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_addr, w_addr)
            ctx.set(dut.w_data, w_word)
            ctx.set(dut.r_addr, r_addr)
            if cycle in expected:
                assert ctx.get(dut.r_data) == expected.pop(cycle), f"cycle {cycle}"
                checked += 1
            expected[cycle + READ_LATENCY] = words[r_addr]
            if w_en:
                words[w_addr] = w_word
            await ctx.tick()

    sim, _ = simulate(dut, bench)
    sim.run()
    assert checked == 400 - READ_LATENCY


def test_init_wrong():
    with quiet_unused(), pytest.raises(ConfigError, match=r"^memory must be one of"):
        OperandBuffer(8, 16, memory="ultra")
    with quiet_unused(), pytest.raises(ConfigError, match=r"at most 16384 words, not 16385$"):
        OperandBuffer(8, 16385, memory="ecp5")
