"""Pruning (golden/prune.py): N:M magnitude pruning and the Han et al. baseline."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden import compress, decompress, is_nm_sparse
from golden.prune import prune, prune_magnitude

PATTERNS = [(1, 2), (2, 4), (4, 8)]


def magnitude(W):
    return np.abs(W.astype(np.float64))


def test_prune_by_hand():
    W = np.array([[1, -1, 1, -1,         # all ties: lower index kept -> positions 0, 1
                   -128, 127, 5, -128,   # |-128| = 128 (no int8 overflow): 0 and 3
                   0, 0, 0, 0,           # all zero: positions 0, 1 kept (zeros)
                   3, -7, 7, 2]],        # 7 and -7 tie: 1, 2 kept
                 dtype=np.int8)
    pruned, mask = prune(W)
    assert pruned.dtype == np.int8
    np.testing.assert_array_equal(pruned, [[1, -1, 0, 0, -128, 0, 0, -128, 0, 0, 0, 0,
                                            0, -7, 7, 0]])
    np.testing.assert_array_equal(mask[0, :8], [1, 1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(mask[0, 8:], [1, 1, 0, 0, 0, 1, 1, 0])


@pytest.mark.parametrize("n, m", PATTERNS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_prune_properties(n, m, data):
    dtype = data.draw(st.sampled_from([np.int8, np.int32, np.float32, np.float64]))
    elements = (st.integers(-4, 4) if np.dtype(dtype).kind == "i"
                else st.floats(-4, 4, width=np.dtype(dtype).itemsize * 8))
    shape = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4)))
    W = data.draw(hnp.arrays(dtype, shape[:-1] + (shape[-1] * m,), elements=elements))
    pruned, mask = prune(W, n, m)
    assert pruned.dtype == W.dtype and mask.dtype == bool and mask.shape == W.shape
    np.testing.assert_array_equal(pruned, np.where(mask, W, 0))
    assert is_nm_sparse(pruned, n, m)
    groups_mask = mask.reshape(-1, m)
    assert (groups_mask.sum(axis=-1) == n).all()
    mag = magnitude(W).reshape(-1, m)
    for g in range(mag.shape[0]):                       # small: check each group literally
        kept = np.flatnonzero(groups_mask[g])
        dropped = np.flatnonzero(~groups_mask[g])
        for i in kept:
            for j in dropped:
                assert mag[g, i] > mag[g, j] or (mag[g, i] == mag[g, j] and i < j)
    # The result compresses and round-trips.
    if pruned.ndim >= 2:
        np.testing.assert_array_equal(decompress(*compress(pruned, n, m), n, m), pruned)


def test_prune_idempotent(rng):
    W = rng.normal(size=(8, 32)).astype(np.float32)
    pruned, _ = prune(W)
    again, _ = prune(pruned)
    np.testing.assert_array_equal(again, pruned)


def test_prune_integer_extremes():
    W = np.array([-2**63, 2**63 - 1, -1, 0], np.int64)
    pruned, mask = prune(W)
    np.testing.assert_array_equal(mask, [True, True, False, False])
    W = np.array([255, 0, 254, 255], np.uint8)
    np.testing.assert_array_equal(prune(W)[1], [True, False, False, True])


def test_prune_magnitude_quality(rng):
    W = rng.normal(size=(16, 16))
    pruned, mask = prune_magnitude(W, quality=0.7)
    threshold = 0.7 * W.std()
    np.testing.assert_array_equal(mask, np.abs(W) >= threshold)
    np.testing.assert_array_equal(pruned, np.where(mask, W, 0))
    assert prune_magnitude(W, quality=0)[1].all()


@settings(max_examples=40, deadline=None)
@given(W=hnp.arrays(np.int16, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                    elements=st.integers(-5, 5)),
       sparsity=st.floats(0, 1))
def test_prune_magnitude_sparsity(W, sparsity):
    pruned, mask = prune_magnitude(W, sparsity=sparsity)
    assert (~mask).sum() == int(np.floor(sparsity * W.size + 0.5))
    np.testing.assert_array_equal(pruned, np.where(mask, W, 0))
    mag = np.abs(W.astype(np.int64)).reshape(-1)
    flat = mask.reshape(-1)
    kept, dropped = np.flatnonzero(flat), np.flatnonzero(~flat)
    for i in kept:
        for j in dropped:
            assert mag[i] > mag[j] or (mag[i] == mag[j] and i < j)


def test_prune_magnitude_ties_by_hand():
    pruned, mask = prune_magnitude(np.array([2, 1, 1, 3, 1]), sparsity=0.4)
    # Drop two of the three 1s: the higher indices 4 and 2; index 1 kept.
    np.testing.assert_array_equal(mask, [True, True, False, True, False])
