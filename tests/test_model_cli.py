"""The ``sparsecore`` command line: help, the file commands, and clean user errors."""

import subprocess
import sys

import pytest

from sparsecore import modelfile
from sparsecore.cli import main

SUBCOMMANDS = ("demo", "train", "prune", "compress", "run", "info")


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help(capsys, name):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: sparsecore {name}" in out and "format version 1" in out


def test_missing_file_is_a_clean_error(capsys, tmp_path):
    rc = main(["run", str(tmp_path / "missing.npz")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err == f"sparsecore run: error: {tmp_path / 'missing.npz'}: no such file\n"


def test_bad_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["prune", "a.npz", "b.npz", "--sparsity", "1.5"])
    assert info.value.code == 2
    assert "expected a number in (0, 1), not '1.5'" in capsys.readouterr().err


def test_subprocess_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    proc = subprocess.run([sys.executable, "-m", "sparsecore.cli", "info", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"sparsecore info: error: {bad}: not a readable .npz")
    assert "Traceback" not in proc.stderr


def test_file_commands_end_to_end(tmp_path, capsys):
    dense, pruned = tmp_path / "dense.npz", tmp_path / "pruned.npz"
    packed = tmp_path / "int8.npz"
    assert main(["-q", "train", str(dense), "--epochs", "1"]) == 0
    assert main(["-q", "prune", str(dense), str(pruned), "--retrain", "--epochs", "1"]) == 0
    layers, masks, meta = modelfile.load_float(pruned)
    assert meta["method"] == "2:4" and all(m is not None for m in masks)
    assert main(["compress", str(pruned), str(packed)]) == 0
    model, _ = modelfile.load_int8(packed)
    assert all(layer.sparse and layer.values is not None for layer in model.layers)
    capsys.readouterr()
    assert main(["run", str(packed), "--limit", "30"]) == 0
    sparse_out = capsys.readouterr().out
    assert main(["run", str(packed), "--limit", "30", "--dense-mode"]) == 0
    dense_out = capsys.readouterr().out
    assert "30 samples, accuracy" in sparse_out
    assert sparse_out.split("accuracy")[1] == dense_out.split("accuracy")[1]
    assert main(["info", str(packed)]) == 0
    assert "2:4 compressed" in capsys.readouterr().out
    # A dense model is not 2:4: compressing it fails cleanly, naming row and group.
    assert main(["compress", str(dense), str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sparsecore compress: error:") and "row" in err
    # Unstructured pruning needs a sparsity.
    assert main(["prune", str(dense), str(tmp_path / "y.npz"), "--method", "tw"]) == 1
    assert "--method tw needs --sparsity" in capsys.readouterr().err


def test_run_on_rtl_without_simulator_is_a_clean_error(tmp_path, capsys, monkeypatch):
    from sparsecore import rtl_backend
    monkeypatch.setattr(rtl_backend, "rtl_status",
                        lambda: (False, "GEMM engine not available: no simulator"))
    dense, packed = tmp_path / "dense.npz", tmp_path / "int8.npz"
    assert main(["-q", "train", str(dense), "--epochs", "1"]) == 0
    assert main(["compress", str(dense), str(packed), "--dense"]) == 0
    capsys.readouterr()
    assert main(["-q", "run", str(packed), "--backend", "rtl", "--limit", "4"]) == 1
    assert "GEMM engine not available: no simulator" in capsys.readouterr().err


def test_run_core_options_need_the_rtl_backend(tmp_path, capsys):
    dense, packed = tmp_path / "dense.npz", tmp_path / "int8.npz"
    assert main(["-q", "train", str(dense), "--epochs", "1"]) == 0
    assert main(["compress", str(dense), str(packed), "--dense"]) == 0
    capsys.readouterr()
    assert main(["run", str(packed), "--pipeline", "11", "--dsp", "ecp5"]) == 1
    assert "--pipeline and --dsp choose the RTL core; add --backend rtl" in \
        capsys.readouterr().err
    # An ECP5 build below its minimum depth is the core's own ConfigError, named.
    assert main(["run", str(packed), "--backend", "rtl", "--pipeline", "2", "--dsp",
                 "ecp5"]) == 1
    assert "pipeline must be at least" in capsys.readouterr().err


@pytest.mark.sim
def test_run_on_the_fast_core(tmp_path, capsys):
    """``run --backend rtl --pipeline 11 --dsp ecp5``: a 2:4 model on the registered-DSP
    engine (MULT18X18D, TRELLIS_FF and DP16KD models under Verilator), every layer's int32
    output bit-exact against the golden model."""
    from sparsecore import rtl_backend
    ok, reason = rtl_backend.rtl_status()
    if not ok:
        pytest.skip(reason)
    dense, pruned, packed = (tmp_path / n for n in ("dense.npz", "pruned.npz", "int8.npz"))
    assert main(["-q", "train", str(dense), "--epochs", "1"]) == 0
    assert main(["-q", "prune", str(dense), str(pruned)]) == 0
    assert main(["compress", str(pruned), str(packed)]) == 0
    capsys.readouterr()
    assert main(["-q", "run", str(packed), "--backend", "rtl", "--pipeline", "11", "--dsp",
                 "ecp5", "--limit", "8"]) == 0
    out = capsys.readouterr().out
    assert "core sparse2of4_4x4x16_a8b8acc32_p11_ecp5" in out and "bit-exact True" in out


def test_quiet_before_or_after_the_command():
    from sparsecore.cli import build_parser
    parser = build_parser()
    assert parser.parse_args(["run", "m.npz"]).quiet is False
    assert parser.parse_args(["-q", "run", "m.npz"]).quiet is True
    assert parser.parse_args(["run", "-q", "m.npz"]).quiet is True
