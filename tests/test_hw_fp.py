"""The fp datapath blocks (hw/fp_dot.py) in Amaranth's simulator, bit for bit against the
golden block arithmetic (golden.fp.fp_block)."""

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module
from amaranth.lib import wiring

from golden.fp import fp32_bits, fp_block
from hw.config import ConfigError, CoreConfig
from hw.fp_dot import FPBlockAdder, FPProductArray, fp_plan
from hw.testing import quiet_unused, simulate

from test_golden_fp import TABLE, random_patterns


class Block(wiring.Component):
    """FPProductArray (1 × tile_n lanes) feeding one FPBlockAdder per lane."""

    def __init__(self, tile_n, kept_k, *, dtype, guard, stages):
        self.products = FPProductArray(1, tile_n, kept_k, dtype=dtype, guard=guard,
                                       stages=stages)
        self.adders = [FPBlockAdder(kept_k, guard=guard) for _ in range(tile_n)]
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.products = self.products
        for c, adder in enumerate(self.adders):
            m.submodules[f"adder{c}"] = adder
            m.d.comb += adder.terms.eq(self.products.o.payload[0][c])
        return m


def rtl_blocks(dtype, guard, stages, a, b, c, first):
    """Run ``len(a)`` blocks: a (count, k), b (count, k, tile_n), c (count, tile_n)."""
    count, kept_k = a.shape
    tile_n = b.shape[2]
    dut = Block(tile_n, kept_k, dtype=dtype, guard=guard, stages=stages)
    out = np.zeros((count, tile_n), np.int64)

    async def bench(ctx):
        prod = dut.products
        for i in range(count + stages):
            if i < count:
                ctx.set(prod.i.payload, {"a": [a[i].tolist()],
                                         "b": [[b[i, j].tolist() for j in range(kept_k)]]})
                ctx.set(prod.i.valid, 1)
            o = i - stages
            if o >= 0:
                for col, adder in enumerate(dut.adders):
                    ctx.set(adder.acc, int(c[o, col]))
                    ctx.set(adder.first, int(first[o]))
                for col, adder in enumerate(dut.adders):
                    out[o, col] = ctx.get(adder.o)
                assert ctx.get(prod.o.valid)
            await ctx.tick()

    sim, _ = simulate(dut, bench)
    sim.run()
    return out


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("guard,stages", [(0, 0), (3, 2), (0, 4), (1, 5)])
def test_sim_block(rng, dtype, guard, stages):
    count, kept_k, tile_n = 300, 4, 2
    a = random_patterns(rng, (count, kept_k), dtype)
    b = random_patterns(rng, (count, kept_k, tile_n), dtype)
    c = np.where(rng.random((count, tile_n)) < 0.85,
                 fp32_bits(rng.standard_normal((count, tile_n)).astype(np.float32) * 8),
                 random_patterns(rng, (count, tile_n), "bf16") << 16)
    # Cancellation: some accumulators are minus the first product.
    first = rng.random(count) < 0.1
    got = rtl_blocks(dtype, guard, stages, a, b, c, first)
    c_eff = np.where(first[:, None], 0, c)
    want = fp_block(a[:, None, :], np.moveaxis(b, 2, 1), c_eff, dtype=dtype, guard=guard)
    np.testing.assert_array_equal(got, want, strict=True)


def test_sim_block_edge_cases():
    """The hand table of tests/test_golden_fp.py through the hardware (k padded with zeros)."""

    for name, dtype, a, b, c, guard, rounding, want in TABLE:
        if rounding != "rz":
            continue
        k = 4
        a4 = np.array([a + [0] * (k - len(a))])
        b4 = np.array([b + [0] * (k - len(b))])[:, :, None]
        got = rtl_blocks(dtype, guard, 0, a4, b4, np.array([[c]]), np.array([False]))
        assert int(got[0, 0]) == want, f"{name}: {int(got[0, 0]):#010x} != {want:#010x}"


def test_fp_plan():
    assert fp_plan(0) == (frozenset(), 0)
    assert fp_plan(2) == (frozenset({"prod", "align"}), 0)
    assert fp_plan(6) == (frozenset({"prod", "align", "opnd", "emax"}), 2)


def test_init():
    dut = FPProductArray(2, 2, 8, dtype="bf16", guard=3, stages=2)
    assert dut.latency == 2
    Fragment.get(dut, None)


def test_init_wrong_dtype():
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^dtype must be one of 'fp16', 'bf16', not 'fp8'$"):
        FPProductArray(1, 1, 2, dtype="fp8")


def test_init_wrong_guard():
    with quiet_unused(), pytest.raises(ValueError, match=r"^guard must be at most 8, not 9$"):
        FPBlockAdder(2, guard=9)


def test_config_fp():
    cfg = CoreConfig(dtype="fp16")
    assert (cfg.a_width, cfg.b_width, cfg.acc_width) == (16, 16, 32)
    assert cfg.name == "sparse2of4_4x4x16_fp16g0_p1"
    assert CoreConfig(dtype="bf16", sparse=False, fp_guard=3, pipeline=4).name == \
        "dense_4x4x16_bf16g3_p4"
    assert CoreConfig().name == "sparse2of4_4x4x16_a8b8acc32_p1"


@pytest.mark.parametrize("kwargs,message", [
    ({"dtype": "fp32"}, "dtype must be one of 'int', 'fp16', 'bf16', not 'fp32'"),
    ({"dtype": "fp16", "a_width": 12}, "a_width must be 16 with dtype='fp16', not 12"),
    ({"dtype": "bf16", "acc_width": 16}, "acc_width must be 32 with dtype='bf16', not 16"),
    ({"dtype": "fp16", "dsp": "ecp5", "pipeline": 5},
     "dsp must be 'generic' with dtype='fp16', not 'ecp5'"),
    ({"fp_guard": 2}, "fp_guard applies to fp16 and bf16 only, not dtype='int' (fp_guard=2)"),
    ({"dtype": "fp16", "fp_guard": 9}, "fp_guard must be between 0 and 8, not 9"),
])
def test_config_wrong_fp(kwargs, message):
    with pytest.raises(ConfigError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        CoreConfig(**kwargs)


def test_synth_spec_fp():
    from bench.synth import parse_spec, spec_of
    cfg = CoreConfig(dtype="bf16", sparse=False, fp_guard=3, pipeline=4)
    assert spec_of(cfg) == "dense-4x4x16-bf16-g3-p4"
    assert parse_spec(spec_of(cfg)).config == cfg
    assert parse_spec(cfg.name).config == cfg
    assert parse_spec("sparse-4x4x16-fp16-p2").config == CoreConfig(dtype="fp16", pipeline=2)
