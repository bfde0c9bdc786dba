"""Tile-wise (TW/TVW) jobs on the engine's Verilog under Verilator (cocotb), via the driver.

One build folder (2×2×8 tile, 64-word buffers, 256-entry table), one simulator launch for
a batch mixing native TW and TVW jobs, row-granular TW/TVW, bad tables (each followed by a
good job, which must be exact) and D back-pressure. D is compared bit-exactly with
golden.tilewise.tilewise_gemm (checked against plain NumPy in tests/test_tilewise_job.py),
the scan's verdict with golden.tilewise.check_kept_lists, operations with their exact count.
"""

import numpy as np
import pytest

from golden import tilewise as gtw
from hw.config import CoreConfig
from hw.gemm import DEFAULT_T_DEPTH, Cause, busy_cycles
from hw.kept_table import TableError
from tb.tilewise_driver import run_batch

pytestmark = pytest.mark.sim

SMALL = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
DEPTH = 64
KIND = {"range": TableError.RANGE, "order": TableError.ORDER,
        "duplicate": TableError.DUPLICATE}


def nm_inside(rng, A, config):
    M, K = A.shape
    keys = rng.random((M, K // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros(keys.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return A * mask.reshape(M, K)


def random_tw_item(rng, cfg, *, sparse, ready):
    """A native tile-wise job (TVW when ``sparse``) of random shape, group, kept lists (empty
    groups included), table base and D back-pressure ``ready``."""
    M = int(rng.choice([2, 4, 6, 8]))
    K = int(rng.choice([8, 16, 24, 32]))
    N = int(rng.integers(1, 7))
    group = int(rng.choice([g for g in (2, 4, 8) if g <= max(M, 2)]))
    A = rng.integers(-128, 128, (M, K))
    if sparse:
        A = nm_inside(rng, A, cfg)
    B = rng.integers(-128, 128, (K, N))
    kt = K // cfg.tile_k
    lists = [np.sort(rng.choice(kt, size=int(rng.integers(0, kt + 1)), replace=False))
             for _ in range(-(-M // group))]
    return dict(kind="tw", A=A, B=B, lists=lists, group=group, sparse=sparse, d_ready=ready,
                seed=int(rng.integers(1 << 30)), t_base=int(rng.integers(0, 100)))


def test_tilewise_rtl(rng):
    cfg = SMALL
    items, checks = [], []
    good_ops = 0
    for index in range(16):
        item = random_tw_item(rng, cfg, sparse=bool(index % 2),
                              ready=[1.0, 0.6][index % 4 // 2])
        items.append(item)
        checks.append(("good", gtw.tilewise_gemm(item["A"], item["B"], item["lists"],
                                                 group=item["group"], block=cfg.tile_k)))
        good_ops += 1
    # Row-granular TW and TVW (the paper's): any K rows per group.
    for sparse in (False, True):
        W = rng.standard_normal((8, 40))
        tw = gtw.tw_mask(W, 0.5, tile=4)
        mask = gtw.tvw_mask(W, 0.5, tile=4) if sparse else tw
        A = rng.integers(-128, 128, (8, 40)) * mask
        B = rng.integers(-128, 128, (40, 3))
        kept = [np.flatnonzero(tw[g0]) for g0 in (0, 4)]
        items.append(dict(kind="rowtw", A=A, B=B, mask=mask, group=4, sparse=sparse,
                          kept=kept))
        checks.append(("good", A.astype(np.int64) @ B))
    # Bad tables, each followed by a good job that must come out exact.
    A = rng.integers(-128, 128, (8, 32))
    B = rng.integers(-128, 128, (32, 4))
    good = [[1, 3], [0, 2]]
    bad = [([[0, 2], [1, 1]], 0), ([[2, 0], [1]], 0), ([[0, 3], [4]], 0),
           ([[0, 1, 2, 3], [0, 1, 2, 3]], DEFAULT_T_DEPTH - 6)]
    for lists, t_base in bad:
        items.append(dict(kind="tw", A=A, B=B, lists=lists, group=4, validate=False,
                          t_base=t_base))
        if t_base:
            checks.append(("bad", (TableError.OVERFLOW, 1, 2)))
        else:
            with pytest.raises(gtw.KeptListError) as info:
                gtw.check_kept_lists(lists, groups=2, blocks=4)
            checks.append(("bad", (KIND[info.value.kind], info.value.group,
                                   info.value.entry)))
        items.append(dict(kind="tw", A=A, B=B, lists=good, group=4))
        checks.append(("good", gtw.tilewise_gemm(A, B, good, group=4, block=8)))
    out = run_batch(items, config=cfg, a_depth=DEPTH, b_depth=DEPTH,
                    build_name="tw_test_small", check=False)
    checked = 0
    for (D, counters), (what, expected), item in zip(out, checks, items):
        if what == "good":
            assert counters["cause"] == 0
            np.testing.assert_array_equal(D, expected, strict=True)
            checked += D.size
            if item["kind"] == "tw":
                M, N = item["A"].shape[0], item["B"].shape[1]
                per_row = [max(1, len(item["lists"][(mi * 2) // item["group"]]))
                           for mi in range(-(-M // 2))]
                assert counters["tile_ops"] == \
                    sum(per_row) * -(-N // 2) * (1 if item.get("sparse") else 2)
        else:
            assert D is None and counters["cause"] == Cause.TABLE
            assert counters["tile_ops"] == 0 and counters["d_tiles"] == 0
            assert (counters["tw_err"], counters["tw_err_group"],
                    counters["tw_err_entry"]) == expected
    print(f"checked {checked} D elements of {len(items)} jobs")
    check_overlapped_batch(rng)


def check_overlapped_batch(rng):
    """Back-to-back jobs, each loaded (A, B, table) while the one before runs: D exact, the
    batch's operations the sum of its jobs', fewer cycles than the same jobs one by one.
    (Called from test_tilewise_rtl: one test per build folder, never two at once.)"""
    cfg = SMALL
    items, want, ops = [], [], 0
    for index in range(6):
        sparse = bool(index % 2)
        A = rng.integers(-128, 128, (4, 16))
        if sparse:
            A = nm_inside(rng, A, cfg)
        B = rng.integers(-128, 128, (16, 4))
        lists = [np.sort(rng.choice(2, size=int(rng.integers(1, 3)), replace=False))
                 for _ in range(2)]
        items.append(dict(kind="tw", A=A, B=B, lists=lists, group=2, sparse=sparse))
        want.append(gtw.tilewise_gemm(A, B, lists, group=2, block=cfg.tile_k))
        ops += sum(len(k) for k in lists) * 2 * (1 if sparse else 2)
    kwargs = dict(config=cfg, a_depth=DEPTH, b_depth=DEPTH, build_name="tw_test_small")
    batch = run_batch(items, overlap=True, **kwargs)
    single = run_batch(items, **kwargs)
    for (D, counters), (D1, _), expected in zip(batch, single, want):
        np.testing.assert_array_equal(D, expected, strict=True)
        np.testing.assert_array_equal(D1, expected, strict=True)
        assert counters["tile_ops"] == ops and counters["jobs"] == len(items)
    assert batch[0][1]["cycles"] < sum(c["cycles"] for _, c in single)


def test_tilewise_rtl_ecp5_p11(rng):
    """Tile-wise and TVW jobs on the registered-DSP engine (p = 11, ``dsp="ecp5"``: the
    table's address registers are TRELLIS_FF, the B offset a registered MULT18X18D, the
    buffers DP16KD): D bit-exact, exact operation counts, and with D always ready the exact
    busy cycles of a job plus its table scan and verdict (``busy_cycles(ops) + entries + 5``)."""
    cfg = CoreConfig(tile_m=2, tile_n=2, tile_k=8, pipeline=11, dsp="ecp5")
    items, want = [], []
    for index in range(10):
        item = random_tw_item(rng, cfg, sparse=bool(index % 2),
                              ready=1.0 if index < 6 else 0.6)
        items.append(item)
        want.append(gtw.tilewise_gemm(item["A"], item["B"], item["lists"],
                                      group=item["group"], block=cfg.tile_k))
    out = run_batch(items, config=cfg, a_depth=DEPTH, b_depth=DEPTH,
                    build_name="tw_test_ecp5_p11")
    for (D, counters), expected, item in zip(out, want, items):
        np.testing.assert_array_equal(D, expected, strict=True)
        M, N = item["A"].shape[0], item["B"].shape[1]
        per_row = [max(1, len(item["lists"][(mi * 2) // item["group"]]))
                   for mi in range(-(-M // 2))]
        ops = sum(per_row) * -(-N // 2) * (1 if item["sparse"] else 2)
        assert counters["tile_ops"] == ops
        if item["d_ready"] == 1.0:
            entries = sum(max(1, len(k)) for k in item["lists"])
            assert counters["busy_cycles"] == busy_cycles(ops, cfg) + entries + 5
