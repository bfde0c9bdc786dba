"""The engine's tile-wise job in Amaranth's simulator: kept blocks only, exact cycles, bad tables.

Stimulus is planned by the host driver (``tb.tilewise_driver``), the words the cocotb runs
load; D is compared with golden.tilewise.tilewise_gemm (itself checked against plain NumPy
in tests/test_tilewise_job.py) and the scan's verdict with golden.tilewise.check_kept_lists.
"""

import numpy as np
import pytest

from golden import tilewise as gtw
from hw.config import CoreConfig
from hw.gemm import Cause, busy_cycles
from hw.kept_table import TableError
from tb.tilewise_driver import TableRejected, run_batch, run_tw_amaranth

SMALL = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
DEPTH = 64
T_DEPTH = 32
KIND = {"range": TableError.RANGE, "order": TableError.ORDER,
        "duplicate": TableError.DUPLICATE}


def runner(raw, *, config, a_depth, b_depth, build_name):
    return run_tw_amaranth(raw, config=config, a_depth=DEPTH, b_depth=DEPTH, t_depth=T_DEPTH)


def random_lists(rng, groups, blocks, empty=False):
    lists = []
    for _ in range(groups):
        count = int(rng.integers(0 if empty else 1, blocks + 1))
        lists.append(np.sort(rng.choice(blocks, size=count, replace=False)))
    return lists


def nm_inside(rng, A, config):
    """Zero all but n of every m along K (TVW: 2:4 inside every block)."""
    M, K = A.shape
    keys = rng.random((M, K // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros(keys.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return A * mask.reshape(M, K)


@pytest.mark.parametrize("sparse", [False, True], ids=["tw", "tvw"])
@pytest.mark.parametrize("M,K,N,group", [(8, 32, 4, 4), (6, 24, 6, 2), (8, 40, 2, 8)])
def test_sim_tilewise_exact(rng, sparse, M, K, N, group):
    """Random lists (empty groups included): D bit-exact vs golden, and the engine issues
    exactly one operation (two when dense) per kept block and output tile."""
    items, want, ops = [], [], []
    cfg = SMALL
    kt = K // cfg.tile_k
    for _ in range(3):
        A = rng.integers(-128, 128, (M, K))
        if sparse:
            A = nm_inside(rng, A, cfg)
        B = rng.integers(-128, 128, (K, N))
        lists = random_lists(rng, -(-M // group), kt, empty=True)
        items.append(dict(kind="tw", A=A, B=B, lists=lists, group=group, sparse=sparse))
        want.append(gtw.tilewise_gemm(A, B, lists, group=group, block=cfg.tile_k))
        nt = -(-N // cfg.tile_n)
        per_row = [max(1, len(lists[(mi * cfg.tile_m) // group]))
                   for mi in range(-(-M // cfg.tile_m))]
        ops.append(sum(per_row) * nt * (1 if sparse else 2))
    out = run_batch(items, config=cfg, a_depth=DEPTH, b_depth=DEPTH, runner=runner)
    for (D, counters), expected, n_ops, item in zip(out, want, ops, items):
        np.testing.assert_array_equal(D, expected, strict=True)
        assert counters["tile_ops"] == n_ops
        entries = sum(max(1, len(k)) for k in item["lists"])
        # Busy: the job as a plain one of n_ops operations, plus the scan's start register
        # (1), the scan (entries + 3) and its verdict (1).
        assert counters["busy_cycles"] == busy_cycles(n_ops, cfg) + entries + 5


def test_sim_full_lists_equal_plain_job(rng):
    """Full kept lists give the plain job's D and operations, plus the scan's cycles."""
    A = rng.integers(-128, 128, (8, 32))
    B = rng.integers(-128, 128, (32, 4))
    lists = [[0, 1, 2, 3]] * 2
    (Dt, ct), (Dp, cp) = run_batch([
        dict(kind="tw", A=A, B=B, lists=lists, group=4),
        dict(kind="gemm", A=A, B=B, sparse=False)], config=SMALL, a_depth=DEPTH,
        b_depth=DEPTH, runner=runner)
    np.testing.assert_array_equal(Dt, A @ B, strict=True)
    np.testing.assert_array_equal(Dp, A @ B, strict=True)
    assert ct["tile_ops"] == cp["tile_ops"]
    assert ct["busy_cycles"] == cp["busy_cycles"] + 8 + 5


BAD = [
    [[0, 2], [1, 1]],         # duplicate, group 1 entry 1
    [[2, 0], [1]],            # descending, group 0 entry 1
    [[0, 3], [4]],            # out of range (K_TILES = 4), group 1 entry 0
    [[0, 1, 3, 3], [0]],      # duplicate at the end of group 0
]


@pytest.mark.parametrize("lists", BAD, ids=["dup", "order", "range", "dup-last"])
def test_sim_bad_table_is_rejected_then_next_job_correct(rng, lists):
    A = rng.integers(-128, 128, (8, 32))
    B = rng.integers(-128, 128, (32, 4))
    with pytest.raises(gtw.KeptListError) as info:
        gtw.check_kept_lists(lists, groups=2, blocks=4)
    good = [[1, 3], [0]]
    out = run_batch([dict(kind="tw", A=A, B=B, lists=lists, group=4, validate=False),
                     dict(kind="tw", A=A, B=B, lists=good, group=4)],
                    config=SMALL, a_depth=DEPTH, b_depth=DEPTH, runner=runner, check=False)
    (D_bad, bad), (D_good, _) = out
    assert D_bad is None and bad["cause"] == Cause.TABLE and bad["tile_ops"] == 0
    assert bad["d_tiles"] == 0
    assert (bad["tw_err"], bad["tw_err_group"], bad["tw_err_entry"]) == \
        (KIND[info.value.kind], info.value.group, info.value.entry)
    np.testing.assert_array_equal(
        D_good, gtw.tilewise_gemm(A, B, good, group=4, block=8), strict=True)


def test_sim_bad_table_raises_named_error(rng):
    A = rng.integers(-128, 128, (8, 32))
    B = rng.integers(-128, 128, (32, 4))
    with pytest.raises(TableRejected, match=r"^engine rejected the kept-block table: "
                                            r"DUPLICATE at group 1, entry 1$"):
        run_batch([dict(kind="tw", A=A, B=B, lists=BAD[0], group=4, validate=False)],
                  config=SMALL, a_depth=DEPTH, b_depth=DEPTH, runner=runner)


def test_sim_rowwise_exact(rng):
    """Row-granular TW (any K rows per group): per-group GEMMs on the plain engine."""
    W = rng.standard_normal((8, 40))
    mask = gtw.tw_mask(W, 0.5, tile=4)
    A = rng.integers(-128, 128, (8, 40)) * mask
    B = rng.integers(-128, 128, (40, 3))
    (D, counters), = run_batch([dict(kind="rowtw", A=A, B=B, mask=mask, group=4)],
                               config=SMALL, a_depth=DEPTH, b_depth=DEPTH, runner=runner)
    np.testing.assert_array_equal(D, (A * mask) @ B, strict=True)
    assert counters["jobs"] == 2
