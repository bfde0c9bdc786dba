"""PyTorch front end: an ``nn.Module`` → 2:4 pruning → retraining → int8 → the GEMM engine.

Supported layers (anything else is refused with :class:`UnsupportedLayerError`, naming the
layer and its type):

* ``nn.Linear`` (bias or not);
* ``nn.Conv2d`` with ``groups=1``, ``dilation=1``, ``padding_mode="zeros"`` and integer
  padding, run as one GEMM per layer by im2col: A = the weight as (out, in·kh·kw), K in
  the order (channel, row, column) of ``weight.reshape(out, -1)``; B = the patches,
  (K, images·OH·OW);
* ``nn.ReLU`` (and ``torch.relu`` / ``F.relu`` / ``.relu()`` in a traced ``forward``);
* ``nn.MaxPool2d`` and ``nn.AvgPool2d`` without padding, dilation or ``ceil_mode``;
* ``nn.Flatten`` (``start_dim=1``; also ``torch.flatten(x, 1)`` / ``.flatten(1)``).

The module is read with ``torch.fx.symbolic_trace``, so a custom ``nn.Module`` whose
``forward`` chains these layers works as well as an ``nn.Sequential``; the graph must be
a chain (each step consumes the previous step's output) ending with a ``Linear`` layer,
whose int32 outputs are the logits.

**2:4 pruning** uses PyTorch's own machinery: ``torch.ao.pruning.WeightNormSparsifier``
with ``sparse_block_shape=(1, 4)``, ``zeros_per_block=2`` and ``sparsity_level=1.0``
chooses the mask (the two smallest magnitudes of every group of 4 along K are zeroed),
and ``torch.nn.utils.prune.custom_from_mask`` holds it fixed while retraining (the
weight is ``weight_orig * weight_mask`` in every forward pass, so masked weights get zero
gradients and Adam never moves them); ``prune.remove`` makes it permanent. The sparsifier
only handles 2-D tensors, so it runs on each weight's GEMM view ``(out, K)`` zero-padded
to a multiple of 4 (the pad columns are zero, hence always among the pruned ones, and a
real weight is never dropped for them). ``torch.sparse.to_sparse_semi_structured`` is not
used: it is a storage format for CUDA kernels (it needs a GPU and fixed sizes) and does
not choose a mask; its CUTLASS layout is interchangeable with ours through
``golden.torch_interop`` (tested in tests/test_golden_torch.py).

**int8** (same scheme as :mod:`sparsecore.quant`, docs/model_flow.md): symmetric,
per-output-channel weights (the last layer one scale, so its int32 logits share a factor),
per-tensor activations calibrated on a calibration set (the maximum magnitude of the
network input and of every GEMM's output after its ReLU, over 127), int32 bias in the
accumulator's scale, integer requantization ``(D·mult + 2^(shift−1)) >> shift`` clipped
to [0, 127] when a ReLU follows the GEMM, else to [−127, 127]. Pools run on the int8
activations: max pooling exactly, average pooling as ``(sum + k//2) // k`` (round half up;
k the window size). Each GEMM's weights are zero-padded to the core's tile (K to a
multiple of ``tile_k``, M to a multiple of ``tile_m``); padded rows are cropped off D.

:func:`run_int8` runs the integer network with any GEMM (:func:`golden_gemm`, or
:func:`rtl_gemm` on the engine under Verilator) and returns every layer's int32
accumulators and requantized outputs; :mod:`sparsecore.torch_ref` computes the same from
PyTorch ops alone, and :func:`compare` checks them element for element.
"""

from dataclasses import dataclass, field

import numpy as np

from . import quant

__all__ = ["UnsupportedLayerError", "ModelInputError", "Gemm", "Pool", "Relu", "Flatten",
           "lower", "gemm_layers", "prune_24", "apply_masks", "remove_masks", "train",
           "TrainConfig", "forward_float", "accuracy_float", "quantize", "QGemm", "QGraph",
           "run_int8", "golden_gemm", "rtl_gemm", "compare", "predict", "SUPPORTED"]

SUPPORTED = "Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten (in a chain)"
INT8_MAX = quant.INT8_MAX


class UnsupportedLayerError(ValueError):
    """The module holds a layer (or an operation) the flow cannot run; the message names it."""


class ModelInputError(ValueError):
    """Weights or data the flow refuses (NaN/Inf, wrong shape); the message names them."""


# --- lowering --------------------------------------------------------------------------------

@dataclass
class Gemm:
    """A Linear or Conv2d layer: ``weight`` float64 (out, in) or (out, C, kh, kw)."""
    name: str
    kind: str                      # "linear" or "conv"
    module: object                 # the torch module (weights are read from it)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)

    @property
    def weight(self):
        return self.module.weight.detach().cpu().double().numpy()

    @property
    def bias(self):
        b = self.module.bias
        out = self.module.weight.shape[0]
        return np.zeros(out) if b is None else b.detach().cpu().double().numpy()

    @property
    def matrix(self):
        """The GEMM's A operand, float64 (out, K)."""
        w = self.weight
        return w.reshape(w.shape[0], -1)


@dataclass
class Pool:
    name: str
    kind: str                      # "max" or "avg"
    kernel: tuple
    stride: tuple


@dataclass
class Relu:
    name: str


@dataclass
class Flatten:
    name: str


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _describe(name, obj):
    return f"layer {name!r} ({type(obj).__name__})"


def _lower_module(name, mod):
    import torch.nn as nn

    if isinstance(mod, nn.Linear):
        return Gemm(name, "linear", mod)
    if isinstance(mod, nn.Conv2d):
        problems = []
        if mod.groups != 1:
            problems.append(f"groups={mod.groups}")
        if _pair(mod.dilation) != (1, 1):
            problems.append(f"dilation={mod.dilation}")
        if mod.padding_mode != "zeros":
            problems.append(f"padding_mode={mod.padding_mode!r}")
        if isinstance(mod.padding, str):
            problems.append(f"padding={mod.padding!r}")
        if problems:
            raise UnsupportedLayerError(f"{_describe(name, mod)} with {', '.join(problems)} "
                                        "is not supported (groups=1, dilation=1, zero "
                                        "padding given as numbers only)")
        return Gemm(name, "conv", mod, _pair(mod.stride), _pair(mod.padding))
    if isinstance(mod, nn.ReLU):
        return Relu(name)
    if isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
        problems = []
        if _pair(mod.padding) != (0, 0):
            problems.append(f"padding={mod.padding}")
        if mod.ceil_mode:
            problems.append("ceil_mode=True")
        if isinstance(mod, nn.MaxPool2d):
            if _pair(mod.dilation) != (1, 1):
                problems.append(f"dilation={mod.dilation}")
            if mod.return_indices:
                problems.append("return_indices=True")
        elif mod.divisor_override is not None:
            problems.append(f"divisor_override={mod.divisor_override}")
        if problems:
            raise UnsupportedLayerError(f"{_describe(name, mod)} with {', '.join(problems)} "
                                        "is not supported")
        stride = mod.stride if mod.stride is not None else mod.kernel_size
        return Pool(name, "max" if isinstance(mod, nn.MaxPool2d) else "avg",
                    _pair(mod.kernel_size), _pair(stride))
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise UnsupportedLayerError(f"{_describe(name, mod)} with start_dim="
                                        f"{mod.start_dim}, end_dim={mod.end_dim} is not "
                                        "supported (start_dim=1, end_dim=-1 only)")
        return Flatten(name)
    raise UnsupportedLayerError(f"{_describe(name, mod)} is not supported; supported: "
                                f"{SUPPORTED}")


def _lower_function(node):
    import torch
    import torch.nn.functional as F

    target = node.target
    args = node.args[1:]
    if node.op == "call_function" and target in (torch.relu, F.relu) or (
            node.op == "call_method" and target == "relu"):
        return Relu(node.name)           # in place or not: the same values
    if node.op == "call_function" and target is torch.flatten or (
            node.op == "call_method" and target == "flatten"):
        start = args[0] if args else node.kwargs.get("start_dim", 0)
        end = args[1] if len(args) > 1 else node.kwargs.get("end_dim", -1)
        if start != 1 or end != -1:
            raise UnsupportedLayerError(f"operation {node.name!r} (flatten with start_dim="
                                        f"{start}, end_dim={end}) is not supported "
                                        "(start_dim=1, end_dim=-1 only)")
        return Flatten(node.name)
    what = getattr(target, "__name__", str(target))
    raise UnsupportedLayerError(f"operation {node.name!r} ({what}) is not supported; "
                                f"supported: {SUPPORTED}")


def lower(module):
    """The module as a chain of :class:`Gemm`, :class:`Pool`, :class:`Relu`, :class:`Flatten`.

    Raises
    ------
    UnsupportedLayerError
        A layer or operation outside the supported set, a graph that is not a chain, or a
        chain that does not end with a Linear layer.
    """
    import torch.fx
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise UnsupportedLayerError(f"expected a torch.nn.Module, not {type(module).__name__}")
    # Unsupported module types first (by name), before fx sees them.
    for name, mod in module.named_modules():
        if name and not isinstance(mod, (nn.Sequential, nn.ModuleList, nn.ModuleDict)) \
                and not list(mod.children()):
            _lower_module(name, mod)
    try:
        graph = torch.fx.symbolic_trace(module).graph
    except Exception as exc:  # noqa: BLE001 - anything fx cannot trace
        raise UnsupportedLayerError(f"cannot trace the module's forward with torch.fx "
                                    f"({type(exc).__name__}: {exc}); use a chain of "
                                    f"{SUPPORTED}") from None
    ops, previous = [], None
    modules = dict(module.named_modules())
    for node in graph.nodes:
        if node.op == "placeholder":
            if previous is not None:
                raise UnsupportedLayerError("the module takes more than one input")
            previous = node
            continue
        if node.op == "output":
            if node.args[0] is not previous:
                raise UnsupportedLayerError("the module's output is not its last layer's")
            break
        if node.op == "get_attr":
            raise UnsupportedLayerError(f"operation {node.name!r} reads the attribute "
                                        f"{node.target!r}; supported: {SUPPORTED}")
        inputs = [a for a in node.all_input_nodes]
        if inputs != [previous]:
            raise UnsupportedLayerError(f"operation {node.name!r} does not just take the "
                                        "previous layer's output: only chains are supported")
        if node.op == "call_module":
            ops.append(_lower_module(node.target, modules[node.target]))
        else:
            ops.append(_lower_function(node))
        previous = node
    gemms = [op for op in ops if isinstance(op, Gemm)]
    if not gemms or not isinstance(ops[-1], Gemm) or ops[-1].kind != "linear":
        last = ops[-1].name if ops else "(none)"
        raise UnsupportedLayerError(f"the model must end with a Linear layer (its int32 "
                                    f"outputs are the logits), not with {last!r}")
    return ops


def gemm_layers(ops):
    return [op for op in ops if isinstance(op, Gemm)]


def check_finite(ops):
    """Raise :class:`ModelInputError` naming the first layer with a NaN or Inf parameter."""
    for op in gemm_layers(ops):
        for what, arr in (("weight", op.weight), ("bias", op.bias)):
            bad = ~np.isfinite(arr)
            if bad.any():
                where = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ModelInputError(f"layer {op.name!r}: {what} has {int(bad.sum())} NaN/Inf "
                                      f"value(s), the first at {list(where)}")


# --- pruning and training --------------------------------------------------------------------

def prune_24(module, ops=None):
    """2:4 masks of every GEMM layer, chosen by ``torch.ao.pruning.WeightNormSparsifier``.

    Returns ``{layer name: bool array (out, K)}`` (True = kept); does not change the module
    (:func:`apply_masks` does).
    """
    import torch
    import torch.nn as nn
    from torch.ao.pruning import WeightNormSparsifier

    class _Matrix(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.weight = nn.Parameter(w)

    ops = lower(module) if ops is None else ops
    masks = {}
    for op in gemm_layers(ops):
        w = torch.from_numpy(op.matrix)
        K = w.shape[1]
        padded = torch.zeros(w.shape[0], -(-K // 4) * 4, dtype=w.dtype)
        padded[:, :K] = w
        holder = nn.Sequential(_Matrix(padded))
        sparsifier = WeightNormSparsifier(sparsity_level=1.0, sparse_block_shape=(1, 4),
                                          zeros_per_block=2)
        sparsifier.prepare(holder, [{"tensor_fqn": "0.weight"}])
        sparsifier.step()
        mask = holder[0].parametrizations.weight[0].mask.detach().numpy().astype(bool)
        masks[op.name] = mask[:, :K].copy()
    return masks


def apply_masks(module, masks, ops=None):
    """Hold ``masks`` fixed on the module (``torch.nn.utils.prune.custom_from_mask``)."""
    import torch
    from torch.nn.utils import prune

    ops = lower(module) if ops is None else ops
    for op in gemm_layers(ops):
        if op.name not in masks:
            continue
        w = op.module.weight
        m = torch.from_numpy(np.asarray(masks[op.name], dtype=bool).reshape(w.shape))
        if prune.is_pruned(op.module):
            prune.remove(op.module, "weight")
        prune.custom_from_mask(op.module, "weight", m.to(w.dtype))


def remove_masks(module):
    """Make the masks permanent (``prune.remove``): plain ``weight`` parameters again."""
    from torch.nn.utils import prune

    for mod in module.modules():
        if hasattr(mod, "weight_mask"):
            prune.remove(mod, "weight")


@dataclass(frozen=True)
class TrainConfig:
    """Adam, cross-entropy; dense training and every retraining use the same values."""
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr!r}")


def train(module, x, y, config, *, masks=None, progress=None):
    """Train ``module`` in place on float ``x`` (samples, *input shape), labels ``y``.

    Mini-batches come from ``numpy.random.default_rng(seed + epoch)`` permutations; with
    ``masks`` they are applied with :func:`apply_masks` first and made permanent at the
    end, so masked weights are exactly zero. ``progress(epoch, loss)`` after every epoch.
    Returns the module.
    """
    import torch

    ops = lower(module)
    if masks is not None:
        apply_masks(module, masks, ops)
    torch.set_num_threads(1)
    module.train()
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=config.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(_dtype(module))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    for epoch in range(config.epochs):
        order = np.random.default_rng(config.seed + epoch).permutation(len(yt))
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            idx = torch.from_numpy(order[i:i + config.batch_size])
            opt.zero_grad()
            loss = loss_fn(module(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if progress is not None:
            progress(epoch, total / len(yt))
    module.eval()
    if masks is not None:
        remove_masks(module)
    return module


def _dtype(module):
    return next(module.parameters()).dtype


def forward_float(module, x, batch=2048):
    """Float logits of ``x`` as a NumPy array (no gradients)."""
    import torch

    module.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xt = torch.from_numpy(np.ascontiguousarray(x[i:i + batch])).to(_dtype(module))
            out.append(module(xt).double().numpy())
    return np.concatenate(out)


def accuracy_float(module, x, y):
    return float((forward_float(module, x).argmax(axis=1) == np.asarray(y)).mean())


# --- quantization ----------------------------------------------------------------------------

@dataclass
class QGemm:
    """One quantized GEMM layer. ``w`` int8 (Mp, Kp) padded to the tile (the core's A)."""
    name: str
    kind: str
    w: np.ndarray                   # int8 (Mp, Kp)
    bias: np.ndarray                # int32 (Mp,)
    w_scale: np.ndarray             # float64 (Mp,)
    x_scale: float                  # scale of the layer's int8 input
    out_scale: float | None         # scale of the requantized output (None: logits)
    mult: np.ndarray | None         # int64 (M,)
    shift: np.ndarray | None        # int64 (M,)
    relu: bool                      # requantization clips to [0, 127] (ReLU folded in)
    out_features: int               # M before padding
    in_shape: tuple                 # conv: (C, kh, kw); linear: (K,)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    sparse: bool = False
    values: np.ndarray | None = None
    metadata: np.ndarray | None = None

    @property
    def in_features(self):
        return int(np.prod(self.in_shape))

    @property
    def weight(self):
        """The unpadded int8 weight in the torch layer's shape."""
        return self.w[:self.out_features, :self.in_features].reshape(
            (self.out_features, *self.in_shape))


@dataclass
class QGraph:
    steps: list = field(default_factory=list)     # QGemm, Pool, Relu, Flatten
    input_shape: tuple = ()
    input_scale: float = 1.0
    num_classes: int = 0

    @property
    def gemms(self):
        return [s for s in self.steps if isinstance(s, QGemm)]


def _check_input(x, input_shape, what="data"):
    x = np.asarray(x)
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(input_shape):
        raise ModelInputError(f"{what} has samples of shape {tuple(x.shape[1:])}, the model "
                              f"takes {tuple(input_shape)}")
    if not np.issubdtype(x.dtype, np.number):
        raise ModelInputError(f"{what} must be numeric, not {x.dtype}")
    bad = ~np.isfinite(x)
    if bad.any():
        where = [int(i) for i in np.argwhere(bad)[0]]
        raise ModelInputError(f"{what} has {int(bad.sum())} NaN/Inf value(s), the first at "
                              f"{where}")
    return x


def input_shape_of(ops, x_shape=None):
    """The per-sample input shape: the first layer's for Linear, ``x_shape`` for Conv2d."""
    first = gemm_layers(ops)[0]
    if first.kind == "linear" and not isinstance(ops[0], (Pool, Flatten)):
        return (first.module.in_features,)
    if x_shape is None:
        raise ModelInputError("the model starts with a convolution: give the input shape "
                              "(channels, height, width)")
    return tuple(x_shape)


def _float_trace(ops, x):
    """Float64 forward pass of the chain (torch ops); returns the logits and every GEMM's
    output after its folded ReLU (for calibration)."""
    import torch

    h = torch.from_numpy(np.asarray(x, dtype=np.float64))
    maxima = []
    for i, op in enumerate(ops):
        try:
            h = _float_step(ops, i, op, h, maxima)
        except RuntimeError as exc:             # e.g. an input smaller than the kernel
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
            raise ModelInputError(f"layer {op.name!r} ({_kind_name(op)}) cannot run on "
                                  f"an input of shape {tuple(h.shape[1:])}: {first}") from None
    return h.numpy(), maxima


def _kind_name(op):
    if isinstance(op, Gemm):
        return "Linear" if op.kind == "linear" else "Conv2d"
    if isinstance(op, Pool):
        return "MaxPool2d" if op.kind == "max" else "AvgPool2d"
    return type(op).__name__


def _float_step(ops, i, op, h, maxima):
    import torch
    import torch.nn.functional as F

    if isinstance(op, Gemm):
        w = torch.from_numpy(op.weight)
        b = torch.from_numpy(op.bias)
        if op.kind == "linear":
            if h.ndim != 2 or h.shape[1] != w.shape[1]:
                raise ModelInputError(f"layer {op.name!r} (Linear) takes {w.shape[1]} "
                                      f"features, but receives {tuple(h.shape[1:])}")
            h = F.linear(h, w, b)
        else:
            if h.ndim != 4 or h.shape[1] != w.shape[1]:
                raise ModelInputError(f"layer {op.name!r} (Conv2d) takes {w.shape[1]} "
                                      f"input channels (N, C, H, W), but receives "
                                      f"{tuple(h.shape[1:])}")
            h = F.conv2d(h, w, b, stride=op.stride, padding=op.padding)
        if i + 1 < len(ops) and isinstance(ops[i + 1], Relu):
            h = F.relu(h)
        maxima.append(float(h.abs().max()) if h.numel() else 0.0)
    elif isinstance(op, Relu):
        h = F.relu(h)
    elif isinstance(op, Pool):
        if h.ndim != 4:
            raise ModelInputError(f"layer {op.name!r} pools a tensor of shape "
                                  f"{tuple(h.shape[1:])}, not (C, H, W)")
        fn = F.max_pool2d if op.kind == "max" else F.avg_pool2d
        h = fn(h, op.kernel, op.stride)
    else:
        h = h.flatten(1)
    return h


def quantize(module, x_calib, *, input_shape=None, sparse="auto", tile=None):
    """Quantize the module to int8, calibrating activation scales on ``x_calib``.

    Parameters
    ----------
    module : torch.nn.Module
    x_calib : array (samples, *input_shape)
        Calibration inputs (the training split).
    input_shape : tuple, optional
        Per-sample input shape; the first Linear's width by default (required for a model
        that starts with a convolution).
    sparse : "auto" or bool
        Run GEMM layers compressed on the sparse unit: ``"auto"`` those whose weights are
        2:4, ``True`` all (a layer that is not 2:4 raises, naming row and group),
        ``False`` none (dense mode).
    tile : dict, optional
        ``tile_m``, ``tile_k`` (default :data:`sparsecore.rtl_backend.TILE`).

    Raises
    ------
    UnsupportedLayerError, ModelInputError
    """
    import golden

    from . import rtl_backend

    t = dict(rtl_backend.TILE, **(tile or {}))
    ops = lower(module)
    check_finite(ops)
    shape = input_shape_of(ops, input_shape)
    x_calib = _check_input(x_calib, shape, "calibration data")
    _, maxima = _float_trace(ops, x_calib)
    in_max = float(np.abs(x_calib).max()) if x_calib.size else 0.0
    scale = in_max / INT8_MAX if in_max > 0 else 1.0
    graph = QGraph(input_shape=shape, input_scale=scale)
    gemms = gemm_layers(ops)
    gi = 0
    for i, op in enumerate(ops):
        if not isinstance(op, Gemm):
            graph.steps.append(op)
            continue
        last = gi == len(gemms) - 1
        relu = i + 1 < len(ops) and isinstance(ops[i + 1], Relu)
        W = op.matrix
        M, K = W.shape
        Mp, Kp = -(-M // t["tile_m"]) * t["tile_m"], -(-K // t["tile_k"]) * t["tile_k"]
        Wp = np.zeros((Mp, Kp))
        Wp[:M, :K] = W
        bp = np.zeros(Mp)
        bp[:M] = op.bias
        wq, w_scale = quant.quantize_weights(Wp, per_channel=not last)
        bq = np.clip(np.rint(bp / (w_scale * scale)), -2**31, 2**31 - 1).astype(np.int32)
        out_scale = mult = shift = None
        if not last:
            out_scale = maxima[gi] / INT8_MAX if maxima[gi] > 0 else 1.0
            mult, shift = quant.requant_params(w_scale[:M] * scale / out_scale)
        in_shape = tuple(op.weight.shape[1:])
        q = QGemm(op.name, op.kind, wq, bq, w_scale, scale, out_scale, mult, shift, relu,
                  M, in_shape, op.stride, op.padding)
        use_sparse = sparse
        if sparse == "auto":
            use_sparse = bool(golden.is_nm_sparse(wq, t["n"], t["m"]))
        if use_sparse:
            try:
                q.values, q.metadata = golden.compress(wq, t["n"], t["m"])
            except golden.GoldenError as exc:
                raise ModelInputError(f"layer {op.name!r} is not {t['n']}:{t['m']} sparse: "
                                      f"{exc}") from None
            q.sparse = True
        graph.steps.append(q)
        if not last:
            scale = out_scale
        gi += 1
    # ReLUs folded into their GEMM's requantization are marked so run_int8 skips them.
    graph.num_classes = gemms[-1].module.out_features
    graph.steps = _mark_folded(graph.steps)
    return graph


@dataclass
class _FoldedRelu:
    name: str


def _mark_folded(steps):
    out = []
    for s in steps:
        if isinstance(s, Relu) and out and isinstance(out[-1], QGemm) and out[-1].relu:
            out.append(_FoldedRelu(s.name))
        else:
            out.append(s)
    return out


# --- integer inference -----------------------------------------------------------------------

def quantize_input(graph, x):
    """float ``x`` → int8, ``clip(rint(x / input_scale), −127, 127)``."""
    x = np.asarray(x, dtype=np.float64)
    return np.clip(np.rint(x / graph.input_scale), -INT8_MAX, INT8_MAX).astype(np.int8)


def im2col(x, kh, kw, stride, padding):
    """int8 (N, C, H, W) → B (C·kh·kw, N·OH·OW), K in (channel, row, column) order."""
    N, C, H, W = x.shape
    ph, pw = padding
    sh, sw = stride
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    cols = np.empty((C, kh, kw, N, OH, OW), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw].transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * OH * OW), (OH, OW)


def _pool_int(x, op):
    """int8 (N, C, H, W) pooled: max, or average rounded half up."""
    kh, kw = op.kernel
    sh, sw = op.stride
    N, C, H, W = x.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    win = np.stack([x[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw].astype(np.int64)
                    for i in range(kh) for j in range(kw)])
    if op.kind == "max":
        return win.max(axis=0).astype(np.int8)
    k = kh * kw
    return ((win.sum(axis=0) + k // 2) // k).astype(np.int8)


def golden_gemm(layer, B, C, *, sparse):
    """``wrap32(W·B + C)`` on the golden model (compressed when ``sparse``)."""
    D, _ = quant.golden_matmul(layer, B, C, sparse=sparse)
    return D, {}


def rtl_gemm(config=None, verbose=False):
    """A GEMM function for :func:`run_int8` that runs on the engine under Verilator."""
    from . import rtl_backend

    def gemm(layer, B, C, *, sparse):
        return rtl_backend.layer_matmul(layer, B, C, sparse=sparse, config=config,
                                        verbose=verbose)
    return gemm


def run_int8(graph, x, *, gemm=None, sparse=None, progress=None):
    """Integer inference of float ``x`` (samples, *input shape).

    Returns
    -------
    logits : int32 (samples, num_classes)
    trace : list of dict, one per GEMM layer: ``name``, ``acc`` (int32 accumulators,
        (out, samples) for Linear, (samples, out, OH, OW) for Conv2d), ``out`` (the
        requantized int8 output in the same layout, None for the logits layer),
        ``counters`` (from ``gemm``).
    """
    gemm = gemm or golden_gemm
    x = _check_input(x, graph.input_shape)
    h = quantize_input(graph, x)
    trace = []
    for step in graph.steps:
        if isinstance(step, QGemm):
            use_sparse = step.sparse if sparse is None else (sparse and step.sparse)
            if step.kind == "linear":
                B = np.ascontiguousarray(h.T)
            else:
                C_in, kh, kw = step.in_shape
                B, (OH, OW) = im2col(h, kh, kw, step.stride, step.padding)
            N = h.shape[0]
            Kp = step.w.shape[1]
            Bp = np.zeros((Kp, B.shape[1]), dtype=np.int8)
            Bp[:B.shape[0]] = B
            Cm = np.repeat(step.bias[:, None], B.shape[1], axis=1).astype(np.int32)
            D, counters = gemm(step, Bp, Cm, sparse=use_sparse)
            D = np.asarray(D)
            if D.dtype != np.int32 or D.shape != Cm.shape:
                raise ValueError(f"layer {step.name!r}: GEMM returned {D.dtype} {D.shape}, "
                                 f"expected int32 {Cm.shape}")
            D = D[:step.out_features]
            out = None
            if step.mult is not None:
                y = quant.requantize(D, step.mult, step.shift) if step.relu else \
                    _requant_signed(D, step.mult, step.shift)
                out = y
            if step.kind == "conv":
                acc = D.reshape(step.out_features, N, OH, OW).transpose(1, 0, 2, 3)
                if out is not None:
                    out = out.reshape(step.out_features, N, OH, OW).transpose(1, 0, 2, 3)
                    h = np.ascontiguousarray(out)
            else:
                acc = D
                if out is not None:
                    h = np.ascontiguousarray(out.T)
            trace.append({"name": step.name, "acc": np.ascontiguousarray(acc),
                          "out": None if out is None else np.ascontiguousarray(out),
                          "counters": counters, "sparse": use_sparse})
            if progress is not None:
                progress(step.name)
        elif isinstance(step, _FoldedRelu):
            continue
        elif isinstance(step, Relu):
            h = np.maximum(h, 0).astype(np.int8)
        elif isinstance(step, Pool):
            h = _pool_int(h, step)
        elif isinstance(step, Flatten):
            h = h.reshape(h.shape[0], -1)
    logits = trace[-1]["acc"][:graph.num_classes].T.copy()
    return logits, trace


def _requant_signed(acc, mult, shift):
    """Requantization without ReLU: ``clip(round-half-up(acc·r), −127, 127)``."""
    acc = np.asarray(acc, dtype=np.int64)
    y = (acc * mult[:, None] + (np.int64(1) << (shift[:, None] - 1))) >> shift[:, None]
    return np.clip(y, -INT8_MAX, INT8_MAX).astype(np.int8)


def predict(logits):
    return np.asarray(logits).argmax(axis=1)


def compare(trace, reference):
    """Per layer, the count of differing int32 accumulators and int8 outputs.

    ``reference`` is :func:`sparsecore.torch_ref.reference`'s list (same layouts). Returns
    ``[{"name", "acc_checked", "acc_mismatches", "out_checked", "out_mismatches"}, ...]``.
    """
    rows = []
    if len(trace) != len(reference):
        raise ValueError(f"{len(trace)} traced layers but {len(reference)} reference layers")
    for t, r in zip(trace, reference):
        acc, racc = np.asarray(t["acc"]), np.asarray(r["acc"])
        if acc.shape != racc.shape:
            raise ValueError(f"layer {t['name']!r}: accumulators of shape {acc.shape} vs "
                             f"reference {racc.shape}")
        row = {"name": t["name"], "acc_checked": int(acc.size),
               "acc_mismatches": int((acc != racc).sum()), "out_checked": 0,
               "out_mismatches": 0}
        if t["out"] is not None:
            out, rout = np.asarray(t["out"]), np.asarray(r["out"])
            row["out_checked"] = int(out.size)
            row["out_mismatches"] = int((out != rout).sum()) if out.shape == rout.shape \
                else int(out.size)
        rows.append(row)
    return rows


def bit_exact(rows):
    return all(r["acc_mismatches"] == 0 and r["out_mismatches"] == 0 for r in rows)

