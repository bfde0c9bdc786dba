"""Tile-wise (TW) and TVW layers of a quantized model on the RTL, with measured cycles.

The model flow's part of issue 13 (``docs/tilewise.md`` §5). Two entry points:

* :func:`tilewise_masks` — TW / TVW pruning masks of a float model at either
  granularity: ``"block"`` (whole ``tile_k`` K blocks per group of ``group`` rows, what the
  engine skips natively) or ``"row"`` (any K rows per group, the paper's TW).
* :func:`tilewise_matmul` — a ``matmul`` for :func:`sparsecore.quant.infer_int8` that runs
  each layer's GEMM on the engine under Verilator as a tile-wise job: natively
  (``"block"``: kept blocks from the weights' non-zero blocks, so it is exact for any
  weights) or row-granular (``"row"``: one GEMM per group on the kept K rows, B rows
  gathered on the host and counted as loads). TVW runs the kept blocks in 2:4 sparse mode.
* :func:`rtl_rows` runs a set of quantized models through it, checks every layer's int32
  output bit-exactly against the golden integer inference and returns accuracy and measured
  cycles per model, with dense and plain 2:4 measured by the same testbench beside them.

Hook for the demo (``sparsecore/flow.py``, owned by the model-flow work): after training
and quantizing the TW/TVW models, call :func:`rtl_rows` with them and add its rows to the
report; it needs nothing else from the flow.
"""

import numpy as np

from golden import tilewise as gtw

__all__ = ["tilewise_masks", "tilewise_matmul", "rtl_rows", "demo", "DEMO_MODELS", "BUILD_NAME",
           "GROUP"]

#: Verilator build folder of these runs (never shared with another flow's runs).
BUILD_NAME = "tilewise_flow"
#: Rows per group (a multiple of the core's tile_m).
GROUP = 16


def tilewise_masks(layers, sparsity, *, granularity, tvw=False, group=GROUP, block=16):
    """TW (``tvw``: TW + 2:4) masks of a float model ``[(W, b), ...]``, one per layer.

    ``granularity`` ``"block"``: :func:`golden.tilewise.tw_block_mask` (``block`` K columns,
    ``tile_k`` of the core); ``"row"``: :func:`golden.tilewise.tw_mask` with ``tile=group``.
    Returns ``(masks, tw_masks)``: the masks to train with, and their TW part (which K the
    row-granular TVW run gathers).
    """
    if granularity not in ("block", "row"):
        raise ValueError(f"granularity must be 'block' or 'row', not {granularity!r}")
    masks, tw_masks = [], []
    for W, _ in layers:
        W = np.asarray(W)
        if granularity == "block":
            tw = gtw.tw_block_mask(W, sparsity, group=group, block=block)
            mask = tw & gtw.nm_mask_rows(np.where(tw, W, 0)) if tvw else tw
        else:
            tw = gtw.tw_mask(W, sparsity, tile=group)
            mask = gtw.tvw_mask(W, sparsity, tile=group) if tvw else tw
        masks.append(mask)
        tw_masks.append(tw)
    return masks, tw_masks


def _pad_mask(mask, shape):
    out = np.zeros(shape, dtype=bool)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        out[:mask.shape[0], :mask.shape[1]] = mask[:shape[0], :shape[1]]
    return out


def tilewise_matmul(*, granularity, tvw=False, tw_masks=None, group=GROUP, log=None,
                    **engine):
    """A ``matmul(layer, B, C, *, sparse, n, m)`` for :func:`sparsecore.quant.infer_int8`.

    Each call runs one layer as a tile-wise job on the engine (one simulator launch):
    ``"block"`` natively with the layer's non-zero ``tile_k`` blocks per group as kept
    lists; ``"row"`` as one GEMM per group over the group's kept K rows (``tw_masks[i]``
    for layer ``i`` where given — needed for TVW, whose compacted groups of 4 follow the
    TW step's kept rows — else the K rows any row of the group uses). ``tvw`` runs the kept
    blocks in 2:4 sparse mode. ``C`` is added on the host, modulo 2**32. Returns
    ``(D int32, counters)`` with ``cycles`` (every engine cycle, loads included),
    ``busy_cycles``, ``tile_ops``, ``jobs``. ``engine``: ``config``, ``a_depth``,
    ``b_depth``, ``build_name``, ``runner`` for :func:`tb.tilewise_driver.run_batch`.
    """
    run, cfg = _engine(engine)
    calls = []

    def matmul(layer, B, C, *, sparse, n=2, m=4):
        index = len(calls)
        calls.append(index)
        W = np.asarray(layer.w).astype(np.int64)
        M, K = W.shape
        N = B.shape[1]
        Np = -(-N // cfg.tile_n) * cfg.tile_n
        Bp = np.zeros((K, Np), dtype=np.int64)
        Bp[:, :N] = B
        if granularity == "block":
            lists = gtw.kept_lists_from_mask(W != 0, group=group, block=cfg.tile_k)
            item = dict(kind="tw", A=W, B=Bp, lists=lists, group=group, sparse=tvw)
        else:
            tw = None if tw_masks is None else _pad_mask(tw_masks[index], W.shape)
            kept = None if tw is None else [np.flatnonzero(tw[g0]) for g0 in range(0, M, group)]
            item = dict(kind="rowtw", A=W, B=Bp, mask=W != 0 if tw is None else tw,
                        group=group, sparse=tvw, kept=kept)
        (D, counters), = run([item])
        D = (D[:, :N] + np.asarray(C, dtype=np.int64)) % (1 << 32)
        D = np.where(D >= 1 << 31, D - (1 << 32), D).astype(np.int32)
        if log is not None:
            log(f"layer {index}: {granularity} {'TVW' if tvw else 'TW'} {M}x{K}x{N}, "
                f"{counters['cycles']} cycles")
        return D, counters

    return matmul


def _engine(engine):
    """``run(items)`` and the core config from the engine keyword arguments."""
    from hw.config import CoreConfig
    from tb.tilewise_driver import run_batch

    engine = dict(engine)
    engine.setdefault("build_name", BUILD_NAME)
    cfg = engine.setdefault("config", CoreConfig())
    return (lambda items: run_batch(items, **engine)), cfg


def _plain_matmul(*, sparse, **engine):
    """Dense / 2:4 layers through the same testbench (for cycles measured alike)."""
    run, cfg = _engine(engine)
    mode_sparse = sparse

    def matmul(layer, B, C, *, sparse=None, n=2, m=4):
        W = np.asarray(layer.w).astype(np.int64)
        N = B.shape[1]
        Np = -(-N // cfg.tile_n) * cfg.tile_n
        Bp = np.zeros((W.shape[1], Np), dtype=np.int64)
        Bp[:, :N] = B
        (D, counters), = run([dict(kind="gemm", A=W, B=Bp, sparse=mode_sparse)])
        D = (D[:, :N] + np.asarray(C, dtype=np.int64)) % (1 << 32)
        return np.where(D >= 1 << 31, D - (1 << 32), D).astype(np.int32), counters

    return matmul


def _item(spec, layer, index, B, cfg, group):
    """The run_batch item of one model's layer ``index`` with input ``B`` (K, N padded)."""
    method = spec["method"]
    W = np.asarray(layer.w).astype(np.int64)
    M, _ = W.shape
    if method in ("dense", "2:4"):
        return dict(kind="gemm", A=W, B=B, sparse=method == "2:4")
    if method not in ("tw", "tvw"):
        raise ValueError(f"method must be dense, 2:4, tw or tvw, not {method!r}")
    granularity = spec["granularity"]
    if granularity == "block":
        lists = gtw.kept_lists_from_mask(W != 0, group=group, block=cfg.tile_k)
        return dict(kind="tw", A=W, B=B, lists=lists, group=group, sparse=method == "tvw")
    if granularity != "row":
        raise ValueError(f"granularity must be 'block' or 'row', not {granularity!r}")
    tw_masks = spec.get("tw_masks")
    tw = None if tw_masks is None else _pad_mask(tw_masks[index], W.shape)
    kept = None if tw is None else [np.flatnonzero(tw[g0]) for g0 in range(0, M, group)]
    return dict(kind="rowtw", A=W, B=B, mask=W != 0 if tw is None else tw, group=group,
                sparse=method == "tvw", kept=kept)


def rtl_rows(models, x, y, *, group=GROUP, log=None, **engine):
    """Run quantized models on the RTL; bit-exact check against golden, accuracy, cycles.

    Layer-major: layer ``i`` of every model runs in one simulator launch (the models'
    layers are independent of each other), so a model list costs one launch per layer.

    Parameters
    ----------
    models : list of dict
        Each ``{"label", "model" (QuantModel), "method"}`` with ``method`` one of
        ``"dense"``, ``"2:4"`` (plain engine jobs), or ``"tw"`` / ``"tvw"`` with
        ``"granularity"`` (``"block"`` or ``"row"``) and optionally ``"tw_masks"`` (the TW
        part of each layer's mask, for row-granular TVW). All models have the same number
        of layers.
    x, y : test inputs (samples, features) and labels.
    engine : keyword arguments of :func:`tb.tilewise_driver.run_batch` (``config``,
        ``a_depth``, ``b_depth``, ``build_name``, ``runner``).

    Returns
    -------
    list of dict
        ``label``, ``method``, ``granularity``, ``accuracy`` (RTL), ``golden_accuracy``,
        ``bit_exact``, ``cycles`` (all engine cycles over the layers, loads included),
        ``busy_cycles``, ``tile_ops``, ``speedup`` (dense row's cycles / this row's, when a
        ``"dense"`` model is in the list).
    """
    from . import quant

    run, cfg = _engine(engine)
    layer_counts = {len(spec["model"].layers) for spec in models}
    if len(layer_counts) != 1:
        raise ValueError(f"models must have the same number of layers, not {layer_counts}")
    inputs = []
    for spec in models:
        first = spec["model"].layers[0]
        inputs.append(quant.quantize_input(x, first.x_scale, first.w.shape[1]).T.copy())
    N = inputs[0].shape[1]
    Np = -(-N // cfg.tile_n) * cfg.tile_n
    outputs = [[] for _ in models]
    totals = [dict(cycles=0, busy_cycles=0, tile_ops=0) for _ in models]
    for index in range(layer_counts.pop()):
        items = []
        for spec, B in zip(models, inputs):
            layer = spec["model"].layers[index]
            Bp = np.zeros((B.shape[0], Np), dtype=np.int64)
            Bp[:, :N] = B
            items.append(_item(spec, layer, index, Bp, cfg, group))
        results = run(items)
        for k, (spec, (D, counters)) in enumerate(zip(models, results)):
            layer = spec["model"].layers[index]
            C = np.repeat(layer.bias[:, None].astype(np.int64), N, axis=1)
            D = (D[:, :N] + C) % (1 << 32)
            D = np.where(D >= 1 << 31, D - (1 << 32), D).astype(np.int32)
            outputs[k].append(D)
            for key in totals[k]:
                totals[k][key] += int(counters[key])
            if layer.mult is not None:
                inputs[k] = quant.requantize(D, layer.mult, layer.shift)
        if log is not None:
            log(f"tile-wise RTL: layer {index} of {len(models)} models done")
    rows = []
    for spec, outs, tot in zip(models, outputs, totals):
        qmodel = spec["model"]
        g_logits, g_outputs, _ = quant.infer_int8(qmodel, x, sparse=False)
        logits = outs[-1][:qmodel.num_classes].T
        bit_exact = all(np.array_equal(o, g) for o, g in zip(outs, g_outputs))
        rows.append(dict(label=spec["label"], method=spec["method"],
                         granularity=spec.get("granularity"),
                         accuracy=float((quant.predict(logits) == y).mean()),
                         golden_accuracy=float((quant.predict(g_logits) == y).mean()),
                         bit_exact=bool(bit_exact), **tot))
    dense = [r for r in rows if r["method"] == "dense"]
    for r in rows:
        r["speedup"] = dense[0]["cycles"] / r["cycles"] if dense else None
    return rows


#: The demo's tile-wise models: (key, method, TW sparsity, label).
DEMO_MODELS = (("tw50", "tw", 0.5, "TW 50 %"), ("tw75", "tw", 0.75, "TW 75 %"),
               ("tvw", "tvw", 0.5, "TVW (TW 50 % + 2:4)"))


def demo(dense, sparse24, train, x_calib, x, y, *, q_dense, q24, group=GROUP, log=None,
         **engine):
    """The demo's tile-wise section: TW 50 %, TW 75 %, TVW at both granularities on the RTL.

    Parameters
    ----------
    dense, sparse24 : list of (W, b)
        The trained dense and 2:4 retrained float models.
    train : callable
        ``train(init_layers, masks, description) -> layers``: retraining with the masks
        fixed (the flow's own, same hyper-parameters).
    x_calib : calibration inputs of the int8 quantizer (the training split).
    x, y : the samples run on the RTL and their labels.
    q_dense, q24 : QuantModel
        The flow's dense and 2:4 int8 models, measured beside them by the same testbench.

    Returns
    -------
    dict
        ``rows`` (:func:`rtl_rows`' rows, plus ``key`` and ``sparsity``) and ``markdown``
        (a report section).
    """
    from . import model as mlp
    from . import quant

    models = [dict(key="dense", label="dense int8", method="dense", model=q_dense),
              dict(key="2:4", label="2:4 int8", method="2:4", model=q24)]
    sparsity = {"dense": mlp.sparsity(dense), "2:4": mlp.sparsity(sparse24)}
    for key, method, s, label in DEMO_MODELS:
        for granularity in ("block", "row"):
            masks, tw = tilewise_masks(dense, s, granularity=granularity,
                                       tvw=method == "tvw", group=group)
            pruned = [(W * mk, b) for (W, b), mk in zip(dense, masks)]
            name = f"{label}, {granularity}-granular"
            layers = train(pruned, masks, f"{name} retraining")
            qmodel = quant.quantize(layers, x_calib, sparse=False)
            full = f"{key}_{granularity}"
            sparsity[full] = mlp.sparsity(layers)
            models.append(dict(key=full, label=name, method=method, granularity=granularity,
                               tw_masks=tw, model=qmodel))
    from tb.gemm_driver import GemmInputError
    try:
        rows = rtl_rows(models, x, y, group=group, log=log, **engine)
    except GemmInputError as exc:      # e.g. more samples than the buffers hold
        return {"rows": [], "markdown": "## Tile-wise (TW / TVW) on the RTL\n\n"
                f"Not run: {exc}.\n"}
    for spec, row in zip(models, rows):
        row.update(key=spec["key"], sparsity=float(sparsity[spec["key"]]))
    lines = ["## Tile-wise (TW / TVW) on the RTL", "",
             f"Measured on the engine under Verilator (`sparsecore/tilewise_run.py`), "
             f"{len(y)} samples, groups of {group} output rows. *block*: the engine skips "
             "whole tile_k blocks natively; *row*: the paper's row-granular TW, one GEMM per "
             "group with B rows gathered on the host (their loads counted). Cycles count "
             "every engine cycle (loads included); every layer output is checked bit for "
             "bit against the golden integer inference.", "",
             "| model | weight sparsity | RTL accuracy | bit-exact | cycles | tile ops | "
             "speed-up vs dense |", "|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['sparsity'] * 100:.1f} % | "
                     f"{r['accuracy'] * 100:.2f} % | {r['bit_exact']} | {r['cycles']} | "
                     f"{r['tile_ops']} | {r['speedup']:.2f}× |")
    return {"rows": rows, "markdown": "\n".join(lines) + "\n"}
