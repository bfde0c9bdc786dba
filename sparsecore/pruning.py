"""Pruning methods of the model flow, each returning one boolean mask per layer.

All methods prune every layer's weight matrix ``W`` (out, in) along K = ``in`` (biases
are never pruned), each layer to the same target:

* ``"2:4"``: ``golden.prune(W, 2, 4)``: in every group of 4 consecutive inputs, the 2
  largest magnitudes are kept (Mishra et al. 2021).
* ``"unstructured"``: ``golden.prune_magnitude(W, quality=q)``: Han et al. 2015,
  threshold = quality × std of the layer; each layer's ``q`` is the one that reaches the
  target ``s`` (the smallest kept magnitude over the std), see :func:`han_quality`.
  :func:`han_schedule` gives the iterative prune/retrain targets.
* ``"tw"``: ``golden.tilewise.tw_mask(W, s, tile=G)``: tile-wise (Guo et al. SC20).
* ``"tvw"``: ``golden.tilewise.tvw_mask(W, s, tile=G)``: TW at ``s``, then 2:4 along each
  compacted tile (total about ``1 - (1 - s) / 2``).
"""

import numpy as np

__all__ = ["METHODS", "DEFAULT_TW_TILE", "prune_masks", "han_schedule", "han_quality",
           "check_method"]

METHODS = ("2:4", "unstructured", "tw", "tvw")
#: Output rows per TW tile (``G``): four of the core's ``tile_m = 4`` rows.
DEFAULT_TW_TILE = 16


def check_method(method):
    if method not in METHODS:
        raise ValueError(f"pruning method must be one of {', '.join(METHODS)}, "
                         f"not {method!r}")
    return method


def prune_masks(layers, method, sparsity=None, *, tile=DEFAULT_TW_TILE, masks=None):
    """One boolean mask (True = kept) per layer of ``layers`` (``[(W, b), ...]``).

    ``sparsity`` is required for every method but ``"2:4"`` (whose sparsity is 50 %).
    ``masks``, if given, are previous masks: the new ones never revive a pruned weight.
    """
    import golden
    from golden import tilewise

    check_method(method)
    if method != "2:4" and sparsity is None:
        raise ValueError(f"pruning method {method!r} needs a sparsity")
    out = []
    for i, (W, _) in enumerate(layers):
        W = np.asarray(W, dtype=np.float64)
        if masks is not None and masks[i] is not None:
            W = W * masks[i]
        if method == "2:4":
            _, mask = golden.prune(W, 2, 4)
        elif method == "unstructured":
            _, mask = golden.prune_magnitude(W, quality=han_quality(W, sparsity))
        elif method == "tw":
            mask = tilewise.tw_mask(W, sparsity, tile=tile)
        else:
            mask = tilewise.tvw_mask(W, sparsity, tile=tile)
        mask = np.asarray(mask, dtype=bool)
        if masks is not None and masks[i] is not None:
            mask &= masks[i]
        out.append(mask)
    return out


def han_schedule(target, steps=3):
    """Iterative targets ending at ``target``: the kept fraction shrinks geometrically.

    ``1 - (1 - target) ** (j / steps)`` for ``j = 1 … steps``; for 90 % and 3 steps:
    53.6 %, 78.5 %, 90 %.
    """
    if not 0 < target < 1:
        raise ValueError(f"target sparsity must be in (0, 1), not {target}")
    return [1 - (1 - target) ** (j / steps) for j in range(1, steps + 1)]


def han_quality(W, sparsity):
    """Han et al.'s quality parameter that prunes about ``sparsity`` of ``W``.

    The threshold is the ``round(sparsity * size)``-th smallest magnitude (the smallest one
    kept); the quality is that threshold over the population std of ``W``. Elements at
    exactly the threshold are kept, so ties can leave the sparsity slightly lower.
    """
    W = np.asarray(W, dtype=np.float64)
    std = float(np.std(W))
    drop = int(np.floor(sparsity * W.size + 0.5))
    if drop == 0 or std == 0:
        return 0.0
    mags = np.sort(np.abs(W), axis=None)
    threshold = mags[min(drop, W.size - 1)]
    return float(threshold / std)
