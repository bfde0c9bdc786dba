"""SparseMMA with fp16 / bf16 (CoreConfig.dtype) in Amaranth's simulator against
golden.fp.fp_core_model: random operations with valid gaps and back-pressure (small volume;
the cocotb sweep of tests/test_sim_fp.py runs the large one)."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from golden.fp import fp_core_model
from hw.config import CoreConfig
from hw.core import SparseMMA
from tb.fp_tb import cancelling_ops, random_fp_ops
from test_hw_core import run_core


def to_signed16(x):
    return np.where(x >= 1 << 15, x - (1 << 16), x)


def check(cfg, batch, rng):
    ops = batch.tile_ops()
    # The ports are signed(16) fields: hand them the patterns as signed values.
    hw_ops = [op._replace(a_values=to_signed16(op.a_values), b=to_signed16(op.b)) for op in ops]
    results, sticky = run_core(cfg, hw_ops, rng)
    want = fp_core_model(ops, dtype=cfg.dtype, n=cfg.n, m=cfg.m, sparse=cfg.sparse,
                         guard=cfg.fp_guard)
    assert len(results) == len(want)
    for number, ((d, error), w) in enumerate(zip(results, want)):
        np.testing.assert_array_equal(d & 0xFFFFFFFF, w.d, strict=True,
                                      err_msg=f"result {number}")
        assert error == w.error, f"result {number}"
    assert sticky == bool(batch.invalid(cfg).any())


def test_init():
    dut = SparseMMA(CoreConfig(dtype="fp16", pipeline=4))
    assert dut.latency == 5
    assert dut.a.payload.shape().size == 4 * 8 * 16 + 4 * 16 + 2
    Fragment.get(dut, None)


@pytest.mark.parametrize("dtype,sparse,pipeline,guard", [
    ("fp16", True, 1, 0), ("bf16", True, 3, 0), ("fp16", False, 2, 3), ("bf16", False, 6, 1),
    ("fp16", True, 8, 2),
])
def test_sim_random(rng, dtype, sparse, pipeline, guard):
    cfg = CoreConfig(tile_m=2, tile_n=2, tile_k=8, dtype=dtype, sparse=sparse,
                     pipeline=pipeline, fp_guard=guard)
    check(cfg, random_fp_ops(rng, cfg, 40, specials=0.03, invalid_prob=0.03), rng)


def test_sim_cancellation(rng):
    cfg = CoreConfig(tile_m=2, tile_n=2, tile_k=8, dtype="fp16", pipeline=2)
    check(cfg, cancelling_ops(rng, cfg, 40, flags="chains", chain=(8, 20)), rng)
