"""Floating-point reference arithmetic: fp16 / bf16 operands, fp32 accumulation (docs/fp.md).

Everything is computed on bit patterns with integer arithmetic, so the result does not depend
on NumPy's (or BLAS's) float rounding order; the RTL matches it bit for bit.

One **block** is one tile operation of one output element: the ``k`` kept products
``a_j * b_j`` plus the accumulator ``c`` (fp32; ``+0`` on ``first``)::

    D = block(a[0:k], b[0:k], c)

Block arithmetic (precision ``p`` = 11 for fp16, 8 for bf16; ``W = 24 + guard``):

1. **Products are exact.** A finite operand is ``(-1)**s * M * 2**(e - p + 1)`` with the
   integer significand ``M`` (hidden bit included; subnormals kept: ``M < 2**(p-1)`` and
   ``e = emin``). A product is ``(-1)**(sa ^ sb) * (Ma*Mb) * 2**(ea + eb - 2p + 2)``, a
   ``2p``-bit significand. The accumulator is ``Mc * 2**(ec - 23)``, 24 bits.
2. **Nominal exponents.** A term's exponent ``E`` is the weight of the top bit of its
   significand field, whether or not that bit is set: ``ea + eb + 1`` for a product (bit
   ``2p - 1`` of ``Ma*Mb``), ``ec`` for the accumulator. No leading-zero count per term.
   Zero terms (a zero operand, a zero accumulator) take no part.
3. **Alignment** to ``Emax``, the largest ``E`` of the non-zero terms, in a window of ``W``
   bits whose top bit has weight ``2**Emax``: each term's magnitude is truncated to a
   multiple of ``2**(Emax - W + 1)`` (round toward zero per term; bits shifted out are
   lost, no sticky bit).
4. **Exact sum** of the signed aligned terms, an integer ``S``.
5. **One normalization** per block: ``S * 2**(Emax - W + 1)`` rounded to fp32 with
   ``rounding`` (``"rz"``: toward zero, the default and the hardware's; ``"rne"``: to
   nearest, ties to even), fp32 subnormals kept (gradual underflow).

Specials: any NaN term, ``Inf * 0`` or ``+Inf`` and ``-Inf`` in the same block give the
canonical quiet NaN ``0x7FC00000``; otherwise an infinite term gives ``±Inf``; a rounded
result of magnitude ``>= 2**128`` gives ``±Inf`` in both rounding modes (the hardware does
not saturate to the largest finite value as IEEE round-toward-zero would). An exact zero
sum is ``+0`` (also for ``-0`` terms). Non-zero results keep their sign.

With ``guard=0`` this is the behaviour Fasi et al. (PeerJ CS 2021) describe for the V100
tensor cores: ``2*1 + (-2)*1 + 2**-24 * 1`` is 0 in one block.
"""

import numpy as np

from ._check import as_array, check_int_param, check_nm
from .errors import DTypeError, ParameterError, ShapeError
from .nm import decompress, invalid_groups, metadata_to_indices

__all__ = [
    "FP_FORMATS", "FP32_NAN", "ROUNDINGS", "MAX_GUARD",
    "to_bits", "from_bits", "fp32_bits", "fp32_from_bits",
    "fp_block", "fp_dense_mma", "fp_sparse_mma", "fp_core_model", "block_error_bound",
]

#: Input formats: name → (exponent bits, fraction bits).
FP_FORMATS = {"fp16": (5, 10), "bf16": (8, 7)}
#: The canonical quiet NaN every NaN result is.
FP32_NAN = 0x7FC00000
FP32_INF = 0x7F800000
ROUNDINGS = ("rz", "rne")
#: Largest number of extra alignment bits accepted (the window must fit int64 sums).
MAX_GUARD = 16
_ACC_P = 24          # fp32 precision
_ACC_EMIN = -126
_NEG = -(1 << 20)    # exponent of a term that takes no part


def _check_dtype(dtype):
    if dtype not in FP_FORMATS:
        raise ParameterError(f"dtype must be one of {', '.join(map(repr, FP_FORMATS))}, "
                             f"not {dtype!r}")
    return FP_FORMATS[dtype]


def _check_rounding(rounding):
    if rounding not in ROUNDINGS:
        raise ParameterError(f"rounding must be 'rz' or 'rne', not {rounding!r}")
    return rounding


def _check_guard(guard):
    guard = check_int_param(guard, "guard", minimum=0)
    if guard > MAX_GUARD:
        raise ParameterError(f"guard must be at most {MAX_GUARD}, not {guard}")
    return guard


def _bits_array(x, name, width):
    arr = as_array(x, name)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{name} must hold integer bit patterns, not {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= 1 << width):
        bad = np.argwhere((arr < 0) | (arr >= 1 << width))[0]
        raise DTypeError(f"{name} holds {int(arr[tuple(bad)])} at {tuple(int(i) for i in bad)}"
                         f", not a {width}-bit pattern")
    return arr


# --- conversions ----------------------------------------------------------------------------

def to_bits(x, dtype):
    """Bit patterns (uint16) of float values in ``dtype``.

    fp16 converts through NumPy's float16 (IEEE round to nearest even); bf16 rounds float32
    to nearest even on the 16 dropped bits (NaN stays a quiet NaN).
    """
    _check_dtype(dtype)
    x = np.asarray(x)
    if dtype == "fp16":
        return x.astype(np.float16).view(np.uint16)
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(x.astype(np.float32))
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


def from_bits(bits, dtype):
    """float32 values of ``dtype`` bit patterns (exact: both formats embed in float32)."""
    _check_dtype(dtype)
    bits = np.asarray(bits).astype(np.uint16)
    if dtype == "fp16":
        return bits.view(np.float16).astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def fp32_bits(x):
    """Bit patterns (int64, 0 … 2**32-1) of float32 values."""
    return np.asarray(x, np.float32).view(np.uint32).astype(np.int64)


def fp32_from_bits(bits):
    """float32 values of fp32 bit patterns."""
    return np.asarray(bits).astype(np.uint32).view(np.float32)


# --- the block ------------------------------------------------------------------------------

def _decode(bits, exp_bits, frac_bits):
    """Fields of IEEE-style bit patterns: sign, significand M, exponent e (unbiased, at least
    emin), and the zero / inf / nan flags."""
    bias = (1 << (exp_bits - 1)) - 1
    sign = (bits >> (exp_bits + frac_bits)) & 1
    field = (bits >> frac_bits) & ((1 << exp_bits) - 1)
    frac = bits & ((1 << frac_bits) - 1)
    top = (1 << exp_bits) - 1
    special = field == top
    M = np.where(field == 0, frac, frac | (1 << frac_bits))
    M = np.where(special, 0, M)
    e = np.maximum(field, 1) - bias
    return sign, M, e, (M == 0) & ~special, special & (frac == 0), special & (frac != 0)


def _round_fp32(S, lsb_exp, rounding):
    """fp32 bits of ``S * 2**lsb_exp`` (S int64, lsb_exp int64), zero as +0."""
    sign = (S < 0).astype(np.int64)
    mag = np.abs(S)
    # Bit length of |S| (exact: |S| < 2**53).
    length = np.frexp(mag.astype(np.float64))[1].astype(np.int64)
    lead = lsb_exp + length - 1                       # weight of the leading bit
    q = np.maximum(lead - (_ACC_P - 1), _ACC_EMIN - (_ACC_P - 1))
    shift = q - lsb_exp
    right = np.clip(shift, 0, 62)
    left = np.clip(-shift, 0, 62)
    m = np.where(shift >= 0, mag >> right, mag << left)
    if rounding == "rne":
        rem = np.where(shift > 0, mag & ((np.int64(1) << right) - 1), 0)
        half = np.where(shift > 0, np.int64(1) << np.maximum(right - 1, 0), 1)
        up = (shift > 0) & (shift <= 61) & ((rem > half) | ((rem == half) & (m & 1 == 1)))
        m = m + up
        carry = m == 1 << _ACC_P
        m = np.where(carry, m >> 1, m)
        q = q + carry
    normal = m >= 1 << (_ACC_P - 1)
    biased = np.where(normal, q + 150, 0)
    bits = (sign << 31) | (biased << 23) | (m & ((1 << 23) - 1))
    bits = np.where(biased >= 255, (sign << 31) | FP32_INF, bits)
    return np.where(m == 0, 0, bits)


def fp_block(a_bits, b_bits, c_bits, *, dtype="fp16", guard=0, rounding="rz"):
    """One block per element: ``c + Σ_j a[..., j] * b[..., j]`` (module docstring).

    Parameters
    ----------
    a_bits, b_bits : array_like of int, shape (..., k)
        ``dtype`` bit patterns (0 … 2**16-1); shapes broadcast.
    c_bits : array_like of int, shape (...)
        fp32 bit patterns of the accumulator (0 … 2**32-1); broadcasts with the rest.
    dtype : {"fp16", "bf16"}
    guard : int
        Extra alignment bits: the window is ``24 + guard`` bits (0 … 16).
    rounding : {"rz", "rne"}
        Rounding of the one normalization.

    Returns
    -------
    numpy.ndarray of int64, shape (...)
        fp32 bit patterns.

    Raises
    ------
    ParameterError
        A bad ``dtype``, ``guard`` or ``rounding``.
    DTypeError
        An operand is not an integer bit pattern of its width.
    """
    exp_bits, frac_bits = _check_dtype(dtype)
    guard = _check_guard(guard)
    rounding = _check_rounding(rounding)
    a = _bits_array(a_bits, "a_bits", 16)
    b = _bits_array(b_bits, "b_bits", 16)
    c = _bits_array(c_bits, "c_bits", 32)
    if a.ndim < 1 or b.ndim < 1:
        raise ShapeError("a_bits and b_bits need a last (k) axis")
    a, b = np.broadcast_arrays(a, b)
    lead_shape = np.broadcast_shapes(a.shape[:-1], c.shape)
    a = np.broadcast_to(a, lead_shape + a.shape[-1:])
    b = np.broadcast_to(b, lead_shape + b.shape[-1:])
    c = np.broadcast_to(c, lead_shape)
    p = frac_bits + 1
    window = _ACC_P + guard

    sa, Ma, ea, za, ia, na = _decode(a, exp_bits, frac_bits)
    sb, Mb, eb, zb, ib, nb = _decode(b, exp_bits, frac_bits)
    sc, Mc, ec, zc, ic, nc = _decode(c, 8, 23)
    # Products: exact 2p-bit significands, nominal exponent ea + eb + 1.
    ps = sa ^ sb
    P = Ma * Mb
    pnan = na | nb | (ia & zb) | (za & ib)
    pinf = (ia | ib) & ~pnan
    Ep = np.where(P != 0, ea + eb + 1, _NEG)
    Ec = np.where(Mc != 0, ec, _NEG)
    Emax = np.maximum(Ep.max(axis=-1), Ec)
    lsb = Emax - window + 1
    # Align: the significand field's top bit at window bit W-1, then shift by Emax - E.
    dp = np.minimum(Emax[..., None] - Ep, 62)
    xp = (P << (window - 2 * p)) >> dp
    dc = np.minimum(Emax - Ec, 62)
    xc = (Mc << (window - _ACC_P)) >> dc
    S = np.where(ps == 1, -xp, xp).sum(axis=-1) + np.where(sc == 1, -xc, xc)
    bits = _round_fp32(S, lsb, rounding)
    # Specials.
    pos_inf = (pinf & (ps == 0)).any(axis=-1) | (ic & (sc == 0))
    neg_inf = (pinf & (ps == 1)).any(axis=-1) | (ic & (sc == 1))
    nan = pnan.any(axis=-1) | nc | (pos_inf & neg_inf)
    bits = np.where(pos_inf, FP32_INF, bits)
    bits = np.where(neg_inf, FP32_INF | (1 << 31), bits)
    return np.where(nan, FP32_NAN, bits).astype(np.int64)


def block_error_bound(a_bits, b_bits, c_bits, *, dtype="fp16", guard=0, rounding="rz"):
    """A bound on ``|block - exact|`` for finite blocks (docs/fp.md, "Error bound").

    ``t * 2**(Emax - 23 - guard) + ulp``: each of the ``t`` non-zero terms loses less than
    one window unit ``2**(Emax - 23 - guard)`` to its truncation, and the one rounding costs
    less than ``ulp``, the fp32 spacing in the binade of ``|exact| + t * 2**(Emax-23-guard)``
    (half of it for ``"rne"``; at least ``2**-149``). Computed from float64 values with
    ``numpy.frexp``, independently of :func:`fp_block`'s integer path.

    Returns
    -------
    numpy.ndarray of float64, shape (...)
    """
    exp_bits, frac_bits = _check_dtype(dtype)
    guard = _check_guard(guard)
    rounding = _check_rounding(rounding)
    emin = 2 - (1 << (exp_bits - 1))
    av = from_bits(a_bits, dtype).astype(np.float64)
    bv = from_bits(b_bits, dtype).astype(np.float64)
    cv = fp32_from_bits(c_bits).astype(np.float64)
    # frexp: x = f * 2**e, 0.5 <= |f| < 1, so the leading bit has weight 2**(e - 1).
    ea = np.maximum(np.frexp(av)[1] - 1, emin)
    eb = np.maximum(np.frexp(bv)[1] - 1, emin)
    ec = np.maximum(np.frexp(cv)[1] - 1, _ACC_EMIN)
    nonzero = (av != 0) & (bv != 0)
    Ep = np.where(nonzero, ea + eb + 1, _NEG)
    Ec = np.where(cv != 0, ec, _NEG)
    Emax = np.maximum(Ep.max(axis=-1), Ec)
    terms = nonzero.sum(axis=-1) + (cv != 0)
    exact = (av * bv).sum(axis=-1) + cv
    truncation = terms * np.ldexp(1.0, Emax - 23 - guard)
    # The rounded sum lies within `truncation` of the exact one: its binade's spacing.
    e_res = np.maximum(np.frexp(np.abs(exact) + truncation)[1] - 1, _ACC_EMIN)
    ulp = np.ldexp(1.0, e_res - 23) * (0.5 if rounding == "rne" else 1.0)
    return truncation + ulp


# --- GEMMs and the core's stream ------------------------------------------------------------

def _chain(products_a, products_b, c_bits, block_k, **kw):
    """Blocks of ``block_k`` along the last axis, chained through the accumulator."""
    k = products_a.shape[-1]
    acc = c_bits
    for start in range(0, k, block_k):
        acc = fp_block(products_a[..., start:start + block_k],
                       products_b[..., start:start + block_k], acc, **kw)
    return acc


def fp_dense_mma(A, B, C=None, *, block_k=8, dtype="fp16", guard=0, rounding="rz"):
    """Dense ``D = A·B + C`` as the dense-baseline core computes it: blocks of ``block_k``
    consecutive K elements, chained through the fp32 accumulator (the first block adds C).

    Parameters
    ----------
    A : array_like of int, shape (M, K)
        ``dtype`` bit patterns.
    B : array_like of int, shape (K, N)
        ``dtype`` bit patterns.
    C : array_like of int, shape (M, N), optional
        fp32 bit patterns; default +0.
    block_k : int
        Products per block (the core's ``kept_k``); K must be a multiple of it.

    Returns
    -------
    numpy.ndarray of int64, shape (M, N): fp32 bit patterns.
    """
    block_k = check_int_param(block_k, "block_k")
    A = _bits_array(A, "A", 16)
    B = _bits_array(B, "B", 16)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ShapeError(f"A {A.shape} and B {B.shape} must be (M, K) and (K, N)")
    if A.shape[1] % block_k:
        raise ShapeError(f"K={A.shape[1]} is not a multiple of block_k={block_k}")
    C = np.zeros((A.shape[0], B.shape[1]), np.int64) if C is None else _bits_array(C, "C", 32)
    if C.shape != (A.shape[0], B.shape[1]):
        raise ShapeError(f"C has shape {C.shape}; the product has {(A.shape[0], B.shape[1])}")
    return _chain(A[:, None, :], B.T[None, :, :], C, block_k, dtype=dtype, guard=guard,
                  rounding=rounding)


def fp_sparse_mma(values, metadata, B, C=None, *, tile_k=16, n=2, m=4, dtype="fp16",
                  guard=0, rounding="rz"):
    """Sparse ``D = A·B + C`` as the sparse core computes it: per block the kept products of
    ``tile_k`` dense-equivalent K elements (``tile_k * n / m`` products; a pruned element is
    not multiplied, so a pruned zero never meets an Inf of B), chained through the fp32
    accumulator.

    Parameters
    ----------
    values : array_like of int, shape (M, K*n/m)
        Kept A elements, ``dtype`` bit patterns.
    metadata : numpy.ndarray of uint16
        As :func:`golden.compress` returns; every group valid.
    B : array_like of int, shape (K, N)
    C : array_like of int, shape (M, N), optional
    tile_k : int
        Dense-equivalent K per block; a multiple of ``m`` dividing K.

    Returns
    -------
    numpy.ndarray of int64, shape (M, N): fp32 bit patterns.
    """
    n, m, _ = check_nm(n, m)
    tile_k = check_int_param(tile_k, "tile_k")
    values = _bits_array(values, "values", 16)
    B = _bits_array(B, "B", 16)
    if values.ndim != 2 or B.ndim != 2 or values.shape[1] % n:
        raise ShapeError(f"values {values.shape} must be (M, K*n/m) and B (K, N)")
    k = values.shape[1] // n * m
    if B.shape[0] != k:
        raise ShapeError(f"B has {B.shape[0]} rows; values needs K={k}")
    if tile_k % m or k % tile_k:
        raise ShapeError(f"tile_k={tile_k} must be a multiple of m={m} and divide K={k}")
    idx = metadata_to_indices(metadata, k, n, m)
    if invalid_groups(idx, m).any():
        decompress(values, metadata, n, m)          # raises the MetadataError naming it
    rows = (np.arange(k // m)[:, None] * m + idx).reshape(values.shape)
    gathered = B[rows]                                # (M, kept, N)
    C = (np.zeros((values.shape[0], B.shape[1]), np.int64) if C is None
         else _bits_array(C, "C", 32))
    return _chain(values[:, None, :], np.moveaxis(gathered, -1, 1), C, tile_k * n // m,
                  dtype=dtype, guard=guard, rounding=rounding)


def fp_core_model(ops, *, dtype="fp16", n=2, m=4, sparse=True, guard=0, rounding="rz"):
    """Predict the fp core's output for a stream of :class:`golden.tiles.TileOp`.

    Fields hold bit patterns: ``a_values`` and ``b`` ``dtype`` patterns, results fp32
    patterns. Per operation and output element ``(r, c)``::

        acc = fp_block(a_values[r, :], b_gathered[r, :, c], +0 if first else acc)

    where ``b_gathered[r, j]`` is the B row of kept element ``j`` (its group's ``idx``); an
    invalid group reads its B rows as ``+0`` (so its products are zero, or NaN for an A
    value that is Inf or NaN) and sets the result's error flag. The dense baseline
    (``sparse=False``) multiplies ``a_values`` with ``b`` directly. Each ``last`` emits
    ``TileResult(acc, error)``.

    Returns
    -------
    list of golden.tiles.TileResult
        ``d`` holds fp32 bit patterns as int64, shape (tile_m, tile_n).
    """
    from .tiles import TileResult

    n, m, _ = check_nm(n, m)
    kw = {"dtype": dtype, "guard": guard, "rounding": rounding}
    ops = list(ops)
    if not ops:
        return []
    a_all = np.stack([np.asarray(op.a_values, np.int64) for op in ops])
    b_all = np.stack([np.asarray(op.b, np.int64) for op in ops])
    count, tile_m, kept = a_all.shape
    if sparse:
        idx = np.stack([np.asarray(op.a_idx, np.int64) for op in ops])
        groups = kept // n
        bad = invalid_groups(idx, m)                                  # (ops, tile_m, groups)
        safe = np.where(bad[..., None], 0, idx)
        rows = (np.arange(groups)[:, None] * m + safe).reshape(count, tile_m, kept)
        gathered = b_all[np.arange(count)[:, None, None], rows]       # (ops, tm, kept, tn)
        zero = np.repeat(bad, n, axis=-1)[..., None]
        gathered = np.where(zero, 0, gathered)
        invalid = bad.reshape(count, -1).any(axis=1)
    else:
        gathered = np.broadcast_to(b_all[:, None], (count, tile_m) + b_all.shape[1:])
        invalid = np.zeros(count, bool)
    b_lanes = np.moveaxis(gathered, -1, 2)                            # (ops, tm, tn, kept)
    tile_n = b_lanes.shape[2]
    acc = np.zeros((tile_m, tile_n), np.int64)
    err = False
    results = []
    for i, op in enumerate(ops):
        if op.first:
            acc = np.zeros_like(acc)
            err = False
        acc = fp_block(a_all[i][:, None, :], b_lanes[i], acc, **kw)
        err = err or bool(invalid[i])
        if op.last:
            results.append(TileResult(d=acc.copy(), error=err))
    return results
