"""Interop with torch's CUTLASS semi-structured layout (golden/torch_interop.py).

Checked against torch's own converters: ``sparse_semi_structured_from_dense_cutlass`` and
``sparse_semi_structured_to_dense_cutlass``. Skipped where torch is not installed.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (optional: pip install "
                            "'.[torch]'); the interop tests need it")
conv = pytest.importorskip("torch.sparse._semi_structured_conversions",
                           reason="this torch has no CUTLASS semi-structured conversions")

from golden import ShapeError, compress, decompress  # noqa: E402
from golden.torch_interop import from_torch, to_torch  # noqa: E402

DTYPES = [(np.int8, torch.int8), (np.float16, torch.float16)]
# (M, K) sizes torch accepts per dtype, including several row blocks and column pairs.
SHAPES = {np.int8: [(16, 64), (48, 128)], np.float16: [(32, 32), (64, 96)]}


def random_24(rng, rows, cols, dtype, *, full):
    """2:4-sparse operand; ``full``: exactly 2 non-zeros per group (one encoding only)."""
    low = 1 if full else -100
    dense = rng.integers(low, 100, (rows, cols // 4, 4))
    if full:
        dense *= rng.choice([-1, 1], dense.shape)
    keep = np.argsort(rng.random(dense.shape), axis=-1) < (2 if full else
                                                           rng.integers(0, 3, (rows, cols // 4, 1)))
    A = np.where(keep, dense, 0).reshape(rows, cols)
    return A.astype(dtype) if dtype == np.int8 else (A / 8).astype(dtype)


def cases():
    for np_dtype, torch_dtype in DTYPES:
        for shape in SHAPES[np_dtype]:
            yield pytest.param(np_dtype, torch_dtype, shape,
                               id=f"{np.dtype(np_dtype).name}-{shape[0]}x{shape[1]}")


@pytest.mark.parametrize("np_dtype, torch_dtype, shape", list(cases()))
def test_to_torch_matches_torch_compression(rng, np_dtype, torch_dtype, shape):
    # Exactly 2 non-zeros per group: torch's encoding and ours must then agree bit for bit.
    A = random_24(rng, *shape, np_dtype, full=True)
    sparse, meta = to_torch(*compress(A))
    ref_sparse, ref_meta = conv.sparse_semi_structured_from_dense_cutlass(torch.from_numpy(A))
    assert sparse.dtype == torch_dtype and meta.dtype == ref_meta.dtype
    assert torch.equal(sparse, ref_sparse)
    assert torch.equal(meta, ref_meta)


@pytest.mark.parametrize("np_dtype, torch_dtype, shape", list(cases()))
def test_to_torch_then_torch_dense(rng, np_dtype, torch_dtype, shape):
    # Any pattern (under-filled groups too): torch's own reconstruction gives A back.
    A = random_24(rng, *shape, np_dtype, full=False)
    sparse, meta = to_torch(*compress(A))
    dense = conv.sparse_semi_structured_to_dense_cutlass(sparse, meta)
    np.testing.assert_array_equal(dense.numpy(), A, strict=True)


@pytest.mark.parametrize("np_dtype, torch_dtype, shape", list(cases()))
def test_from_torch_round_trip(rng, np_dtype, torch_dtype, shape):
    # Torch encodes under-filled groups its own way (all-zero -> 0xE); we must accept it.
    A = random_24(rng, *shape, np_dtype, full=False)
    sparse, meta = conv.sparse_semi_structured_from_dense_cutlass(torch.from_numpy(A))
    values, metadata = from_torch(sparse, meta)
    assert values.dtype == np_dtype and metadata.dtype == np.uint16
    np.testing.assert_array_equal(decompress(values, metadata), A, strict=True)
    # And back: our converter reproduces torch's tensors exactly.
    sparse2, meta2 = to_torch(values, metadata)
    assert torch.equal(sparse2, sparse) and torch.equal(meta2, meta)


def test_from_torch_all_zero_groups_use_torch_encoding():
    A = torch.zeros(32, 32, dtype=torch.float16)
    values, metadata = from_torch(*conv.sparse_semi_structured_from_dense_cutlass(A))
    assert (metadata == 0xEEEE).all()
    assert (compress(A.numpy())[1] == 0x4444).all()     # ours differs, both valid
    np.testing.assert_array_equal(decompress(values, metadata), A.numpy())


def test_bfloat16_from_torch(rng):
    A = torch.from_numpy(random_24(rng, 32, 32, np.float16, full=False)).to(torch.bfloat16)
    values, metadata = from_torch(*conv.sparse_semi_structured_from_dense_cutlass(A))
    assert values.dtype == np.float32
    np.testing.assert_array_equal(decompress(values, metadata), A.float().numpy())
    sparse, meta = to_torch(torch.from_numpy(values).to(torch.bfloat16), metadata)
    assert torch.equal(conv.sparse_semi_structured_to_dense_cutlass(sparse, meta), A)


def test_to_torch_rejects_sizes_torch_cannot_take(rng):
    A = random_24(rng, 16, 32, np.int8, full=False)
    with pytest.raises(ShapeError, match=r"K a multiple of 64 .* M=16, K=32"):
        to_torch(*compress(A))


def test_docs_example_torch_encoding():
    """docs/format.md: torch encodes the worked example row as 0xEE8D."""
    A = torch.zeros(32, 32, dtype=torch.float16)
    A[0, :16] = torch.tensor([0, 3, 0, -1, 2, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0])
    values, metadata = from_torch(*conv.sparse_semi_structured_from_dense_cutlass(A))
    assert metadata[0, 0] == 0xEE8D
    np.testing.assert_array_equal(values[0, :8], [3, -1, 2, 6, 0, 0, 7, 0])
