"""Magnitude pruning: N:M structured (Mishra et al. 2021) and unstructured (Han et al. 2015).

Tie rule, everywhere: of elements with equal magnitude, the one with the **lower index** is
kept (for :func:`prune`, the lower index inside its group; for :func:`prune_magnitude`, the
lower flat C-order index of the array).

Magnitudes are exact: integers are compared as unsigned magnitudes (``|int8(-128)| = 128``,
no overflow), floats as ``abs``. NaN has no magnitude: arrays holding NaN are rejected.
"""

import numpy as np

from ._check import as_array, check_nm, first_true
from .errors import DataError, DTypeError, ParameterError, ShapeError

__all__ = ["prune", "prune_magnitude"]


def _magnitude(W, name):
    """Exact magnitude of each element: uint64 for integers, float64 for floats."""
    kind = W.dtype.kind
    if kind == "u":
        return W.astype(np.uint64)
    if kind == "i":
        u = W.astype(np.int64).astype(np.uint64)
        # Two's complement negation in uint64: exact even for the most negative value.
        return np.where(W < 0, ~u + np.uint64(1), u)
    if kind == "f":
        if np.isnan(W).any():
            index = first_true(np.isnan(W))
            raise DataError(f"{name} holds NaN at index {index}; NaN has no magnitude")
        return np.abs(W.astype(np.float64))
    raise DTypeError(f"{name} must hold integers or floats, not {W.dtype}")


def prune(W, n=2, m=4):
    """N:M magnitude pruning: keep the ``n`` largest-magnitude elements of every group of
    ``m`` consecutive elements along the last axis, zero the rest.

    Ties in magnitude go to the lower index. The mask marks exactly ``n`` kept positions
    per group, even where some of them hold zeros.

    Parameters
    ----------
    W : array_like, shape (..., K)
        Integer or float; ``K`` a multiple of ``m``; any leading shape.
    n, m : int
        The N:M pattern (2:4 by default).

    Returns
    -------
    pruned : numpy.ndarray, shape (..., K), dtype of ``W``
        ``W`` with the dropped elements set to zero; N:M sparse.
    mask : numpy.ndarray of bool, shape (..., K)
        ``True`` where an element is kept.

    Raises
    ------
    ShapeError
        ``W`` is 0-d, or ``K`` is not a multiple of ``m``.
    DTypeError
        ``W`` is not integer or float.
    DataError
        ``W`` holds NaN.
    """
    n, m, _ = check_nm(n, m)
    W = as_array(W, "W", min_ndim=1)
    if W.shape[-1] % m:
        raise ShapeError(f"W has K={W.shape[-1]} columns, not a multiple of m={m}")
    mag = _magnitude(W, "W").reshape(W.shape[:-1] + (-1, m))
    # Rank of each element in its group: how many elements beat it (larger magnitude, or
    # equal magnitude at a lower index). A loop over the m positions, not over elements.
    beaten_by = np.zeros(mag.shape, np.int64)
    position = np.arange(m)
    for j in range(m):
        other = mag[..., j:j + 1]
        beaten_by += (other > mag) | ((other == mag) & (j < position))
    mask = (beaten_by < n).reshape(W.shape)
    return np.where(mask, W, np.zeros((), W.dtype)), mask


def prune_magnitude(W, *, quality=None, sparsity=None):
    """Unstructured magnitude pruning of one layer (Han et al. 2015).

    Exactly one criterion:

    * ``quality``: threshold ``t = quality * std(W)`` (population standard deviation of the
      whole array); elements with ``|w| < t`` are dropped, ``|w| >= t`` kept.
    * ``sparsity``: drop exactly ``round(sparsity * W.size)`` elements (half rounds up), the
      smallest magnitudes first; among equal magnitudes the higher flat index goes first.

    Parameters
    ----------
    W : array_like, any shape
        Integer or float.
    quality : float, optional
        Non-negative multiple of the layer's standard deviation.
    sparsity : float, optional
        Fraction of elements to drop, ``0 … 1``.

    Returns
    -------
    pruned : numpy.ndarray, shape and dtype of ``W``
    mask : numpy.ndarray of bool, shape of ``W``
        ``True`` where an element is kept.

    Raises
    ------
    ParameterError
        Neither or both criteria given, or one out of range.
    DTypeError, DataError
        As :func:`prune`.
    """
    if (quality is None) == (sparsity is None):
        raise ParameterError("give exactly one of quality= and sparsity=")
    W = as_array(W, "W")
    mag = _magnitude(W, "W")
    if quality is not None:
        quality = _check_fraction(quality, "quality", upper=None)
        # std in float64 of the values themselves, not of the magnitudes.
        threshold = quality * float(np.std(W.astype(np.float64))) if W.size else 0.0
        mask = mag.astype(np.float64) >= threshold
    else:
        sparsity = _check_fraction(sparsity, "sparsity", upper=1.0)
        drop = int(np.floor(sparsity * W.size + 0.5))
        flat = mag.reshape(-1)
        # lexsort: last key primary. Ascending magnitude, then descending index.
        order = np.lexsort((-np.arange(flat.size), flat))
        mask = np.ones(flat.size, bool)
        mask[order[:drop]] = False
        mask = mask.reshape(W.shape)
    return np.where(mask, W, np.zeros((), W.dtype)), mask


def _check_fraction(value, name, *, upper):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, not {value!r}") from None
    if not np.isfinite(value) or value < 0 or (upper is not None and value > upper):
        bound = f"between 0 and {upper}" if upper is not None else "finite and non-negative"
        raise ParameterError(f"{name} must be {bound}, not {value}")
    return value
