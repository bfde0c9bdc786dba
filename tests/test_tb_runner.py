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
