"""KeptTable (hw/kept_table.py) in Amaranth's simulator, against golden.tilewise's checks.

Expected outcomes of every scan come from golden.tilewise.check_kept_lists (an independent
Python implementation of the same rules) and from hand-written cases.
"""

import itertools
import re

import numpy as np
import pytest

from golden import tilewise
from hw.kept_table import KeptTable, TableError
from hw.testing import quiet_unused, simulate, stream_put

KIND = {"range": TableError.RANGE, "order": TableError.ORDER,
        "duplicate": TableError.DUPLICATE}


def test_init():
    dut = KeptTable(64)
    assert dut.addr_width == 6
    assert len(dut.blk_data) == 16 and len(dut.last_data) == 1
    assert len(KeptTable(64, last_ports=3).last_data) == 3


@pytest.mark.parametrize("depth,exc,message", [
    (0, ValueError, "depth must be at least 1, not 0"),
    (1 << 17, ValueError, "depth must be at most 65536, not 131072"),
    ("8", TypeError, "depth must be an integer, not '8'"),
])
def test_init_wrong_depth(depth, exc, message):
    with quiet_unused(), pytest.raises(exc, match=f"^{re.escape(message)}$"):
        KeptTable(depth)


def test_init_wrong_dsp():
    with quiet_unused(), pytest.raises(ValueError, match="^dsp must be one of 'generic', "
                                                         "'ecp5', not 'xilinx'$"):
        KeptTable(16, dsp="xilinx")


def run_scans(dut, table, scans, pattern=None):
    """Load ``table`` (list of (block, last)) in a shuffled order, then run each scan
    ``(base, m_tiles, group_tiles, k_tiles)``; returns [(cycles, error, group, entry,
    a_rows)] and the table read back through the block and ``last`` ports."""
    results, readback = [], []
    order = list(range(len(table)))
    np.random.default_rng(len(table)).shuffle(order)

    async def bench(ctx):
        for i in order:
            block, last = table[i]
            await stream_put(ctx, dut.ld, {"addr": i, "entry": {"block": block, "last": last}},
                             pattern=pattern)
        for i in range(len(table)):
            ctx.set(dut.blk_addr, i)
            ctx.set(dut.last_addr[i % dut.last_ports], i)
            await ctx.tick()                     # both reads: the address of the cycle before
            readback.append((ctx.get(dut.blk_data), ctx.get(dut.last_data[i % dut.last_ports])))
        for base, mt, gt, kt in scans:
            for sig, value in ((dut.base, base), (dut.m_tiles, mt), (dut.group_tiles, gt),
                               (dut.k_tiles, kt)):
                ctx.set(sig, value)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while not ctx.get(dut.done):
                assert cycles < 4 * len(table) + 10, "scan did not end"
                await ctx.tick()
                cycles += 1
            assert not ctx.get(dut.busy)
            results.append((cycles, ctx.get(dut.error), ctx.get(dut.err_group),
                            ctx.get(dut.err_entry), ctx.get(dut.a_rows)))
            await ctx.tick()

    sim, _ = simulate(dut, bench)
    sim.run()
    return results, readback


def expected(lists, mt, gt, kt):
    """(error, group, entry, a_rows) by golden's rules; lists already cut to the job."""
    try:
        tilewise.check_kept_lists(lists, groups=len(lists), blocks=kt, allow_empty=False)
    except tilewise.KeptListError as exc:
        return KIND[exc.kind], exc.group, exc.entry, None
    heights = [min(gt, mt - g * gt) for g in range(len(lists))]
    return TableError.NONE, 0, 0, sum(h * len(k) for h, k in zip(heights, lists))


def test_sim_hand_cases():
    # Table: group lists [0, 2] [1] [0, 1, 3] at 0..5, then a bad list [2, 2] at 6..7,
    # a descending one [3, 1] at 8..9 and an unterminated one at the very end (10..11).
    table = [(0, 0), (2, 1), (1, 1), (0, 0), (1, 0), (3, 1), (2, 0), (2, 1), (3, 0), (1, 1),
             (0, 0), (1, 0)]
    dut = KeptTable(len(table), last_ports=3)
    scans = [
        (0, 6, 2, 4),    # three groups of 2 tile rows: rows 2·2 + 2·1 + 2·3 = 12
        (0, 5, 2, 4),    # last group 1 row: 2·2 + 2·1 + 1·3 = 9
        (0, 6, 2, 3),    # block 3 out of range in group 2, entry 2
        (6, 2, 2, 4),    # duplicate at group 0, entry 1
        (8, 4, 4, 4),    # descending at group 0, entry 1
        (10, 1, 1, 4),   # runs past the end of the table
        (2, 1, 0, 4),    # TW_GROUP zero
        (2, 3, 1, 4),    # [1] [0, 1, 3] [2, 2] → duplicate in group 2
    ]
    got, readback = run_scans(dut, table, scans)
    assert readback == table
    assert [r[1:] for r in got] == [
        (TableError.NONE, 0, 0, 12), (TableError.NONE, 0, 0, 9),
        (TableError.RANGE, 2, 2, got[2][4]), (TableError.DUPLICATE, 0, 1, got[3][4]),
        (TableError.ORDER, 0, 1, got[4][4]), (TableError.OVERFLOW, 0, 2, got[5][4]),
        (TableError.GROUP, 0, 0, 0), (TableError.DUPLICATE, 2, 1, got[7][4])]
    # Latency: E + 3 cycles after start for a good scan of E entries (read, compare,
    # decide); a bad entry j of the scan ends it j + 4 cycles after start.
    assert got[0][0] == 6 + 3 and got[1][0] == 6 + 3
    assert got[2][0] == 5 + 4 and got[3][0] == 1 + 4 and got[5][0] == 2 + 4
    assert got[6][0] == 1


def test_sim_random_against_golden(rng):
    kt = int(rng.integers(2, 9))
    lists, table = [], []
    for _ in range(12):
        count = int(rng.integers(1, kt + 1))
        kept = sorted(rng.choice(kt, size=count, replace=False).tolist())
        r = rng.random()
        if r < 0.15 and count > 1:
            kept[-1] = kept[-2]                      # duplicate
        elif r < 0.3 and count > 1:
            kept[0], kept[1] = kept[1], kept[0]      # descending
        elif r < 0.4:
            kept[-1] = kt + int(rng.integers(0, 3))  # out of range
        lists.append(kept)
        table += [(b, int(i == len(kept) - 1)) for i, b in enumerate(kept)]
    dut = KeptTable(len(table) + 3)
    scans, want, starts = [], [], np.cumsum([0] + [len(k) for k in lists])
    for _ in range(15):
        g0 = int(rng.integers(0, len(lists)))
        gt = int(rng.integers(1, 4))
        groups = int(rng.integers(1, len(lists) - g0 + 1))
        mt = int(rng.integers((groups - 1) * gt + 1, groups * gt + 1))
        scans.append((int(starts[g0]), mt, gt, kt))
        want.append(expected(lists[g0:g0 + groups], mt, gt, kt))
    got, _ = run_scans(dut, table, scans, pattern=itertools.cycle([1, 1, 0]))
    checked = 0
    for (cycles, err, grp, ent, rows), (w_err, w_grp, w_ent, w_rows) in zip(got, want):
        assert err == w_err
        if w_err:
            assert (grp, ent) == (w_grp, w_ent)
        else:
            assert rows == w_rows
        checked += 1
    print(f"checked {checked} scans, {sum(1 for w in want if w[0])} of them bad")
