"""Validation helpers shared by the golden model's modules (private)."""

import operator

import numpy as np

from .errors import DTypeError, ParameterError, ShapeError, WidthError

#: Largest group size accepted: indices then fit 4 bits, a group mask fits uint16.
MAX_M = 16


def check_int_param(value, name, *, minimum=1):
    """Return ``value`` as an ``int``; raise :class:`ParameterError` unless it is an integer
    (``bool`` excluded) of at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ParameterError(f"{name} must be an integer, not {value!r}") from None
    if value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, not {value}")
    return value


def check_nm(n, m):
    """Validate an N:M pattern; return ``(n, m, b)`` with ``b = ceil(log2 m)`` index bits."""
    m = check_int_param(m, "m", minimum=2)
    n = check_int_param(n, "n", minimum=1)
    if m > MAX_M:
        raise ParameterError(f"m must be at most {MAX_M}, not {m}")
    if n >= m:
        raise ParameterError(f"n must be less than m ({n}:{m} is not sparse)")
    return n, m, index_bits(m)


def index_bits(m):
    """Bits of one in-group index: ``ceil(log2 m)``."""
    return (m - 1).bit_length()


def words_per_row(kept_k, b):
    """uint16 metadata words of a row holding ``kept_k`` indices of ``b`` bits each."""
    return -(-kept_k * b // 16)


def check_width(value, name, *, maximum):
    """Validate a signed bit width (1 … ``maximum``); raise :class:`WidthError`."""
    if isinstance(value, (bool, np.bool_)):
        raise WidthError(f"{name} must be an integer, not {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise WidthError(f"{name} must be an integer, not {value!r}") from None
    if not 1 <= value <= maximum:
        raise WidthError(f"{name} must be between 1 and {maximum}, not {value}")
    return value


def as_array(x, name, *, min_ndim=0):
    """``np.asarray(x)``, with a :class:`ShapeError` naming ``name`` below ``min_ndim``."""
    arr = np.asarray(x)
    if arr.dtype == object:
        raise DTypeError(f"{name} must be a numeric array, not dtype object")
    if arr.ndim < min_ndim:
        what = "(..., rows, cols)" if min_ndim == 2 else f"{min_ndim} dimensions"
        raise ShapeError(f"{name} must have shape {what}, not {arr.shape}")
    return arr


def as_int_array(x, name, *, min_ndim=0):
    """Like :func:`as_array`, and raise :class:`DTypeError` unless the dtype is an integer."""
    arr = as_array(x, name, min_ndim=min_ndim)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{name} must hold integers, not {arr.dtype}")
    return arr


def first_true(mask):
    """Index tuple (Python ints) of the first ``True`` of ``mask`` in C order."""
    flat = int(np.argmax(mask.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def where(name, index, minor="group"):
    """Format a location: ``"A[1] row 3 group 5"`` for index ``(1, 3, 5)``."""
    lead = index[:-2]
    prefix = f"{name}[{', '.join(map(str, lead))}]" if lead else name
    return f"{prefix} row {index[-2]} {minor} {index[-1]}"


def check_fits(arr, width, name, *, width_name):
    """Raise :class:`WidthError` unless every element of integer ``arr`` fits signed
    ``width`` bits; the message names the first offending element."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if arr.size == 0:
        return
    # Python-int bounds compare exactly with any integer dtype (NumPy 2 promotion rules).
    if arr.dtype.kind == "u":
        bad = arr > hi
    else:
        bad = (arr < lo) | (arr > hi)
    if bad.any():
        index = first_true(bad)
        loc = where(name, index, "column") if arr.ndim >= 2 else f"{name}[{index[0]}]"
        raise WidthError(
            f"{loc} is {int(arr[index])}, which does not fit signed {width_name}={width} "
            f"({lo} … {hi})"
        )
