"""Tile model (golden/tiles.py) against docs/architecture.md §3–§5.

Independent paths: the whole-matrix product ``A.astype(int64) @ B`` of an A built dense
first, and a literal element-by-element transcription of §4 (``literal_core``).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import (
    DataError,
    DTypeError,
    ParameterError,
    ShapeError,
    compress,
    dense_mma,
    sparse_mma,
    tiles,
)
from golden.tiles import TileOp, TileResult


def random_nm(rng, rows, groups, n, m, *, low=-128, high=128):
    dense = rng.integers(low, high, (rows, groups, m))
    keep_count = rng.integers(0, n + 1, (rows, groups, 1))
    rank = np.argsort(rng.random((rows, groups, m)), axis=-1)
    return np.where(rank < keep_count, dense, 0).reshape(rows, groups * m)


def wrap_py(x, width):
    """Signed wrap of a Python int."""
    return (x + (1 << (width - 1))) % (1 << width) - (1 << (width - 1))


def literal_core(ops, *, n=2, m=4, acc_width=32, sparse=True):
    """docs/architecture.md §4 transcribed with Python ints and loops (small tiles only)."""
    acc, err, out = None, False, []
    for op in ops:
        tile_m, kept_k = op.a_values.shape
        tile_n = op.b.shape[1]
        if acc is None:
            acc = [[0] * tile_n for _ in range(tile_m)]
        invalid = False
        for r in range(tile_m):
            for c in range(tile_n):
                p = 0
                if sparse:
                    for g in range(kept_k // n):
                        idx = [int(i) for i in op.a_idx[r][g]]
                        ok = all(i < m for i in idx) and all(
                            idx[s] < idx[s + 1] for s in range(n - 1))
                        invalid |= not ok
                        if ok:
                            for s in range(n):
                                p += int(op.a_values[r][g * n + s]) * int(op.b[g * m + idx[s]][c])
                else:
                    for j in range(kept_k):
                        p += int(op.a_values[r][j]) * int(op.b[j][c])
                acc[r][c] = wrap_py((0 if op.first else acc[r][c]) + p, acc_width)
        err = (False if op.first else err) or invalid
        if op.last:
            out.append((np.array(acc, np.int64), err))
    return out


def assert_results(results, expected):
    assert len(results) == len(expected)
    for got, (d, err) in zip(results, expected):
        assert isinstance(got, TileResult)
        np.testing.assert_array_equal(got.d, d, strict=True)
        assert got.error is err


# ---- split / order ------------------------------------------------------------------------

def test_split_gemm_order_and_fields(rng):
    M, N, K = 8, 12, 32
    A = random_nm(rng, M, K // 4, 2, 4)
    B = rng.integers(-128, 128, (K, N))
    values, metadata = compress(A)
    ops = tiles.split_gemm(values, metadata, B, tile_m=4, tile_n=4, tile_k=16)
    assert len(ops) == 2 * 3 * 2
    expected_flags = [(True, False), (False, True)] * 6
    assert [(op.first, op.last) for op in ops] == expected_flags
    # Operation 3 is mi=0, ni=1, ki=1.
    op = ops[3]
    assert op.a_values.dtype == np.int64 and op.a_values.shape == (4, 8)
    assert op.a_idx.dtype == np.int64 and op.a_idx.shape == (4, 4, 2)
    assert op.b.dtype == np.int64 and op.b.shape == (16, 4)
    np.testing.assert_array_equal(op.a_values, values[0:4, 8:16])
    np.testing.assert_array_equal(op.b, B[16:32, 4:8])
    # a_idx selects the kept elements of the dense block.
    block = A[0:4, 16:32].reshape(4, 4, 4)
    np.testing.assert_array_equal(
        np.take_along_axis(block, op.a_idx, axis=-1).reshape(4, 8), op.a_values)


def test_meta_bits_is_metadata_word(rng):
    A = random_nm(rng, 4, 8, 2, 4)
    values, metadata = compress(A)
    ops = tiles.split_gemm(values, metadata, np.zeros((32, 2), np.int8),
                           tile_m=4, tile_n=2, tile_k=16)
    # tile_k = 16: one word per row; tile_k = 32: word 0 | word 1 << 16.
    assert tiles.meta_bits(ops[0].a_idx) == [int(w) for w in metadata[:, 0]]
    assert tiles.meta_bits(ops[1].a_idx) == [int(w) for w in metadata[:, 1]]
    ops32 = tiles.split_gemm(values, metadata, np.zeros((32, 2), np.int8),
                             tile_m=2, tile_n=2, tile_k=32)
    assert tiles.meta_bits(ops32[0].a_idx) == [
        int(metadata[r, 0]) | int(metadata[r, 1]) << 16 for r in range(2)]


def test_meta_bits_by_hand():
    # Row 0: (0,1) (2,3) -> 0x4 | 0xE<<4 = 0xE4; row 1: invalid (3,1), (0,0) -> 0x7 | 0x0<<4.
    a_idx = np.array([[[0, 1], [2, 3]], [[3, 1], [0, 0]]])
    assert tiles.meta_bits(a_idx) == [0xE4, 0x07]
    # 4:8, b = 3: (0, 2, 5, 7) -> 0xF50.
    assert tiles.meta_bits(np.array([[[0, 2, 5, 7]]]), m=8) == [0xF50]


# ---- the model against whole-matrix products ------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    pattern=st.sampled_from([(1, 2), (2, 4), (4, 8)]),
    tile_m=st.integers(1, 4), tile_n=st.integers(1, 4), k_groups=st.integers(1, 3),
    mt=st.integers(1, 3), nt=st.integers(1, 3), kt=st.integers(1, 3),
    acc_width=st.sampled_from([32, 16, 12]), seed=st.integers(0, 2**32 - 1),
)
def test_reassembly_equals_whole_matrix(pattern, tile_m, tile_n, k_groups, mt, nt, kt,
                                        acc_width, seed):
    n, m = pattern
    rng = np.random.default_rng(seed)
    tile_k = k_groups * m
    M, N, K = mt * tile_m, nt * tile_n, kt * tile_k
    A = random_nm(rng, M, K // m, n, m)                 # built dense, then compressed
    B = rng.integers(-128, 128, (K, N))
    C = rng.integers(-(1 << (acc_width - 1)), 1 << (acc_width - 1), (M, N))
    values, metadata = compress(A, n, m)
    ops = tiles.split_gemm(values, metadata, B, tile_m=tile_m, tile_n=tile_n, tile_k=tile_k,
                           n=n, m=m)
    results = tiles.core_model(ops, n=n, m=m, acc_width=acc_width)
    assert len(results) == mt * nt and not any(r.error for r in results)
    D = tiles.assemble(results, M, N, tile_m=tile_m, tile_n=tile_n)
    half = 1 << (acc_width - 1)
    expected = (A.astype(np.int64) @ B + C + half) % (2 * half) - half
    np.testing.assert_array_equal((D + C + half) % (2 * half) - half, expected)
    np.testing.assert_array_equal(D, (A.astype(np.int64) @ B + half) % (2 * half) - half)


def test_dense_core_equals_whole_matrix(rng):
    M, N, K = 6, 8, 24
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    ops = tiles.split_dense_gemm(A, B, tile_m=3, tile_n=4, tile_k=8)
    assert ops[0].a_idx.shape == (3, 0, 0) and ops[0].b.shape == (8, 4)
    results = tiles.core_model(ops, sparse=False)
    np.testing.assert_array_equal(tiles.assemble(results, M, N, tile_m=3, tile_n=4),
                                  A.astype(np.int64) @ B)
    assert_results(results, literal_core(ops, sparse=False))


@settings(max_examples=30, deadline=None)
@given(pattern=st.sampled_from([(1, 2), (2, 4), (4, 8)]), mt=st.integers(1, 3),
       tile_m=st.integers(1, 3), N=st.integers(1, 5), kt=st.integers(1, 3),
       k_groups=st.integers(1, 2), seed=st.integers(0, 2**32 - 1))
def test_dense_as_sparse(pattern, mt, tile_m, N, kt, k_groups, seed):
    n, m = pattern
    rng = np.random.default_rng(seed)
    M, K = mt * tile_m, kt * k_groups * n          # dense K: k_groups groups of n per op
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    values, metadata, B_spread = tiles.dense_as_sparse(A, B, n, m)
    np.testing.assert_array_equal(values, A)
    assert B_spread.shape == (K * m // n, N)
    if (n, m) == (2, 4):
        assert (metadata[:, :K // 8] == 0x4444).all()
    expected = dense_mma(A, B)
    np.testing.assert_array_equal(expected, A.astype(np.int64) @ B)
    np.testing.assert_array_equal(sparse_mma(values, metadata, B_spread, n=n, m=m), expected)
    ops = tiles.split_gemm(values, metadata, B_spread, tile_m=tile_m, tile_n=N,
                           tile_k=k_groups * m, n=n, m=m)
    D = tiles.assemble(tiles.core_model(ops, n=n, m=m), M, N, tile_m=tile_m, tile_n=N)
    np.testing.assert_array_equal(D, expected)


def test_dense_as_sparse_by_hand():
    A = np.array([[1, 2, 3, 4]])
    B = np.array([[10], [20], [30], [40]])
    values, metadata, B_spread = tiles.dense_as_sparse(A, B)
    assert metadata.tolist() == [[0x44]]          # two groups (0, 1), padding zero
    assert B_spread[:, 0].tolist() == [10, 20, 0, 0, 30, 40, 0, 0]


# ---- §4 semantics: invalid groups, flags, wrap ---------------------------------------------

def _op(rng, idx, first, last, tile_n=3):
    idx = np.asarray(idx, np.int64)
    tile_m, groups, n = idx.shape
    return TileOp(rng.integers(-128, 128, (tile_m, groups * n)), idx,
                  rng.integers(-128, 128, (groups * 4, tile_n)), first, last)


def test_invalid_groups_contribute_zero_and_flag(rng):
    good = [[[0, 1], [2, 3]], [[1, 3], [0, 2]]]
    bad = [[[0, 1], [2, 2]], [[3, 1], [0, 2]]]     # (2,2) and (3,1) invalid
    ops = [_op(rng, good, True, True), _op(rng, bad, True, True), _op(rng, good, True, True)]
    results = tiles.core_model(ops)
    assert [r.error for r in results] == [False, True, False]
    assert_results(results, literal_core(ops))
    # Row 0 of the bad op: group 0 counts, group 1 does not.
    op = ops[1]
    row0 = op.a_values[0, 0] * op.b[0] + op.a_values[0, 1] * op.b[1]
    row1 = op.a_values[1, 2] * op.b[4 + 0] + op.a_values[1, 3] * op.b[4 + 2]
    np.testing.assert_array_equal(results[1].d, np.stack([row0, row1]))


@pytest.mark.parametrize("idx", [(0, 0), (1, 0), (3, 3), (2, 1), (3, 0)])
def test_every_invalid_order_flags(rng, idx):
    op = _op(rng, [[list(idx), [0, 1]]], True, True)
    (result,) = tiles.core_model([op])
    assert result.error
    np.testing.assert_array_equal(
        result.d, (op.a_values[0, 2] * op.b[4] + op.a_values[0, 3] * op.b[5])[None])


def test_out_of_range_index(rng):
    # Power-of-two m leaves no index out of range; 2:6 has b = 3, so 6 and 7 are.
    a_idx = np.array([[[0, 6], [1, 2]]])
    op = TileOp(np.ones((1, 4), np.int64), a_idx, np.arange(12)[:, None], True, True)
    (result,) = tiles.core_model([op], n=2, m=6)
    assert result.error and result.d[0, 0] == 7 + 8     # group 1 reads B rows 6+1, 6+2
    # 4:8: a repeated index is invalid.
    op = TileOp(np.ones((1, 4), np.int64), np.array([[[0, 1, 2, 2]]]), np.ones((8, 1), int),
                True, True)
    (result,) = tiles.core_model([op], n=4, m=8)
    assert result.error and result.d[0, 0] == 0


def test_accumulation_flags(rng):
    good = [[[0, 1], [1, 3]]]
    bad = [[[1, 1], [0, 3]]]
    ops = [
        _op(rng, good, False, False),   # no first after reset: adds onto 0
        _op(rng, good, False, True),    # emit
        _op(rng, bad, False, True),     # continues onto the emitted state; error
        _op(rng, good, False, True),    # error is sticky until a first
        _op(rng, good, True, False),    # first clears acc and error
        _op(rng, good, False, True),
        _op(rng, bad, True, True),      # first and last together
    ]
    results = tiles.core_model(ops)
    assert [r.error for r in results] == [False, True, True, False, True]
    assert_results(results, literal_core(ops))
    np.testing.assert_array_equal(results[1].d - results[0].d,
                                  tiles.core_model([ops[2]._replace(first=True)])[0].d)


def test_accumulator_wraps(rng):
    # Most negative x most negative, summed: 16 * 2**14 = 2**18 per op.
    idx = np.broadcast_to(np.array([0, 1]), (2, 8, 2))
    op = TileOp(np.full((2, 16), -128), idx, np.full((32, 2), -128), True, False)
    ops = [op] + [op._replace(first=False)] * 8190 + [op._replace(first=False, last=True)]
    results = tiles.core_model(ops, acc_width=32)
    # 8192 * 2**18 = 2**31 wraps to -2**31.
    assert (results[0].d == -(1 << 31)).all()
    (small,) = tiles.core_model([op._replace(last=True)], acc_width=16)
    assert (small.d == 0).all()                         # 2**18 mod 2**16
    (wide,) = tiles.core_model([op._replace(last=True)], acc_width=64)
    assert (wide.d == 1 << 18).all()


def test_wide_operands_exact(rng):
    # 32-bit operands: products reach 2**62, sums overflow int64; the model is exact mod 2**64.
    big = -(1 << 31)
    idx = np.broadcast_to(np.array([0, 1]), (1, 4, 2))
    op = TileOp(np.full((1, 8), big), idx, np.full((16, 1), big), True, True)
    (r64,) = tiles.core_model([op], acc_width=64)
    assert r64.d[0, 0] == wrap_py(8 * big * big, 64)
    (r40,) = tiles.core_model([op], acc_width=40)
    assert r40.d[0, 0] == wrap_py(8 * big * big, 40)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 8),
       pattern=st.sampled_from([(1, 2), (2, 4), (4, 8)]), acc_width=st.sampled_from([8, 20]))
def test_random_op_streams_match_literal_core(seed, count, pattern, acc_width):
    """Random indices (invalid ones included) and random first/last sequences."""
    n, m = pattern
    rng = np.random.default_rng(seed)
    b = (m - 1).bit_length()
    ops = []
    for _ in range(count):
        groups = 2
        ops.append(TileOp(rng.integers(-128, 128, (2, groups * n)),
                          rng.integers(0, 1 << b, (2, groups, n)),
                          rng.integers(-128, 128, (groups * m, 2)),
                          bool(rng.integers(2)), bool(rng.integers(2))))
    assert_results(tiles.core_model(ops, n=n, m=m, acc_width=acc_width),
                   literal_core(ops, n=n, m=m, acc_width=acc_width))


# ---- padding ------------------------------------------------------------------------------

def test_pad_gemm(rng):
    M, N, K = 5, 7, 12
    A = random_nm(rng, M, K // 4, 2, 4)
    B = rng.integers(-128, 128, (K, N))
    values, metadata = compress(A)
    pv, pm, pB = tiles.pad_gemm(values, metadata, B, tile_m=4, tile_n=4, tile_k=8)
    assert pv.shape == (8, 8) and pm.shape == (8, 1) and pB.shape == (16, 8)
    # Padded groups are all-zero groups in the compressor's encoding: 0x4.
    assert pm[5:, 0].tolist() == [0x4444] * 3
    assert int(pm[0, 0]) >> 12 == 0x4
    ops = tiles.split_gemm(pv, pm, pB, tile_m=4, tile_n=4, tile_k=8)
    D = tiles.assemble(tiles.core_model(ops), 8, 8, tile_m=4, tile_n=4)[:M, :N]
    np.testing.assert_array_equal(D, A.astype(np.int64) @ B)


def test_pad_to_tiles():
    X = np.ones((3, 5), np.int8)
    P = tiles.pad_to_tiles(X, 2, 4)
    assert P.shape == (4, 8) and P.dtype == np.int8 and P.sum() == 15


# ---- bad input ----------------------------------------------------------------------------

def test_split_gemm_not_multiple_of_tile(rng):
    values, metadata = compress(random_nm(rng, 6, 4, 2, 4))
    with pytest.raises(ShapeError, match=r"M=6 is not a multiple of tile_m=4"):
        tiles.split_gemm(values, metadata, np.zeros((16, 4), int), tile_m=4, tile_n=4,
                         tile_k=16)
    with pytest.raises(ShapeError, match=r"N=6 is not a multiple of tile_n=4"):
        tiles.split_gemm(values, metadata, np.zeros((16, 6), int), tile_m=2, tile_n=4,
                         tile_k=16)
    with pytest.raises(ShapeError, match=r"K=16 is not a multiple of tile_k=12"):
        tiles.split_gemm(values, metadata, np.zeros((16, 4), int), tile_m=2, tile_n=4,
                         tile_k=12)


def test_split_gemm_tile_k_not_multiple_of_m(rng):
    values, metadata = compress(random_nm(rng, 4, 4, 2, 4))
    with pytest.raises(ParameterError, match=r"tile_k must be a multiple of m=4, not 6"):
        tiles.split_gemm(values, metadata, np.zeros((16, 4), int), tile_m=2, tile_n=4,
                         tile_k=6)


def test_split_gemm_b_rows(rng):
    values, metadata = compress(random_nm(rng, 4, 4, 2, 4))
    with pytest.raises(ShapeError, match=r"B has 12 rows; .* need K=16"):
        tiles.split_gemm(values, metadata, np.zeros((12, 4), int), tile_m=2, tile_n=4,
                         tile_k=4)


def test_assemble_wrong_count():
    with pytest.raises(ShapeError, match=r"results has 1 tiles; M=4, N=4 need 4"):
        tiles.assemble([np.zeros((2, 2))], 4, 4, tile_m=2, tile_n=2)


def test_core_model_inconsistent_tiles(rng):
    ops = [_op(rng, [[[0, 1]]], True, True), _op(rng, [[[0, 1]], [[0, 1]]], True, True)]
    with pytest.raises(ShapeError, match=r"^ops\[1\]\.a_values has shape \(2, 2\), earlier "
                                         r"operations \(1, 2\)"):
        tiles.core_model(ops)


def test_core_model_bad_fields(rng):
    op = _op(rng, [[[0, 1]]], True, True)
    with pytest.raises(ShapeError, match=r"ops\[0\]\.b has 5 rows; tile_k=4 needed"):
        tiles.core_model([op._replace(b=np.zeros((5, 3), int))])
    with pytest.raises(ShapeError, match=r"ops\[0\]\.a_idx has shape \(1, 1, 3\)"):
        tiles.core_model([op._replace(a_idx=np.zeros((1, 1, 3), int))])
    with pytest.raises(DataError, match=r"ops\[2\]\.a_idx holds an index outside 0 … 3"):
        tiles.core_model([op, op, op._replace(a_idx=np.array([[[0, 4]]]))])
    with pytest.raises(DTypeError, match=r"ops\[1\]\.b must hold integers, not float64"):
        tiles.core_model([op, op._replace(b=op.b.astype(float))])
    assert tiles.core_model([]) == []
