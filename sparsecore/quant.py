"""Symmetric int8 quantization of the MLP and its integer inference on the golden model.

Scales and rounding (all rounding of real numbers to integers is ``numpy.rint``, round half
to even, unless stated):

* **Weights**, per output channel ``o``: ``w_scale[o] = max|W[o, :]| / 127`` (1.0 for an
  all-zero row), ``Wq = clip(rint(W / w_scale[o]), -127, 127)`` as int8. Zero stays zero,
  so a 2:4 weight stays 2:4. **Exception: the last layer** has one scale for all its rows
  (``max|W| / 127``), so that its int32 outputs are the logits times one common positive
  factor and their argmax is the real logits' argmax (per-channel scales would rescale
  each class differently).
* **Activations**, per tensor: layer ``i``'s input scale ``x_scale[i] = max(input) / 127``
  over the calibration set (the training split), 1.0 if that max is 0. Network inputs
  are ``xq = clip(rint(x / x_scale[0]), -127, 127)``; the digits' pixels in [0, 1] give
  0…127.
* **Bias** in the accumulator's scale: ``bq[o] = rint(b[o] / (w_scale[o] * x_scale))`` as
  int32. It is the GEMM's C operand: ``D = wrap32(Wq · xq^T + bq)``.
* **Accumulation**: int8 × int8 products summed exactly, wrapping to int32 (the core's
  arithmetic); each layer's int32 output ``D`` is what golden and RTL must agree on bit for
  bit.
* **Requantization** between layers, per output channel, integer only: the real factor
  ``r[o] = w_scale[o] * x_scale[i] / x_scale[i+1]`` is stored as
  ``mult[o] * 2**-shift[o]`` with ``2**30 <= mult < 2**31`` (``mult = rint(f * 2**31)``,
  ``f, p = frexp(r)``, ``shift = 31 - p``). Then
  ``y = (D * mult + 2**(shift - 1)) >> shift`` in int64 (round half up), and the ReLU is the
  clip ``clip(y, 0, 127)`` to int8.
* **Logits** are the last layer's int32 ``D``; the prediction is their argmax over the real
  classes (the first of equal maxima).

Padding to the core's tile (``tile_m`` rows, ``tile_k`` along K): every layer's input
width is padded to a multiple of ``tile_k`` (zero weight columns, zero inputs), hidden
widths also to a multiple of ``tile_m``, the output width to a multiple of ``tile_m``
(zero rows, zero bias). The default 64 → 256 → 256 → 10 MLP only pads 10 → 12.
"""

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["QuantLayer", "QuantModel", "quantize", "quantize_weights", "quantize_input",
           "requant_params", "requantize", "golden_matmul", "infer_int8", "predict",
           "INT8_MAX", "ACC_WIDTH"]

INT8_MAX = 127
ACC_WIDTH = 32
A_WIDTH = B_WIDTH = 8


@dataclass
class QuantLayer:
    """One quantized layer, padded to the tile (shapes: M rows = outputs, K = inputs)."""
    w: np.ndarray              # int8 (M, K)
    bias: np.ndarray           # int32 (M,)
    w_scale: np.ndarray        # float64 (M,)
    x_scale: float             # scale of this layer's int8 input
    mult: np.ndarray | None    # int64 (M,) requantization multiplier (hidden layers)
    shift: np.ndarray | None   # int64 (M,) requantization shift (hidden layers)
    in_features: int           # before padding
    out_features: int          # before padding
    sparse: bool               # 2:4 (n:m) along K: run compressed on the sparse unit
    values: np.ndarray | None = None     # int8 (M, K*n/m): golden.compress(w), if sparse
    metadata: np.ndarray | None = None   # uint16: golden.compress(w), if sparse


@dataclass
class QuantModel:
    layers: list = field(default_factory=list)
    num_classes: int = 10
    n: int = 2
    m: int = 4

    @property
    def in_features(self):
        return self.layers[0].in_features


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def quantize_weights(W, *, per_channel=True):
    """Symmetric int8, per output channel (or one scale): ``(Wq int8, w_scale float64 (M,))``."""
    W = np.asarray(W, dtype=np.float64)
    amax = np.abs(W).max(axis=1) if W.shape[1] else np.zeros(W.shape[0])
    if not per_channel:
        amax = np.full(W.shape[0], amax.max() if amax.size else 0.0)
    scale = np.where(amax > 0, amax / INT8_MAX, 1.0)
    q = np.clip(np.rint(W / scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale


def quantize_input(x, x_scale, k_padded):
    """Network input ``x`` (samples, features) → int8 (samples, ``k_padded``)."""
    x = np.asarray(x, dtype=np.float64)
    q = np.zeros((x.shape[0], k_padded), dtype=np.int8)
    q[:, :x.shape[1]] = np.clip(np.rint(x / x_scale), -INT8_MAX, INT8_MAX)
    return q


def requant_params(r):
    """``(mult, shift)`` int64 arrays with ``r ≈ mult * 2**-shift``, ``2**30 <= mult < 2**31``."""
    r = np.asarray(r, dtype=np.float64)
    if not np.all(r > 0):
        raise ValueError("requantization factors must be positive")
    f, p = np.frexp(r)
    mult = np.rint(f * 2.0**31).astype(np.int64)
    carry = mult == 2**31
    mult = np.where(carry, 2**30, mult)
    shift = 31 - (p.astype(np.int64) + carry)
    if np.any(shift < 1) or np.any(shift > 62):
        raise ValueError(f"requantization factor out of range: {r.min()} … {r.max()}")
    return mult, shift


def requantize(acc, mult, shift):
    """int32 ``acc`` (M, N) → int8: ``clip((acc*mult + 2**(shift-1)) >> shift, 0, 127)``.

    ``mult`` and ``shift`` are per row (M,); the arithmetic is int64 and cannot overflow
    (``|acc| <= 2**31``, ``mult < 2**31``, ``shift <= 62``)."""
    acc = np.asarray(acc).astype(np.int64)
    mult = np.asarray(mult, dtype=np.int64)[:, None]
    shift = np.asarray(shift, dtype=np.int64)[:, None]
    y = (acc * mult + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(y, 0, INT8_MAX).astype(np.int8)


def _calibrate(layers, x):
    """Per-tensor input scale of every layer over ``x`` (float forward pass)."""
    scales = []
    h = np.asarray(x, dtype=np.float64)
    for i, (W, b) in enumerate(layers):
        amax = float(np.abs(h).max()) if h.size else 0.0
        scales.append(amax / INT8_MAX if amax > 0 else 1.0)
        h = h @ W.astype(np.float64).T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return scales


def quantize(layers, x_calib, *, sparse, n=2, m=4, tile_m=4, tile_k=16):
    """Quantize a float model (``[(W, b), ...]``) for the core.

    Parameters
    ----------
    layers : list of (W float (out, in), b float (out,))
    x_calib : array (samples, in)
        Calibration inputs for the activation scales (the training split).
    sparse : bool
        Layers are n:m sparse along K and are compressed with ``golden.compress``;
        raises ``golden``'s error if a quantized weight is not n:m.

    Returns
    -------
    QuantModel
    """
    import golden

    x_scales = _calibrate(layers, x_calib)
    lcm = tile_m * tile_k // math.gcd(tile_m, tile_k)
    widths = [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]
    padded = [_round_up(widths[0], tile_k)]
    padded += [_round_up(w, lcm) for w in widths[1:-1]]
    padded += [_round_up(widths[-1], tile_m)]
    model = QuantModel(num_classes=widths[-1], n=n, m=m)
    for i, (W, b) in enumerate(layers):
        Wp = np.zeros((padded[i + 1], padded[i]), dtype=np.float64)
        Wp[:W.shape[0], :W.shape[1]] = W
        bp = np.zeros(padded[i + 1], dtype=np.float64)
        bp[:b.shape[0]] = b
        wq, w_scale = quantize_weights(Wp, per_channel=i < len(layers) - 1)
        bq = np.clip(np.rint(bp / (w_scale * x_scales[i])), -2**31, 2**31 - 1).astype(np.int32)
        mult = shift = None
        if i < len(layers) - 1:
            mult, shift = requant_params(w_scale * x_scales[i] / x_scales[i + 1])
        layer = QuantLayer(w=wq, bias=bq, w_scale=w_scale, x_scale=float(x_scales[i]),
                           mult=mult, shift=shift, in_features=W.shape[1],
                           out_features=W.shape[0], sparse=bool(sparse))
        if sparse:
            layer.values, layer.metadata = golden.compress(wq, n, m)
        model.layers.append(layer)
    return model


def golden_matmul(layer, B, C, *, sparse, n=2, m=4):
    """One layer's GEMM on the golden model: ``D = wrap32(Wq · B + C)``, int32 (M, N).

    ``sparse`` runs the compressed weights through ``golden.sparse_mma``, otherwise the
    dense ``golden.dense_mma``; both must give the same ``D``.
    """
    import golden

    widths = dict(a_width=A_WIDTH, b_width=B_WIDTH, acc_width=ACC_WIDTH)
    if sparse:
        if layer.values is None:
            raise ValueError("layer has no compressed weights (quantize with sparse=True)")
        D = golden.sparse_mma(layer.values, layer.metadata, B, C, n=n, m=m, **widths)
    else:
        D = golden.dense_mma(layer.w, B, C, **widths)
    return np.asarray(D).astype(np.int32), {}


def infer_int8(model, x, *, matmul=None, sparse=None, progress=None):
    """Integer inference of ``x`` (samples, features).

    Parameters
    ----------
    model : QuantModel
    matmul : callable, optional
        ``matmul(layer, B, C, sparse=...) -> (D int32 (M, N), counters dict)``;
        :func:`golden_matmul` by default, :func:`sparsecore.rtl_backend.layer_matmul` for
        the RTL.
    sparse : bool, optional
        Run sparse layers compressed (default: as quantized); ``False`` runs every layer
        in dense mode.
    progress : callable, optional
        Called with the layer index after each layer.

    Returns
    -------
    logits : int32 (samples, num_classes)
    outputs : list of int32 (M_padded, samples), every layer's ``D``
    counters : list of dict, per layer, from ``matmul``
    """
    matmul = matmul or golden_matmul
    first = model.layers[0]
    B = quantize_input(x, first.x_scale, first.w.shape[1]).T.copy()
    outputs, counters = [], []
    for i, layer in enumerate(model.layers):
        C = np.repeat(layer.bias[:, None], B.shape[1], axis=1).astype(np.int32)
        use_sparse = layer.sparse if sparse is None else (sparse and layer.sparse)
        D, count = matmul(layer, B, C, sparse=use_sparse, n=model.n, m=model.m)
        D = np.asarray(D)
        if D.dtype != np.int32 or D.shape != C.shape:
            raise ValueError(f"layer {i}: matmul returned {D.dtype} {D.shape}, "
                             f"expected int32 {C.shape}")
        outputs.append(D)
        counters.append(count)
        if layer.mult is not None:
            B = requantize(D, layer.mult, layer.shift)
        if progress is not None:
            progress(i)
    logits = outputs[-1][:model.num_classes].T.copy()
    return logits, outputs, counters


def predict(logits):
    """Class predictions from int32 logits: argmax, the first of equal maxima."""
    return np.asarray(logits).argmax(axis=1)
