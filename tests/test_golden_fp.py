"""Golden fp16 / bf16 block arithmetic (golden/fp.py) against hand-computed values, a slow
scalar model written from the definition with Python fractions, and float64 NumPy within the
stated error bound."""

import math
from fractions import Fraction

import numpy as np
import pytest

import golden
from golden.errors import DTypeError, ParameterError, ShapeError
from golden.fp import (block_error_bound, fp32_bits, fp32_from_bits, fp_block, fp_core_model,
                       fp_dense_mma, fp_sparse_mma, from_bits, to_bits)
from golden.tiles import TileOp

# fp16 patterns, by hand: sign | 5-bit exponent (bias 15) | 10-bit fraction.
H_ONE, H_TWO, H_MTWO, H_HALF = 0x3C00, 0x4000, 0xC000, 0x3800
H_ONE_5 = 0x3E00          # 1.5
H_TINY = 0x0001           # 2**-24, the smallest subnormal
H_MAX = 0x7BFF            # 65504
H_INF, H_MINF, H_NAN, H_ZERO, H_MZERO = 0x7C00, 0xFC00, 0x7E00, 0x0000, 0x8000
# bf16: sign | 8-bit exponent (bias 127) | 7-bit fraction.
B_ONE, B_HALF, B_MIN_NORMAL, B_MAX = 0x3F80, 0x3F00, 0x0080, 0x7F7F
# fp32.
F_ONE, F_MONE, F_TWO = 0x3F800000, 0xBF800000, 0x40000000
F_MAX, F_INF, F_MINF, F_NAN = 0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000

#: (name, dtype, a, b, c, guard, rounding, expected fp32 bits), every value worked out by hand
#: in docs/fp.md ("Worked examples").
TABLE = [
    ("1*1 + 1*1", "fp16", [H_ONE, H_ONE], [H_ONE, H_ONE], 0, 0, "rz", F_TWO),
    ("Fasi: 2 - 2 + 2^-24 -> 0", "fp16", [H_TWO, H_MTWO, H_TINY], [H_ONE] * 3, 0, 0, "rz", 0),
    ("same, guard 3 keeps 2^-24", "fp16", [H_TWO, H_MTWO, H_TINY], [H_ONE] * 3, 0, 3, "rz",
     0x33800000),
    ("subnormal^2 = 2^-48 exact", "fp16", [H_TINY], [H_TINY], 0, 0, "rz", 0x27800000),
    ("1 + 2^-24 truncated", "fp16", [H_TINY], [H_ONE], F_ONE, 0, "rz", F_ONE),
    ("1 + 1.5*2^-24, rz", "fp16", [H_TINY], [H_ONE_5], F_ONE, 2, "rz", F_ONE),
    ("1 + 1.5*2^-24, rne", "fp16", [H_TINY], [H_ONE_5], F_ONE, 2, "rne", 0x3F800001),
    ("-1 - 1.5*2^-24, rz", "fp16", [H_TINY | 0x8000], [H_ONE_5], F_MONE, 2, "rz", F_MONE),
    ("-1 - 1.5*2^-24, rne", "fp16", [H_TINY | 0x8000], [H_ONE_5], F_MONE, 2, "rne", 0xBF800001),
    ("max^2 + FLT_MAX stays finite", "fp16", [H_MAX], [H_MAX], F_MAX, 0, "rz", F_MAX),
    ("1 - 1 = +0", "fp16", [H_ONE, H_ONE | 0x8000], [H_ONE, H_ONE], 0, 0, "rz", 0),
    ("-0 * 1 + -0 = +0", "fp16", [H_MZERO], [H_ONE], 0x80000000, 0, "rz", 0),
    ("Inf * 1 + 1", "fp16", [H_INF, H_ONE], [H_ONE, H_ONE], 0, 0, "rz", F_INF),
    ("-Inf * 1", "fp16", [H_MINF], [H_ONE], F_ONE, 0, "rz", F_MINF),
    ("Inf * 0 = NaN", "fp16", [H_INF], [H_ZERO], 0, 0, "rz", F_NAN),
    ("Inf - Inf = NaN", "fp16", [H_INF, H_MINF], [H_ONE, H_ONE], 0, 0, "rz", F_NAN),
    ("NaN * 1", "fp16", [H_NAN], [H_ONE], 0, 0, "rz", F_NAN),
    ("NaN accumulator, canonical out", "fp16", [H_ONE], [H_ONE], 0xFFC00001, 0, "rz", F_NAN),
    ("Inf accumulator + finite", "fp16", [H_MAX], [H_MAX], F_INF, 0, "rz", F_INF),
    ("Inf accumulator - Inf product", "fp16", [H_MINF], [H_ONE], F_INF, 0, "rz", F_NAN),
    ("bf16 overflow to +Inf", "bf16", [B_MAX], [B_ONE], F_MAX, 0, "rz", F_INF),
    ("bf16 overflow to -Inf", "bf16", [B_MAX | 0x8000], [B_ONE], F_MAX | (1 << 31), 0, "rz",
     F_MINF),
    ("bf16 2^-126 * 0.5 = fp32 subnormal", "bf16", [B_MIN_NORMAL], [B_HALF], 0, 0, "rz",
     0x00400000),
    ("bf16 1 * 1 + 1", "bf16", [B_ONE], [B_ONE], F_ONE, 0, "rz", F_TWO),
]


@pytest.mark.parametrize("name,dtype,a,b,c,guard,rounding,want", TABLE,
                         ids=[row[0] for row in TABLE])
def test_table(name, dtype, a, b, c, guard, rounding, want):
    got = int(fp_block(a, b, c, dtype=dtype, guard=guard, rounding=rounding))
    assert got == want, f"{name}: got {got:#010x}, want {want:#010x}"
    assert int(slow_block(a, b, c, dtype, guard, rounding)) == want


# --- a slow scalar model from the definition (Fractions, Python ints) ----------------------------

def _fields(bits, exp_bits, frac_bits):
    bias = (1 << (exp_bits - 1)) - 1
    sign = bits >> (exp_bits + frac_bits)
    field = (bits >> frac_bits) & ((1 << exp_bits) - 1)
    frac = bits & ((1 << frac_bits) - 1)
    if field == (1 << exp_bits) - 1:
        return sign, None, "nan" if frac else "inf"
    value = Fraction(frac | ((field != 0) << frac_bits), 1 << frac_bits) * \
        Fraction(2) ** (max(field, 1) - bias)
    return sign, value, max(field, 1) - bias


def slow_block(a, b, c, dtype, guard, rounding):
    exp_bits, frac_bits = golden.fp.FP_FORMATS[dtype]
    terms, specials = [], []
    for x, y in zip(a, b):
        sx, vx, ex = _fields(x, exp_bits, frac_bits)
        sy, vy, ey = _fields(y, exp_bits, frac_bits)
        sign = sx ^ sy
        if "nan" in (ex, ey) or (ex == "inf" and vy == 0) or (ey == "inf" and vx == 0):
            specials.append("nan")
        elif "inf" in (ex, ey):
            specials.append(("inf", sign))
        elif vx and vy:
            terms.append((sign, vx * vy, ex + ey + 1))
    sc, vc, ec = _fields(c, 8, 23)
    if vc is None:
        specials.append("nan" if ec == "nan" else ("inf", sc))
    elif vc:
        terms.append((sc, vc, ec))
    if "nan" in specials or len(set(specials)) > 1:
        return 0x7FC00000
    if specials:
        return 0x7F800000 | (specials[0][1] << 31)
    if not terms:
        return 0
    emax = max(e for _, _, e in terms)
    unit = Fraction(2) ** (emax - 23 - guard)
    total = sum((-1) ** s * math.floor(v / unit) for s, v, _ in terms) * unit
    if total == 0:
        return 0
    sign, mag = int(total < 0), abs(total)
    e = math.floor(math.log2(mag))
    while Fraction(2) ** e > mag:
        e -= 1
    while Fraction(2) ** (e + 1) <= mag:
        e += 1
    q = max(e - 23, -149)
    scaled = mag / Fraction(2) ** q
    m = math.floor(scaled)
    if rounding == "rne" and (scaled - m > Fraction(1, 2) or
                              (scaled - m == Fraction(1, 2) and m % 2)):
        m += 1
    if m == 1 << 24:
        m, q = m >> 1, q + 1
    if m < 1 << 23:
        return (sign << 31) | m
    if q + 150 >= 255:
        return 0x7F800000 | (sign << 31)
    return (sign << 31) | ((q + 150) << 23) | (m - (1 << 23))


def random_patterns(rng, shape, dtype, *, specials=0.02, subnormals=0.05):
    """Random bit patterns: mostly normal values of a few binades, some subnormals, zeros,
    infinities and NaNs."""
    exp_bits, frac_bits = golden.fp.FP_FORMATS[dtype]
    bias = (1 << (exp_bits - 1)) - 1
    field = rng.integers(bias - 6, bias + 6, size=shape)
    sub = rng.random(shape) < subnormals
    field = np.where(sub, 0, field)
    bits = (rng.integers(0, 2, size=shape) << (exp_bits + frac_bits)) | (field << frac_bits) \
        | rng.integers(0, 1 << frac_bits, size=shape)
    special = rng.random(shape) < specials
    pick = rng.choice(np.array([0, 0x8000, (1 << (exp_bits + frac_bits)) - (1 << frac_bits),
                                (2 << (exp_bits + frac_bits)) - (1 << frac_bits),
                                (1 << (exp_bits + frac_bits)) - (1 << frac_bits) + 1]),
                      size=shape)
    return np.where(special, pick, bits).astype(np.int64)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("guard,rounding", [(0, "rz"), (3, "rz"), (0, "rne"), (2, "rne")])
def test_random_against_slow_model(rng, dtype, guard, rounding):
    count, k = 400, 5
    a = random_patterns(rng, (count, k), dtype)
    b = random_patterns(rng, (count, k), dtype)
    c = np.where(rng.random(count) < 0.8,
                 fp32_bits(rng.standard_normal(count).astype(np.float32) * 4.0),
                 random_patterns(rng, (count,), "bf16") << 16)
    got = fp_block(a, b, c, dtype=dtype, guard=guard, rounding=rounding)
    want = np.array([slow_block(a[i].tolist(), b[i].tolist(), int(c[i]), dtype, guard,
                                rounding) for i in range(count)])
    np.testing.assert_array_equal(got, want, strict=True)


def test_cancellation_against_slow_model(rng):
    """Blocks whose terms nearly cancel: the normalization shifts far left."""
    count, k = 300, 4
    x = rng.standard_normal((count, k // 2)).astype(np.float32)
    a = to_bits(np.concatenate([x, -x * (1 + rng.integers(-3, 4, x.shape) * 2.0 ** -10)],
                               axis=1), "fp16").astype(np.int64)
    b = np.full((count, k), H_ONE, np.int64)
    got = fp_block(a, b, 0, dtype="fp16")
    want = [slow_block(a[i].tolist(), b[i].tolist(), 0, "fp16", 0, "rz") for i in range(count)]
    np.testing.assert_array_equal(got, np.array(want), strict=True)


def test_order_independent(rng):
    a = random_patterns(rng, (200, 8), "fp16", specials=0.0)
    b = random_patterns(rng, (200, 8), "fp16", specials=0.0)
    perm = rng.permutation(8)
    np.testing.assert_array_equal(fp_block(a, b, F_ONE), fp_block(a[:, perm], b[:, perm], F_ONE))


# --- error bound against float64 --------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("guard,rounding", [(0, "rz"), (3, "rz"), (0, "rne")])
def test_block_error_bound(rng, dtype, guard, rounding):
    """|block - exact| <= t * 2**(Emax-23-guard) + ulp; exact from math.fsum (correctly
    rounded float64 of exactly representable products)."""
    a = random_patterns(rng, (2000, 8), dtype, specials=0.0)
    b = random_patterns(rng, (2000, 8), dtype, specials=0.0)
    c = fp32_bits(rng.standard_normal(2000).astype(np.float32))
    got = fp32_from_bits(fp_block(a, b, c, dtype=dtype, guard=guard, rounding=rounding))
    av, bv = from_bits(a, dtype).astype(np.float64), from_bits(b, dtype).astype(np.float64)
    exact = np.array([math.fsum([*(av[i] * bv[i]), float(fp32_from_bits(c[i]))])
                      for i in range(len(c))])
    bound = block_error_bound(a, b, c, dtype=dtype, guard=guard, rounding=rounding)
    err = np.abs(got.astype(np.float64) - exact)
    assert (err <= bound).all(), f"worst ratio {np.max(err / bound)}"
    # The bound is not vacuous: some blocks come within a factor 4 of it.
    assert np.max(err / bound) > 0.25


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_gemm_against_numpy(rng, dtype):
    """A sparse GEMM of K=256 in blocks of 8 products: within
    nblocks * ((kept+1) * 2**(1-23-guard) * 4 + 2**-23) * (|A||B|) of float64 NumPy
    (docs/fp.md: 2**Emax <= 4 max|term| for normal operands, |acc| <= |A||B|)."""
    M, K, N = 16, 256, 8
    dense = from_bits(to_bits(rng.standard_normal((M, K)), dtype), dtype)
    pruned, _ = golden.prune(dense, 2, 4)
    values, meta = golden.compress(pruned, 2, 4)
    vbits = to_bits(values, dtype).astype(np.int64)
    B = from_bits(to_bits(rng.standard_normal((K, N)), dtype), dtype)
    bbits = to_bits(B, dtype).astype(np.int64)
    got = fp32_from_bits(fp_sparse_mma(vbits, meta, bbits, tile_k=16, dtype=dtype))
    ref = pruned.astype(np.float64) @ B.astype(np.float64)
    absref = np.abs(pruned.astype(np.float64)) @ np.abs(B.astype(np.float64))
    blocks, kept = K // 16, 8
    gamma = blocks * ((kept + 1) * 2.0 ** -22 * 4 + 2.0 ** -23)
    err = np.abs(got - ref)
    assert (err <= gamma * absref).all(), np.max(err / (gamma * absref))
    # The dense baseline's block is 8 consecutive K elements of the decompressed A.
    dbits = to_bits(pruned, dtype).astype(np.int64)
    got_dense = fp32_from_bits(fp_dense_mma(dbits, bbits, block_k=8, dtype=dtype))
    gamma_d = (K // 8) * (9 * 2.0 ** -22 * 4 + 2.0 ** -23)
    assert (np.abs(got_dense - ref) <= gamma_d * absref).all()


def test_sparse_equals_dense_of_kept_products(rng):
    """With no Inf or NaN a block of kept products equals the dense block of the decompressed
    tile (pruned zeros are zero terms and take no part)."""
    M, K, N = 8, 64, 4
    dense, _ = golden.prune(from_bits(to_bits(rng.standard_normal((M, K)), "fp16"), "fp16"),
                            2, 4)
    values, meta = golden.compress(dense, 2, 4)
    B = to_bits(rng.standard_normal((K, N)), "fp16").astype(np.int64)
    sparse = fp_sparse_mma(to_bits(values, "fp16").astype(np.int64), meta, B, tile_k=16)
    blocks = fp_dense_mma(to_bits(dense, "fp16").astype(np.int64), B, block_k=16)
    np.testing.assert_array_equal(sparse, blocks)


def test_long_accumulation_stagnates():
    """RZ with a 24-bit window: adding 1 (as 1*1) to 2**24 changes nothing, block after
    block (the products are truncated against the accumulator's exponent)."""
    ops = [TileOp(np.array([[H_ONE]]), np.zeros((1, 0, 0)), np.array([[H_ONE]]), i == 0,
                  i == 99) for i in range(100)]
    start = [TileOp(np.array([[0x6C00]]), np.zeros((1, 0, 0)), np.array([[0x6C00]]), True,
                    False)]                               # 4096 * 4096 = 2**24
    res = fp_core_model(start + [op._replace(first=False) for op in ops], sparse=False)
    assert int(res[0].d[0, 0]) == 0x4B800000              # 2**24
    res = fp_core_model(ops, sparse=False)
    assert int(res[0].d[0, 0]) == fp32_bits(np.float32(100.0))


def test_core_model_invalid_group_reads_zero():
    """An invalid group's B rows read +0: finite products vanish, Inf * 0 is NaN."""
    idx = np.array([[[1, 1]]])                            # invalid: not increasing
    b = np.full((4, 1), H_TWO)
    op = TileOp(np.array([[H_ONE, H_ONE]]), idx, b, True, True)
    res = fp_core_model([op])[0]
    assert res.error and int(res.d[0, 0]) == 0
    op = TileOp(np.array([[H_INF, H_ONE]]), idx, b, True, True)
    assert int(fp_core_model([op])[0].d[0, 0]) == F_NAN
    good = TileOp(np.array([[H_ONE, H_HALF]]), np.array([[[0, 3]]]), np.array(
        [[H_TWO], [H_ZERO], [H_ZERO], [H_TWO]]), True, True)
    res = fp_core_model([good])[0]
    assert not res.error and int(res.d[0, 0]) == fp32_bits(np.float32(3.0))


# --- conversions and bad input ----------------------------------------------------------------

def test_bf16_rounding_against_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(10000).astype(np.float32)
    want = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(to_bits(x, "bf16"), want)
    np.testing.assert_array_equal(from_bits(want, "bf16"),
                                  torch.from_numpy(want.view(np.int16)).view(torch.bfloat16)
                                  .float().numpy())


def test_bad_parameters():
    with pytest.raises(ParameterError, match="dtype must be one of 'fp16', 'bf16', not 'fp8'"):
        fp_block([0], [0], 0, dtype="fp8")
    with pytest.raises(ParameterError, match="guard must be at most 16, not 17"):
        fp_block([0], [0], 0, guard=17)
    with pytest.raises(ParameterError, match="rounding must be 'rz' or 'rne', not 'rn'"):
        fp_block([0], [0], 0, rounding="rn")
    with pytest.raises(DTypeError, match="a_bits holds 65536 at"):
        fp_block([65536], [0], 0)
    with pytest.raises(DTypeError, match="b_bits must hold integer bit patterns"):
        fp_block([0], [0.5], 0)
    with pytest.raises(ShapeError, match="not a multiple of block_k=8"):
        fp_dense_mma(np.zeros((2, 12), int), np.zeros((12, 2), int), block_k=8)
