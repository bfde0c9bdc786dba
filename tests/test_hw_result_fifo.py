"""ResultFIFO against a Python deque, in Amaranth's simulator."""

import collections

import pytest

from hw.result_fifo import ResultFIFO
from hw.testing import quiet_unused, simulate


def test_init_wrong():
    with quiet_unused(), pytest.raises(ValueError, match=r"^depth must be at least 1, not 0$"):
        ResultFIFO(8, 0)


@pytest.mark.parametrize("registered_rdy", [False, True], ids=["cmp_rdy", "reg_rdy"])
@pytest.mark.parametrize("depth, bank_width", [(1, None), (3, None), (4, 3), (12, 4),
                                               (16, None)])
def test_sim_against_deque(rng, depth, bank_width, registered_rdy):
    """Random writes (only while fewer than depth are held, as the core's credits ensure) and
    random reads: r_rdy and r_data match a deque every cycle, results arrive in order, a
    write is readable the cycle after it."""
    dut = ResultFIFO(10, depth, bank_width=bank_width, registered_rdy=registered_rdy)
    assert dut.banks == (1 if bank_width is None else -(-10 // bank_width))
    model = collections.deque()
    stats = {"written": 0, "read": 0, "full": 0}

    async def bench(ctx):
        for _ in range(600):
            assert ctx.get(dut.r_rdy) == bool(model)
            if model:
                assert ctx.get(dut.r_data) == model[0]
            write = len(model) < depth and rng.random() < 0.6
            value = int(rng.integers(0, 1 << 10))
            read = bool(rng.random() < 0.5)
            ctx.set(dut.w_en, (1 << dut.banks) - 1 if write else 0)
            ctx.set(dut.w_data, value)
            ctx.set(dut.r_en, read)
            await ctx.tick()
            if read and model:
                model.popleft()
                stats["read"] += 1
            if write:
                model.append(value)
                stats["written"] += 1
            stats["full"] += len(model) == depth

    sim, _ = simulate(dut, bench)
    sim.run()
    assert stats["read"] > 100 and stats["full"] > 0    # the stimulus reached both ends
