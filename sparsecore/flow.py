"""The demo flow: dense training → 2:4 pruning → retraining → int8 → golden and RTL
inference, with the unstructured (Han et al.), tile-wise (TW) and TVW baselines, and its report.

:func:`run_demo` writes into ``out_dir``: ``report.md`` (accuracy table, cost table, goals),
``results.json`` (every number), ``accuracy.png`` (the plot) and the models
(``dense.npz``, ``sparse24.npz``, ``sparse24_int8.npz``; format in
:mod:`sparsecore.modelfile`). docs/model_flow.md describes the steps and decisions.
"""

import functools
import json
import pathlib
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import model as mlp
from . import modelfile, pruning, quant, rtl_backend
from .data import load_digits

__all__ = ["DemoConfig", "run_demo", "rtl_inference", "method_tile_ops", "GOAL_POINTS"]

#: Goal: 2:4 retrained within this many accuracy points of dense fp32.
GOAL_POINTS = 0.5


@dataclass
class DemoConfig:
    """Settings of one demo run; the defaults are the full demo."""
    out_dir: str = "reports/model"
    train: mlp.TrainConfig = field(default_factory=mlp.TrainConfig)
    sizes: tuple = mlp.DEFAULT_SIZES
    backend: str = "auto"              # training library: auto / torch / sklearn
    test_limit: int | None = None      # evaluate on the first N test samples only
    rtl: bool = True                   # try the RTL rows (skipped if the engine is absent)
    rtl_limit: int | None = None       # RTL inference on the first N test samples only
    unstructured: tuple = (0.5, 0.9)   # Han et al. targets
    han_steps: int = 3                 # prune/retrain rounds per Han target
    tw_sparsity: float = 0.5
    tvw_tw_sparsity: float = 0.5       # TW part of TVW; 2:4 on top gives ~75 %
    tw_tile: int = pruning.DEFAULT_TW_TILE
    save_models: bool = True
    plot: bool = True


class _Progress:
    """Progress bars when enabled (single lines when stderr is not a terminal,
    :mod:`sparsecore.progress`), silence otherwise."""

    def __init__(self, enabled):
        from .progress import Progress
        self.enabled = enabled
        self._p = Progress(enabled)

    def epochs(self, desc, total):
        bar = self._p.bar(desc, total, "epoch")
        return bar, (bar.tick if bar is not None else (lambda *_: None))

    def steps(self, desc, total, unit="step"):
        bar = self._p.bar(desc, total, unit)
        return bar, ((lambda *_: bar.tick()) if bar is not None else (lambda *_: None))

    def log(self, message):
        self._p.log(message)


def _train(data, cfg, progress, desc, **kwargs):
    bar, tick = progress.epochs(desc, cfg.train.epochs)
    try:
        return mlp.train(data, cfg.train, backend=cfg.backend, progress=tick, **kwargs)
    finally:
        if bar is not None:
            bar.close()


def _layer_sparsity(layers):
    return [float((W == 0).mean()) for W, _ in layers]


# --- cost model -----------------------------------------------------------------------------

def method_tile_ops(qshapes, masks, method, N, *, tile=pruning.DEFAULT_TW_TILE):
    """Core tile operations for one inference of ``N`` samples under a pruning method.

    ``qshapes``: the padded (M, K) of each layer. Dense and unstructured weights run in
    dense mode (unstructured sparsity has no pattern the core can skip); 2:4 in sparse
    mode; TW as one dense GEMM per tile of ``tile`` rows over its kept K; TVW the same in
    sparse mode (kept K padded to groups of 4). Estimates: the gather of B rows that TW
    needs is not counted.
    """
    from golden import tilewise

    t = rtl_backend.TILE
    total = 0
    for (M, K), mask in zip(qshapes, masks):
        if method in ("dense", "unstructured"):
            total += rtl_backend.gemm_tile_ops(M, K, N, sparse=False)
        elif method == "2:4":
            total += rtl_backend.gemm_tile_ops(M, K, N, sparse=True)
        else:
            kept = tilewise.tile_kept_k(mask, tile=tile)
            for ti, k_t in enumerate(kept):
                rows = min(tile, mask.shape[0] - ti * tile)
                rows = -(-rows // t["tile_m"]) * t["tile_m"]
                if k_t == 0:
                    continue
                if method == "tw":
                    total += rtl_backend.gemm_tile_ops(rows, int(k_t), N, sparse=False)
                else:
                    k4 = -(-int(k_t) // t["m"]) * t["m"]
                    total += rtl_backend.gemm_tile_ops(rows, k4, N, sparse=True)
    return total


# --- RTL ------------------------------------------------------------------------------------

def rtl_inference(qmodel, x, y, golden_outputs, *, sparse, progress=None, config=None):
    """Run ``x`` through the RTL and compare every layer's int32 output with the golden one.
    ``config``: the core (``hw.config.CoreConfig`` with the model's tile; default the
    default core).

    Returns a dict: ``status`` ("ok", "mismatch" or "not run"), ``reason``, ``accuracy``,
    ``cycles`` (summed over layers, None if the engine reports none), ``bit_exact``, and
    ``mismatches`` (per layer, count of differing int32 outputs).
    """
    try:
        logits, outputs, counters = quant.infer_int8(
            qmodel, x, matmul=functools.partial(rtl_backend.layer_matmul, config=config),
            sparse=sparse, progress=progress)
    except rtl_backend.RTLUnavailable as exc:
        return {"status": "not run", "reason": str(exc), "accuracy": None, "cycles": None,
                "bit_exact": None, "mismatches": None, "samples": int(len(y))}
    mismatches = [int((o != g[:, :o.shape[1]]).sum()) for o, g in zip(outputs, golden_outputs)]
    cycles = [c.get("cycles") for c in counters]
    # Every integer counter the engine reports, summed over the layers.
    names = [k for k in counters[0] if all(isinstance(c.get(k), (int, np.integer))
                                           for c in counters)]
    totals = {k: int(sum(int(c[k]) for c in counters)) for k in names
              if k not in ("status", "cause")}
    bit_exact = all(mm == 0 for mm in mismatches)
    golden_logits = golden_outputs[-1][:qmodel.num_classes, :len(y)].T
    return {"status": "ok" if bit_exact else "mismatch", "reason": "",
            "accuracy": float((quant.predict(logits) == y).mean()),
            "golden_accuracy": float((quant.predict(golden_logits) == y).mean()),
            "cycles": None if None in cycles else int(sum(cycles)),
            "layer_cycles": cycles, "counters": totals, "bit_exact": bit_exact,
            "mismatches": mismatches, "samples": int(len(y))}


# --- the flow -------------------------------------------------------------------------------

def run_demo(cfg=None, *, progress=True, command=None):
    """Run the whole flow; returns the results dict (also written to ``results.json``)."""
    cfg = cfg or DemoConfig()
    prog = _Progress(progress)
    started = time.time()
    out = pathlib.Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_digits()
    x_test, y_test = data.test_slice(cfg.test_limit)
    backend = mlp.resolve_backend(cfg.backend)
    rows = {}          # key → {"label", "sparsity", "accuracy", "note"}

    def acc(layers):
        return mlp.accuracy(layers, x_test, y_test)

    def row(key, label, sparsity, accuracy, note=""):
        rows[key] = {"label": label, "sparsity": sparsity, "accuracy": accuracy, "note": note}
        if accuracy is not None:
            prog.log(f"{label:<34} sparsity {sparsity:6.1%}  accuracy {accuracy:7.2%}")

    # 1. Dense training.
    dense = _train(data, cfg, prog, "dense training", sizes=tuple(cfg.sizes))
    row("dense_fp32", "dense fp32", mlp.sparsity(dense), acc(dense))

    # 2. 2:4 pruning, 3. retraining with the mask fixed (same hyper-parameters).
    masks24 = pruning.prune_masks(dense, "2:4")
    pruned24 = mlp.apply_masks(dense, masks24)
    row("sparse24_noretrain", "2:4, no retraining", mlp.sparsity(pruned24), acc(pruned24))
    sparse24 = _train(data, cfg, prog, "2:4 retraining", init=pruned24, masks=masks24)
    row("sparse24_retrained", "2:4 retrained", mlp.sparsity(sparse24), acc(sparse24))

    # 4. int8 quantization; golden inference (sparse mode; dense mode must agree).
    q24 = quant.quantize(sparse24, data.x_train, sparse=True)
    logits24, outputs24, _ = quant.infer_int8(q24, x_test)
    logits24_dense, _, _ = quant.infer_int8(q24, x_test, sparse=False)
    if not np.array_equal(logits24, logits24_dense):
        raise AssertionError("golden sparse and dense mode disagree on the 2:4 int8 model")
    acc_int8 = float((quant.predict(logits24) == y_test).mean())
    row("sparse24_int8_golden", "2:4 int8, golden model", mlp.sparsity(sparse24), acc_int8)
    qdense = quant.quantize(dense, data.x_train, sparse=False)
    logits_d, _, _ = quant.infer_int8(qdense, x_test)
    row("dense_int8_golden", "dense int8, golden model", mlp.sparsity(dense),
        float((quant.predict(logits_d) == y_test).mean()))

    # 5. RTL inference (sparse mode and dense mode on the same unit).
    rtl = {}
    if cfg.rtl:
        x_rtl, y_rtl = x_test, y_test
        if cfg.rtl_limit is not None:
            x_rtl, y_rtl = x_test[:cfg.rtl_limit], y_test[:cfg.rtl_limit]
        _, g_outputs, _ = quant.infer_int8(q24, x_rtl)
        for mode, sparse in (("sparse", True), ("dense", False)):
            bar, tick = prog.steps(f"RTL inference ({mode} mode)", len(q24.layers), "layer")
            try:
                rtl[mode] = rtl_inference(q24, x_rtl, y_rtl, g_outputs, sparse=sparse,
                                          progress=tick)
            finally:
                if bar is not None:
                    bar.close()
            if rtl[mode]["status"] == "not run":
                break
        if "dense" not in rtl:
            rtl["dense"] = dict(rtl["sparse"])
    else:
        rtl = {m: {"status": "not run", "reason": "disabled (--no-rtl)", "accuracy": None,
                   "cycles": None, "bit_exact": None, "mismatches": None}
               for m in ("sparse", "dense")}
    r = rtl["sparse"]
    note = (f"{r['samples']} samples; bit-exact: {r['bit_exact']}" if r["status"] != "not run"
            else f"not run: {r['reason']}")
    row("sparse24_int8_rtl", "2:4 int8, RTL (Verilator)", mlp.sparsity(sparse24),
        r["accuracy"], note)

    # 6. Baselines: Han et al. unstructured (iterative), TW, TVW.
    baseline_masks = {}
    for target in cfg.unstructured:
        key = f"unstructured{round(target * 100)}"
        layers, masks = dense, None
        for step, s in enumerate(pruning.han_schedule(target, cfg.han_steps)):
            # Layers hold zeros where earlier rounds pruned: the quality is per round.
            qualities = [pruning.han_quality(W, s) for W, _ in layers]
            masks = pruning.prune_masks(layers, "unstructured", s, masks=masks)
            layers = mlp.apply_masks(layers, masks)
            layers = _train(data, cfg, prog, f"Han {target:.0%}: round {step + 1}",
                            init=layers, masks=masks)
        oneshot = mlp.apply_masks(dense, pruning.prune_masks(dense, "unstructured", target))
        row(key + "_noretrain", f"unstructured {target:.0%}, no retraining",
            mlp.sparsity(oneshot), acc(oneshot), "one-shot, Han et al. threshold")
        row(key, f"unstructured {target:.0%} (Han), retrained", mlp.sparsity(layers),
            acc(layers), f"{cfg.han_steps} prune/retrain rounds; last round's quality per "
                         f"layer {', '.join(f'{q:.2f}' for q in qualities)}")
        baseline_masks[key] = masks
    for key, method, s, label in (
            ("tw50", "tw", cfg.tw_sparsity, f"TW {cfg.tw_sparsity:.0%}"),
            ("tvw", "tvw", cfg.tvw_tw_sparsity, f"TVW (TW {cfg.tvw_tw_sparsity:.0%} + 2:4)")):
        masks = pruning.prune_masks(dense, method, s, tile=cfg.tw_tile)
        pruned = mlp.apply_masks(dense, masks)
        row(key + "_noretrain", f"{label}, no retraining", mlp.sparsity(pruned), acc(pruned))
        layers = _train(data, cfg, prog, f"{label} retraining", init=pruned, masks=masks)
        row(key, f"{label}, retrained", mlp.sparsity(layers), acc(layers),
            f"tile G = {cfg.tw_tile} output rows")
        baseline_masks[key] = masks

    # 6b. TW 50 %, TW 75 %, TVW on the RTL at both granularities (sparsecore/tilewise_run.py).
    tilewise = None
    if cfg.rtl and rtl["sparse"]["status"] != "not run":
        from . import tilewise_run
        tilewise = tilewise_run.demo(
            dense, sparse24,
            lambda init, masks, desc: _train(data, cfg, prog, desc, init=init, masks=masks),
            data.x_train, x_rtl, y_rtl, q_dense=qdense, q24=q24, group=cfg.tw_tile,
            log=prog.log, build_name=rtl_backend.BUILD_NAME)

    # 7. Cost on the core: tile operations for the test set (estimate) and RTL cycles.
    qshapes = [layer.w.shape for layer in q24.layers]
    N = len(y_test)

    def padded(masks):
        outm = []
        for (M, K), mk in zip(qshapes, masks):
            p = np.zeros((M, K), dtype=bool)
            p[:mk.shape[0], :mk.shape[1]] = mk
            outm.append(p)
        return outm
    dense_ops = method_tile_ops(qshapes, [None] * len(qshapes), "dense", N)
    cost = {"dense": dense_ops,
            "2:4": method_tile_ops(qshapes, [None] * len(qshapes), "2:4", N)}
    for key, masks in baseline_masks.items():
        method = "unstructured" if key.startswith("unstructured") else key.rstrip("0123456789")
        cost[key] = method_tile_ops(qshapes, padded(masks), method, N, tile=cfg.tw_tile)

    # 8. Save, report.
    if cfg.save_models:
        meta = {"train": cfg.train.as_dict(), "backend": backend}
        modelfile.save_float(out / "dense.npz", dense, meta=dict(meta, method="dense"))
        modelfile.save_float(out / "sparse24.npz", sparse24, masks=masks24,
                             meta=dict(meta, method="2:4 retrained"))
        modelfile.save_int8(out / "sparse24_int8.npz", q24,
                            meta=dict(meta, method="2:4 retrained, int8"))
    results = {
        "command": command,
        "config": {k: (v.as_dict() if hasattr(v, "as_dict") else v)
                   for k, v in asdict(cfg).items()},
        "training_library": _library_name(backend),
        "python": platform.python_version(),
        "data": {"name": data.name, "train": int(len(data.y_train)),
                 "test": int(len(data.y_test)), "test_used": int(N)},
        "sizes": list(cfg.sizes),
        "padded_layer_shapes": [list(s) for s in qshapes],
        "rows": rows,
        "layer_sparsity_24": _layer_sparsity(sparse24),
        "int8_logits_sparse_equals_dense_mode": True,
        "tile_ops": cost,
        "rtl": rtl,
        "tilewise": tilewise,
        "seconds": round(time.time() - started, 1),
    }
    results["goals"] = _goals(results)
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if cfg.plot:
        _plot(results, out / "accuracy.png")
    (out / "report.md").write_text(render_report(results))
    return results


def _library_name(backend):
    if backend == "torch":
        import torch
        return f"PyTorch {torch.__version__} (CPU, 1 thread)"
    import sklearn
    return f"scikit-learn {sklearn.__version__} MLPClassifier.partial_fit"


def _goals(results):
    rows = results["rows"]
    dense = rows["dense_fp32"]["accuracy"]
    r24 = rows["sparse24_retrained"]["accuracy"]
    rtl = results["rtl"]["sparse"]
    gold = rows["sparse24_int8_golden"]["accuracy"]
    u90 = rows.get("unstructured90")
    goals = {
        "sparse24_within_0.5_points": {
            "met": bool(r24 >= dense - GOAL_POINTS / 100 - 1e-12),
            "detail": f"dense {dense:.2%}, 2:4 retrained {r24:.2%} "
                      f"({(r24 - dense) * 100:+.2f} points)"},
    }
    if rtl["status"] == "not run":
        goals["rtl_equals_golden_bit_exact"] = {"met": None,
                                                "detail": f"not run: {rtl['reason']}"}
    else:
        # Compare on the same samples as the RTL saw.
        rd = results["rtl"]["dense"]
        full = rtl["samples"] == results["data"]["test_used"]
        goals["rtl_equals_golden_bit_exact"] = {
            "met": bool(rtl["bit_exact"] and rd["bit_exact"]
                        and rtl["accuracy"] == rtl["golden_accuracy"] and full),
            "detail": f"{rtl['samples']} of {results['data']['test_used']} samples; per-layer "
                      f"int32 mismatches sparse mode {rtl['mismatches']}, dense mode "
                      f"{rd['mismatches']}; RTL accuracy {rtl['accuracy']:.2%}, golden on the "
                      f"same samples {rtl['golden_accuracy']:.2%} (golden on all: {gold:.2%})"
                      + ("" if full else "; not the whole test split (--rtl-limit)")}
    if u90 is not None:
        ops = results["tile_ops"]
        goals["unstructured90_little_loss_no_speedup"] = {
            "met": bool(u90["accuracy"] >= dense - 0.01
                        and ops["unstructured90"] == ops["dense"]),
            "detail": f"{u90['accuracy']:.2%} vs dense {dense:.2%} "
                      f"({(u90['accuracy'] - dense) * 100:+.2f} points); tile ops "
                      f"{ops['unstructured90']} = dense {ops['dense']}: no speed-up"}
    return goals


def _fmt_acc(a):
    return "—" if a is None else f"{a * 100:.2f} %"


def _row_order(rows):
    """Report order: dense, the 2:4 chain, then the baselines (each pruned, retrained)."""
    order = ["dense_fp32", "dense_int8_golden", "sparse24_noretrain", "sparse24_retrained",
             "sparse24_int8_golden", "sparse24_int8_rtl"]
    for base in ("unstructured50", "unstructured90", "tw50", "tvw"):
        order += [base + "_noretrain", base]
    return [k for k in order if k in rows] + sorted(k for k in rows if k not in order)


def render_report(results):
    rows = results["rows"]
    cfg = results["config"]
    dense_acc = rows["dense_fp32"]["accuracy"]
    lines = ["# sparsecore model flow: 2:4 sparse MLP on the digits", ""]
    if results.get("command"):
        lines += ["Command:", "", "```", results["command"], "```", ""]
    lines += [
        f"* Data: {results['data']['name']}, fixed split (sample i is a test sample when "
        f"i % 5 == 4): {results['data']['train']} train, {results['data']['test']} test; "
        f"{results['data']['test_used']} test samples evaluated.",
        f"* Model: MLP {' → '.join(map(str, results['sizes']))}, ReLU; int8 layers padded "
        "to the core tile: "
        + ", ".join("×".join(map(str, s)) for s in results["padded_layer_shapes"])
        + " (M×K).",
        f"* Training: {results['training_library']}; Adam, lr {cfg['train']['lr']}, batch "
        f"{cfg['train']['batch_size']}, {cfg['train']['epochs']} epochs, seed "
        f"{cfg['train']['seed']}; every retraining uses the same hyper-parameters and "
        "re-applies its mask after every optimizer step.",
        "* int8: symmetric, per-output-channel weights, per-tensor activations (calibrated "
        "on the training split), int32 accumulation and bias, integer requantization "
        "(docs/model_flow.md).",
        "",
        "## Accuracy", "",
        "| model | weight sparsity | test accuracy | Δ vs dense fp32 | note |",
        "|---|---:|---:|---:|---|"]
    for key in _row_order(rows):
        r = rows[key]
        delta = "—" if r["accuracy"] is None else f"{(r['accuracy'] - dense_acc) * 100:+.2f}"
        lines.append(f"| {r['label']} | {r['sparsity'] * 100:.1f} % | "
                     f"{_fmt_acc(r['accuracy'])} | {delta} | {r['note']} |")
    lines += ["", "![accuracy](accuracy.png)", ""]

    ops = results["tile_ops"]
    lines += ["## Cost on the core", "",
              f"Tile operations of the default core (4×4×16, 2:4) for one pass over the "
              f"{results['data']['test_used']} test samples (estimate from the GEMM shapes; "
              "cycles add a few cycles of pipeline fill per GEMM):", "",
              "| weights | mode on the core | tile ops | speed-up vs dense |",
              "|---|---|---:|---:|"]
    labels = {"dense": ("dense", "dense (half rate)"), "2:4": ("2:4", "sparse")}
    cost_order = ["dense", "2:4", "unstructured50", "unstructured90", "tw50", "tvw"]
    for key in [k for k in cost_order if k in ops] + sorted(set(ops) - set(cost_order)):
        value = ops[key]
        if key in labels:
            name, mode = labels[key]
        elif key.startswith("unstructured"):
            name, mode = f"unstructured {key[12:]} %", "dense (no N:M pattern)"
        elif key == "tw50":
            name, mode = "TW 50 %", "dense, one smaller GEMM per tile"
        else:
            name, mode = "TVW", "sparse, one smaller GEMM per tile"
        lines.append(f"| {name} | {mode} | {value} | {ops['dense'] / value:.2f}× |")
    lines += ["", "TW and TVW estimates leave out gathering each tile's kept rows of B; the "
              "GEMM engine does not schedule tile-wise GEMMs yet.", ""]

    lines += ["### RTL cycles (GEMM engine under Verilator)", ""]
    rs, rd = results["rtl"]["sparse"], results["rtl"]["dense"]
    if rs["status"] == "not run":
        lines += [f"Not run: {rs['reason']}.", ""]
    else:
        lines += ["| mode | samples | cycles | run cycles | tile ops | bit-exact vs golden | "
                  "accuracy |", "|---|---:|---:|---:|---:|---|---:|"]
        for mode, r in (("sparse (2:4 compressed)", rs), ("dense (same weights)", rd)):
            extra = r.get("counters") or {}
            lines.append(f"| {mode} | {r['samples']} | {r['cycles']} | "
                         f"{extra.get('run_cycles', '—')} | {extra.get('tile_ops', '—')} | "
                         f"{r['bit_exact']} | {_fmt_acc(r['accuracy'])} |")
        if rs["cycles"] and rd["cycles"]:
            lines += ["", f"Speed-up of sparse over dense mode: "
                          f"{rd['cycles'] / rs['cycles']:.2f}× in cycles (all three layers' "
                          "GEMMs, operand loads and result readback included)."]
            run_s = (rs.get("counters") or {}).get("run_cycles")
            run_d = (rd.get("counters") or {}).get("run_cycles")
            if run_s and run_d:
                lines.append(f"In run cycles (start to done of each GEMM): "
                             f"{run_d / run_s:.2f}×.")
        lines.append("")

    if results.get("tilewise"):
        lines += [results["tilewise"]["markdown"]]

    lines += ["## Goals", ""]
    goal_order = ["sparse24_within_0.5_points", "rtl_equals_golden_bit_exact",
                  "unstructured90_little_loss_no_speedup"]
    goals = results["goals"]
    for name in [k for k in goal_order if k in goals] + sorted(set(goals) - set(goal_order)):
        g = goals[name]
        mark = {True: "met", False: "**missed**", None: "not checked"}[g["met"]]
        lines.append(f"* {name.replace('_', ' ')}: {mark}: {g['detail']}")
    u90 = rows.get("unstructured90")
    if u90 is not None:
        lines += ["", f"Unstructured 90 % keeps {_fmt_acc(u90['accuracy'])} after iterative "
                  "retraining, but gives **no speed-up on this hardware**: the core runs "
                  "dense or 2:4 weights only, and unstructured zeros follow no N:M pattern, "
                  "so such a layer runs in dense mode, exactly as many tile operations as the "
                  "dense model."]
    lines += ["", f"Run time {results['seconds']} s.", ""]
    return "\n".join(lines)


def _plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [results["rows"][k] for k in _row_order(results["rows"])
            if results["rows"][k]["accuracy"] is not None]
    labels = [r["label"] for r in rows]
    accs = [r["accuracy"] * 100 for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.6))
    colors = ["C2" if "retrained" in lab else "C1" if "int8" in lab
              else "0.5" if lab == "dense fp32" else "C0" for lab in labels]
    ax.barh(range(len(rows)), accs, color=colors)
    for i, a in enumerate(accs):
        ax.text(a + 0.2, i, f"{a:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    dense = results["rows"]["dense_fp32"]["accuracy"] * 100
    ax.axvline(dense, color="k", lw=0.8, ls="--", label="dense fp32")
    ax.axvline(dense - GOAL_POINTS, color="r", lw=0.8, ls=":", label="goal (−0.5 points)")
    ax.set_xlim(max(0, min(accs) - 5), 103)
    ax.set_xlabel(f"test accuracy (%), {results['data']['test_used']} test samples")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8,
              frameon=False)
    ax.set_title("digits MLP: grey dense, blue pruned, green retrained, orange int8",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
