"""fp16 / bf16 through torch's CUTLASS semi-structured layout, both ways, and the golden fp
GEMM against torch's float32 matmul within docs/fp.md's bound. Skipped without torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install torch==2.13.0)")
conv = pytest.importorskip("torch.sparse._semi_structured_conversions",
                           reason="this torch has no CUTLASS semi-structured conversions")

import golden  # noqa: E402
from golden.errors import DTypeError  # noqa: E402
from golden.fp import fp32_from_bits, fp_sparse_mma, from_bits, to_bits  # noqa: E402
from golden.torch_interop import from_torch, to_torch  # noqa: E402

TORCH = {"fp16": torch.float16, "bf16": torch.bfloat16}


def pruned_bits(rng, M, K, dtype):
    dense = from_bits(to_bits(rng.standard_normal((M, K)), dtype), dtype)
    pruned, _ = golden.prune(dense, 2, 4)
    return to_bits(pruned, dtype).astype(np.int64)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_bits_to_torch_and_back(rng, dtype):
    A = pruned_bits(rng, 64, 96, dtype)
    values, meta = golden.compress(A)
    sparse, meta_t = to_torch(values, meta, dtype=dtype)
    assert sparse.dtype == TORCH[dtype]
    # torch's own reconstruction gives the dense operand, bit for bit.
    dense = conv.sparse_semi_structured_to_dense_cutlass(sparse, meta_t)
    np.testing.assert_array_equal(dense.view(torch.int16).numpy().view(np.uint16),
                                  A.astype(np.uint16))
    back, meta_back = from_torch(sparse, meta_t, bits=True)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, values.astype(np.uint16))
    np.testing.assert_array_equal(meta_back, meta)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_torch_compression_to_golden(rng, dtype):
    A = pruned_bits(rng, 32, 64, dtype)
    dense = torch.from_numpy(A.astype(np.uint16).view(np.int16)).view(TORCH[dtype])
    sparse, meta_t = conv.sparse_semi_structured_from_dense_cutlass(dense)
    values, meta = from_torch(sparse, meta_t, bits=True)
    np.testing.assert_array_equal(golden.decompress(values.astype(np.int64), meta), A)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_gemm_against_torch_fp32(rng, dtype):
    """The sparse core's arithmetic (blocks of 8 kept products) vs torch's float32 matmul of
    the same operands: within nblocks * (9 * 2**-22 * 4 + 2**-23) * (|A| @ |B|) plus torch's
    own float32 rounding (K * 2**-24 * |A||B|)."""
    M, K, N = 32, 256, 16
    A = pruned_bits(rng, M, K, dtype)
    values, meta = golden.compress(A)
    sparse, meta_t = to_torch(values, meta, dtype=dtype)
    vbits, mbits = from_torch(sparse, meta_t, bits=True)
    B = to_bits(rng.standard_normal((K, N)), dtype).astype(np.int64)
    got = fp32_from_bits(fp_sparse_mma(vbits.astype(np.int64), mbits, B, tile_k=16,
                                       dtype=dtype)).astype(np.float64)
    At = conv.sparse_semi_structured_to_dense_cutlass(sparse, meta_t).float()
    Bt = torch.from_numpy(B.astype(np.uint16).view(np.int16)).view(TORCH[dtype]).float()
    ref = (At @ Bt).double().numpy()
    absref = (At.abs().double() @ Bt.abs().double()).numpy()
    gamma = (K // 16) * (9 * 2.0 ** -22 * 4 + 2.0 ** -23) + K * 2.0 ** -24
    assert (np.abs(got - ref) <= gamma * absref).all()


def test_bits_wrong_dtype():
    with pytest.raises(DTypeError, match="dtype must be None, 'fp16' or 'bf16', not 'fp8'"):
        to_torch(np.zeros((32, 16), np.int64), np.zeros((32, 2), np.uint16), dtype="fp8")
    with pytest.raises(DTypeError, match="values must hold 16-bit patterns"):
        to_torch(np.full((32, 16), 70000), np.zeros((32, 2), np.uint16), dtype="fp16")
