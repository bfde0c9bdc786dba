"""golden.tilewise: TW / TVW masks against brute-force enumeration."""

import fractions
import itertools

import numpy as np
import pytest

from golden import tilewise


def segments_of(W, tile):
    M, K = W.shape
    segments = []
    for t0 in range(0, M, tile):
        rows = list(range(t0, min(t0 + tile, M)))
        for k in range(K):
            segments.append((rows, k, sum(abs(W[r, k]) for r in rows) / len(rows)))
    return segments


def mask_of(W, segments, pruned):
    mask = np.ones(W.shape, dtype=bool)
    for i in pruned:
        rows, k, _ = segments[i]
        mask[rows, k] = False
    return mask


def brute_tw(W, sparsity, tile):
    """The unique subset of segments that a global magnitude ranking prunes.

    Enumerates every subset and keeps those where (a) every pruned segment scores below
    every kept one, (b) at least round(sparsity * size) elements are pruned and (c) keeping
    the best pruned segment would fall short of that. Scores must be distinct.
    """
    M, K = W.shape
    segments = segments_of(W, tile)
    target = int(round(sparsity * M * K))
    found = []
    for count in range(len(segments) + 1):
        for pruned in itertools.combinations(range(len(segments)), count):
            kept = set(range(len(segments))) - set(pruned)
            elems = sum(len(segments[i][0]) for i in pruned)
            if pruned and kept and max(segments[i][2] for i in pruned) \
                    > min(segments[i][2] for i in kept):
                continue
            if elems < target:
                continue
            if pruned and elems - len(segments[max(pruned, key=lambda i: segments[i][2])][0]) \
                    >= target:
                continue
            found.append(pruned)
    assert len(found) == 1, found
    return mask_of(W, segments, found[0])


def brute_tw_min_loss(W, sparsity, tile):
    """Equal tiles: the fewest segments reaching the target with the least lost score."""
    M, K = W.shape
    segments = segments_of(W, tile)
    count = -(-int(round(sparsity * M * K)) // tile)
    best = min(itertools.combinations(range(len(segments)), count),
               key=lambda pruned: sum(segments[i][2] for i in pruned))
    return mask_of(W, segments, best)


def brute_nm_row(values, n, m):
    """Best n-of-m choice of each group by enumeration (distinct magnitudes)."""
    keep = np.zeros(len(values), dtype=bool)
    for g0 in range(0, len(values), m):
        idx = list(range(g0, min(g0 + m, len(values))))
        # Exact sums: magnitudes span 2**0 .. 2**(M*K), beyond float64's 53 bits.
        best = max(itertools.combinations(idx, min(n, len(idx))),
                   key=lambda c: sum(fractions.Fraction(abs(values[i])) for i in c))
        keep[list(best)] = True
    return keep


def distinct_matrix(rng, M, K):
    """Powers of two as magnitudes: every sum of a subset differs, so no score ties."""
    mags = 2.0 ** rng.permutation(M * K).reshape(M, K)
    return mags * rng.choice([-1.0, 1.0], size=(M, K)) / 7.0


@pytest.mark.parametrize("M,K,tile,sparsity", [
    (4, 3, 2, 0.5), (4, 4, 4, 0.25), (5, 3, 2, 0.5), (6, 2, 4, 0.6), (3, 4, 1, 0.5),
    (4, 4, 2, 0.0),
])
def test_tw_mask_matches_brute_force(rng, M, K, tile, sparsity):
    for _ in range(3):
        W = distinct_matrix(rng, M, K)
        got = tilewise.tw_mask(W, sparsity, tile=tile)
        want = brute_tw(W, sparsity, tile)
        np.testing.assert_array_equal(got, want, strict=True)
        if M % tile == 0:
            want = brute_tw_min_loss(W, sparsity, tile)
            np.testing.assert_array_equal(got, want, strict=True)


def test_tw_mask_shape_and_sparsity(rng):
    W = rng.standard_normal((64, 48))
    for sparsity in (0.1, 0.5, 0.9):
        mask = tilewise.tw_mask(W, sparsity, tile=16)
        assert mask.shape == W.shape and mask.dtype == bool
        target = round(sparsity * W.size)        # whole segments of 16: rounded up
        assert (~mask).sum() == -(-target // 16) * 16
        for t0 in range(0, 64, 16):                         # one K pattern per tile
            assert (mask[t0:t0 + 16] == mask[t0]).all()


def test_tw_mask_ties_prune_lower_flat_index_first():
    W = np.ones((4, 4))
    mask = tilewise.tw_mask(W, 0.25, tile=2)
    expected = np.ones((4, 4), dtype=bool)
    expected[0:2, 0:2] = False                   # segments (t=0, k=0) and (t=0, k=1)
    np.testing.assert_array_equal(mask, expected, strict=True)


def test_tvw_mask_matches_brute_force(rng):
    for _ in range(5):
        W = distinct_matrix(rng, 8, 12)
        mask = tilewise.tvw_mask(W, 0.5, tile=4)
        tw = tilewise.tw_mask(W, 0.5, tile=4)
        assert not (mask & ~tw).any()            # never keeps what TW pruned
        for t0 in range(0, 8, 4):
            kept = np.flatnonzero(tw[t0])
            for r in range(t0, t0 + 4):
                want = brute_nm_row(W[r, kept], 2, 4)
                np.testing.assert_array_equal(mask[r, kept], want, strict=True)
        kept_k = tilewise.tile_kept_k(tw, tile=4)
        per_row = [sum(min(2, k - g) for g in range(0, k, 4)) for k in kept_k]
        assert mask.sum() == 4 * sum(per_row)    # 2 of every (padded) group of 4 kept


def test_nm_mask_rows_brute_force(rng):
    A = distinct_matrix(rng, 6, 10)              # 10 is not a multiple of 4: padded
    mask = tilewise.nm_mask_rows(A, n=2, m=4)
    for r in range(6):
        np.testing.assert_array_equal(mask[r], brute_nm_row(A[r], 2, 4), strict=True)


def test_tile_kept_k():
    mask = np.zeros((5, 4), dtype=bool)
    mask[0, 1] = mask[3, 2] = mask[3, 3] = mask[4, 0] = True
    np.testing.assert_array_equal(tilewise.tile_kept_k(mask, tile=2), [1, 2, 1], strict=True)


@pytest.mark.parametrize("args,message", [
    ((np.zeros(4), 0.5), "W must be a 2-D (M, K) matrix, not shape (4,)"),
    ((np.zeros((4, 4)), 1.0), "sparsity must be a number in [0, 1), not 1.0"),
    ((np.zeros((4, 4)), -0.1), "sparsity must be a number in [0, 1), not -0.1"),
    ((np.array([[np.nan]]), 0.5), "W must be finite"),
])
def test_tw_mask_wrong_args(args, message):
    with pytest.raises(ValueError) as info:
        tilewise.tw_mask(*args)
    assert str(info.value) == message


def test_tw_mask_wrong_tile():
    with pytest.raises(ValueError, match=r"^tile must be a positive integer, not 0$"):
        tilewise.tw_mask(np.zeros((4, 4)), 0.5, tile=0)
