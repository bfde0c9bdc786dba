"""golden.tilewise's tile-wise job: kept lists, their validation, the exact result.

The expected results come from plain NumPy on a masked dense matrix (the mask built from
the lists element by element in Python), never from the functions under test.
"""

import numpy as np
import pytest

from golden import tilewise
from golden.errors import GoldenError


def masked_reference(A, B, lists, group, block, acc_width):
    """Plain NumPy: zero A outside the kept blocks, dense matmul, wrap by hand."""
    M, K = A.shape
    keep = np.zeros((M, K), dtype=bool)
    for g, kept in enumerate(lists):
        for b in kept:
            for r in range(g * group, min((g + 1) * group, M)):
                for k in range(b * block, min((b + 1) * block, K)):
                    keep[r, k] = True
    D = np.where(keep, A, 0).astype(np.int64) @ B.astype(np.int64)
    mod = 1 << acc_width
    D = D % mod
    return np.where(D >= mod // 2, D - mod, D)


def random_lists(rng, groups, blocks, allow_empty=True):
    lists = []
    for _ in range(groups):
        count = int(rng.integers(0 if allow_empty else 1, blocks + 1))
        lists.append(np.sort(rng.choice(blocks, size=count, replace=False)))
    return lists


@pytest.mark.parametrize("M,K,N,group,block", [
    (8, 32, 4, 4, 16), (16, 64, 8, 8, 16), (12, 40, 5, 8, 16), (7, 30, 3, 4, 8)])
@pytest.mark.parametrize("acc_width", [32, 12])
def test_tilewise_gemm_vs_masked_numpy(rng, M, K, N, group, block, acc_width):
    checked = 0
    for _ in range(20):
        A = rng.integers(-128, 128, size=(M, K))
        B = rng.integers(-128, 128, size=(K, N))
        lists = random_lists(rng, -(-M // group), -(-K // block))
        got = tilewise.tilewise_gemm(A, B, lists, group=group, block=block,
                                     acc_width=acc_width)
        np.testing.assert_array_equal(
            got, masked_reference(A, B, lists, group, block, acc_width), strict=True)
        checked += got.size
    print(f"checked {checked} D elements")


def test_tilewise_gemm_ignores_pruned_values(rng):
    A = rng.integers(-128, 128, size=(8, 32))
    B = rng.integers(-128, 128, size=(32, 4))
    lists = [[1], [0]]
    A2 = A.copy()
    A2[0:4, 0:16] = 99       # pruned for group 0
    A2[4:8, 16:32] = -77     # pruned for group 1
    np.testing.assert_array_equal(
        tilewise.tilewise_gemm(A2, B, lists, group=4, block=16),
        tilewise.tilewise_gemm(A, B, lists, group=4, block=16), strict=True)


def test_full_lists_are_dense(rng):
    A = rng.integers(-128, 128, size=(8, 48))
    B = rng.integers(-128, 128, size=(48, 4))
    got = tilewise.tilewise_gemm(A, B, [[0, 1, 2]] * 2, group=4, block=16)
    np.testing.assert_array_equal(got, A @ B, strict=True)


@pytest.mark.parametrize("lists,kind,message", [
    ([[0, 2], [1, 1]], "duplicate",
     "group 1, entry 1: block 1 repeats the entry before (1); lists must be strictly "
     "increasing"),
    ([[2, 0], [1]], "order",
     "group 0, entry 1: block 0 is below the entry before (2); lists must be strictly "
     "increasing"),
    ([[0], [3]], "range", "group 1, entry 0: block 3 out of range 0..2"),
    ([[0], [-1]], "range", "group 1, entry 0: block -1 out of range 0..2"),
    ([[0]], "count", "expected 2 kept lists (one per group), not 1"),
    ([[0], [0.5]], "type", "group 1: kept list must be a 1-D list of integers, not [0.5]"),
])
def test_check_kept_lists_errors(lists, kind, message):
    with pytest.raises(tilewise.KeptListError) as info:
        tilewise.check_kept_lists(lists, groups=2, blocks=3)
    assert str(info.value) == message
    assert info.value.kind == kind
    assert isinstance(info.value, GoldenError) and isinstance(info.value, ValueError)


def test_check_kept_lists_error_names_group_and_entry():
    with pytest.raises(tilewise.KeptListError) as info:
        tilewise.check_kept_lists([[0, 1], [0, 2, 2]], groups=2, blocks=3)
    assert (info.value.group, info.value.entry) == (1, 2)


def test_empty_list_allowed_but_not_encodable():
    assert tilewise.check_kept_lists([[], [1]], groups=2, blocks=2)[0].size == 0
    with pytest.raises(tilewise.KeptListError, match=r"^group 0: kept list is empty$"):
        tilewise.encode_kept_table([[], [1]], blocks=2)


def test_table_round_trip_and_layout():
    block, last = tilewise.encode_kept_table([[0, 2], [1], [0, 1, 2]], blocks=3)
    # Hand-written table: entries of group 0, then 1, then 2; last marks each group's end.
    assert block.tolist() == [0, 2, 1, 0, 1, 2]
    assert last.tolist() == [0, 1, 1, 0, 0, 1]
    back = tilewise.decode_kept_table(block, last, groups=3)
    assert [b.tolist() for b in back] == [[0, 2], [1], [0, 1, 2]]


def test_lists_from_mask_and_back(rng):
    lists = random_lists(rng, 3, 4)
    mask = tilewise.kept_block_mask(lists, (12, 64), group=4, block=16)
    assert [k.tolist() for k in tilewise.kept_lists_from_mask(mask, group=4, block=16)] == \
        [list(k) for k in lists]


@pytest.mark.parametrize("sparsity,kept", [(0.0, 16), (0.25, 12), (0.5, 8), (0.75, 4)])
def test_tw_block_mask_exact_sparsity(rng, sparsity, kept):
    W = rng.standard_normal((64, 256))
    mask = tilewise.tw_block_mask(W, sparsity, group=16, block=16)
    lists = tilewise.kept_lists_from_mask(mask, group=16, block=16)
    assert sum(len(k) for k in lists) == 4 * kept       # 4 groups × 16 blocks × kept/16
    # Block-constant: every (group, block) is all kept or all pruned.
    blocks = mask.reshape(4, 16, 16, 16)
    assert np.all(blocks.all(axis=(1, 3)) | ~blocks.any(axis=(1, 3)))
    # Pruned blocks score no higher than kept ones (mean |W| ranking, by hand).
    scores = np.abs(W).reshape(4, 16, 16, 16).mean(axis=(1, 3))
    keep = blocks.all(axis=(1, 3))
    if 0 < kept < 16:
        assert scores[~keep].max() <= scores[keep].min()


def test_tvw_block_mask_is_24_inside_kept_blocks(rng):
    W = rng.standard_normal((32, 128))
    mask = tilewise.tvw_block_mask(W, 0.5, group=8, block=16)
    tw = tilewise.tw_block_mask(W, 0.5, group=8, block=16)
    assert not (mask & ~tw).any()
    groups = mask.reshape(32, 32, 4).sum(axis=-1)
    assert np.all(groups[tw.reshape(32, 32, 4).all(axis=-1)] == 2)
    assert mask.mean() == pytest.approx(0.25)


def test_tw_block_mask_balanced(rng):
    W = rng.standard_normal((48, 128))
    mask = tilewise.tw_block_mask(W, 0.75, group=16, block=16, balanced=True)
    lists = tilewise.kept_lists_from_mask(mask, group=16, block=16)
    assert [len(k) for k in lists] == [2, 2, 2]
    scores = np.abs(W).reshape(3, 16, 8, 16).mean(axis=(1, 3))
    for g, kept in enumerate(lists):   # the two best blocks of each group, by hand
        assert sorted(kept.tolist()) == sorted(np.argsort(-scores[g])[:2].tolist())
