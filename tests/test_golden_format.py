"""N:M compressed format (golden/nm.py) against docs/architecture.md §2 and docs/format.md."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden import (
    compress,
    decompress,
    indices_to_metadata,
    invalid_groups,
    is_nm_sparse,
    metadata_shape,
    metadata_to_indices,
)

PATTERNS = [(1, 2), (2, 4), (4, 8)]
VALID_NIBBLES = {0x4: (0, 1), 0x8: (0, 2), 0xC: (0, 3), 0x9: (1, 2), 0xD: (1, 3), 0xE: (2, 3)}


def random_nm(rng, rows, groups, n, m, *, low=-128, high=128, dtype=np.int64):
    """A random N:M-sparse (rows, groups*m) array; each group holds 0 … n non-zeros."""
    dense = rng.integers(low, high, (rows, groups, m))
    keep_count = rng.integers(0, n + 1, (rows, groups, 1))
    rank = np.argsort(rng.random((rows, groups, m)), axis=-1)
    return np.where(rank < keep_count, dense, 0).reshape(rows, groups * m).astype(dtype)


@st.composite
def nm_arrays(draw, n, m):
    """An N:M-sparse int array built element by element (independent of compress)."""
    rows = draw(st.integers(1, 5))
    groups = draw(st.integers(1, 9))
    dense = draw(hnp.arrays(np.int64, (rows, groups, m), elements=st.integers(-128, 127)))
    # Priority per element; the n_kept lowest priorities of each group may stay non-zero.
    priority = draw(hnp.arrays(np.int64, (rows, groups, m), elements=st.integers(0, 99)))
    kept_count = draw(hnp.arrays(np.int64, (rows, groups, 1), elements=st.integers(0, n)))
    rank = np.argsort(np.argsort(priority, axis=-1, kind="stable"), axis=-1)
    return np.where(rank < kept_count, dense, 0).reshape(rows, groups * m)


# ---- hand-derived bit layouts ------------------------------------------------------------

def test_layout_2to4_by_hand():
    A = np.array([
        # g0: non-zeros at 1, 3 -> (1, 3) -> nibble 1 | 3<<2 = 0xD
        # g1: all zero -> lowest two zeros (0, 1) -> 0x4
        # g2: 5 at 0, + lowest zero 1 -> (0, 1) -> 0x4
        # g3: 7 at 2, + lowest zero 0 -> (0, 2) -> 0x8
        # word 0 = 0xD | 0x4<<4 | 0x4<<8 | 0x8<<12 = 0x844D
        [0, 3, 0, -1, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 7, 0,
         # g4: (2, 3) -> 0xE; g5: (0, 3) -> 0xC; g6: (1, 2) -> 0x9; g7: 4 at 3 -> (0, 3) 0xC
         # word 1 = 0xE | 0xC<<4 | 0x9<<8 | 0xC<<12 = 0xC9CE
         0, 0, 1, 2, -8, 0, 0, 9, 0, 6, -6, 0, 0, 0, 0, 4],
        # Row 2, one group per valid nibble order then two all-zero groups:
        # (0,1) 0x4, (0,2) 0x8, (1,3) 0xD, (0,1) 0x4 -> word 0 = 0x4D84
        # (0,1) 0x4, (0,1) 0x4, (0,3) 0xC, (2,3) 0xE -> word 1 = 0xEC44
        [1, 1, 0, 0, 2, 0, 2, 0, 0, 3, 0, 3, 0, 0, 0, 0,
         0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4, 0, 0, 5, 5],
    ], dtype=np.int8)
    values, metadata = compress(A)
    assert metadata.dtype == np.uint16
    np.testing.assert_array_equal(
        metadata, np.array([[0x844D, 0xC9CE], [0x4D84, 0xEC44]], np.uint16), strict=True)
    np.testing.assert_array_equal(values, np.array([
        [3, -1, 0, 0, 5, 0, 0, 7, 1, 2, -8, 9, 6, -6, 0, 4],
        [1, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 4, 4, 5, 5],
    ], np.int8), strict=True)
    np.testing.assert_array_equal(decompress(values, metadata), A, strict=True)


def test_docs_worked_example():
    """The worked example of docs/format.md."""
    # (1,3) 0xD | (0,2) 0x8 << 4 | all-zero (0,1) 0x4 << 8 | 7 at 2 + lowest zero (0,2) 0x8 << 12
    A = np.array([[0, 3, 0, -1, 2, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0]], np.int8)
    values, metadata = compress(A)
    np.testing.assert_array_equal(values, np.array([[3, -1, 2, 6, 0, 0, 0, 7]], np.int8))
    np.testing.assert_array_equal(metadata, np.array([[0x848D]], np.uint16), strict=True)
    # Torch's encoding of the same row (docs/format.md) decompresses to the same row.
    np.testing.assert_array_equal(
        decompress(np.array([[3, -1, 2, 6, 0, 0, 7, 0]]), np.array([[0xEE8D]], np.uint16)), A)


def test_layout_1to2_by_hand():
    # Groups (0,5) (3,0) (0,0) (0,-2) -> indices 1, 0, 0 (all-zero: lowest zero), 1
    # -> bits 1,0,0,1 LSB first -> 0b1001 = 0x0009.
    A = np.array([[0, 5, 3, 0, 0, 0, 0, -2]])
    values, metadata = compress(A, 1, 2)
    np.testing.assert_array_equal(values, [[5, 3, 0, -2]])
    np.testing.assert_array_equal(metadata, np.array([[0x0009]], np.uint16), strict=True)


def test_layout_4to8_by_hand():
    # b = 3. Group 0 keeps (0, 2, 5, 7): 0 | 2<<3 | 5<<6 | 7<<9 = 0xF50 (bits 0-11).
    # Group 1 keeps (1, 3, 4, 6): 1 | 3<<3 | 4<<6 | 6<<9 = 0xD19 (bits 12-23).
    # Row string 0xD19F50: word 0 = 0x9F50, word 1 = 0x00D1 (bits 24-31 padding, zero).
    A = np.array([[1, 0, 2, 0, 0, 3, 0, 4, 0, 5, 0, 6, 7, 0, 8, 0]])
    values, metadata = compress(A, 4, 8)
    np.testing.assert_array_equal(values, [[1, 2, 3, 4, 5, 6, 7, 8]])
    np.testing.assert_array_equal(metadata, np.array([[0x9F50, 0x00D1]], np.uint16),
                                  strict=True)
    np.testing.assert_array_equal(decompress(values, metadata, 4, 8), A)


@pytest.mark.parametrize("position, nibble", [(None, 0x4), (0, 0x4), (1, 0x4), (2, 0x8),
                                              (3, 0xC)])
def test_underfilled_group_encoding(position, nibble):
    """Non-zero positions plus the lowest zero positions (architecture §2)."""
    A = np.zeros((1, 4), np.int16)
    if position is not None:
        A[0, position] = -3
    values, metadata = compress(A)
    assert metadata[0, 0] == nibble
    np.testing.assert_array_equal(decompress(values, metadata), A)


@pytest.mark.parametrize("nibble", sorted(VALID_NIBBLES))
@pytest.mark.parametrize("slot", range(4))
def test_decompress_accepts_every_valid_nibble(nibble, slot):
    metadata = np.full((1, 1), 0x4444, np.uint16)
    metadata[0, 0] = (0x4444 & ~(0xF << 4 * slot)) | nibble << 4 * slot
    values = np.arange(1, 9, dtype=np.int32).reshape(1, 8)
    A = decompress(values, metadata)
    expected = np.zeros((1, 16), np.int32)
    for g in range(4):
        i0, i1 = VALID_NIBBLES[nibble] if g == slot else (0, 1)
        expected[0, 4 * g + i0] = values[0, 2 * g]
        expected[0, 4 * g + i1] = values[0, 2 * g + 1]
    np.testing.assert_array_equal(A, expected, strict=True)


# ---- properties ---------------------------------------------------------------------------

@pytest.mark.parametrize("n, m", PATTERNS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(n, m, data):
    A = data.draw(nm_arrays(n, m))
    values, metadata = compress(A, n, m)
    assert values.shape == (A.shape[0], A.shape[1] * n // m)
    assert metadata.shape == metadata_shape(A.shape[:-1], A.shape[1], n, m)
    np.testing.assert_array_equal(decompress(values, metadata, n, m), A, strict=True)
    # The kept values are the row's elements at the stored indices, in order.
    idx = metadata_to_indices(metadata, A.shape[1], n, m)
    assert not invalid_groups(idx, m).any()
    groups = A.reshape(A.shape[0], -1, m)
    np.testing.assert_array_equal(
        np.take_along_axis(groups, idx, axis=-1).reshape(values.shape), values)


@pytest.mark.parametrize("n, m", PATTERNS)
def test_round_trip_leading_dims_and_floats(rng, n, m):
    A = np.stack([random_nm(rng, 6, 5, n, m) for _ in range(3)]).astype(np.float16) / 4
    values, metadata = compress(A, n, m)
    assert values.dtype == np.float16 and values.shape == (3, 6, 5 * n)
    for i in range(3):
        v, md = compress(A[i], n, m)
        np.testing.assert_array_equal(values[i], v)
        np.testing.assert_array_equal(metadata[i], md)
    np.testing.assert_array_equal(decompress(values, metadata, n, m), A, strict=True)


@pytest.mark.parametrize("n, m", PATTERNS)
def test_indices_metadata_round_trip(rng, n, m):
    b = (m - 1).bit_length()
    # Any b-bit index is packable, including invalid orders.
    idx = rng.integers(0, 1 << b, (7, 11, n))
    metadata = indices_to_metadata(idx, m)
    np.testing.assert_array_equal(metadata_to_indices(metadata, 11 * m, n, m), idx)


def test_invalid_groups():
    idx = np.array([[[0, 1], [1, 0], [2, 2], [0, 3], [3, 1]]])
    np.testing.assert_array_equal(invalid_groups(idx, 4), [[False, True, True, False, True]])


def test_is_nm_sparse():
    assert is_nm_sparse([[1, 2, 0, 0]])
    assert not is_nm_sparse([[1, 2, 3, 0]])
    assert is_nm_sparse([[1, 0, 0, 0, 0, 0, 0, 1]], 1, 4)


def test_empty_rows():
    values, metadata = compress(np.zeros((0, 8), np.int8))
    assert values.shape == (0, 4) and metadata.shape == (0, 1)
    assert decompress(values, metadata).shape == (0, 8)
