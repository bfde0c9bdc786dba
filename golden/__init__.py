"""NumPy golden model of sparsecore: formats, pruning and bit-exact arithmetic.

Public API: :func:`prune`, :func:`prune_magnitude` (:mod:`golden.prune`); :func:`compress`,
:func:`decompress` and the index helpers (:mod:`golden.nm`); :func:`sparse_mma`,
:func:`dense_mma`, :func:`wrap` (:mod:`golden.mma`); fp16 / bf16 with fp32 accumulation,
:func:`fp_block`, :func:`fp_sparse_mma`, :func:`fp_dense_mma`, :func:`fp_core_model`
(:mod:`golden.fp`); the tile model :mod:`golden.tiles`;
the exceptions (:mod:`golden.errors`). Torch interop lives in :mod:`golden.torch_interop`
and imports torch only when called.
"""

from . import fp, tiles
from .errors import (
    DataError,
    DTypeError,
    GoldenError,
    MetadataError,
    NotNMSparseError,
    ParameterError,
    ShapeError,
    WidthError,
)
from .fp import fp_block, fp_core_model, fp_dense_mma, fp_sparse_mma
from .mma import dense_mma, sparse_mma, wrap
from .prune import prune, prune_magnitude
from .nm import (
    compress,
    decompress,
    indices_to_metadata,
    invalid_groups,
    is_nm_sparse,
    metadata_shape,
    metadata_to_indices,
)

__all__ = [
    "prune",
    "prune_magnitude",
    "compress",
    "decompress",
    "is_nm_sparse",
    "metadata_shape",
    "metadata_to_indices",
    "indices_to_metadata",
    "invalid_groups",
    "sparse_mma",
    "dense_mma",
    "wrap",
    "tiles",
    "fp",
    "fp_block",
    "fp_sparse_mma",
    "fp_dense_mma",
    "fp_core_model",
    "GoldenError",
    "ParameterError",
    "ShapeError",
    "DTypeError",
    "DataError",
    "WidthError",
    "NotNMSparseError",
    "MetadataError",
]
