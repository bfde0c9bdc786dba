"""``sparsecore``: the command line of the model flow.

Subcommands (``sparsecore <command> --help`` explains each):

* ``demo``: the whole flow (train, prune 2:4, retrain, int8, golden and RTL inference,
  baselines) and its report.
* ``train``: train the dense MLP and save it.
* ``prune``: prune a saved float model (2:4, unstructured, TW, TVW), optionally retrain.
* ``compress``: quantize a saved 2:4 float model to int8 and compress its weights.
* ``run``: run a saved model on the test split (golden model or RTL) and print accuracy.
* ``cv``: cross-validated report of the PyTorch MLP and CNN (``make demo``).
* ``info``: describe a saved model file.

``train``, ``prune`` and ``run`` also take PyTorch model files (``.pt``): see
:mod:`sparsecore.torchfile` and :mod:`sparsecore.frontend`.

User errors (bad files, bad arguments, missing RTL engine) print one line on stderr and
exit with status 1 (argparse's own usage errors: 2); no traceback (``SPARSECORE_DEBUG=1``
in the environment re-raises them).
"""

import argparse
import os
import shlex
import sys

__all__ = ["main"]

EPILOG = "Model files: .npz, format version 1 (docs/model_flow.md, sparsecore/modelfile.py)."


class UserError(Exception):
    """An error to report in one line, without a traceback."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), not {text!r}")
    return value


def _add_training(p):
    g = p.add_argument_group("training (same hyper-parameters for every (re)training)")
    g.add_argument("--epochs", type=_positive_int, default=30, help="epochs (default 30)")
    g.add_argument("--batch-size", type=_positive_int, default=32,
                   help="mini-batch size (default 32)")
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--backend", choices=("auto", "torch", "sklearn"), default="auto",
                   help="training library: PyTorch if installed (auto), or scikit-learn's "
                        "MLPClassifier")


def _train_config(args):
    from .model import TrainConfig
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       seed=args.seed)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sparsecore",
        description="Model flow of the sparsecore 2:4 sparse matrix-multiply core: train an "
                    "MLP on scikit-learn's digits, prune it 2:4, retrain, quantize to int8, "
                    "and check it bit for bit on the golden model and the RTL.",
        epilog=EPILOG)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # -q after the command too; SUPPRESS keeps the top-level value when it is absent.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_command(name, **kwargs):
        return sub.add_parser(name, parents=[common], epilog=EPILOG, **kwargs)

    p = add_command(
        "demo", help="run the whole flow and write the report",
        description="Dense training → 2:4 magnitude pruning → retraining with the mask fixed "
                    "→ int8 quantization → inference of the test split on the golden model "
                    "and on the RTL (GEMM engine under Verilator, sparse and dense mode, "
                    "checked bit for bit), plus the baselines: unstructured magnitude pruning "
                    "(Han et al.) at 50 % and 90 %, tile-wise (TW) 50 % and TVW. Writes "
                    "report.md, results.json, accuracy.png and the models into --out.")
    p.add_argument("--out", default="reports/model",
                   help="output folder (default reports/model)")
    p.add_argument("--test-limit", type=_positive_int, default=None,
                   help="evaluate on the first N test samples only (default: all)")
    p.add_argument("--rtl-limit", type=_positive_int, default=None,
                   help="RTL inference on the first N evaluated samples only (default: all)")
    p.add_argument("--no-rtl", action="store_true", help="skip the RTL inference rows")
    p.add_argument("--han-steps", type=_positive_int, default=3,
                   help="prune/retrain rounds of the unstructured baseline (default 3)")
    _add_training(p)

    p = add_command("train", help="train the dense MLP (or a PyTorch MLP/CNN) and save it",
                    description="Train the dense 64 → 256 → 256 → 10 MLP on the digits' "
                                "training split and save it as a float model file; with a "
                                ".pt output, train the PyTorch model --model (mlp, or the "
                                "cnn: two 3×3 convolutions and a linear classifier) and "
                                "save it with torch.save.")
    p.add_argument("output", help="model file to write (.npz, or .pt for PyTorch)")
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                   help="PyTorch model for a .pt output (default mlp)")
    _add_training(p)

    p = add_command(
        "prune", help="prune a saved float model",
        description="Prune every layer of a float model file: 2:4 (golden.prune, the "
                    "default), unstructured (Han et al., threshold = quality × std, one "
                    "shot; the demo runs the iterative schedule), TW or "
                    "TVW (golden.tilewise). With --retrain, retrain on the digits with the "
                    "mask re-applied after every optimizer step. The mask is saved with the "
                    "weights.")
    p.add_argument("input", help="float model file (.npz, or .pt: PyTorch, 2:4 with "
                                 "torch.ao.pruning's WeightNormSparsifier)")
    p.add_argument("output", help="pruned float model file to write (.npz or .pt)")
    p.add_argument("--data", default="digits",
                   help="PyTorch models: retraining data, 'digits' or an .npz with x, y "
                        "(x_calib, y_calib if present; default digits)")
    p.add_argument("--method", choices=("2:4", "unstructured", "tw", "tvw"), default="2:4",
                   help="pruning method (default 2:4)")
    p.add_argument("--sparsity", type=_fraction, default=None,
                   help="target sparsity for unstructured / TW (TVW: its TW part); "
                        "not used by 2:4")
    p.add_argument("--retrain", action="store_true", help="retrain after pruning")
    _add_training(p)

    p = add_command(
        "compress", help="quantize a 2:4 float model to int8 and compress it",
        description="Quantize a float model to int8 (per-channel weights, per-tensor "
                    "activations calibrated on the digits' training split), pad it to the "
                    "core's tile, and store the 2:4 compressed weights (values + metadata, "
                    "golden.compress). Fails, naming row and group, if a layer is not 2:4; "
                    "--dense stores an int8 model for dense mode instead.")
    p.add_argument("input", help="float model file (.npz)")
    p.add_argument("output", help="int8 model file to write (.npz)")
    p.add_argument("--dense", action="store_true",
                   help="do not compress: an int8 model for the dense mode")

    p = add_command(
        "run", help="run a saved model on the test split (golden or RTL)",
        description="Run a model file on the digits' test split and print its accuracy. "
                    "int8 models run on the golden model (default) or on the RTL "
                    "(--backend rtl: the GEMM engine under Verilator; every layer's int32 "
                    "output is compared with the golden model's, and cycles are printed). "
                    "Float models run in NumPy.")
    p.add_argument("model", help="model file (.npz, or .pt: a PyTorch module, quantized "
                                 "to int8 here and checked against the torch integer "
                                 "reference)")
    p.add_argument("--data", default="digits",
                   help="PyTorch models: 'digits' (calibrate on its training split, run its "
                        "test split) or an .npz with x, y and optionally x_calib "
                        "(default digits)")
    p.add_argument("--backend", choices=("golden", "rtl"), default="golden",
                   help="where int8 GEMMs run (default golden)")
    p.add_argument("--verbose", action="store_true",
                   help="show the Verilator build and simulator output (default: to the "
                        "log files named at the end)")
    p.add_argument("--dense-mode", action="store_true",
                   help="run 2:4 layers uncompressed, in the core's dense mode")
    p.add_argument("--pipeline", type=_positive_int, default=1,
                   help="--backend rtl: the core's pipeline depth p (default 1; the "
                        "150 MHz-class ECP5 build is --pipeline 11 --dsp ecp5)")
    p.add_argument("--dsp", choices=("generic", "ecp5"), default="generic",
                   help="--backend rtl: the core's multipliers and register copies, "
                        "'ecp5' simulates the MULT18X18D / TRELLIS_FF / DP16KD primitives "
                        "(default generic)")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="first N test samples only")

    p = add_command(
        "cv", help="cross-validated report of the PyTorch MLP and CNN (make demo)",
        description="Stratified k-fold cross-validation over all 1797 digits and several "
                    "training seeds, for the PyTorch MLP and CNN: dense, 2:4 retrained, 2:4 "
                    "int8 (golden GEMMs, bit-exact against the torch integer reference on "
                    "every image; RTL on --rtl-runs), Han 50/90 %, TW, TVW, mean ± std, "
                    "and ZVC ratios of the activations. Writes cv.md and cv.json to --out.")
    p.add_argument("--out", default="reports/cv", help="output folder (default reports/cv)")
    p.add_argument("--models", nargs="+", choices=("mlp", "cnn"), default=["mlp", "cnn"])
    p.add_argument("--folds", type=_positive_int, default=5, help="k (default 5)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="training seeds (default 0 1 2)")
    p.add_argument("--epochs", type=_positive_int, default=15, help="epochs (default 15)")
    p.add_argument("--batch-size", type=_positive_int, default=64,
                   help="mini-batch size (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--han-steps", type=_positive_int, default=2,
                   help="Han et al. prune/retrain rounds (default 2)")
    p.add_argument("--rtl-runs", nargs="*", default=["0:0"], metavar="FOLD:SEED",
                   help="(fold, seed) pairs whose test images run on the RTL (default 0:0)")
    p.add_argument("--no-rtl", action="store_true", help="no RTL runs")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="at most N test images per fold (quick looks and tests)")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="train the models in this many processes (default 1)")
    p.add_argument("--verbose", action="store_true",
                   help="show the Verilator build and simulator output")

    p = add_command("info", help="describe a saved model file",
                    description="Print a model file's kind, layers, shapes, sparsity "
                                "and metadata.")
    p.add_argument("model", help="model file (.npz)")
    return parser


# --- commands -------------------------------------------------------------------------------

def cmd_demo(args, argv):
    from .flow import DemoConfig, run_demo
    cfg = DemoConfig(out_dir=args.out, train=_train_config(args), backend=args.backend,
                     test_limit=args.test_limit, rtl=not args.no_rtl,
                     rtl_limit=args.rtl_limit, han_steps=args.han_steps)
    command = "sparsecore " + " ".join(shlex.quote(a) for a in argv)
    results = run_demo(cfg, progress=not args.quiet, command=command)
    print(f"report: {args.out}/report.md")
    for r in results["rows"].values():
        acc = "—" if r["accuracy"] is None else f"{r['accuracy'] * 100:.2f} %"
        print(f"  {r['label']:<36} {acc:>8}")
    return 0


def _torch_train(args):
    from . import cv, frontend, torchfile
    from .data import load_digits
    from .progress import Progress
    torchfile.check_writable(args.output)
    import torch
    torch.manual_seed(args.seed)
    module = cv.MODELS[args.model][0]()
    d = load_digits()
    shape = (-1, *cv.MODELS[args.model][1])
    bar = Progress(not args.quiet).bar(f"{args.model} training", args.epochs, "epoch")
    frontend.train(module, d.x_train.reshape(shape), d.y_train,
                   frontend.TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                        lr=args.lr, seed=args.seed),
                   progress=bar and bar.tick)
    if bar:
        bar.close()
    torchfile.save_module(module, args.output)
    acc = frontend.accuracy_float(module, d.x_test.reshape(shape), d.y_test)
    print(f"{args.output}: PyTorch {args.model}, test accuracy {acc * 100:.2f} %")
    return 0


def _torch_prune(args):
    from . import frontend, torchfile
    from .progress import Progress
    if args.method != "2:4":
        raise UserError("PyTorch models: only --method 2:4 (torch.ao.pruning) is supported")
    torchfile.check_writable(args.output)
    module = torchfile.load_module(args.input)
    ops = frontend.lower(module)
    frontend.check_finite(ops)
    masks = frontend.prune_24(module, ops)
    data = torchfile.load_data(args.data, conv_input=frontend.gemm_layers(ops)[0].kind == "conv")
    if args.retrain:
        if data.y_calib is None:
            raise UserError(f"{args.data}: retraining needs y_calib beside x_calib")
        frontend._check_input(data.x_calib, frontend.input_shape_of(
            ops, data.x_calib.shape[1:]), f"{data.name} (training inputs)")
        bar = Progress(not args.quiet).bar("2:4 retraining", args.epochs, "epoch")
        frontend.train(module, data.x_calib, data.y_calib,
                       frontend.TrainConfig(epochs=args.epochs, batch_size=args.batch_size,
                                            lr=args.lr, seed=args.seed),
                       masks=masks, progress=bar and bar.tick)
        if bar:
            bar.close()
    else:
        frontend.apply_masks(module, masks, ops)
        frontend.remove_masks(module)
    torchfile.save_module(module, args.output)
    frontend._check_input(data.x, frontend.input_shape_of(ops, data.x.shape[1:]), data.name)
    acc = frontend.accuracy_float(module, data.x, data.y)
    print(f"{args.output}: 2:4 (WeightNormSparsifier){', retrained' if args.retrain else ''}"
          f", accuracy on {data.name} {acc * 100:.2f} %")
    return 0


def _torch_run(args):
    from . import frontend, rtl_backend, torchfile
    from .progress import Progress
    from .torch_ref import reference
    module = torchfile.load_module(args.model)
    ops = frontend.lower(module)
    frontend.check_finite(ops)
    conv = frontend.gemm_layers(ops)[0].kind == "conv"
    data = torchfile.load_data(args.data, conv_input=conv).limit(args.limit)
    shape = frontend.input_shape_of(ops, data.x.shape[1:])
    frontend._check_input(data.x, shape, data.name)
    graph = frontend.quantize(module, data.x_calib, input_shape=shape,
                              sparse=False if args.dense_mode else "auto")
    gemm = None
    if args.backend == "rtl":
        ok, reason = rtl_backend.rtl_status()
        if not ok:
            raise rtl_backend.RTLUnavailable(reason)
        gemm = frontend.rtl_gemm(config=args.core, verbose=args.verbose)
    bar = Progress(not args.quiet).bar(f"int8 inference ({args.backend})",
                                       len(graph.gemms), "layer")
    logits, trace = frontend.run_int8(graph, data.x, gemm=gemm, progress=bar and bar.tick)
    if bar:
        bar.close()
    rlogits, ref = reference(graph, data.x)
    rows = frontend.compare(trace, ref)
    exact = frontend.bit_exact(rows) and bool((rlogits == logits).all())
    acc = float((frontend.predict(logits) == data.y).mean())
    facc = frontend.accuracy_float(module, data.x, data.y)
    sparse = sum(s.sparse for s in graph.gemms)
    where = "the RTL (GEMM engine under Verilator)" if args.backend == "rtl" else \
        "the golden model"
    print(f"{args.model}: int8 on {where}, {sparse} of {len(graph.gemms)} layers 2:4 sparse, "
          f"{len(data.y)} images of {data.name}: accuracy {acc * 100:.2f} % (float "
          f"{facc * 100:.2f} %)")
    print(f"  bit-exact vs the torch integer reference: {exact} "
          f"({sum(r['acc_checked'] for r in rows)} int32 accumulators, "
          f"{sum(r['out_checked'] for r in rows)} requantized outputs; mismatches per layer "
          f"{[r['acc_mismatches'] + r['out_mismatches'] for r in rows]})")
    if args.backend == "rtl":
        cycles = [t["counters"].get("cycles") for t in trace]
        print(f"  engine cycles per layer {cycles}")
        if not args.verbose:
            build_log, test_log = rtl_backend.log_paths(args.core)
            print(f"  simulator logs: {build_log}, {test_log}")
    return 0 if exact else 1


def cmd_cv(args, argv):
    from . import cv
    from .progress import Progress
    runs = []
    for text in args.rtl_runs:
        try:
            fold, seed = (int(v) for v in text.split(":"))
        except ValueError:
            raise UserError(f"--rtl-runs: expected FOLD:SEED, not {text!r}") from None
        if not 0 <= fold < args.folds or seed not in args.seeds:
            raise UserError(f"--rtl-runs: {text} is not one of the folds 0…{args.folds - 1} "
                            f"and seeds {args.seeds}")
        runs.append((fold, seed))
    import pathlib
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{args.out}: cannot write: not a directory")
    progress = Progress(not args.quiet)
    results = cv.run_cv(models=tuple(args.models), k=args.folds, seeds=tuple(args.seeds),
                        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        han_steps=args.han_steps, rtl_runs=runs,
                        rtl=not args.no_rtl, limit=args.limit, progress=progress,
                        log=progress.log, verbose=args.verbose, jobs=args.jobs)
    command = "sparsecore " + " ".join(shlex.quote(a) for a in argv)
    path = cv.write(results, out, command=command)
    print(f"report: {path}")
    for goal, g in results["goals"].items():
        print(f"  {goal}: {g['met']}")
    return 0


def cmd_train(args, argv):
    from . import torchfile
    if torchfile.is_torch_path(args.output):
        return _torch_train(args)
    from . import model, modelfile
    from .data import load_digits
    from .flow import _Progress
    data = load_digits()
    cfg = _train_config(args)
    bar, tick = _Progress(not args.quiet).epochs("dense training", cfg.epochs)
    layers = model.train(data, cfg, backend=args.backend, progress=tick)
    if bar is not None:
        bar.close()
    modelfile.save_float(args.output, layers, meta={"method": "dense", "train": cfg.as_dict()})
    print(f"{args.output}: test accuracy "
          f"{model.accuracy(layers, data.x_test, data.y_test) * 100:.2f} %")
    return 0


def cmd_prune(args, argv):
    from . import torchfile
    if torchfile.is_torch_path(args.input):
        return _torch_prune(args)
    from . import model, modelfile, pruning
    from .data import load_digits
    from .flow import _Progress
    layers, old_masks, meta = modelfile.load_float(args.input)
    if args.method != "2:4" and args.sparsity is None:
        raise UserError(f"--method {args.method} needs --sparsity")
    masks = pruning.prune_masks(layers, args.method, args.sparsity,
                                masks=[m for m in old_masks])
    pruned = model.apply_masks(layers, masks)
    data = load_digits()
    if args.retrain:
        cfg = _train_config(args)
        bar, tick = _Progress(not args.quiet).epochs("retraining", cfg.epochs)
        pruned = model.train(data, cfg, init=pruned, masks=masks, backend=args.backend,
                             progress=tick)
        if bar is not None:
            bar.close()
    meta = dict(meta, method=args.method, sparsity=model.sparsity(pruned),
                retrained=bool(args.retrain), pruned_from=str(args.input))
    modelfile.save_float(args.output, pruned, masks=masks, meta=meta)
    print(f"{args.output}: {args.method}, sparsity {model.sparsity(pruned) * 100:.1f} %, "
          f"test accuracy {model.accuracy(pruned, data.x_test, data.y_test) * 100:.2f} %")
    return 0


def cmd_compress(args, argv):
    from . import modelfile, quant
    from .data import load_digits
    layers, _, meta = modelfile.load_float(args.input)
    data = load_digits()
    q = quant.quantize(layers, data.x_train, sparse=not args.dense)
    modelfile.save_int8(args.output, q, meta=dict(meta, quantized_from=str(args.input)))
    logits, _, _ = quant.infer_int8(q, data.x_test)
    acc = (quant.predict(logits) == data.y_test).mean()
    print(f"{args.output}: int8{'' if args.dense else ', 2:4 compressed'}, golden test "
          f"accuracy {acc * 100:.2f} %")
    return 0


def _run_core(args):
    """The core ``run --backend rtl`` builds (``--pipeline``, ``--dsp``), or None for the
    default; both options are for the RTL back end only."""
    from hw.config import CoreConfig
    if (args.pipeline, args.dsp) == (1, "generic"):
        return None
    if args.backend != "rtl":
        raise UserError("--pipeline and --dsp choose the RTL core; add --backend rtl")
    return CoreConfig(pipeline=args.pipeline, dsp=args.dsp)


def cmd_run(args, argv):
    from . import torchfile
    args.core = _run_core(args)
    if torchfile.is_torch_path(args.model):
        return _torch_run(args)
    from . import model, modelfile, quant, rtl_backend
    from .data import load_digits
    from .flow import _Progress, rtl_inference
    kind, loaded, _ = modelfile.load(args.model)
    data = load_digits()
    x, y = data.test_slice(args.limit)
    if kind == "float":
        if args.backend == "rtl":
            raise UserError(f"{args.model}: a float model cannot run on the RTL; "
                            "quantize it first (sparsecore compress)")
        layers, _ = loaded
        print(f"{args.model}: float, {len(y)} samples, accuracy "
              f"{model.accuracy(layers, x, y) * 100:.2f} %")
        return 0
    sparse = False if args.dense_mode else None
    logits, outputs, _ = quant.infer_int8(loaded, x, sparse=sparse)
    acc = (quant.predict(logits) == y).mean()
    if args.backend == "golden":
        print(f"{args.model}: int8 on the golden model, {len(y)} samples, accuracy "
              f"{acc * 100:.2f} %")
        return 0
    mode = not args.dense_mode
    bar, tick = _Progress(not args.quiet).steps("RTL inference", len(loaded.layers), "layer")
    result = rtl_inference(loaded, x, y, outputs, sparse=mode, progress=tick, config=args.core)
    if bar is not None:
        bar.close()
    if result["status"] == "not run":
        raise rtl_backend.RTLUnavailable(result["reason"])
    core = f", core {args.core.name}" if args.core is not None else ""
    print(f"{args.model}: int8 on the RTL ({'sparse' if mode else 'dense'} mode{core}), {len(y)} "
          f"samples, accuracy {result['accuracy'] * 100:.2f} % (golden {acc * 100:.2f} %), "
          f"cycles {result['cycles']}, bit-exact {result['bit_exact']}")
    return 0 if result["bit_exact"] else 1


def cmd_info(args, argv):
    import json

    from . import modelfile
    kind, loaded, meta = modelfile.load(args.model)
    print(f"{args.model}: {kind} model, format version {modelfile.VERSION}")
    if kind == "float":
        layers, masks = loaded
        for i, ((W, b), mk) in enumerate(zip(layers, masks)):
            print(f"  layer {i}: W {W.shape[0]}x{W.shape[1]}, sparsity "
                  f"{(W == 0).mean() * 100:.1f} %{', with mask' if mk is not None else ''}")
    else:
        for i, layer in enumerate(loaded.layers):
            print(f"  layer {i}: {layer.out_features}x{layer.in_features} padded to "
                  f"{layer.w.shape[0]}x{layer.w.shape[1]}, "
                  f"{'2:4 compressed' if layer.sparse else 'dense'}, x_scale "
                  f"{layer.x_scale:.6g}")
    print(f"  meta: {json.dumps(meta, sort_keys=True)}")
    return 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "prune": cmd_prune,
            "compress": cmd_compress, "run": cmd_run, "cv": cmd_cv, "info": cmd_info}


def main(argv=None):
    """Entry point; returns the exit status (``sparsecore`` console script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from .modelfile import ModelFileError
    from .rtl_backend import RTLUnavailable
    try:
        import golden
        golden_errors = (golden.GoldenError,)
    except (ImportError, AttributeError):
        golden_errors = ()
    try:
        return COMMANDS[args.command](args, argv)
    except (UserError, ModelFileError, RTLUnavailable, ValueError, *golden_errors) as exc:
        if os.environ.get("SPARSECORE_DEBUG"):
            raise
        print(f"sparsecore {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if os.environ.get("SPARSECORE_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sparsecore {args.command}: error: {where}{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sparsecore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
