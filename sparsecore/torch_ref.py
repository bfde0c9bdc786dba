"""Integer reference of a quantized network in PyTorch ops only.

The check of :func:`sparsecore.frontend.run_int8` (golden model or RTL GEMMs, im2col in
NumPy) must come from an independent path, so this module uses neither ``golden`` nor the
RTL backend nor the front end's im2col: convolutions are ``torch.nn.functional.conv2d`` in
float64 (every product and partial sum of int8 values is an integer below 2**53, so float64
is exact), Linear layers are int64 ``torch.matmul``, requantization is int64 multiply, add
and ``torch.bitwise_right_shift``, pools are ``F.max_pool2d`` and ``F.avg_pool2d`` with
``divisor_override=1`` (exact window sums) then floor division. It reads from the
:class:`~sparsecore.frontend.QGraph` only the numbers that define the network (int8 weights
in the torch layer's shape, int32 biases, scales, multipliers and shifts).
"""

import numpy as np

__all__ = ["reference"]


def _wrap32(t):
    import torch
    return torch.remainder(t + 2**31, 2**32) - 2**31


def _requant(acc, mult, shift, relu, channel_dim):
    """int64 ``acc`` → ``clip((acc·mult + 2^(shift−1)) >> shift, lo, 127)`` per channel."""
    import torch

    shape = [1] * acc.ndim
    shape[channel_dim] = -1
    m = torch.from_numpy(np.asarray(mult, dtype=np.int64)).reshape(shape)
    s = torch.from_numpy(np.asarray(shift, dtype=np.int64)).reshape(shape)
    y = torch.bitwise_right_shift(acc * m + torch.bitwise_left_shift(torch.ones_like(s),
                                                                      s - 1), s)
    return torch.clamp(y, 0 if relu else -127, 127)


def reference(graph, x):
    """Run ``graph`` on float ``x`` (samples, *input shape) with PyTorch integer ops.

    Returns
    -------
    logits : numpy int32 (samples, num_classes)
    layers : list of dict, one per GEMM layer: ``name``, ``acc`` (int32; (out, samples)
        for Linear, (samples, out, OH, OW) for Conv2d: the layouts of ``run_int8``'s
        trace), ``out`` (int8 after requantization, same layout; None for the logits).
    """
    import torch
    import torch.nn.functional as F

    from .frontend import Flatten, Pool, QGemm, Relu, _FoldedRelu

    h = torch.from_numpy(np.asarray(x, dtype=np.float64))
    h = torch.clamp(torch.round(h / graph.input_scale), -127, 127).to(torch.int64)
    layers = []
    for step in graph.steps:
        if isinstance(step, QGemm):
            w = torch.from_numpy(step.weight.astype(np.int64))
            b = torch.from_numpy(step.bias[:step.out_features].astype(np.int64))
            if step.kind == "linear":
                acc = _wrap32(torch.matmul(h, w.T) + b)              # (samples, out)
                channel_dim, layout = 1, acc.T
            else:
                acc = F.conv2d(h.double(), w.double(), None, stride=step.stride,
                               padding=step.padding)
                acc = _wrap32(acc.to(torch.int64) + b.reshape(1, -1, 1, 1))
                channel_dim, layout = 1, acc
            out = None
            if step.mult is not None:
                out = _requant(acc, step.mult, step.shift, step.relu, channel_dim)
                h = out
            layers.append({"name": step.name,
                           "acc": layout.to(torch.int32).numpy().copy(),
                           "out": None if out is None else
                           (out.T if step.kind == "linear" else out).to(torch.int8)
                           .numpy().copy()})
        elif isinstance(step, _FoldedRelu):
            continue
        elif isinstance(step, Relu):
            h = torch.clamp(h, min=0)
        elif isinstance(step, Pool):
            if step.kind == "max":
                h = F.max_pool2d(h.double(), step.kernel, step.stride).to(torch.int64)
            else:
                k = step.kernel[0] * step.kernel[1]
                sums = F.avg_pool2d(h.double(), step.kernel, step.stride,
                                    divisor_override=1).to(torch.int64)
                h = torch.div(sums + k // 2, k, rounding_mode="floor")
        elif isinstance(step, Flatten):
            h = torch.flatten(h, 1)
    logits = layers[-1]["acc"][:graph.num_classes].T.copy()
    return logits, layers
