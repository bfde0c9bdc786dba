"""Reference arithmetic (golden/mma.py) against independent NumPy / Python-int products."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import compress, dense_mma, sparse_mma, wrap

METHODS = ["auto", "float", "int"]


def random_nm(rng, rows, groups, n, m, *, low, high):
    dense = rng.integers(low, high, (rows, groups, m), endpoint=True)
    keep_count = rng.integers(0, n + 1, (rows, groups, 1))
    rank = np.argsort(rng.random((rows, groups, m)), axis=-1)
    return np.where(rank < keep_count, dense, 0).reshape(rows, groups * m)


def wrap_np(x, width):
    """Signed wrap of int64 values that do not overflow int64 (test oracle)."""
    half = 1 << (width - 1)
    return (x + half) % (2 * half) - half if width < 64 else x


def exact_python(A, B, C, width):
    """D with Python ints (object arrays): no overflow anywhere."""
    P = A.astype(object) @ B.astype(object)
    if C is not None:
        P = P + C.astype(object)
    half = 1 << (width - 1)
    return np.array((P + half) % (2 * half) - half, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(
    pattern=st.sampled_from([(1, 2), (2, 4), (4, 8)]),
    widths=st.sampled_from([(8, 8, 32), (4, 4, 16), (16, 16, 32), (8, 8, 12), (16, 8, 40)]),
    M=st.integers(1, 6), N=st.integers(1, 6), groups=st.integers(1, 8),
    with_c=st.booleans(), method=st.sampled_from(METHODS), seed=st.integers(0, 2**32 - 1),
)
def test_sparse_mma_equals_numpy(pattern, widths, M, N, groups, with_c, method, seed):
    n, m = pattern
    a_width, b_width, acc_width = widths
    rng = np.random.default_rng(seed)
    a_hi, b_hi, c_hi = (1 << (w - 1) for w in widths)
    A = random_nm(rng, M, groups, n, m, low=-a_hi, high=a_hi - 1)   # dense first
    B = rng.integers(-b_hi, b_hi, (groups * m, N))
    C = rng.integers(-c_hi, c_hi, (M, N)) if with_c else None
    values, metadata = compress(A, n, m)
    D = sparse_mma(values, metadata, B, C, n=n, m=m, a_width=a_width, b_width=b_width,
                   acc_width=acc_width, method=method)
    expected = A.astype(np.int64) @ B + (0 if C is None else C)
    np.testing.assert_array_equal(D, wrap_np(expected, acc_width), strict=True)
    np.testing.assert_array_equal(
        dense_mma(A, B, C, a_width=a_width, b_width=b_width, acc_width=acc_width,
                  method=method), D, strict=True)


@pytest.mark.parametrize("method", METHODS)
def test_extremes_wrap(method):
    # Most negative x most negative over K = 4096: 4096 * 2**14 = 2**26; with C = 2**31 - 1
    # the 32-bit sum wraps.
    K = 4096
    A = np.full((2, K), -128, np.int8)
    B = np.full((K, 3), -128, np.int8)
    C = np.full((2, 3), 2**31 - 1, np.int64)
    D = dense_mma(A, B, C, method=method)
    assert (D == -2**31 + 2**26 - 1).all()
    assert (dense_mma(A, B, acc_width=26, method=method) == 0).all()


@pytest.mark.parametrize("widths, K", [((24, 24, 64), 300), ((32, 32, 64), 40),
                                       ((32, 32, 48), 5), ((20, 20, 64), 70000)])
def test_wide_operands_exact(rng, widths, K):
    """Bounds beyond 2**53: the chunked float and the uint64 paths, against Python ints."""
    a_width, b_width, acc_width = widths
    lo_a, lo_b = -(1 << (a_width - 1)), -(1 << (b_width - 1))
    A = rng.integers(lo_a, -lo_a, (3, K))
    A[0] = lo_a                                       # force the worst case
    B = rng.integers(lo_b, -lo_b, (K, 2))
    B[:, 0] = lo_b
    C = rng.integers(-(1 << (acc_width - 1)), 1 << (acc_width - 1), (3, 2))
    expected = exact_python(A, B, C, acc_width)
    for method in ("auto", "int"):
        D = dense_mma(A, B, C, a_width=a_width, b_width=b_width, acc_width=acc_width,
                      method=method)
        np.testing.assert_array_equal(D, expected, strict=True)


def test_dense_mma_batched(rng):
    A = rng.integers(-128, 128, (2, 3, 4, 8))
    B = rng.integers(-128, 128, (8, 5))
    D = dense_mma(A, B)
    assert D.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(D, A @ B)


def test_sparse_mma_batched(rng):
    A = np.stack([random_nm(rng, 4, 3, 2, 4, low=-128, high=127) for _ in range(2)])
    B = rng.integers(-128, 128, (2, 12, 5))
    np.testing.assert_array_equal(sparse_mma(*compress(A), B), A @ B)


def test_int8_inputs_are_widened(rng):
    # An int8 @ int8 in NumPy overflows silently; the reference must not.
    A = np.full((1, 4), 100, np.int8)
    B = np.full((4, 1), 100, np.int8)
    assert dense_mma(A, B)[0, 0] == 40000
    assert sparse_mma(*compress(np.array([[100, 100, 0, 0]], np.int8)), B)[0, 0] == 20000


def test_wrap():
    assert wrap(127, 8) == 127 and wrap(128, 8) == -128 and wrap(-129, 8) == 127
    assert wrap(1, 1) == -1 and wrap(2, 1) == 0
    assert wrap(2**63, 64) == -2**63
    assert wrap(2**70 + 5, 8) == 5                     # Python ints of any size
    np.testing.assert_array_equal(wrap(np.array([2**31, -2**31 - 1], np.int64), 32),
                                  [-2**31, 2**31 - 1])
    np.testing.assert_array_equal(wrap(np.array([255], np.uint8), 8), [-1])
    np.testing.assert_array_equal(wrap(np.array([2**64 - 1], np.uint64), 64), [-1])
    assert wrap(np.array([5]), 8).dtype == np.int64
