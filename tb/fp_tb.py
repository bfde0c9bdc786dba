"""Stimulus and model for the floating-point cores (``CoreConfig.dtype`` fp16 / bf16).

Operations are :class:`tb.core_tb.OpBatch` whose ``a_values`` and ``b`` hold 16-bit patterns
and whose results are fp32 patterns; :class:`FPModelStream` is :class:`tb.core_tb.ModelStream`
with :func:`golden.fp.fp_core_model` as the model, so :class:`tb.core_tb.CoreTB` (drivers,
monitor, scoreboard) runs the fp cores unchanged once its ``model`` is swapped
(:func:`fp_testbench`).
"""

import numpy as np

from golden.fp import FP_FORMATS, fp_core_model

from .core_tb import CoreTB, ModelStream, OpBatch, random_ops

__all__ = ["random_patterns", "random_fp_ops", "cancelling_ops", "FPModelStream",
           "fp_testbench"]


def random_patterns(rng, shape, dtype, *, specials=0.02, subnormals=0.05, binades=6):
    """Random ``dtype`` bit patterns (int64): normal values of ``2 * binades`` binades around
    1, a fraction ``subnormals`` of subnormals and ``specials`` of ±0, ±Inf and NaN."""
    exp_bits, frac_bits = FP_FORMATS[dtype]
    bias = (1 << (exp_bits - 1)) - 1
    field = rng.integers(bias - binades, bias + binades, size=shape)
    field = np.where(rng.random(shape) < subnormals, 0, field)
    sign_bit = 1 << (exp_bits + frac_bits)
    bits = (rng.integers(0, 2, size=shape) * sign_bit) | (field << frac_bits) \
        | rng.integers(0, 1 << frac_bits, size=shape)
    inf = sign_bit - (1 << frac_bits)
    picks = np.array([0, sign_bit, inf, inf | sign_bit, inf + 1])
    special = rng.random(shape) < specials
    return np.where(special, picks[rng.integers(0, len(picks), size=shape)], bits).astype(
        np.int64)


def random_fp_ops(rng, config, count, *, specials=0.01, subnormals=0.05, binades=6,
                  **kwargs):
    """Random fp operations for ``config``: metadata, sparse groups, invalid groups and
    first/last flags as :func:`tb.core_tb.random_ops` draws them (``kwargs``), values from
    :func:`random_patterns` (elements that random_ops zeroed stay +0)."""
    batch = random_ops(rng, config, count, min_prob=0.0, extreme_prob=0.0, **kwargs)
    a = random_patterns(rng, batch.a_values.shape, config.dtype, specials=specials,
                        subnormals=subnormals, binades=binades)
    b = random_patterns(rng, batch.b.shape, config.dtype, specials=specials,
                        subnormals=subnormals, binades=binades)
    batch.a_values = np.where(batch.a_values == 0, 0, a)
    batch.b = b
    return batch


def cancelling_ops(rng, config, count, **kwargs):
    """Operations in pairs, the second with every A sign flipped: each pair adds nearly
    nothing, so the accumulator cancels against the products block after block (long
    chains, flags ``"chains"``)."""
    half = random_fp_ops(rng, config, (count + 1) // 2, specials=0.0, **kwargs)
    twin = OpBatch(half.a_values ^ (1 << 15), half.a_idx, half.b, half.first, half.last)

    def inter(x, y):
        return np.stack([x, y], axis=1).reshape((2 * len(x),) + x.shape[1:])[:count]

    first = inter(half.first, np.zeros_like(half.first))
    last = inter(np.zeros_like(half.last), half.last)
    last[-1] = True
    return OpBatch(inter(half.a_values, twin.a_values), inter(half.a_idx, twin.a_idx),
                   inter(half.b, twin.b), first, last)


class FPModelStream(ModelStream):
    """:class:`tb.core_tb.ModelStream` with :func:`golden.fp.fp_core_model`."""

    def predict(self, batch):
        cfg = self.config
        ops = batch.tile_ops()
        starts = np.flatnonzero(batch.first)
        history = self._tail + ops
        results = fp_core_model(history, dtype=cfg.dtype, n=cfg.n, m=cfg.m, sparse=cfg.sparse,
                                guard=cfg.fp_guard)[self._tail_results:]
        if len(starts):
            self._tail = ops[starts[-1]:]
            self._tail_results = int(batch.last[starts[-1]:].sum())
        else:
            self._tail = history
            self._tail_results += int(batch.last.sum())
        self.sticky = self.sticky or bool(batch.invalid(cfg).any())
        return results, np.flatnonzero(batch.last)


def fp_testbench(dut, config, **kwargs):
    """A :class:`tb.core_tb.CoreTB` of an fp core: the golden fp model behind it."""
    tb = CoreTB(dut, config, **kwargs)
    tb.model = FPModelStream(config)
    return tb
