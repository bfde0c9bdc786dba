"""MetadataDecoder in Amaranth's simulator: hand-written truth tables for 2:4, 1:2 and 4:8."""

import itertools

import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hw.decoder import MetadataDecoder
from hw.testing import quiet_unused

# Every 2:4 nibble i0 | i1 << 2 → (i0, i1, invalid), written out by hand: valid only when
# i0 < i1, i.e. 0x4 (0,1), 0x8 (0,2), 0xC (0,3), 0x9 (1,2), 0xD (1,3), 0xE (2,3).
NIBBLES = {
    0x0: (0, 0, True),
    0x1: (1, 0, True),
    0x2: (2, 0, True),
    0x3: (3, 0, True),
    0x4: (0, 1, False),
    0x5: (1, 1, True),
    0x6: (2, 1, True),
    0x7: (3, 1, True),
    0x8: (0, 2, False),
    0x9: (1, 2, False),
    0xA: (2, 2, True),
    0xB: (3, 2, True),
    0xC: (0, 3, False),
    0xD: (1, 3, False),
    0xE: (2, 3, False),
    0xF: (3, 3, True),
}

# 4:8 groups (three bits per index) → invalid, by hand.
GROUPS_4OF8 = {
    (0, 1, 2, 3): False,
    (4, 5, 6, 7): False,
    (0, 2, 4, 7): False,
    (1, 3, 5, 6): False,
    (0, 1, 2, 2): True,
    (3, 2, 1, 0): True,
    (0, 0, 0, 0): True,
    (7, 7, 7, 7): True,
    (0, 5, 4, 6): True,
    (1, 2, 3, 1): True,
}


def run_comb(dut, cases):
    """Apply each ``meta`` of ``cases`` and return the decoded ``(idx, invalid)`` per case."""
    results = []

    async def testbench(ctx):
        for meta in cases:
            ctx.set(dut.meta, meta)
            idx = [[ctx.get(dut.idx[g][s]) for s in range(dut.n)] for g in range(dut.groups)]
            results.append((idx, ctx.get(dut.invalid)))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return results


def test_init():
    dut = MetadataDecoder(4)
    assert (dut.groups, dut.n, dut.m, dut.index_width) == (4, 2, 4, 2)
    assert dut.meta.shape().width == 16
    assert dut.invalid.shape().width == 4
    Fragment.get(dut, None)
    dut = MetadataDecoder(2, n=4, m=8)
    assert dut.meta.shape().width == 24
    Fragment.get(dut, None)


def test_init_wrong_groups():
    with quiet_unused(), pytest.raises(ValueError, match=r"^groups must be at least 1, not 0$"):
        MetadataDecoder(0)
    with quiet_unused(), pytest.raises(TypeError, match=r"^groups must be an integer, not 2\.0$"):
        MetadataDecoder(2.0)


def test_init_wrong_pattern():
    with quiet_unused(), pytest.raises(
            ValueError, match=r"^n:m must be one of 1:2, 2:4, 4:8, not 2:8$"):
        MetadataDecoder(4, n=2, m=8)


def test_sim_2of4_every_nibble_in_every_lane(rng):
    groups = 4
    dut = MetadataDecoder(groups)
    cases, expected = [], []
    for lane, nibble in itertools.product(range(groups), NIBBLES):
        others = [int(x) for x in rng.integers(0, 16, groups)]
        others[lane] = nibble
        cases.append(sum(x << (4 * g) for g, x in enumerate(others)))
        expected.append(others)
    for nibbles, (idx, invalid) in zip(expected, run_comb(dut, cases)):
        for g, nibble in enumerate(nibbles):
            i0, i1, bad = NIBBLES[nibble]
            assert idx[g] == [i0, i1]
            assert bool(invalid >> g & 1) == bad, f"nibble {nibble:#x} in lane {g}"


def test_sim_1of2(rng):
    groups = 16
    dut = MetadataDecoder(groups, n=1, m=2)
    cases = [0x0000, 0xFFFF, 0xA5A5] + [int(x) for x in rng.integers(0, 1 << 16, 20)]
    for meta, (idx, invalid) in zip(cases, run_comb(dut, cases)):
        assert [row[0] for row in idx] == [meta >> g & 1 for g in range(groups)]
        assert invalid == 0  # one index per group: any value is a valid position


def test_sim_4of8():
    dut = MetadataDecoder(len(GROUPS_4OF8), n=4, m=8)
    # Each group in each lane: rotate the table through the lanes.
    table = list(GROUPS_4OF8.items())
    cases = []
    for shift in range(len(table)):
        lanes = table[shift:] + table[:shift]
        cases.append((lanes, sum(index << (3 * (4 * g + s))
                                 for g, (group, _) in enumerate(lanes)
                                 for s, index in enumerate(group))))
    for (lanes, _), (idx, invalid) in zip(cases, run_comb(dut, [meta for _, meta in cases])):
        for g, (group, bad) in enumerate(lanes):
            assert tuple(idx[g]) == group
            assert bool(invalid >> g & 1) == bad, f"group {group} in lane {g}"
