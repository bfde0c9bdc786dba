"""Tile-wise (TW) and tile-vector-wise (TVW) pruning masks.

Tile-wise sparsity (Guo et al., "Accelerating Sparse DNN Models without Hardware-Support
via Tile-Wise Sparsity", SC20) prunes a weight matrix so that each *tile* of output
channels is a smaller dense GEMM: inside a tile every output channel keeps the same subset
of the reduction dimension K. TVW (Guo et al., arXiv 2402.10876) adds an N:M vector-wise
pattern on top: after the TW rows are gathered, each compacted tile is additionally N:M
sparse along its compacted K, so it runs on the sparse unit.

Orientation is the core's (``docs/architecture.md`` §1): ``W`` is the A operand, shape
``(M, K)`` = (output channels, input features); sparsity runs along K. A *tile* is
``tile`` consecutive rows of ``W`` (the last one may be shorter); a *segment* is one
column ``k`` of one tile, ``W[t*tile:(t+1)*tile, k]``. (Guo et al. write the GEMM the
other way round, K × N weights with tiles of output *columns*; it is the same pattern.)

Decisions recorded here:

* **Score** of a segment: mean absolute value of its elements (the L1 norm divided by the
  tile's height, so a short last tile competes fairly).
* **Ranking** is global over the whole layer: all segments of all tiles are sorted by
  score, ascending, ties broken by flat index ``t*K + k`` (lower pruned first), and the
  lowest segments are pruned until at least ``round(sparsity * M * K)`` elements are
  pruned. Sparsity is therefore met exactly when every tile has the same height.
* **TVW's N:M step** works on the compacted tile: its kept K positions, in increasing
  order, are cut into groups of ``m`` (a short last group is padded with virtual zeros);
  each row keeps the ``n`` largest magnitudes of each group, ties going to the lower
  position. Masks of pruned TW segments stay False.

All functions are pure NumPy and return boolean masks (True = kept) of ``W``'s shape.
"""

import numpy as np

__all__ = ["tw_scores", "tw_mask", "tvw_mask", "tile_kept_k", "nm_mask_rows"]


def _check_matrix(W):
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D (M, K) matrix, not shape {W.shape}")
    if not (np.issubdtype(W.dtype, np.floating) or np.issubdtype(W.dtype, np.integer)):
        raise ValueError(f"W must be numeric, not dtype {W.dtype}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    return W


def _check_tile(tile):
    if not isinstance(tile, (int, np.integer)) or isinstance(tile, bool) or tile < 1:
        raise ValueError(f"tile must be a positive integer, not {tile!r}")
    return int(tile)


def _check_sparsity(sparsity):
    if not isinstance(sparsity, (int, float, np.floating)) or isinstance(sparsity, bool) \
            or not 0.0 <= float(sparsity) < 1.0:
        raise ValueError(f"sparsity must be a number in [0, 1), not {sparsity!r}")
    return float(sparsity)


def tw_scores(W, *, tile):
    """Segment scores of ``W``.

    Parameters
    ----------
    W : array_like, shape (M, K)
    tile : int
        Rows per tile.

    Returns
    -------
    numpy.ndarray, float64, shape (ceil(M / tile), K)
        Mean ``|W|`` of each segment.
    """
    W = _check_matrix(W)
    tile = _check_tile(tile)
    M, K = W.shape
    T = -(-M // tile)
    absw = np.abs(W.astype(np.float64))
    padded = np.zeros((T * tile, K))
    padded[:M] = absw
    heights = np.minimum(tile, M - np.arange(T) * tile)
    return padded.reshape(T, tile, K).sum(axis=1) / heights[:, None]


def tw_mask(W, sparsity, *, tile=16):
    """Tile-wise mask: per tile of ``tile`` output rows, keep a subset of K columns.

    Parameters
    ----------
    W : array_like, shape (M, K)
    sparsity : float in [0, 1)
        Fraction of elements to prune.
    tile : int
        Rows per tile (``G`` in Guo et al.); a multiple of the core's ``tile_m`` keeps
        each tile a whole number of core tile rows.

    Returns
    -------
    numpy.ndarray, bool, shape (M, K)
        True where the element is kept. All rows of a tile share one K pattern.

    Raises
    ------
    ValueError
        If ``W`` is not a finite 2-D matrix, or ``sparsity`` / ``tile`` is out of range.
    """
    W = _check_matrix(W)
    sparsity = _check_sparsity(sparsity)
    tile = _check_tile(tile)
    M, K = W.shape
    scores = tw_scores(W, tile=tile)
    T = scores.shape[0]
    heights = np.minimum(tile, M - np.arange(T) * tile)
    target = int(round(sparsity * M * K))
    order = np.argsort(scores.ravel(), kind="stable")
    seg_elems = np.repeat(heights, K)[order]
    # The fewest lowest-ranked segments whose elements reach the target.
    pruned_count = int(np.searchsorted(np.cumsum(seg_elems), target)) + 1 if target else 0
    keep_seg = np.ones(T * K, dtype=bool)
    keep_seg[order[:pruned_count]] = False
    keep_seg = keep_seg.reshape(T, K)
    return np.repeat(keep_seg, tile, axis=0)[:M]


def nm_mask_rows(A, *, n=2, m=4):
    """N:M mask of the rows of ``A`` along its last axis (K padded to ``m`` with zeros).

    Each group of ``m`` consecutive elements of a row keeps its ``n`` largest magnitudes;
    ties go to the lower position. Returns a boolean mask of ``A``'s shape.
    """
    A = np.abs(np.asarray(A, dtype=np.float64))
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D, not shape {A.shape}")
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= n <= m):
        raise ValueError(f"n:m must be integers with 1 <= n <= m, not {n}:{m}")
    R, K = A.shape
    Kp = -(-K // m) * m
    padded = np.zeros((R, Kp))
    padded[:, :K] = A
    groups = padded.reshape(R, Kp // m, m)
    # Stable sort of -|a|: larger first, equal values in increasing position.
    rank = np.argsort(-groups, axis=-1, kind="stable")
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, rank[..., :n], True, axis=-1)
    return keep.reshape(R, Kp)[:, :K]


def tvw_mask(W, tw_sparsity, *, tile=16, n=2, m=4):
    """Tile-vector-wise mask: :func:`tw_mask` then N:M along each compacted tile.

    The total sparsity is about ``1 - (1 - tw_sparsity) * n / m`` (75 % for TW 50 % with
    2:4).

    Returns
    -------
    numpy.ndarray, bool, shape (M, K)
    """
    W = _check_matrix(W)
    tile = _check_tile(tile)
    mask = tw_mask(W, tw_sparsity, tile=tile)
    M, _ = W.shape
    out = np.zeros_like(mask)
    for t0 in range(0, M, tile):
        rows = slice(t0, min(t0 + tile, M))
        kept = np.flatnonzero(mask[t0])
        if kept.size == 0:
            continue
        sub = nm_mask_rows(W[rows][:, kept], n=n, m=m)
        out[rows, kept] = sub
    return out


def tile_kept_k(mask, *, tile=16):
    """Kept K columns of each tile of a TW (or TVW) mask: an int array, one per tile.

    A column counts as kept in a tile when any row of the tile keeps it; that is the K of
    the tile's compacted GEMM.
    """
    mask = np.asarray(mask, dtype=bool)
    tile = _check_tile(tile)
    M, _ = mask.shape
    return np.array([int(mask[t0:t0 + tile].any(axis=0).sum()) for t0 in range(0, M, tile)],
                    dtype=np.int64)
