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

from .errors import DataError

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


# --- the tile-wise job: kept K blocks per group of output rows --------------------------------
#
# What the engine runs (docs/tilewise.md): A (M × K) is cut into *groups* of ``group``
# consecutive rows (the last group may be shorter) and K into *blocks* of ``block``
# consecutive columns (the last block may be shorter). Each group keeps a sorted list of K
# block indices; D rows of the group sum only over their kept blocks. A's values in pruned
# blocks are never read.

class KeptListError(DataError):
    """A kept-block list is malformed; the message names the group and the entry.

    Attributes ``group`` and ``entry`` (index inside the group's list, or ``None`` when the
    list as a whole is at fault) and ``kind`` (``"range"``, ``"order"``, ``"duplicate"``,
    ``"type"``, ``"empty"``, ``"count"``).
    """

    def __init__(self, message, *, group=None, entry=None, kind):
        super().__init__(message)
        self.group = group
        self.entry = entry
        self.kind = kind


__all__ += ["KeptListError", "check_kept_lists", "kept_lists_from_mask", "kept_block_mask",
            "tilewise_gemm", "tw_block_mask", "tvw_block_mask", "encode_kept_table",
            "decode_kept_table"]


def _check_positive(value, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def check_kept_lists(lists, *, groups, blocks, allow_empty=True):
    """Validate kept-block lists; returns them as a list of int64 arrays.

    Parameters
    ----------
    lists : sequence of sequences of int
        One list per group: the K block indices the group keeps.
    groups : int
        Number of groups the lists must cover.
    blocks : int
        Number of K blocks: every entry lies in ``0 … blocks-1``.
    allow_empty : bool
        Whether a group may keep no block (the engine's table cannot encode it).

    Raises
    ------
    KeptListError
        Wrong number of lists, a non-integer entry, an entry out of range, an entry not
        greater than the one before (``"duplicate"`` when equal, ``"order"`` when smaller),
        or an empty list with ``allow_empty=False``. The message names group and entry.
    """
    groups = _check_positive(groups, "groups")
    blocks = _check_positive(blocks, "blocks")
    lists = list(lists)
    if len(lists) != groups:
        raise KeptListError(f"expected {groups} kept lists (one per group), not {len(lists)}",
                            kind="count")
    out = []
    for g, entries in enumerate(lists):
        arr = np.asarray(entries)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise KeptListError(f"group {g}: kept list must be a 1-D list of integers, "
                                f"not {entries!r}", group=g, kind="type")
        arr = arr.astype(np.int64)
        if arr.size == 0 and not allow_empty:
            raise KeptListError(f"group {g}: kept list is empty", group=g, kind="empty")
        for e, value in enumerate(arr):
            if not 0 <= value < blocks:
                raise KeptListError(f"group {g}, entry {e}: block {value} out of range "
                                    f"0..{blocks - 1}", group=g, entry=e, kind="range")
            if e and value <= arr[e - 1]:
                kind = "duplicate" if value == arr[e - 1] else "order"
                what = "repeats" if kind == "duplicate" else "is below"
                raise KeptListError(f"group {g}, entry {e}: block {value} {what} the entry "
                                    f"before ({arr[e - 1]}); lists must be strictly "
                                    f"increasing", group=g, entry=e, kind=kind)
        out.append(arr)
    return out


def kept_block_mask(lists, shape, *, group, block):
    """Boolean (M, K) mask that is True on the kept blocks of each group."""
    M, K = shape
    group = _check_positive(group, "group")
    block = _check_positive(block, "block")
    lists = check_kept_lists(lists, groups=-(-M // group), blocks=-(-K // block))
    mask = np.zeros((M, K), dtype=bool)
    for g, kept in enumerate(lists):
        for b in kept:
            mask[g * group:(g + 1) * group, b * block:(b + 1) * block] = True
    return mask


def kept_lists_from_mask(mask, *, group, block):
    """Kept blocks of a mask: block ``b`` is kept by group ``g`` if any element is True.

    Returns a list (one per group) of sorted int64 arrays.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, not shape {mask.shape}")
    group = _check_positive(group, "group")
    block = _check_positive(block, "block")
    M, K = mask.shape
    G, Bk = -(-M // group), -(-K // block)
    padded = np.zeros((G * group, Bk * block), dtype=bool)
    padded[:M, :K] = mask
    any_kept = padded.reshape(G, group, Bk, block).any(axis=(1, 3))
    return [np.flatnonzero(row).astype(np.int64) for row in any_kept]


def tilewise_gemm(A, B, lists, *, group, block, acc_width=32):
    """Exact result of the tile-wise job: ``D[rows of g] = Σ_{b in lists[g]} A[g, b] · B[b]``.

    Parameters
    ----------
    A : array_like of int, shape (M, K)
        Weights; values outside the kept blocks are ignored (never read).
    B : array_like of int, shape (K, N)
    lists : sequence of sequences of int
        Kept K blocks per group of ``group`` rows (validated by :func:`check_kept_lists`).
    group, block : int
        Rows per group, K columns per block.
    acc_width : int
        D wraps modulo ``2**acc_width`` (two's complement), like the accumulators.

    Returns
    -------
    numpy.ndarray of int64, shape (M, N)
    """
    A = np.asarray(A)
    B = np.asarray(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"A (M, K) and B (K, N) must agree, not {A.shape} and {B.shape}")
    if A.dtype.kind not in "iu" or B.dtype.kind not in "iu":
        raise TypeError(f"A and B must hold integers, not {A.dtype} and {B.dtype}")
    group = _check_positive(group, "group")
    block = _check_positive(block, "block")
    M, K = A.shape
    lists = check_kept_lists(lists, groups=-(-M // group), blocks=-(-K // block))
    A = A.astype(np.int64)
    B = B.astype(np.int64)
    D = np.zeros((M, B.shape[1]), dtype=np.int64)
    for g, kept in enumerate(lists):
        if kept.size == 0:
            continue
        cols = (kept[:, None] * block + np.arange(block)).ravel()
        cols = cols[cols < K]
        rows = slice(g * group, (g + 1) * group)
        # Exact in int64 for 8/16-bit operands and K < 2**31: products < 2**31 each.
        D[rows] = A[rows][:, cols] @ B[cols]
    from .mma import wrap
    return wrap(D, acc_width)


def tw_block_mask(W, sparsity, *, group, block, balanced=False):
    """Block-granular TW mask: per group of ``group`` rows keep whole K blocks of ``block``.

    Blocks are scored by mean ``|W|`` and pruned globally, lowest first (ties to the lower
    flat index ``g*blocks + b``), ``round(sparsity * groups * blocks)`` of them, so sparsity
    is exact when the groups and blocks are all full-size. With ``balanced`` the ranking is
    per group instead: every group prunes its ``round(sparsity * blocks)`` lowest blocks
    (ties to the lower ``b``), so all groups keep the same number. This is what the engine
    skips natively (``block = tile_k``, ``group`` a multiple of ``tile_m``).
    """
    W = _check_matrix(W)
    sparsity = _check_sparsity(sparsity)
    group = _check_positive(group, "group")
    block = _check_positive(block, "block")
    M, K = W.shape
    G, Bk = -(-M // group), -(-K // block)
    absw = np.zeros((G * group, Bk * block))
    absw[:M, :K] = np.abs(W.astype(np.float64))
    counts = np.zeros((G * group, Bk * block))
    counts[:M, :K] = 1
    scores = (absw.reshape(G, group, Bk, block).sum(axis=(1, 3))
              / counts.reshape(G, group, Bk, block).sum(axis=(1, 3)))
    if balanced:
        order = np.argsort(scores, axis=1, kind="stable")
        keep = np.ones((G, Bk), dtype=bool)
        np.put_along_axis(keep, order[:, :int(round(sparsity * Bk))], False, axis=1)
    else:
        order = np.argsort(scores.ravel(), kind="stable")
        keep = np.ones(G * Bk, dtype=bool)
        keep[order[:int(round(sparsity * G * Bk))]] = False
        keep = keep.reshape(G, Bk)
    full = np.repeat(np.repeat(keep, group, axis=0), block, axis=1)
    return full[:M, :K]


def tvw_block_mask(W, tw_sparsity, *, group, block, n=2, m=4, balanced=False):
    """Block TW mask (:func:`tw_block_mask`) with N:M inside the kept blocks (TVW).

    With ``block`` a multiple of ``m`` the N:M groups of the compacted tile are the
    aligned groups of ``W`` itself, so the result is N:M sparse in ``W``'s own coordinates
    and compresses with :func:`golden.compress`.
    """
    W = _check_matrix(W)
    mask = tw_block_mask(W, tw_sparsity, group=group, block=block, balanced=balanced)
    return mask & nm_mask_rows(np.where(mask, W, 0), n=n, m=m)


def encode_kept_table(lists, *, blocks):
    """The engine's kept-block table (docs/tilewise.md §2): one entry per kept block.

    Entries of group 0, then group 1, ...; entry = ``(block, last)``, ``last`` = 1 on the
    final entry of its group. Every group needs at least one entry.

    Returns
    -------
    block, last : numpy.ndarray of int64, shape (entries,)

    Raises
    ------
    KeptListError
        As :func:`check_kept_lists` with ``allow_empty=False``.
    """
    lists = list(lists)
    lists = check_kept_lists(lists, groups=max(1, len(lists)), blocks=blocks,
                             allow_empty=False)
    block = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    last = np.concatenate([np.arange(len(k)) == len(k) - 1 for k in lists]).astype(np.int64)
    return block.astype(np.int64), last


def decode_kept_table(block, last, *, groups):
    """Inverse of :func:`encode_kept_table` for ``groups`` groups (no validation of order)."""
    lists, cur = [], []
    for b, flag in zip(np.asarray(block).tolist(), np.asarray(last).tolist()):
        cur.append(int(b))
        if flag:
            lists.append(np.array(cur, dtype=np.int64))
            cur = []
            if len(lists) == groups:
                break
    if len(lists) != groups:
        raise KeptListError(f"table ends after {len(lists)} of {groups} groups",
                            group=len(lists), kind="count")
    return lists
