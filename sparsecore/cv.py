"""Cross-validated accuracy of the PyTorch flow on the digits: MLP and CNN, every method.

:func:`run_cv` trains, for every (fold, seed) of a stratified k-fold split of all 1797
images (``sklearn.model_selection.StratifiedKFold(k, shuffle=True, random_state=0)``:
every image is a test image exactly once per seed) and every training seed:

* **dense** fp32 (the model's PyTorch default initialisation under
  ``torch.manual_seed(seed)``);
* **dense, retrained without a mask**: the control for every retrained row (the dense
  model trained for the same extra epochs), so that pruning is not credited with the
  effect of training longer;
* **2:4 retrained**: :func:`sparsecore.frontend.prune_24` (``WeightNormSparsifier``)
  then retraining with the mask fixed, same hyper-parameters;
* **2:4 int8, golden**: quantized (calibrated on the training fold), integer inference
  with golden GEMMs, checked bit for bit against :mod:`sparsecore.torch_ref` on every
  test image (every int32 accumulator and every requantized output of every layer);
* **2:4 int8, RTL**: the same on the GEMM engine under Verilator, on ``rtl_runs``
  (a subset of (fold, seed) pairs: every test image of those folds);
* **Han et al. 50 % / 90 %**: unstructured magnitude pruning, ``han_steps`` prune/retrain
  rounds (:mod:`sparsecore.pruning`);
* **TW 50 %** and **TVW** (TW 50 % + 2:4): ``golden.tilewise`` masks on each GEMM view,
  retrained once. Their measured cycles on the engine come from ``sparsecore.tilewise_run``
  when that module is present (:func:`tilewise_hook`).

Every row is the mean ± sample standard deviation over the k·seeds runs; a difference to
dense is called a difference only when ``|Δ mean|`` exceeds the larger of the two
standard deviations. The ZVC section compresses the int8 activations of the 2:4 int8
models (fold 0, seed 0): each ReLU output of the CNN's convolutions and the MLP's hidden
layers.
"""

import json
import pathlib
import platform
import time

import numpy as np

from . import frontend as fe
from . import pruning

__all__ = ["mlp", "cnn", "MODELS", "digits", "folds", "run_cv", "render", "zvc_ratios",
           "tilewise_hook", "METHOD_ROWS"]

GOAL_POINTS = 0.5
PAPER_ZVC = {"zvc_average_ratio": 2.6, "zvc_max_ratio": 13.8,
             "source": "Rhu et al., 'Compressing DMA Engine', HPCA 2018"}


def mlp():
    """64 → 256 → 256 → 10, ReLU (the demo MLP)."""
    import torch.nn as nn
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def cnn():
    """1×8×8 → conv 3×3 (8) → ReLU → conv 3×3 (16) → ReLU → max-pool 2 → 256 → 10."""
    import torch.nn as nn
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(256, 10))


#: name → (constructor, per-sample input shape)
MODELS = {"mlp": (mlp, (64,)), "cnn": (cnn, (1, 8, 8))}

#: (key, label) of the table rows, in order.
METHOD_ROWS = [("dense", "dense fp32"),
               ("dense_rt", "dense, retrained without a mask (control)"),
               ("s24", "2:4 retrained"),
               ("s24_int8", "2:4 int8, golden GEMMs"), ("s24_rtl", "2:4 int8, RTL (Verilator)"),
               ("han50", "Han 50 %, retrained"), ("han90", "Han 90 %, retrained"),
               ("tw50", "TW 50 %, retrained"), ("tvw", "TVW (TW 50 % + 2:4), retrained")]


def digits():
    """All 1797 digits: ``x`` float32 (1797, 64) in [0, 1], ``y`` int64."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def folds(y, k=5):
    """Stratified k-fold (shuffled, ``random_state=0``): list of (train, test) indices."""
    from sklearn.model_selection import StratifiedKFold
    return list(StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(y)), y))


def _new_model(name, seed):
    import torch
    torch.manual_seed(seed)
    return MODELS[name][0]().float()


def _views(module):
    """``[(W (out, K), b), ...]`` of the GEMM layers, for :mod:`sparsecore.pruning`."""
    return [(op.matrix, op.bias) for op in fe.gemm_layers(fe.lower(module))]


def _names(module):
    return [op.name for op in fe.gemm_layers(fe.lower(module))]


def _sparsity(module):
    ws = [op.matrix for op in fe.gemm_layers(fe.lower(module))]
    return float(sum(int((w == 0).sum()) for w in ws) / sum(w.size for w in ws))


def _copy(module):
    import copy
    return copy.deepcopy(module)


def _masked_retrain(dense, masks_list, x, y, cfg, progress):
    m = _copy(dense)
    masks = dict(zip(_names(m), masks_list))
    return fe.train(m, x, y, cfg, masks=masks, progress=progress)


def zvc_ratios(words, word_width=8, block_words=32):
    """Compression ratios (uncompressed bytes / compressed) of a flat word array."""
    from golden import zvc
    words = np.asarray(words).reshape(-1)
    raw = len(words) * word_width // 8
    return {"words": int(len(words)),
            "density": float(np.count_nonzero(words) / max(len(words), 1)),
            "zvc": raw / zvc.compressed_nbytes(words, word_width=word_width,
                                               block_words=block_words),
            "rle": raw / zvc.rle_nbytes(words, word_width=word_width),
            "zlib": raw / zvc.zlib_nbytes(words, word_width=word_width)}


def tilewise_hook(context):
    """Measured TW/TVW rows from ``sparsecore.tilewise_run.cv_report(context)``, if present.

    ``context``: ``{"runs": [{"model", "fold", "seed", "method" ("tw50"/"tvw"), "module"
    (the retrained torch module), "masks" ({layer: bool (out, K)}), "x_test", "y_test",
    "x_train"}, ...]}`` for the RTL subset of (fold, seed) pairs. The hook returns
    ``{"markdown": [lines], "json": {...}}``; absent, the report says so.
    """
    try:
        from . import tilewise_run
    except ImportError:
        return None
    fn = getattr(tilewise_run, "cv_report", None)
    return None if fn is None else fn(context)


def _stats(values):
    v = np.asarray([a for a in values if a is not None], dtype=np.float64)
    if not len(v):
        return None
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": int(len(v)), "values": [float(a) for a in v]}


def run_cv(*, models=("mlp", "cnn"), k=5, seeds=(0, 1, 2), epochs=30, batch_size=32,
           lr=1e-3, han_steps=2, rtl_runs=((0, 0),), rtl=True, limit=None, progress=None,
           log=print, config=None, verbose=False, jobs=1):
    """Cross-validate ``models``; returns the results dict (see :func:`render`).

    ``limit`` caps the images per test fold (tests); ``rtl_runs`` lists the (fold, seed)
    pairs whose test images run on the RTL (after all training, in this process);
    ``progress(desc, total)`` returns a bar with ``tick``/``close`` or None; ``jobs`` > 1
    trains the models in that many processes (no progress bars there, log lines only).
    """
    import torch

    from . import rtl_backend

    settings = dict(k=k, seeds=tuple(seeds), epochs=epochs, batch_size=batch_size, lr=lr,
                    han_steps=han_steps, rtl_runs=tuple(tuple(r) for r in rtl_runs),
                    limit=limit)
    started = time.time()
    if jobs > 1 and len(models) > 1:
        import concurrent.futures
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(models)),
                                                    mp_context=ctx) as pool:
            futures = [pool.submit(_train_model, name, settings, None, _print_log)
                       for name in models]
            trained = [f.result() for f in futures]
    else:
        trained = [_train_model(name, settings, progress, log) for name in models]
    results = {"models": {}, "config": dict(settings, seeds=list(seeds),
                                            rtl_runs=[list(r) for r in rtl_runs]),
               "python": platform.python_version(), "torch": torch.__version__}
    rtl_ok, rtl_reason = rtl_backend.rtl_status() if rtl else (False, "disabled (--no-rtl)")
    hook_runs = []
    for name, (runs, zvc, layers, pending, hooks) in zip(models, trained):
        hook_runs += hooks
        for run, (graph, xte, yte, rlogits, ref) in pending:
            if not rtl_ok:
                continue
            t0 = time.time()
            bar = progress(f"{name} fold {run['fold']} seed {run['seed']}: RTL",
                           len(graph.gemms)) if progress else None
            try:
                rl, rtrace = fe.run_int8(graph, xte, gemm=fe.rtl_gemm(config, verbose),
                                         progress=bar and bar.tick)
            finally:
                if bar:
                    bar.close()
            rcmp = fe.compare(rtrace, ref)
            run["acc"]["s24_rtl"] = float((fe.predict(rl) == yte).mean())
            run["sparsity"]["s24_rtl"] = run["sparsity"]["s24"]
            run["rtl"] = {"images": int(len(yte)), "layers": rcmp,
                          "bit_exact": fe.bit_exact(rcmp) and bool(np.array_equal(rl, rlogits)),
                          "cycles": [int(t["counters"].get("cycles", 0)) for t in rtrace],
                          "tile_ops": [int(t["counters"].get("tile_ops", 0)) for t in rtrace],
                          "golden_accuracy": run["acc"]["s24_int8"],
                          "seconds": round(time.time() - t0, 1)}
            log(f"{name} fold {run['fold']} seed {run['seed']}: RTL {len(yte)} images, "
                f"bit-exact vs torch reference {run['rtl']['bit_exact']}, accuracy "
                f"{run['acc']['s24_rtl']:.2%}, {run['rtl']['seconds']} s")
        results["models"][name] = _summarize(runs, zvc, layers, rtl_ok, rtl_reason)
    results["tilewise"] = tilewise_hook({"runs": hook_runs}) if hook_runs else None
    results["goals"] = _goals(results)
    results["seconds"] = round(time.time() - started, 1)
    return results


def _print_log(message):
    print(message, flush=True)


def _train_model(name, settings, progress, log):
    """Every (fold, seed) of one model: trainings, golden int8 and its torch check."""
    from .torch_ref import reference

    x_all, y_all = digits()
    shape = MODELS[name][1]
    x_img = x_all.reshape(-1, *shape)
    rtl_runs = {tuple(r) for r in settings["rtl_runs"]}
    runs, zvc, pending, hooks, layers = [], None, [], [], None
    for fi, (tr, te) in enumerate(folds(y_all, settings["k"])):
        if settings["limit"] is not None:
            te = te[:settings["limit"]]
        for seed in settings["seeds"]:
            run = {"fold": fi, "seed": seed, "acc": {}, "sparsity": {}}
            c = fe.TrainConfig(epochs=settings["epochs"], batch_size=settings["batch_size"],
                               lr=settings["lr"], seed=seed)
            xtr, ytr, xte, yte = x_img[tr], y_all[tr], x_img[te], y_all[te]
            tag = f"{name} fold {fi} seed {seed}"

            def fit(module, desc, masks=None):
                bar = progress(f"{tag}: {desc}", c.epochs) if progress else None
                try:
                    return fe.train(module, xtr, ytr, c, masks=masks,
                                    progress=bar and bar.tick)
                finally:
                    if bar:
                        bar.close()

            def record(key, module):
                run["acc"][key] = fe.accuracy_float(module, xte, yte)
                run["sparsity"][key] = _sparsity(module)

            dense = fit(_new_model(name, seed), "dense")
            record("dense", dense)
            # Control: the same extra epochs as every retraining, without a mask.
            record("dense_rt", fit(_copy(dense), "dense retraining (control)"))
            s24 = fit(_copy(dense), "2:4 retraining", fe.prune_24(dense))
            record("s24", s24)
            # int8 on golden GEMMs, checked against the torch integer reference.
            graph = fe.quantize(s24, xtr, input_shape=shape, sparse=True)
            logits, trace = fe.run_int8(graph, xte)
            rlogits, ref = reference(graph, xte)
            cmp = fe.compare(trace, ref)
            run["acc"]["s24_int8"] = float((fe.predict(logits) == yte).mean())
            run["sparsity"]["s24_int8"] = run["sparsity"]["s24"]
            run["golden_vs_torch"] = {"images": int(len(yte)), "layers": cmp,
                                      "bit_exact": fe.bit_exact(cmp)
                                      and bool(np.array_equal(rlogits, logits))}
            layers = [{"name": s.name, "kind": s.kind, "padded": list(s.w.shape)}
                      for s in graph.gemms]
            if (fi, seed) in rtl_runs:
                pending.append((run, (graph, xte, yte, rlogits, ref)))
            if zvc is None:
                zvc = _zvc_of(trace, graph)
            # Baselines: Han et al. (iterative), TW, TVW.
            views = _views(dense)
            for target in (0.5, 0.9):
                module, masks = dense, None
                for step, s in enumerate(pruning.han_schedule(target, settings["han_steps"])):
                    masks = pruning.prune_masks(_views(module), "unstructured", s,
                                                masks=masks)
                    module = fit(_copy(module), f"Han {target:.0%} round {step + 1}",
                                 dict(zip(_names(module), masks)))
                record(f"han{round(target * 100)}", module)
            for key, method in (("tw50", "tw"), ("tvw", "tvw")):
                masks = dict(zip(_names(dense), pruning.prune_masks(views, method, 0.5)))
                module = fit(_copy(dense), f"{key} retraining", masks)
                record(key, module)
                if (fi, seed) in rtl_runs:
                    hooks.append({"model": name, "fold": fi, "seed": seed, "method": key,
                                  "module": module, "masks": masks, "x_test": xte,
                                  "y_test": yte, "x_train": xtr})
            runs.append(run)
            log(f"{tag}: " + ", ".join(f"{k} {v:.2%}" for k, v in run["acc"].items()))
    return runs, zvc, layers, pending, hooks


def _summarize(runs, zvc, layers, rtl_ok, rtl_reason):
    rows = {}
    for key, label in METHOD_ROWS:
        st = _stats(r["acc"].get(key) for r in runs)
        sp = _stats(r["sparsity"].get(key) for r in runs)
        rows[key] = {"label": label, "accuracy": st,
                     "sparsity": None if sp is None else sp["mean"]}
        if key == "s24_rtl" and st is None:
            rows[key]["note"] = "not run" + ("" if rtl_ok else f": {rtl_reason}")
    gold = [r["golden_vs_torch"] for r in runs]
    done = [r for r in runs if "rtl" in r]

    def count(items, field):
        return sum(sum(l_[field] for l_ in g["layers"]) for g in items)
    return {
        "rows": rows, "runs": runs, "zvc": zvc, "layers": layers,
        "golden_vs_torch": {"images": sum(g["images"] for g in gold),
                            "bit_exact": all(g["bit_exact"] for g in gold),
                            "accumulators": count(gold, "acc_checked"),
                            "outputs": count(gold, "out_checked")},
        "rtl": {"runs": [[r["fold"], r["seed"]] for r in done],
                "images": sum(r["rtl"]["images"] for r in done),
                "bit_exact": all(r["rtl"]["bit_exact"] for r in done) if done else None,
                "accumulators": count([r["rtl"] for r in done], "acc_checked"),
                "outputs": count([r["rtl"] for r in done], "out_checked"),
                "golden_accuracy_same_images": _stats(r["acc"]["s24_int8"] for r in done),
                "reason": None if rtl_ok else rtl_reason}}


def _zvc_of(trace, graph):
    """ZVC/RLE/zlib ratios of every requantized (ReLU) output in ``trace``, image-major."""
    out = []
    for t, s in zip(trace, graph.gemms):
        if t["out"] is None:
            continue
        a = np.asarray(t["out"])
        a = a.T if s.kind == "linear" else a          # (images, features ...)
        words = a.astype(np.uint8).reshape(-1)        # ReLU output: 0 … 127
        out.append(dict(zvc_ratios(words), layer=s.name, kind=s.kind,
                        shape=list(a.shape[1:])))
    return out


def _goals(results):
    goals = {}
    for name, m in results["models"].items():
        d, s = m["rows"]["dense"]["accuracy"], m["rows"]["s24"]["accuracy"]
        delta = (s["mean"] - d["mean"]) * 100
        ctl = m["rows"].get("dense_rt", {}).get("accuracy")
        versus = "" if ctl is None else (
            f"; against the control (dense retrained as long, {ctl['mean']:.2%} ± "
            f"{ctl['std']:.2%}): Δ {(s['mean'] - ctl['mean']) * 100:+.2f} points")
        goals[f"{name}: 2:4 retrained within {GOAL_POINTS} points of dense"] = {
            "met": bool(delta >= -GOAL_POINTS - 1e-9),
            "detail": f"dense {d['mean']:.2%} ± {d['std']:.2%}, 2:4 retrained "
                      f"{s['mean']:.2%} ± {s['std']:.2%} (Δ {delta:+.2f} points, mean over "
                      f"{s['n']} runs){versus}"}
        r = m["rtl"]
        goals[f"{name}: RTL int8 bit-exact with the torch integer reference"] = {
            "met": r["bit_exact"],
            "detail": (f"{r['images']} images (fold, seed) {r['runs']}: {r['accumulators']} "
                       f"int32 accumulators and {r['outputs']} requantized outputs compared"
                       if r["bit_exact"] is not None else f"not run: {r['reason']}")}
    return goals


def _fmt(st):
    if st is None:
        return "—"
    return f"{st['mean'] * 100:.2f} ± {st['std'] * 100:.2f} (n={st['n']})"


def _verdict(a, b):
    """Paired Δ (b − a) and whether it is a difference (|Δ| > the larger std)."""
    if a is None or b is None or a["n"] != b["n"]:
        return "—", "—"
    diff = np.asarray(b["values"]) - np.asarray(a["values"])
    spread = max(a["std"], b["std"])
    mean = float(diff.mean())
    called = "difference" if abs(mean) > spread else "within spread"
    return (f"{mean * 100:+.2f} ± {float(diff.std(ddof=1)) * 100 if len(diff) > 1 else 0:.2f}",
            called)


def render(results, command=None):
    """The markdown report."""
    cfg = results["config"]
    lines = ["# sparsecore PyTorch flow: cross-validated accuracy on the digits", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        f"* Data: scikit-learn digits, all 1797 images, stratified {cfg['k']}-fold "
        "cross-validation (`StratifiedKFold(shuffle=True, random_state=0)`), training seeds "
        f"{cfg['seeds']}: {cfg['k'] * len(cfg['seeds'])} runs per row"
        + (f" (at most {cfg['limit']} test images per fold)" if cfg.get("limit") else "")
        + ".",
        f"* Training: PyTorch {results['torch']} (CPU, one thread), Adam lr {cfg['lr']}, batch "
        f"{cfg['batch_size']}, {cfg['epochs']} epochs for every (re)training; masks held "
        "fixed with `torch.nn.utils.prune.custom_from_mask`.",
        "* 2:4 masks: `torch.ao.pruning.WeightNormSparsifier(sparse_block_shape=(1, 4), "
        "zeros_per_block=2)` on each layer's GEMM view (out × K).",
        f"* Han et al.: {cfg['han_steps']} prune/retrain rounds per target. TW: tiles of 16 "
        "output rows, 50 %; TVW: TW 50 % then 2:4 (golden.tilewise).",
        "* int8: per-channel weights, per-tensor activations calibrated on the training "
        "fold, integer requantization; golden GEMMs on every run, RTL on (fold, seed) "
        f"{cfg['rtl_runs']} (every test image of those folds).",
        "* Accuracy: mean ± sample std over runs, in %. Δ: paired difference to dense "
        "(same fold and seed), mean ± std; called a *difference* only when |Δ mean| exceeds "
        "the larger of the two rows' std.", ""]
    for name, m in results["models"].items():
        shapes = ", ".join(f"{l_['name']} {l_['kind']} {l_['padded'][0]}×{l_['padded'][1]}"
                           for l_ in m["layers"])
        lines += [f"## {name.upper()}", "", f"GEMM layers (padded M×K): {shapes}.", "",
                  "| method | weight sparsity | accuracy (%) | Δ vs dense (points) | verdict |",
                  "|---|---:|---:|---:|---|"]
        d = m["rows"]["dense"]["accuracy"]
        for key, _ in METHOD_ROWS:
            r = m["rows"][key]
            sp = "—" if r["sparsity"] is None else f"{r['sparsity'] * 100:.1f} %"
            delta, called = ("—", "—") if key == "dense" else _verdict(d, r["accuracy"])
            if key == "s24_rtl" and r["accuracy"] is not None:
                g = m["rtl"]["golden_accuracy_same_images"]
                delta, called = "—", f"golden on the same images {_fmt(g)}"
            note = f" ({r['note']})" if r.get("note") else ""
            lines.append(f"| {r['label']} | {sp} | {_fmt(r['accuracy'])}{note} | {delta} | "
                         f"{called} |")
        gt, rt = m["golden_vs_torch"], m["rtl"]
        lines += ["", f"Bit-exactness: golden int8 vs the torch integer reference on "
                  f"{gt['images']} test images (all runs): {gt['accumulators']} int32 "
                  f"accumulators and {gt['outputs']} requantized outputs, bit-exact: "
                  f"**{gt['bit_exact']}**."]
        if rt["bit_exact"] is None:
            lines += [f"RTL: not run ({rt['reason']})."]
        else:
            cyc = [r["rtl"] for r in m["runs"] if "rtl" in r]
            lines += [f"RTL (GEMM engine under Verilator, sparse mode) vs the torch integer "
                      f"reference on {rt['images']} images, (fold, seed) {rt['runs']}: "
                      f"{rt['accumulators']} int32 accumulators and {rt['outputs']} "
                      f"requantized outputs, bit-exact: **{rt['bit_exact']}**; engine cycles "
                      f"per layer {[c['cycles'] for c in cyc]}."]
        lines.append("")
    lines += ["## Measured TW / TVW on the engine", ""]
    tw = results.get("tilewise")
    if tw is None:
        lines += ["Not measured here: the rows above are accuracy only. Measured cycles come "
                  "from `sparsecore/tilewise_run.py` (`cv_report(context)`, see "
                  "`sparsecore.cv.tilewise_hook`) when it is present.", ""]
    else:
        lines += list(tw.get("markdown", [])) + [""]
    lines += ["## Zero-value compression of the int8 activations", "",
              "2:4 int8 models, fold 0, first seed, every test image of the fold: each "
              "ReLU output (requantized, 0…127, one byte per element, image-major, NCHW for "
              "convolutions), compressed with golden.zvc (32-word blocks, header included), "
              "zero-run-length (RLE) and zlib level 9. Ratio = raw bytes / compressed bytes.",
              "", "| model | layer | elements / image | non-zero | ZVC | RLE | zlib |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for name, m in results["models"].items():
        for z in m["zvc"] or []:
            lines.append(f"| {name} | {z['layer']} ({z['kind']}, {'×'.join(map(str, z['shape']))})"
                         f" | {int(np.prod(z['shape']))} | {z['density'] * 100:.1f} % | "
                         f"{z['zvc']:.2f}× | {z['rle']:.2f}× | {z['zlib']:.2f}× |")
    lines += [f"| paper (Rhu et al. HPCA 2018) | ImageNet CNNs, ReLU outputs | | | "
              f"{PAPER_ZVC['zvc_average_ratio']}× average (max {PAPER_ZVC['zvc_max_ratio']}×)"
              " | | |", ""]
    lines += ["## Goals", ""]
    for goal, g in results["goals"].items():
        mark = {True: "met", False: "**missed**", None: "not checked"}[g["met"]]
        lines.append(f"* {goal}: {mark}: {g['detail']}")
    lines += ["", f"Run time {results['seconds']} s.", ""]
    return "\n".join(lines)


def write(results, out_dir, command=None):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = dict(results, command=command)
    (out / "cv.json").write_text(json.dumps(results, indent=1, sort_keys=True,
                                            default=_jsonable) + "\n")
    (out / "cv.md").write_text(render(results, command))
    return out / "cv.md"


def _jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def main(argv=None):
    """``python -m sparsecore.cv results.json``: re-render cv.md beside a saved cv.json."""
    import sys
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m sparsecore.cv reports/cv/cv.json", file=sys.stderr)
        return 2
    path = pathlib.Path(args[0])
    results = json.loads(path.read_text())
    results["goals"] = _goals(results)
    command = results.get("command")
    md = path.parent / "cv.md"
    if command is None and md.exists():        # reports written before cv.json kept it
        parts = md.read_text().split("```")
        command = parts[1].strip() if len(parts) > 2 else None
    md.write_text(render(results, command))
    print(f"report: {path.parent / 'cv.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
