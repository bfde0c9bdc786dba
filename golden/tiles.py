"""Tile-level model of the core (docs/architecture.md §3–§5).

The cocotb testbenches and the GEMM driver use this module to cut a GEMM into the tile
operations the core consumes, to predict the core's output for any operation stream
(including invalid metadata and arbitrary ``first``/``last`` sequences), and to put the
output tiles back together::

    ops = split_gemm(values, metadata, B, tile_m=4, tile_n=4, tile_k=16)
    results = core_model(ops)
    D = wrap(assemble(results, M, N, tile_m=4, tile_n=4) + C, 32)

All arrays handed out are ``int64``; the model computes modulo ``2**64`` and wraps to
``acc_width`` on purpose, so any operand width up to 32 bits is exact.
"""

from typing import NamedTuple

import numpy as np

from ._check import as_int_array, check_int_param, check_nm, check_width, index_bits
from .errors import DataError, ParameterError, ShapeError
from .mma import wrap
from .nm import indices_to_metadata, invalid_groups, metadata_to_indices

__all__ = [
    "TileOp",
    "TileResult",
    "meta_bits",
    "split_gemm",
    "split_dense_gemm",
    "core_model",
    "assemble",
    "dense_as_sparse",
    "pad_to_tiles",
    "pad_compressed",
    "pad_gemm",
]


class TileOp(NamedTuple):
    """One tile operation of the core (docs/architecture.md §3).

    Members
    -------
    a_values : numpy.ndarray of int64, shape (tile_m, kept_k)
        Kept A values of a ``tile_m × tile_k`` block, ``kept_k = tile_k*n/m``.
    a_idx : numpy.ndarray of int64, shape (tile_m, tile_k/m, n)
        Their in-group indices, any value ``0 … 2**b - 1``. Dense-baseline operations
        (:func:`split_dense_gemm`) carry an empty ``(tile_m, 0, 0)`` array.
    b : numpy.ndarray of int64, shape (b_rows, tile_n)
        The B block: ``tile_k`` rows on the sparse core, ``kept_k`` on the dense baseline.
    first : bool
        Clear the accumulators before adding this operation's products.
    last : bool
        Emit the accumulators after this operation.
    """

    a_values: np.ndarray
    a_idx: np.ndarray
    b: np.ndarray
    first: bool
    last: bool


class TileResult(NamedTuple):
    """One output tile of the core.

    Members
    -------
    d : numpy.ndarray of int64, shape (tile_m, tile_n)
        The accumulators, signed ``acc_width``-bit values.
    error : bool
        Some operation accumulated into this tile (since its ``first``) had an invalid group.
    """

    d: np.ndarray
    error: bool


def meta_bits(a_idx, m=4):
    """The ``a_meta`` field of each row of one operation (docs/architecture.md §3).

    Parameters
    ----------
    a_idx : array_like of int, shape (tile_m, tile_k/m, n)
        In-group indices, ``0 … 2**b - 1`` with ``b = ceil(log2 m)``.
    m : int
        Group size.

    Returns
    -------
    list of int
        One non-negative integer per row, kept element ``j`` of the row at bits
        ``j*b … j*b + b - 1`` (``meta_width = kept_k * b`` bits).
    """
    a_idx = as_int_array(a_idx, "a_idx")
    if a_idx.ndim != 3:
        raise ShapeError(f"a_idx must have shape (tile_m, groups, n), not {a_idx.shape}")
    if a_idx.shape[-1] == 0 or a_idx.shape[-2] == 0:
        return [0] * a_idx.shape[0]
    words = indices_to_metadata(a_idx, m)
    # Row bit strings are at most a few hundred bits: Python ints hold them exactly.
    raw = np.ascontiguousarray(words, dtype="<u2").view(np.uint8)
    return [int.from_bytes(row.tobytes(), "little") for row in raw]


def _check_tile(tile_m, tile_n, tile_k):
    return (
        check_int_param(tile_m, "tile_m"),
        check_int_param(tile_n, "tile_n"),
        check_int_param(tile_k, "tile_k"),
    )


def _check_multiple(size, tile, what, tile_name):
    if size % tile:
        raise ShapeError(
            f"{what}={size} is not a multiple of {tile_name}={tile}; pad first (pad_gemm)"
        )


def _loop(M, N, K, tile_m, tile_n, tile_k):
    """The operation order of docs/architecture.md §3."""
    kt = K // tile_k
    for mi in range(M // tile_m):
        for ni in range(N // tile_n):
            for ki in range(kt):
                yield mi, ni, ki, ki == 0, ki == kt - 1


def split_gemm(values, metadata, B, *, tile_m, tile_n, tile_k, n=2, m=4):
    """Cut a compressed GEMM into the sparse core's tile operations.

    Metadata is passed through as stored, invalid groups included (the core flags them);
    only its padding bits are checked.

    Parameters
    ----------
    values : array_like of int, shape (M, K*n/m)
        Compressed A values.
    metadata : numpy.ndarray of uint16, shape (M, ceil(K*n/m * b / 16))
        Compressed A metadata.
    B : array_like of int, shape (K, N)
        Dense B.
    tile_m, tile_n, tile_k : int
        Core tile shape; ``tile_k`` a multiple of ``m``; M, N, K multiples of the tile.
    n, m : int
        The N:M pattern.

    Returns
    -------
    list of TileOp
        In the order mi, ni, ki (ki innermost), ``first`` at ki = 0, ``last`` at the end.

    Raises
    ------
    ParameterError
        A tile size is not a positive integer, or ``tile_k`` is not a multiple of ``m``.
    ShapeError
        Shapes do not line up, or M, N, K are not multiples of the tile.
    """
    n, m, _ = check_nm(n, m)
    tile_m, tile_n, tile_k = _check_tile(tile_m, tile_n, tile_k)
    if tile_k % m:
        raise ParameterError(f"tile_k must be a multiple of m={m}, not {tile_k}")
    values = as_int_array(values, "values")
    B = as_int_array(B, "B")
    if values.ndim != 2:
        raise ShapeError(f"values must have shape (M, K*n/m), not {values.shape}")
    if B.ndim != 2:
        raise ShapeError(f"B must have shape (K, N), not {B.shape}")
    M, kept = values.shape
    if kept % n:
        raise ShapeError(f"values has {kept} columns, not a multiple of n={n}")
    K = kept // n * m
    if B.shape[0] != K:
        raise ShapeError(f"B has {B.shape[0]} rows; values of shape {values.shape} need K={K}")
    N = B.shape[1]
    idx = metadata_to_indices(metadata, K, n, m)
    if idx.shape[0] != M:
        raise ShapeError(f"metadata has {idx.shape[0]} rows, values has {M}")
    _check_multiple(M, tile_m, "M", "tile_m")
    _check_multiple(N, tile_n, "N", "tile_n")
    _check_multiple(K, tile_k, "K", "tile_k")
    values = values.astype(np.int64)
    B = B.astype(np.int64)
    kept_k, groups = tile_k * n // m, tile_k // m
    ops = []
    for mi, ni, ki, first, last in _loop(M, N, K, tile_m, tile_n, tile_k):
        rows = slice(mi * tile_m, (mi + 1) * tile_m)
        ops.append(TileOp(
            a_values=values[rows, ki * kept_k:(ki + 1) * kept_k].copy(),
            a_idx=idx[rows, ki * groups:(ki + 1) * groups].copy(),
            b=B[ki * tile_k:(ki + 1) * tile_k, ni * tile_n:(ni + 1) * tile_n].copy(),
            first=first,
            last=last,
        ))
    return ops


def split_dense_gemm(A, B, *, tile_m, tile_n, tile_k):
    """Cut a dense GEMM into the dense-baseline core's tile operations.

    Parameters
    ----------
    A : array_like of int, shape (M, K)
        Dense A.
    B : array_like of int, shape (K, N)
        Dense B.
    tile_m, tile_n : int
        Output tile shape.
    tile_k : int
        The dense core's reduction length per operation (its ``kept_k``).

    Returns
    -------
    list of TileOp
        ``a_values`` of shape (tile_m, tile_k), ``a_idx`` empty of shape (tile_m, 0, 0),
        ``b`` of shape (tile_k, tile_n); order as :func:`split_gemm`.
    """
    tile_m, tile_n, tile_k = _check_tile(tile_m, tile_n, tile_k)
    A = as_int_array(A, "A")
    B = as_int_array(B, "B")
    if A.ndim != 2:
        raise ShapeError(f"A must have shape (M, K), not {A.shape}")
    if B.ndim != 2:
        raise ShapeError(f"B must have shape (K, N), not {B.shape}")
    M, K = A.shape
    if B.shape[0] != K:
        raise ShapeError(f"B has {B.shape[0]} rows; A of shape {A.shape} needs K={K}")
    N = B.shape[1]
    _check_multiple(M, tile_m, "M", "tile_m")
    _check_multiple(N, tile_n, "N", "tile_n")
    _check_multiple(K, tile_k, "K", "tile_k")
    A = A.astype(np.int64)
    B = B.astype(np.int64)
    no_idx = np.zeros((tile_m, 0, 0), np.int64)
    ops = []
    for mi, ni, ki, first, last in _loop(M, N, K, tile_m, tile_n, tile_k):
        ops.append(TileOp(
            a_values=A[mi * tile_m:(mi + 1) * tile_m, ki * tile_k:(ki + 1) * tile_k].copy(),
            a_idx=no_idx.copy(),
            b=B[ki * tile_k:(ki + 1) * tile_k, ni * tile_n:(ni + 1) * tile_n].copy(),
            first=first,
            last=last,
        ))
    return ops


def _as_u64(x):
    # Two's complement reinterpretation: arithmetic below is exact modulo 2**64.
    return x.astype(np.int64).astype(np.uint64)


#: Upper bound on the gathered-B temporary of one batch of operations (elements).
_BATCH_ELEMENTS = 1 << 22


def _stack_ops(ops, sparse):
    """Stack the fields of all operations: arrays with a leading operation axis."""
    ops = list(ops)
    fields = {"a_values": [], "a_idx": [], "b": []}
    shapes = None
    for number, op in enumerate(ops):
        arrays = {
            "a_values": as_int_array(op.a_values, f"ops[{number}].a_values"),
            "b": as_int_array(op.b, f"ops[{number}].b"),
        }
        if sparse:
            arrays["a_idx"] = as_int_array(op.a_idx, f"ops[{number}].a_idx")
        current = {name: array.shape for name, array in arrays.items()}
        if shapes is None:
            shapes = current
        elif current != shapes:
            name = next(name for name in current if current[name] != shapes[name])
            raise ShapeError(
                f"ops[{number}].{name} has shape {current[name]}, earlier operations "
                f"{shapes[name]}: all operations of a stream share one tile shape"
            )
        for name, array in arrays.items():
            fields[name].append(array)
    first = np.array([bool(op.first) for op in ops], bool)
    last = np.array([bool(op.last) for op in ops], bool)
    stacked = {name: np.stack(arrays) for name, arrays in fields.items() if arrays}
    return stacked, first, last


def _check_op_shapes(stacked, n, m, sparse):
    a_values, b = stacked["a_values"], stacked["b"]
    if a_values.ndim != 3 or b.ndim != 3:
        raise ShapeError(
            f"ops[0]: a_values and b must be 2-D, not {a_values.shape[1:]} and {b.shape[1:]}"
        )
    tile_m, kept_k = a_values.shape[1:]
    if not sparse:
        if b.shape[1] != kept_k:
            raise ShapeError(
                f"ops[0].b has {b.shape[1]} rows; the dense core needs kept_k={kept_k}"
            )
        return
    a_idx = stacked["a_idx"]
    groups = kept_k // n
    if kept_k % n or a_idx.shape[1:] != (tile_m, groups, n):
        raise ShapeError(
            f"ops[0].a_idx has shape {a_idx.shape[1:]}; a_values of shape "
            f"{(tile_m, kept_k)} need ({tile_m}, {groups}, {n}) at {n}:{m}"
        )
    if b.shape[1] != groups * m:
        raise ShapeError(f"ops[0].b has {b.shape[1]} rows; tile_k={groups * m} needed")
    limit = 1 << index_bits(m)
    bad = (a_idx < 0) | (a_idx >= limit)
    if bad.any():
        number = int(np.argmax(bad.reshape(len(a_idx), -1).any(axis=1)))
        raise DataError(f"ops[{number}].a_idx holds an index outside 0 … {limit - 1}")


def _products(stacked, n, m, sparse):
    """``(P, invalid)``: per operation the products modulo 2**64, uint64 (ops, tile_m,
    tile_n), and whether it holds an invalid group, bool (ops,)."""
    a_values, b = stacked["a_values"], stacked["b"]
    count, tile_m, kept_k = a_values.shape
    if not sparse:
        return np.matmul(_as_u64(a_values), _as_u64(b)), np.zeros(count, bool)
    a_idx = stacked["a_idx"]
    groups = kept_k // n
    invalid = invalid_groups(a_idx, m)                           # (ops, tile_m, groups)
    # Invalid groups: products forced to zero (value 0, B row pointer anywhere valid).
    values = np.where(np.repeat(invalid, n, axis=-1), 0, a_values.astype(np.int64))
    safe_idx = np.where(invalid[..., None], 0, a_idx.astype(np.int64))
    rows = (np.arange(groups)[:, None] * m + safe_idx).reshape(count, tile_m, kept_k)
    b = _as_u64(b)
    values = _as_u64(values)
    P = np.empty((count, tile_m, b.shape[-1]), np.uint64)
    batch = max(1, _BATCH_ELEMENTS // max(1, tile_m * kept_k * b.shape[-1]))
    for start in range(0, count, batch):
        part = slice(start, start + batch)
        ops_axis = np.arange(start, min(start + batch, count))[:, None, None]
        selected = b[ops_axis, rows[part]]                  # (batch, tile_m, kept_k, tile_n)
        P[part] = np.einsum("orj,orjc->orc", values[part], selected)
    return P, invalid.reshape(count, -1).any(axis=1)


def core_model(ops, *, n=2, m=4, acc_width=32, sparse=True):
    """Predict the core's output for a stream of tile operations (docs/architecture.md §4).

    State starts as after reset (accumulators 0, no error). Per operation::

        acc = wrap((0 if first else acc) + P, acc_width)
        err = (False if first else err) or (any group of the operation is invalid)

    and each ``last`` operation emits ``TileResult(acc, err)``. Invalid groups (indices not
    strictly increasing or ``>= m``) contribute nothing to ``P``.

    The model is vectorized over the whole stream: ``acc`` after operation ``i`` is the sum
    of ``P`` since the latest ``first`` (or since reset), wrapped once, which equals wrapping
    after every step because wrapping commutes with addition.

    Parameters
    ----------
    ops : iterable of TileOp
        Operations in stream order; all of the same tile shape.
    n, m : int
        The N:M pattern of the sparse core (ignored when ``sparse=False``).
    acc_width : int
        Accumulator width, 1 … 64.
    sparse : bool
        ``False`` models the dense-baseline core: ``P = a_values @ b``, no metadata.

    Returns
    -------
    list of TileResult
        One per ``last`` operation, in order.

    Raises
    ------
    ShapeError
        An operation's fields do not line up, or differ in shape from the first operation's.
    DTypeError
        A field does not hold integers.
    DataError
        An index does not fit ``ceil(log2 m)`` bits.
    """
    n, m, _ = check_nm(n, m)
    acc_width = check_width(acc_width, "acc_width", maximum=64)
    stacked, first, last = _stack_ops(ops, sparse)
    if not len(first):
        return []
    _check_op_shapes(stacked, n, m, sparse)
    P, invalid = _products(stacked, n, m, sparse)
    # Segment of operation i: from the latest first at or before i, else from reset (0).
    index = np.arange(len(first))
    start = np.maximum(np.maximum.accumulate(np.where(first, index, -1)), 0)
    # uint64 cumulative sums wrap modulo 2**64: exact for every acc_width <= 64.
    sums = np.cumsum(P, axis=0, dtype=np.uint64)
    errors = np.cumsum(invalid)
    emit = np.flatnonzero(last)
    before = start[emit] - 1
    base = np.where((before >= 0)[:, None, None], sums[np.maximum(before, 0)], np.uint64(0))
    acc = wrap((sums[emit] - base).view(np.int64), acc_width)
    err_base = np.where(before >= 0, errors[np.maximum(before, 0)], 0)
    err = errors[emit] - err_base > 0
    return [TileResult(d=acc[i].copy(), error=bool(err[i])) for i in range(len(emit))]


def assemble(results, M, N, *, tile_m, tile_n):
    """Put output tiles back into the M×N result, tiles in (mi, ni) order.

    Parameters
    ----------
    results : sequence of TileResult or of arrays of shape (tile_m, tile_n)
        ``(M/tile_m) * (N/tile_n)`` tiles, ``ni`` fastest.
    M, N : int
        Output shape, multiples of the tile.
    tile_m, tile_n : int
        Output tile shape.

    Returns
    -------
    numpy.ndarray of int64, shape (M, N)
    """
    tile_m = check_int_param(tile_m, "tile_m")
    tile_n = check_int_param(tile_n, "tile_n")
    M = check_int_param(M, "M", minimum=0)
    N = check_int_param(N, "N", minimum=0)
    _check_multiple(M, tile_m, "M", "tile_m")
    _check_multiple(N, tile_n, "N", "tile_n")
    tiles = [np.asarray(r.d if isinstance(r, TileResult) else r) for r in results]
    expected = (M // tile_m) * (N // tile_n)
    if len(tiles) != expected:
        raise ShapeError(f"results has {len(tiles)} tiles; M={M}, N={N} need {expected}")
    for number, tile in enumerate(tiles):
        if tile.shape != (tile_m, tile_n):
            raise ShapeError(f"results[{number}] has shape {tile.shape}, not {(tile_m, tile_n)}")
    if not tiles:
        return np.zeros((M, N), np.int64)
    grid = np.stack(tiles).astype(np.int64).reshape(M // tile_m, N // tile_n, tile_m, tile_n)
    return grid.transpose(0, 2, 1, 3).reshape(M, N)


def dense_as_sparse(A, B, n=2, m=4):
    """Run a dense operand on the sparse unit (docs/architecture.md §5).

    Each group of ``m`` holds ``n`` real values at positions ``0 … n-1`` (2:4: metadata
    ``0x4`` everywhere), so ``values`` is ``A`` itself, and B is spread to ``K*m/n`` rows:
    row ``g*n + s`` of B goes to row ``g*m + s``, the other rows are zero.

    Parameters
    ----------
    A : array_like of int, shape (M, K)
        Dense A; ``K`` a multiple of ``n``.
    B : array_like of int, shape (K, N)
        Dense B.
    n, m : int
        The N:M pattern of the sparse unit.

    Returns
    -------
    values : numpy.ndarray of int64, shape (M, K)
    metadata : numpy.ndarray of uint16, shape (M, ceil(K * b / 16))
    B_spread : numpy.ndarray of int64, shape (K*m/n, N)
    """
    n, m, _ = check_nm(n, m)
    A = as_int_array(A, "A")
    B = as_int_array(B, "B")
    if A.ndim != 2:
        raise ShapeError(f"A must have shape (M, K), not {A.shape}")
    if B.ndim != 2:
        raise ShapeError(f"B must have shape (K, N), not {B.shape}")
    M, K = A.shape
    if K % n:
        raise ShapeError(f"A has K={K} columns, not a multiple of n={n}")
    if B.shape[0] != K:
        raise ShapeError(f"B has {B.shape[0]} rows; A of shape {A.shape} needs K={K}")
    groups = K // n
    idx = np.broadcast_to(np.arange(n, dtype=np.int64), (M, groups, n))
    metadata = indices_to_metadata(idx, m)
    spread = np.zeros((groups, m, B.shape[1]), np.int64)
    spread[:, :n] = B.astype(np.int64).reshape(groups, n, B.shape[1])
    return A.astype(np.int64), metadata, spread.reshape(groups * m, B.shape[1])


def pad_to_tiles(X, rows, cols):
    """Zero-pad a 2-D array so its shape is a multiple of ``(rows, cols)``.

    Use it for dense A (``tile_m, tile_k``), B (``tile_k, tile_n``) and C (``tile_m,
    tile_n``); crop the result with ``D[:M, :N]``.

    Parameters
    ----------
    X : array_like, shape (R, C)
    rows, cols : int
        Multiples to pad to.

    Returns
    -------
    numpy.ndarray, shape (ceil(R/rows)*rows, ceil(C/cols)*cols), dtype of ``X``
    """
    rows = check_int_param(rows, "rows")
    cols = check_int_param(cols, "cols")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ShapeError(f"X must be 2-D, not shape {X.shape}")
    return np.pad(X, ((0, -X.shape[0] % rows), (0, -X.shape[1] % cols)))


def pad_compressed(values, metadata, *, tile_m, tile_k, n=2, m=4):
    """Pad a compressed A to multiples of ``tile_m`` rows and ``tile_k`` dense columns.

    Padded groups are all-zero groups in the compressor's encoding (values 0 at positions
    ``0 … n-1``; 2:4 nibble ``0x4``).

    Parameters
    ----------
    values : array_like, shape (M, K*n/m)
    metadata : numpy.ndarray of uint16, shape (M, ceil(K*n/m * b / 16))
    tile_m, tile_k : int
        ``tile_k`` a multiple of ``m``.
    n, m : int

    Returns
    -------
    values : numpy.ndarray, shape (M', K'*n/m), dtype of ``values``
    metadata : numpy.ndarray of uint16, shape (M', ceil(K'*n/m * b / 16))
        With ``M'``, ``K'`` the padded sizes.
    """
    n, m, _ = check_nm(n, m)
    tile_m = check_int_param(tile_m, "tile_m")
    tile_k = check_int_param(tile_k, "tile_k")
    if tile_k % m:
        raise ParameterError(f"tile_k must be a multiple of m={m}, not {tile_k}")
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] % n:
        raise ShapeError(f"values must have shape (M, K*n/m), not {values.shape}")
    M, kept = values.shape
    K = kept // n * m
    idx = metadata_to_indices(metadata, K, n, m)
    if idx.shape[0] != M:
        raise ShapeError(f"metadata has {idx.shape[0]} rows, values has {M}")
    pad_m = -M % tile_m
    pad_g = (-K % tile_k) // m
    values = np.pad(values, ((0, pad_m), (0, pad_g * n)))
    fill = np.broadcast_to(np.arange(n, dtype=np.int64), (M + pad_m, idx.shape[1] + pad_g, n))
    fill = fill.copy()
    fill[:M, :idx.shape[1]] = idx
    return values, indices_to_metadata(fill, m)


def pad_gemm(values, metadata, B, *, tile_m, tile_n, tile_k, n=2, m=4):
    """Pad a compressed GEMM so :func:`split_gemm` accepts it.

    Returns
    -------
    values, metadata, B : numpy.ndarray
        Padded operands (see :func:`pad_compressed`, :func:`pad_to_tiles`); crop the
        assembled result to the original ``M × N``.
    """
    values, metadata = pad_compressed(values, metadata, tile_m=tile_m, tile_k=tile_k, n=n, m=m)
    return values, metadata, pad_to_tiles(B, tile_k, tile_n)
