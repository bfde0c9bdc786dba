"""Reference integer arithmetic: ``D = wrap(A·B + C, acc_width)`` (docs/architecture.md §1).

Operands are signed two's complement integers of declared widths; products are summed
exactly and the sum wraps modulo ``2**acc_width`` into a signed value.

Two exact evaluation methods, chosen per call (``method="auto"``):

``"float"``
    float64 BLAS matmul. Every product and every partial sum of a length-``k`` dot product
    is an integer of magnitude at most ``k * max|a| * max|b|``; when that bound is below
    ``2**53`` every such integer is a float64, so no step rounds, whatever order BLAS sums
    in. ``auto`` uses it when the bound, computed from the actual data, holds over the
    whole of K, or over chunks of K of at least 64 (chunk results are then summed in
    integers).
``"int"``
    uint64 matmul: two's complement arithmetic modulo ``2**64``, which is well defined for
    unsigned integers and exact for every ``acc_width <= 64``. Slower (no BLAS).
"""

import numpy as np

from ._check import as_int_array, check_fits, check_nm, check_width
from .errors import DTypeError, ParameterError, ShapeError
from .nm import decompress

__all__ = ["wrap", "dense_mma", "sparse_mma"]

#: Largest integer below which float64 represents every integer exactly.
_EXACT = 1 << 53
#: Smallest K chunk worth a BLAS call; below it the uint64 path is used.
_MIN_CHUNK = 64


def wrap(x, width):
    """Wrap integers modulo ``2**width`` into signed ``width``-bit two's complement.

    Parameters
    ----------
    x : int or array_like of int
        Any integer dtype, or Python ints of any size.
    width : int
        1 … 64.

    Returns
    -------
    numpy.ndarray of int64 (0-d for a scalar input)
        Values in ``-2**(width-1) … 2**(width-1) - 1``.
    """
    width = check_width(width, "width", maximum=64)
    arr = np.asarray(x)
    half = 1 << (width - 1)
    if arr.dtype == object:
        # Arbitrary-precision Python ints: wrap with exact integer arithmetic.
        return np.asarray((arr + half) % (1 << width) - half).astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise DTypeError(f"x must hold integers, not {arr.dtype}")
    # Modulo-2**64 view: int -> uint64 conversion keeps the low 64 bits.
    u = arr.astype(np.int64) if arr.dtype.kind != "u" else arr
    u = u.astype(np.uint64)
    if width == 64:
        return u.view(np.int64) if u.ndim else np.int64(u.view(np.int64))
    low = u & np.uint64((1 << width) - 1)
    sign = np.uint64(half)
    # (low ^ sign) - sign sign-extends bit width-1; every term fits int64.
    return (low ^ sign).astype(np.int64) - np.int64(half)


def _max_abs(x):
    if x.size == 0:
        return 0
    return max(abs(int(x.min())), abs(int(x.max())))


def _matmul_exact(A, B, method):
    """Exact ``A @ B`` modulo ``2**64``, as int64 (wrapped). A, B int64."""
    k = A.shape[-1]
    bound = _max_abs(A) * _max_abs(B)
    if method == "auto":
        if bound == 0 or bound * k < _EXACT:
            method = "float"
        elif (_EXACT - 1) // bound >= _MIN_CHUNK:
            method = "chunked"
        else:
            method = "int"
    elif method == "float" and bound * k >= _EXACT:
        raise ParameterError(
            f"method='float' is not exact here: K * max|a| * max|b| = {bound * k} >= 2**53"
        )
    if method == "float":
        return (A.astype(np.float64) @ B.astype(np.float64)).astype(np.int64)
    if method == "chunked":
        chunk = (_EXACT - 1) // bound
        total = None
        for start in range(0, k, chunk):
            part = A[..., start:start + chunk].astype(np.float64) @ \
                B[..., start:start + chunk, :].astype(np.float64)
            part = part.astype(np.int64).astype(np.uint64)
            total = part if total is None else total + part
        return total.view(np.int64)
    if method == "int":
        return (A.astype(np.uint64) @ B.astype(np.uint64)).view(np.int64)
    raise ParameterError(f"method must be 'auto', 'float' or 'int', not {method!r}")


def _check_operands(A, B, C, a_width, b_width, acc_width, a_name):
    a_width = check_width(a_width, "a_width", maximum=32)
    b_width = check_width(b_width, "b_width", maximum=32)
    acc_width = check_width(acc_width, "acc_width", maximum=64)
    B = as_int_array(B, "B", min_ndim=2)
    check_fits(A, a_width, a_name, width_name="a_width")
    check_fits(B, b_width, "B", width_name="b_width")
    return B, acc_width


def _finish(P, C, acc_width, out_shape):
    if C is None:
        return wrap(P, acc_width)
    return wrap(P.astype(np.uint64) + C.astype(np.int64).astype(np.uint64), acc_width)


def _check_c(C, shape, acc_width):
    if C is None:
        return None
    C = as_int_array(C, "C", min_ndim=2)
    if C.shape != shape:
        raise ShapeError(f"C has shape {C.shape}; the product has shape {shape}")
    check_fits(C, acc_width, "C", width_name="acc_width")
    return C


def _product_shape(a_shape, b_shape, a_name, k):
    if b_shape[-2] != k:
        raise ShapeError(
            f"B has {b_shape[-2]} rows; {a_name} of shape {a_shape} needs K={k}"
        )
    try:
        lead = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ShapeError(
            f"leading dimensions of {a_name} {a_shape[:-2]} and B {b_shape[:-2]} do not "
            f"broadcast"
        ) from None
    return lead + (a_shape[-2], b_shape[-1])


def dense_mma(A, B, C=None, *, a_width=8, b_width=8, acc_width=32, method="auto"):
    """Dense reference: ``D = wrap(A @ B + C, acc_width)``, exact.

    Parameters
    ----------
    A : array_like of int, shape (..., M, K)
        Signed, fits ``a_width`` bits.
    B : array_like of int, shape (..., K, N)
        Signed, fits ``b_width`` bits; leading dimensions broadcast with A's.
    C : array_like of int, shape (..., M, N), optional
        Signed, fits ``acc_width`` bits; shape equal to the product's.
    a_width, b_width : int
        Operand widths, 1 … 32.
    acc_width : int
        Accumulator width, 1 … 64.
    method : {"auto", "float", "int"}
        Evaluation method (module docstring); every method gives the same result.

    Returns
    -------
    numpy.ndarray of int64, shape (..., M, N)

    Raises
    ------
    WidthError
        A width is out of range, or an element does not fit its width (names row, column).
    DTypeError
        An operand does not hold integers.
    ShapeError
        Shapes do not line up.
    """
    A = as_int_array(A, "A", min_ndim=2)
    B, acc_width = _check_operands(A, B, C, a_width, b_width, acc_width, "A")
    shape = _product_shape(A.shape, B.shape, "A", A.shape[-1])
    C = _check_c(C, shape, acc_width)
    P = _matmul_exact(A.astype(np.int64), B.astype(np.int64), method)
    return _finish(P, C, acc_width, shape)


def sparse_mma(values, metadata, B, C=None, *, n=2, m=4, a_width=8, b_width=8, acc_width=32,
               method="auto"):
    """Sparse reference: ``D = wrap(decompress(values, metadata) @ B + C, acc_width)``.

    Parameters
    ----------
    values : array_like of int, shape (..., M, K*n/m)
        Compressed A values; signed, fit ``a_width`` bits.
    metadata : numpy.ndarray of uint16, shape (..., M, ceil(K*n/m * b / 16))
        Compressed A metadata; every group valid.
    B : array_like of int, shape (..., K, N)
        Signed, fits ``b_width`` bits.
    C : array_like of int, shape (..., M, N), optional
        Signed, fits ``acc_width`` bits.
    n, m : int
        The N:M pattern.
    a_width, b_width : int
        Operand widths, 1 … 32.
    acc_width : int
        Accumulator width, 1 … 64.
    method : {"auto", "float", "int"}
        Evaluation method (module docstring).

    Returns
    -------
    numpy.ndarray of int64, shape (..., M, N)

    Raises
    ------
    MetadataError
        Invalid metadata (names row and group).
    WidthError, DTypeError, ShapeError
        As :func:`dense_mma`.
    """
    n, m, _ = check_nm(n, m)
    values = as_int_array(values, "values", min_ndim=2)
    B, acc_width = _check_operands(values, B, C, a_width, b_width, acc_width, "values")
    if values.shape[-1] % n:
        raise ShapeError(f"values has {values.shape[-1]} columns, not a multiple of n={n}")
    k = values.shape[-1] // n * m
    shape = _product_shape(values.shape[:-1] + (k,), B.shape, "values (decompressed)", k)
    C = _check_c(C, shape, acc_width)
    A = decompress(values.astype(np.int64), metadata, n, m)
    P = _matmul_exact(A, B.astype(np.int64), method)
    return _finish(P, C, acc_width, shape)
