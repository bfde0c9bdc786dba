"""Bad input: each case raises its typed error, and the message names the culprit."""

import numpy as np
import pytest

from golden import (
    DataError,
    DTypeError,
    GoldenError,
    MetadataError,
    NotNMSparseError,
    ParameterError,
    ShapeError,
    WidthError,
    compress,
    decompress,
    dense_mma,
    indices_to_metadata,
    metadata_to_indices,
    sparse_mma,
)
from golden.prune import prune, prune_magnitude

A24 = np.array([[1, 2, 0, 0, 0, 0, 3, 4]], np.int8)     # valid 2:4, metadata 0xE4


@pytest.mark.parametrize("cls, base", [
    (ShapeError, ValueError), (NotNMSparseError, ValueError), (MetadataError, ValueError),
    (WidthError, ValueError), (ParameterError, ValueError), (DataError, ValueError),
    (DTypeError, TypeError),
])
def test_hierarchy(cls, base):
    assert issubclass(cls, GoldenError) and issubclass(cls, base)


# ---- compress ------------------------------------------------------------------------------

def test_k_not_multiple_of_m():
    with pytest.raises(ShapeError, match=r"A has K=10 columns, not a multiple of m=4"):
        compress(np.zeros((2, 10)))


def test_too_many_nonzeros_names_row_and_group():
    A = np.zeros((4, 24), np.int8)
    A[3, 20:23] = 1                                    # row 3 group 5: three non-zeros
    with pytest.raises(NotNMSparseError,
                       match=r"^A row 3 group 5 has 3 non-zeros; 2:4 allows at most 2$"):
        compress(A)


def test_too_many_nonzeros_leading_dims():
    A = np.zeros((2, 3, 8), np.int8)
    A[1, 2, 4:8] = 7
    with pytest.raises(NotNMSparseError, match=r"^A\[1\] row 2 group 1 has 4 non-zeros; "):
        compress(A)


def test_too_many_nonzeros_1to2():
    with pytest.raises(NotNMSparseError, match=r"row 0 group 1 has 2 non-zeros; 1:2 allows"):
        compress(np.array([[1, 0, 1, 1]]), 1, 2)


def test_compress_needs_rows():
    with pytest.raises(ShapeError, match=r"A must have shape \(\.\.\., rows, cols\)"):
        compress(np.zeros(8))


# ---- decompress / metadata ----------------------------------------------------------------

@pytest.mark.parametrize("nibble, indices", [(0x1, r"\(1, 0\)"), (0x5, r"\(1, 1\)"),
                                              (0x0, r"\(0, 0\)"), (0x7, r"\(3, 1\)")])
def test_invalid_nibble_names_row_and_group(nibble, indices):
    values, metadata = compress(np.vstack([A24, A24, A24]))
    metadata[2, 0] = (metadata[2, 0] & 0xFF0F) | nibble << 4   # row 2 group 1
    with pytest.raises(MetadataError, match=rf"^metadata row 2 group 1 holds indices {indices}"):
        decompress(values, metadata)
    with pytest.raises(MetadataError, match=r"metadata row 2 group 1"):
        sparse_mma(values, metadata, np.zeros((8, 1), np.int8))


def test_every_invalid_nibble_rejected():
    values = np.ones((1, 2), np.int8)
    valid = {0x4, 0x8, 0xC, 0x9, 0xD, 0xE}
    for nibble in range(16):
        metadata = np.array([[nibble]], np.uint16)
        if nibble in valid:
            decompress(values, metadata)
        else:
            with pytest.raises(MetadataError, match=r"row 0 group 0"):
                decompress(values, metadata)


def test_index_out_of_range():
    # 2:6 has 3-bit indices: 6 and 7 do not exist.
    values = np.ones((1, 2), np.int8)
    metadata = indices_to_metadata(np.array([[[1, 6]]]), 6)
    with pytest.raises(MetadataError, match=r"row 0 group 0 holds indices \(1, 6\).*below 6"):
        decompress(values, metadata, 2, 6)


def test_nonzero_padding_bits():
    # K = 8 at 2:4: 8 index bits, bits 8-15 of the word are padding.
    values, metadata = compress(np.vstack([A24, A24]))
    metadata[1, 0] |= 0x0100
    with pytest.raises(MetadataError, match=r"^metadata row 1 word 0 has non-zero padding"):
        decompress(values, metadata)


def test_nonzero_padding_bits_4to8():
    values, metadata = compress(np.arange(1, 9)[None] * np.array([1, 0] * 4), 4, 8)
    metadata[0, 0] |= 0x8000                          # bits 12-15 of a lone 4:8 group
    with pytest.raises(MetadataError, match=r"row 0 word 0 has non-zero padding"):
        decompress(values, metadata, 4, 8)


def test_metadata_wrong_dtype():
    values, metadata = compress(A24)
    with pytest.raises(DTypeError, match=r"metadata must be uint16, not int16"):
        decompress(values, metadata.astype(np.int16))


def test_metadata_wrong_words():
    values, metadata = compress(A24)
    with pytest.raises(ShapeError, match=r"metadata must have shape \(\.\.\., M, 1\)"):
        decompress(values, np.zeros((1, 2), np.uint16))


def test_metadata_wrong_rows():
    values, metadata = compress(A24)
    with pytest.raises(ShapeError, match=r"metadata shape \(2, 1\) does not match values"):
        decompress(values, np.vstack([metadata, metadata]))


def test_values_not_multiple_of_n():
    with pytest.raises(ShapeError, match=r"values has 3 columns, not a multiple of n=2"):
        decompress(np.ones((1, 3)), np.zeros((1, 1), np.uint16))


def test_metadata_to_indices_k_not_multiple():
    with pytest.raises(ShapeError, match=r"K=6 is not a multiple of m=4"):
        metadata_to_indices(np.zeros((1, 1), np.uint16), 6)


def test_unencodable_index():
    with pytest.raises(DataError, match=r"idx row 0 group 1 holds indices \(0, 4\)"):
        indices_to_metadata(np.array([[[0, 1], [0, 4]]]), 4)


# ---- arithmetic ---------------------------------------------------------------------------

def test_b_rows_mismatch():
    values, metadata = compress(A24)
    with pytest.raises(ShapeError, match=r"B has 4 rows; .* needs K=8"):
        sparse_mma(values, metadata, np.zeros((4, 2), np.int8))
    with pytest.raises(ShapeError, match=r"B has 4 rows; A of shape \(1, 8\) needs K=8"):
        dense_mma(A24, np.zeros((4, 2), np.int8))


def test_c_shape_mismatch():
    values, metadata = compress(A24)
    with pytest.raises(ShapeError, match=r"C has shape \(2, 2\); the product has shape \(1, 2\)"):
        sparse_mma(values, metadata, np.zeros((8, 2), np.int8), np.zeros((2, 2), int))


def test_batch_dims_do_not_broadcast():
    with pytest.raises(ShapeError, match=r"leading dimensions of A \(2,\) and B \(3,\)"):
        dense_mma(np.zeros((2, 1, 4), int), np.zeros((3, 4, 1), int))


@pytest.mark.parametrize("argument", ["values", "B", "C"])
def test_floats_where_ints_required(argument):
    values, metadata = compress(A24)
    args = {"values": values, "B": np.zeros((8, 2), np.int8), "C": np.zeros((1, 2), int)}
    args[argument] = args[argument].astype(np.float32)
    with pytest.raises(DTypeError, match=rf"^{argument} must hold integers, not float32"):
        sparse_mma(args["values"], metadata, args["B"], args["C"])


def test_dense_floats():
    with pytest.raises(DTypeError, match=r"^A must hold integers, not float64"):
        dense_mma(np.zeros((2, 2)), np.zeros((2, 2), int))


def test_value_does_not_fit_a_width():
    values, metadata = compress(np.array([[0, 0, 0, 0, 0, 128, -3, 0]]))
    with pytest.raises(WidthError, match=r"^values row 0 column 2 is 128, which does not fit "
                                         r"signed a_width=8 \(-128 … 127\)"):
        sparse_mma(values, metadata, np.zeros((8, 1), int))


def test_b_does_not_fit_b_width():
    B = np.zeros((8, 3), np.int16)
    B[5, 2] = -9
    with pytest.raises(WidthError, match=r"^B row 5 column 2 is -9, which does not fit signed "
                                         r"b_width=4"):
        sparse_mma(*compress(A24 % 4), B, b_width=4, a_width=4)


def test_unsigned_does_not_fit():
    with pytest.raises(WidthError, match=r"^A row 0 column 1 is 200"):
        dense_mma(np.array([[1, 200]], np.uint8), np.ones((2, 1), np.int8))


def test_c_does_not_fit_acc_width():
    C = np.array([[0, 2**31]])
    with pytest.raises(WidthError, match=r"^C row 0 column 1 is 2147483648, .*acc_width=32"):
        dense_mma(np.ones((1, 2), int), np.ones((2, 2), int), C)


@pytest.mark.parametrize("name, value, message", [
    ("a_width", 0, r"a_width must be between 1 and 32, not 0"),
    ("a_width", 33, r"a_width must be between 1 and 32, not 33"),
    ("b_width", -8, r"b_width must be between 1 and 32, not -8"),
    ("acc_width", 65, r"acc_width must be between 1 and 64, not 65"),
    ("acc_width", 0, r"acc_width must be between 1 and 64, not 0"),
    ("acc_width", True, r"acc_width must be an integer, not True"),
    ("a_width", 8.0, r"a_width must be an integer, not 8.0"),
])
def test_bad_widths(name, value, message):
    with pytest.raises(WidthError, match=message):
        dense_mma(np.ones((1, 2), int), np.ones((2, 2), int), **{name: value})


def test_float_method_not_exact():
    A = np.full((1, 4), -2**31)
    with pytest.raises(ParameterError, match=r"method='float' is not exact here"):
        dense_mma(A, A.T, a_width=32, b_width=32, acc_width=64, method="float")


# ---- N:M parameters and pruning -----------------------------------------------------------

@pytest.mark.parametrize("n, m, message", [
    (4, 4, r"n must be less than m \(4:4 is not sparse\)"),
    (0, 4, r"n must be at least 1, not 0"),
    (1, 1, r"m must be at least 2, not 1"),
    (2.0, 4, r"n must be an integer, not 2.0"),
])
def test_bad_pattern(n, m, message):
    with pytest.raises(ParameterError, match=message):
        compress(A24, n, m)


def test_prune_k_not_multiple():
    with pytest.raises(ShapeError, match=r"W has K=6 columns, not a multiple of m=4"):
        prune(np.zeros((2, 6)))


def test_prune_nan():
    with pytest.raises(DataError, match=r"W holds NaN at index \(0, 2\)"):
        prune(np.array([[1.0, 2.0, np.nan, 0.0]]))


def test_prune_complex():
    with pytest.raises(DTypeError, match=r"W must hold integers or floats, not complex128"):
        prune(np.zeros(4, complex))


@pytest.mark.parametrize("kwargs, message", [
    ({}, r"give exactly one of quality= and sparsity="),
    ({"quality": 1, "sparsity": 0.5}, r"give exactly one of quality= and sparsity="),
    ({"sparsity": 1.5}, r"sparsity must be between 0 and 1.0, not 1.5"),
    ({"quality": -1}, r"quality must be finite and non-negative, not -1.0"),
])
def test_prune_magnitude_arguments(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        prune_magnitude(np.ones(4), **kwargs)


def test_nonzero_padding_bits_in_second_word():
    # 4:8, K = 16: 24 index bits; word 1 bits 8-15 (row bits 24-31) are padding.
    values, metadata = compress(np.arange(1, 17)[None] * np.array([1, 0] * 8), 4, 8)
    metadata[0, 1] |= 0x0100
    with pytest.raises(MetadataError, match=r"^metadata row 0 word 1 has non-zero padding "
                                            r"bits \(row bits 24 … 31 must be zero\)"):
        decompress(values, metadata, 4, 8)
