"""Converters between golden 2:4 (values, metadata) and PyTorch's CUTLASS layout.

PyTorch's ``torch.sparse._semi_structured_conversions.sparse_semi_structured_from_dense_cutlass``
returns ``(sparse, meta_reordered)``:

* ``sparse`` (M, K/2): the kept elements in row order, the same as our ``values``;
* the logical metadata is our bit string per row (nibble ``i0 | i1 << 2`` per group, least
  significant first), cut into **int16** elements (4 groups; float16/bfloat16 operands) or
  **int32** elements (8 groups; int8 operands), so an int32 element is our words ``2c``
  (low half) and ``2c + 1`` (high half);
* ``meta_reordered`` stores that (M, C) logical matrix permuted for the tensor cores. We
  compute, for each logical element ``(r, c)``, its flat position ``p(r, c)`` in
  ``meta_reordered``:

  1. rows are interleaved inside blocks of ``R`` rows (R = 32 for int16, 16 for int32):
     row ``r = base + 8*q + s`` (``s = r % 8``, ``q = (r % R) // 8``) moves to
     ``base + s*(R/8) + q``;
  2. inside every 2×2 block the two off-diagonal elements swap: when the moved row and the
     column differ in parity, both flip their lowest bit;
  3. the result is stored column-interleaved by two: column pair ``c // 2`` is a slab of
     ``2*M`` elements, row-major inside, so ``p = (c // 2)*2*M + row*2 + c % 2``.

PyTorch encodes groups with fewer than two non-zeros its own way (an all-zero group as
``0xE``); every nibble it emits is one of the six valid ones, which :func:`from_torch`
accepts as is. Torch requires M a multiple of 32 (float16) or 16 (int8); it checks K
against 16 (float16) or 32 (int8), but its 2×2 swap needs an even number of metadata
columns, so K must in fact be a multiple of 32 (float16) or 64 (int8) (smaller K fails
inside torch with an index error). These converters require the working sizes. torch is
imported only when a converter is called.
"""

import numpy as np

from ._check import as_array
from .errors import DTypeError, ShapeError
from .nm import metadata_to_indices

__all__ = ["to_torch", "from_torch", "reorder_offsets"]


def _torch():
    import torch  # noqa: PLC0415 (optional dependency, imported on use)

    return torch


def reorder_offsets(rows, cols, meta_itemsize):
    """Flat position in ``meta_reordered`` of each logical metadata element.

    Parameters
    ----------
    rows, cols : int
        Logical metadata shape (M, C).
    meta_itemsize : {2, 4}
        Bytes per metadata element (int16 or int32).

    Returns
    -------
    numpy.ndarray of int64, shape (rows, cols)
    """
    block = 32 if meta_itemsize == 2 else 16
    r, c = np.indices((rows, cols), dtype=np.int64)
    moved = r // block * block + (r % 8) * (block // 8) + (r % block) // 8
    swap = (moved % 2) != (c % 2)
    moved = np.where(swap, moved ^ 1, moved)
    c = np.where(swap, c ^ 1, c)
    return (c // 2) * 2 * rows + moved * 2 + c % 2


def _layout(element_size, rows, k, name):
    """int16/int32 metadata for 2-/1-byte operands, with torch's shape requirements."""
    if element_size == 1:
        meta_size, row_multiple, k_multiple = 4, 16, 64
    elif element_size == 2:
        meta_size, row_multiple, k_multiple = 2, 32, 32
    else:
        raise DTypeError(f"{name} must be int8, float16 or bfloat16 for torch's layout")
    if rows % row_multiple or k % k_multiple:
        raise ShapeError(
            f"torch's CUTLASS layout needs M a multiple of {row_multiple} and K a multiple of "
            f"{k_multiple} for this dtype; {name} gives M={rows}, K={k}"
        )
    return meta_size


def to_torch(values, metadata, *, dtype=None):
    """Convert golden 2:4 (values, metadata) into torch's CUTLASS ``(sparse, meta)``.

    Parameters
    ----------
    values : numpy.ndarray (int8 or float16) or torch.Tensor (int8, float16, bfloat16),
        shape (M, K/2); with ``dtype``, integer bit patterns (0 … 2**16-1) instead
    metadata : numpy.ndarray of uint16, shape (M, K/16)
    dtype : {None, "fp16", "bf16"}, keyword-only
        ``values`` are ``dtype`` bit patterns (the fp cores' and :mod:`golden.fp`'s form);
        ``sparse`` is then a float16 / bfloat16 tensor holding exactly those patterns.

    Returns
    -------
    sparse : torch.Tensor, shape (M, K/2), dtype of ``values``
    meta_reordered : torch.Tensor of int32 (int8 values) or int16, shape (M, K/32) or (M, K/16)
        What ``sparse_semi_structured_from_dense_cutlass`` returns for the same operand (up
        to its own choice of encoding for groups with fewer than 2 non-zeros).
    """
    torch = _torch()
    if dtype is not None:
        sparse = _tensor_of_bits(torch, values, dtype)
    elif isinstance(values, torch.Tensor):
        sparse = values.detach().cpu().contiguous()
    else:
        array = as_array(values, "values")
        if array.dtype not in (np.int8, np.float16):
            raise DTypeError(f"values must be int8 or float16, not {array.dtype}")
        sparse = torch.from_numpy(np.ascontiguousarray(array).copy())
    if sparse.dim() != 2:
        raise ShapeError(f"values must have shape (M, K/2), not {tuple(sparse.shape)}")
    rows, kept = sparse.shape
    k = kept * 2
    meta_size = _layout(sparse.element_size(), rows, k, "values")
    # Validates dtype, shape and padding of the metadata (2:4, b = 2).
    metadata_to_indices(metadata, k, 2, 4)
    words = np.ascontiguousarray(metadata, dtype=np.uint16)
    logical = words.view(np.int16) if meta_size == 2 else words.view("<u2").view("<i4")
    logical = logical.astype(np.int16 if meta_size == 2 else np.int32)
    reordered = np.empty(logical.size, logical.dtype)
    reordered[reorder_offsets(*logical.shape, meta_size).reshape(-1)] = logical.reshape(-1)
    return sparse, torch.from_numpy(reordered.reshape(logical.shape))


def _tensor_of_bits(torch, values, dtype):
    """A float16 / bfloat16 tensor holding the bit patterns ``values``."""
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    if torch_dtype is None:
        raise DTypeError(f"dtype must be None, 'fp16' or 'bf16', not {dtype!r}")
    array = as_array(values, "values")
    if array.dtype.kind not in "iu" or (array.size and (array.min() < 0
                                                        or array.max() >= 1 << 16)):
        raise DTypeError(f"values must hold 16-bit patterns with dtype={dtype!r}, "
                         f"not {array.dtype} values")
    bits = np.ascontiguousarray(array.astype(np.uint16)).view(np.int16)
    return torch.from_numpy(bits.copy()).view(torch_dtype)


def from_torch(sparse, meta_reordered, *, bits=False):
    """Convert torch's CUTLASS ``(sparse, meta_reordered)`` into golden (values, metadata).

    Parameters
    ----------
    sparse : torch.Tensor, shape (M, K/2), int8, float16 or bfloat16
    meta_reordered : torch.Tensor of int32 (int8 sparse) or int16, shape (M, K/32) or (M, K/16)
    bits : bool, keyword-only
        For float16 / bfloat16 ``sparse``: return the values as uint16 bit patterns (the
        form :mod:`golden.fp` and the fp cores take) instead of floats.

    Returns
    -------
    values : numpy.ndarray, shape (M, K/2)
        int8 or float16; bfloat16 becomes float32 (exact); with ``bits``, uint16 patterns.
    metadata : numpy.ndarray of uint16, shape (M, K/16)
        Torch's nibbles, unchanged (any valid encoding decompresses correctly).
    """
    torch = _torch()
    if sparse.dim() != 2 or meta_reordered.dim() != 2:
        raise ShapeError(
            f"sparse and meta_reordered must be 2-D, not {tuple(sparse.shape)} and "
            f"{tuple(meta_reordered.shape)}"
        )
    rows, kept = sparse.shape
    meta_size = _layout(sparse.element_size(), rows, kept * 2, "sparse")
    expected_dtype = torch.int16 if meta_size == 2 else torch.int32
    if meta_reordered.dtype != expected_dtype:
        raise DTypeError(
            f"meta_reordered must be {expected_dtype} for {sparse.dtype} sparse, "
            f"not {meta_reordered.dtype}"
        )
    cols = kept * 2 // (4 * 2 * meta_size)
    if tuple(meta_reordered.shape) != (rows, cols):
        raise ShapeError(
            f"meta_reordered must have shape {(rows, cols)}, not {tuple(meta_reordered.shape)}"
        )
    flat = meta_reordered.detach().cpu().contiguous().numpy().reshape(-1)
    logical = flat[reorder_offsets(rows, cols, meta_size)]
    metadata = np.ascontiguousarray(logical).view("<u2").astype(np.uint16).reshape(rows, -1)
    if bits and sparse.dtype in (torch.float16, torch.bfloat16):
        values = sparse.detach().cpu().contiguous().view(torch.int16).numpy().view(np.uint16)
        values = values.copy()
    elif sparse.dtype == torch.bfloat16:
        values = sparse.detach().cpu().float().numpy()
    else:
        values = sparse.detach().cpu().numpy().copy()
    return values, metadata
