"""N:M compressed format: values plus packed uint16 metadata (docs/architecture.md §2).

A row of ``K`` elements is cut into ``K/m`` groups of ``m`` consecutive elements, each holding
at most ``n`` non-zeros. The compressed form keeps ``n`` elements per group:

* ``values``, shape ``(..., M, K*n/m)``: the kept elements of each row, in their original
  order;
* ``metadata``, ``uint16``, shape ``(..., M, ceil(K*n/m * b / 16))`` with
  ``b = ceil(log2 m)``: the in-group index of kept element ``j`` of a row sits at bits
  ``j*b … j*b + b - 1`` of the row's bit string, least-significant first; word ``w`` holds
  bits ``16*w … 16*w + 15``; unused bits of a row's last word are zero.

Within a group the ``n`` indices are strictly increasing. A group with fewer than ``n``
non-zeros keeps its non-zero positions plus its lowest-index zero positions (an all-zero 2:4
group is nibble ``0x4`` with values ``(0, 0)``); :func:`decompress` accepts any valid
encoding. See docs/format.md for a worked example.
"""

import functools

import numpy as np

from ._check import (
    as_array,
    as_int_array,
    check_int_param,
    check_nm,
    first_true,
    index_bits,
    where,
    words_per_row,
)
from .errors import DataError, DTypeError, MetadataError, NotNMSparseError, ShapeError

__all__ = [
    "compress",
    "decompress",
    "is_nm_sparse",
    "metadata_to_indices",
    "indices_to_metadata",
    "invalid_groups",
    "metadata_shape",
]


def metadata_shape(rows_shape, k, n=2, m=4):
    """Shape of the metadata of a ``rows_shape + (k,)`` dense operand.

    Parameters
    ----------
    rows_shape : tuple of int
        Leading shape ``(..., M)``.
    k : int
        Dense row length ``K``, a multiple of ``m``.
    n, m : int
        The N:M pattern.

    Returns
    -------
    tuple of int
        ``rows_shape + (ceil(K*n/m * b / 16),)``.
    """
    n, m, b = check_nm(n, m)
    k = check_int_param(k, "k", minimum=0)
    if k % m:
        raise ShapeError(f"k must be a multiple of m={m}, not {k}")
    return tuple(rows_shape) + (words_per_row(k // m * n, b),)


# ---- vectorized kernels --------------------------------------------------------------------
#
# Reductions along a last axis of 2 … 16 elements are slow in NumPy (per-row overhead), so
# the kernels below loop over the m positions of a group (or the 16 fields of a superword)
# and work on whole (rows, groups) planes at a time; never a loop over elements or groups.


@functools.lru_cache(maxsize=None)
def _pattern_tables(n, m):
    """Per group bitmask ``code`` (bit j set: element j non-zero), for all ``2**m`` codes:
    the popcount (uint8) and the compressor's kept indices (uint8, shape (2**m, n)):
    non-zero positions plus the lowest zero positions, increasing."""
    codes = np.arange(1 << m)
    position = np.arange(m)
    nonzero = (codes[:, None] >> position) & 1
    count = nonzero.sum(axis=1).astype(np.uint8)
    # Non-zeros sort before zeros, each in position order; the first n are kept.
    order = np.argsort(np.where(nonzero == 1, position, position + m), axis=1, kind="stable")
    kept = np.sort(order[:, :n], axis=1).astype(np.uint8)
    return count, kept


def _group_codes(groups, m):
    """uint16 bitmask of the non-zero positions of each group; groups shape (..., G, m)."""
    code = np.zeros(groups.shape[:-1], np.uint16)
    for j in range(m):
        code |= (groups[..., j] != 0).astype(np.uint16) << np.uint16(j)
    return code


def _pack(idx, b):
    """Pack indices (..., kept_k), each < 2**b, b ≤ 4, into uint16 words (..., W).

    16 consecutive indices fill exactly ``b`` words (a ``16*b``-bit superword, ≤ 64 bits),
    so a row is a sequence of uint64 superwords cut into 16-bit words."""
    rows, kept_k = idx.shape[:-1], idx.shape[-1]
    words = words_per_row(kept_k, b)
    supers = -(-kept_k // 16)
    if kept_k % 16:
        padded = np.zeros(rows + (supers * 16,), np.uint8)
        padded[..., :kept_k] = idx
    else:
        padded = idx.astype(np.uint8, copy=False)
    padded = padded.reshape(rows + (supers, 16))
    value = np.zeros(rows + (supers,), np.uint64)
    for e in range(16):
        value |= padded[..., e].astype(np.uint64) << np.uint64(e * b)
    out = np.empty(rows + (supers, b), np.uint16)
    for w in range(b):
        out[..., w] = (value >> np.uint64(16 * w)) & np.uint64(0xFFFF)
    return out.reshape(rows + (supers * b,))[..., :words]


def _unpack(metadata, kept_k, b):
    """Inverse of :func:`_pack`: uint16 (..., W) → (indices uint8 (..., kept_k), fields of
    the padding bits uint8 (..., supers*16 - kept_k))."""
    rows, words = metadata.shape[:-1], metadata.shape[-1]
    supers = -(-kept_k // 16)
    padded = np.zeros(rows + (supers * b,), np.uint64)
    padded[..., :words] = metadata
    padded = padded.reshape(rows + (supers, b))
    value = np.zeros(rows + (supers,), np.uint64)
    for w in range(b):
        value |= padded[..., w] << np.uint64(16 * w)
    fields = np.empty(rows + (supers, 16), np.uint8)
    mask = np.uint64((1 << b) - 1)
    for e in range(16):
        fields[..., e] = (value >> np.uint64(e * b)) & mask
    fields = fields.reshape(rows + (supers * 16,))
    return fields[..., :kept_k], fields[..., kept_k:]


def _invalid(idx, m):
    """bool (..., G): indices of a group (..., G, n) not strictly increasing or ≥ m."""
    n = idx.shape[-1]
    bad = np.zeros(idx.shape[:-1], bool)
    for s in range(n):
        bad |= idx[..., s] >= m
        if idx.dtype.kind == "i":
            bad |= idx[..., s] < 0
        if s:
            bad |= idx[..., s] <= idx[..., s - 1]
    return bad


def _flat_positions(idx, m):
    """Flat positions in the dense (..., G*m) array of indices (..., G, n)."""
    groups = int(np.prod(idx.shape[:-1]))
    dtype = np.int32 if groups * m < 2**31 else np.int64
    base = np.arange(0, groups * m, m, dtype=dtype).reshape(idx.shape[:-1] + (1,))
    return np.add(base, idx, dtype=dtype).reshape(-1)


def _group_location(name, index):
    return where(name, index, "group")


def is_nm_sparse(A, n=2, m=4):
    """Whether every group of ``m`` consecutive elements of the last axis of ``A`` holds at
    most ``n`` non-zeros.

    Parameters
    ----------
    A : array_like, shape (..., K)
        Any numeric dtype; ``K`` a multiple of ``m``.
    n, m : int
        The N:M pattern.

    Returns
    -------
    bool
    """
    n, m, _ = check_nm(n, m)
    A = as_array(A, "A", min_ndim=1)
    if A.shape[-1] % m:
        raise ShapeError(f"A has K={A.shape[-1]} columns, not a multiple of m={m}")
    nonzero = A.reshape(A.shape[:-1] + (-1, m)) != 0
    return bool((nonzero.sum(axis=-1) <= n).all())


def invalid_groups(idx, m=4):
    """Which groups of in-group indices are invalid.

    A group is invalid when its indices are not strictly increasing or one lies outside
    ``0 … m-1`` (docs/architecture.md §4).

    Parameters
    ----------
    idx : array_like of int, shape (..., G, n)
        In-group indices.
    m : int
        Group size.

    Returns
    -------
    numpy.ndarray of bool, shape (..., G)
    """
    idx = as_int_array(idx, "idx", min_ndim=1)
    return _invalid(idx, m)


def indices_to_metadata(idx, m=4):
    """Pack in-group indices into uint16 metadata words.

    Any index that fits ``b = ceil(log2 m)`` bits is packed, valid or not, so that test
    stimulus can carry invalid groups; :func:`invalid_groups` tells them apart.

    Parameters
    ----------
    idx : array_like of int, shape (..., M, G, n)
        In-group indices, ``0 … 2**b - 1``.
    m : int
        Group size.

    Returns
    -------
    numpy.ndarray of uint16, shape (..., M, ceil(G*n*b / 16))

    Raises
    ------
    DataError
        An index is negative or does not fit ``b`` bits (names row and group).
    """
    idx = as_int_array(idx, "idx", min_ndim=3)
    n, m, b = check_nm(idx.shape[-1], m)
    bad = (idx < 0) | (idx >= 1 << b)
    if bad.any():
        index = first_true(bad.any(axis=-1))
        raise DataError(
            f"{_group_location('idx', index)} holds indices {tuple(int(i) for i in idx[index])}"
            f", which do not fit {b} bits"
        )
    return _pack(idx.reshape(idx.shape[:-2] + (idx.shape[-2] * n,)), b)


def metadata_to_indices(metadata, k, n=2, m=4, *, name="metadata"):
    """Unpack uint16 metadata words into in-group indices.

    The indices are returned as stored, valid or not (see :func:`invalid_groups`); only the
    unused padding bits are checked.

    Parameters
    ----------
    metadata : numpy.ndarray of uint16, shape (..., M, ceil(K*n/m * b / 16))
        Packed metadata.
    k : int
        Dense row length ``K``, a multiple of ``m``.
    n, m : int
        The N:M pattern.
    name : str
        Name used for ``metadata`` in error messages.

    Returns
    -------
    numpy.ndarray of int64, shape (..., M, K/m, n)

    Raises
    ------
    DTypeError
        ``metadata`` is not uint16.
    ShapeError
        ``metadata`` has the wrong number of words per row, or ``k`` is not a multiple of m.
    MetadataError
        Unused bits of a row's last word are not zero.
    """
    n, m, b = check_nm(n, m)
    k = check_int_param(k, "k", minimum=0)
    if k % m:
        raise ShapeError(f"K={k} is not a multiple of m={m}")
    metadata = np.asarray(metadata)
    if metadata.dtype != np.uint16:
        raise DTypeError(f"{name} must be uint16, not {metadata.dtype}")
    groups = k // m
    kept_k = groups * n
    words = words_per_row(kept_k, b)
    if metadata.ndim < 2 or metadata.shape[-1] != words:
        raise ShapeError(
            f"{name} must have shape (..., M, {words}) for K={k} at {n}:{m}, "
            f"not {metadata.shape}"
        )
    return _unpack_checked(metadata, kept_k, b, name).astype(np.int64).reshape(
        metadata.shape[:-1] + (groups, n))


def _unpack_checked(metadata, kept_k, b, name):
    """:func:`_unpack`, raising :class:`MetadataError` on non-zero padding bits."""
    idx, padding = _unpack(metadata, kept_k, b)
    if padding.size and padding.any():
        row = first_true(padding.any(axis=-1, keepdims=True))[:-1]
        field = int(np.flatnonzero(padding[row])[0])
        # First set bit of the first non-zero padding field: its word.
        value = int(padding[row][field])
        bit = (kept_k + field) * b + (value & -value).bit_length() - 1
        used = kept_k * b
        raise MetadataError(
            f"{where(name, row + (bit // 16,), 'word')} has non-zero padding bits "
            f"(row bits {used} … {metadata.shape[-1] * 16 - 1} must be zero)"
        )
    return idx


def compress(A, n=2, m=4):
    """Compress an N:M-sparse operand into values and metadata.

    Each group of ``m`` consecutive elements along the last axis keeps ``n`` positions: its
    non-zero positions plus, when it has fewer than ``n`` non-zeros, its lowest-index zero
    positions, in increasing order.

    Parameters
    ----------
    A : array_like, shape (..., M, K)
        Any numeric dtype; ``K`` a multiple of ``m``; at most ``n`` non-zeros per group.
    n, m : int
        The N:M pattern (2:4 by default; 1:2 and 4:8 too).

    Returns
    -------
    values : numpy.ndarray, shape (..., M, K*n/m), dtype of ``A``
        The kept elements of each row in their original order.
    metadata : numpy.ndarray of uint16, shape (..., M, ceil(K*n/m * b / 16))
        Packed in-group indices, ``b = ceil(log2 m)`` bits each.

    Raises
    ------
    ShapeError
        ``A`` has fewer than 2 dimensions, or ``K`` is not a multiple of ``m``.
    NotNMSparseError
        A group holds more than ``n`` non-zeros (names row and group).
    """
    n, m, _ = check_nm(n, m)
    A = as_array(A, "A", min_ndim=2)
    k = A.shape[-1]
    if k % m:
        raise ShapeError(f"A has K={k} columns, not a multiple of m={m}")
    rows = A.shape[:-1]
    # One bitmask per group; tables give its non-zero count and its kept indices.
    code = _group_codes(A.reshape(rows + (k // m, m)), m)
    count_table, kept_table = _pattern_tables(n, m)
    count = np.take(count_table, code)
    too_many = count > n
    if too_many.any():
        index = first_true(too_many)
        raise NotNMSparseError(
            f"{_group_location('A', index)} has {int(count[index])} non-zeros; "
            f"{n}:{m} allows at most {n}"
        )
    idx = np.take(kept_table, code, axis=0)                    # (..., G, n) uint8
    values = np.take(A.reshape(-1), _flat_positions(idx, m)).reshape(rows + (k // m * n,))
    return values, _pack(idx.reshape(rows + (k // m * n,)), index_bits(m))


def decompress(values, metadata, n=2, m=4):
    """Expand values and metadata back into the dense operand.

    Parameters
    ----------
    values : array_like, shape (..., M, K*n/m)
        Kept elements, any numeric dtype.
    metadata : numpy.ndarray of uint16, shape (..., M, ceil(K*n/m * b / 16))
        Packed in-group indices.
    n, m : int
        The N:M pattern.

    Returns
    -------
    numpy.ndarray, shape (..., M, K), dtype of ``values``

    Raises
    ------
    ShapeError
        ``values`` row length is not a multiple of ``n``, or ``metadata`` shape does not match.
    DTypeError
        ``metadata`` is not uint16.
    MetadataError
        A group's indices are not strictly increasing or not below ``m`` (names row and
        group), or padding bits are set.
    """
    n, m, _ = check_nm(n, m)
    values = as_array(values, "values", min_ndim=2)
    kept_k = values.shape[-1]
    if kept_k % n:
        raise ShapeError(f"values has {kept_k} columns, not a multiple of n={n}")
    k = kept_k // n * m
    metadata = np.asarray(metadata)
    if metadata.ndim < 2 or metadata.shape[:-1] != values.shape[:-1]:
        raise ShapeError(
            f"metadata shape {metadata.shape} does not match values shape {values.shape} "
            f"(expected {values.shape[:-1]} + (words,))"
        )
    if metadata.dtype != np.uint16:
        raise DTypeError(f"metadata must be uint16, not {metadata.dtype}")
    words = words_per_row(kept_k, index_bits(m))
    if metadata.shape[-1] != words:
        raise ShapeError(
            f"metadata must have shape (..., M, {words}) for K={k} at {n}:{m}, "
            f"not {metadata.shape}"
        )
    rows = values.shape[:-1]
    idx = _unpack_checked(metadata, kept_k, index_bits(m), "metadata")
    idx = idx.reshape(rows + (k // m, n))
    bad = _invalid(idx, m)
    if bad.any():
        index = first_true(bad)
        raise MetadataError(
            f"{_group_location('metadata', index)} holds indices "
            f"{tuple(int(i) for i in idx[index])}; {n}:{m} needs strictly increasing "
            f"indices below {m}"
        )
    dense = np.zeros(rows + (k,), dtype=values.dtype)
    dense.reshape(-1)[_flat_positions(idx, m)] = values.reshape(-1)
    return dense
