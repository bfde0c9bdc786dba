"""The committed rtl/ is what ``python -m hw.gen`` emits, and it passes Verilator lint."""

import pathlib
import re
import subprocess

import pytest

from hw.config import CoreConfig
from hw.gen import RTL_TARGETS, emit, main
from hw.lint import lint_dir, lint_file

RTL = pathlib.Path(__file__).resolve().parent.parent / "rtl"

FLAT_PORTS = {"clk", "rst", "a_valid", "a_ready", "a_values", "a_meta", "a_first", "a_last",
              "b_valid", "b_ready", "b_data", "d_valid", "d_ready", "d_data", "d_error",
              "error"}


def top_ports(text, name):
    """Names of the ports in the header of module ``name``."""
    header = re.search(rf"^module {re.escape(name)}\((.*?)\);", text, re.M | re.S)
    assert header, f"no module {name}"
    return {port.strip() for port in header.group(1).split(",")}


def committed(filename):
    """rtl/``filename`` as committed at HEAD (``make test`` runs ``make verilog`` first, so the
    working copy alone would prove nothing); the working copy outside a git checkout."""
    try:
        return subprocess.run(["git", "show", f"HEAD:rtl/{filename}"], cwd=RTL, check=True,
                              capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        path = RTL / filename
        assert path.exists(), f"rtl/{filename} is not committed; run make verilog"
        return path.read_bytes()


def test_rtl_reproduced(tmp_path):
    assert main([str(tmp_path)]) == 0
    generated = sorted(p.name for p in tmp_path.glob("*.v"))
    assert generated == sorted(RTL_TARGETS)
    for filename in generated:
        assert (tmp_path / filename).read_bytes() == committed(filename), \
            f"rtl/{filename} differs from what make verilog emits; regenerate and commit it"


def test_gen_rewrites_only_changes(tmp_path, capsys):
    main([str(tmp_path)])
    capsys.readouterr()
    main([str(tmp_path)])
    assert capsys.readouterr().out == ""


def test_emit_deterministic():
    cfg = CoreConfig(pipeline=3)
    assert emit(cfg) == emit(cfg)
    assert f"module {cfg.name}(" in emit(cfg)
    assert "module custom(" in emit(cfg, name="custom")


def test_emit_flat_ports():
    assert top_ports(emit(CoreConfig(), name="sparse_mma"), "sparse_mma") == FLAT_PORTS
    assert top_ports(emit(CoreConfig(sparse=False), name="dense_mma"),
                     "dense_mma") == FLAT_PORTS - {"a_meta"}


def test_lint_rtl():
    # Other engines put their Verilog in rtl/ too: all of it must be clean.
    assert set(RTL_TARGETS) <= {p.name for p in lint_dir(RTL)}


@pytest.mark.parametrize("cfg", [
    CoreConfig(pipeline=2),
    CoreConfig(pipeline=3),
    CoreConfig(pipeline=6),
    CoreConfig(n=1, m=2, a_width=4, b_width=4, acc_width=16),
    CoreConfig(n=4, m=8, a_width=16, b_width=16, acc_width=48, pipeline=4),
    CoreConfig(sparse=False, pipeline=4),
], ids=lambda cfg: cfg.name)
def test_lint_configs(tmp_path, cfg):
    path = tmp_path / f"{cfg.name}.v"
    path.write_text(emit(cfg))
    lint_file(path)
