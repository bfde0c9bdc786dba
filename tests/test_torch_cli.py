"""The command line with PyTorch model files: the exact error messages, and a small run."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install '.[torch]')")
nn = torch.nn

from sparsecore import cli  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def mlp(width=64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 10))


def error_of(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 1, err
    return err.strip()


def test_missing_model_file(capsys, tmp_path):
    path = tmp_path / "nope.pt"
    assert error_of(capsys, ["-q", "run", str(path)]) == \
        f"sparsecore run: error: {path}: no such file"


def test_garbage_model_file(capsys, tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"\x00not a torch file at all" * 10)
    err = error_of(capsys, ["-q", "run", str(path)])
    assert err.startswith(f"sparsecore run: error: {path}: not a PyTorch model file (")


def test_directory_as_model_file(capsys, tmp_path):
    path = tmp_path / "dir.pt"
    path.mkdir()
    assert error_of(capsys, ["-q", "run", str(path)]) == \
        f"sparsecore run: error: {path}: is a directory, not a file"


def test_state_dict_instead_of_module(capsys, tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(mlp().state_dict(), path)
    assert error_of(capsys, ["-q", "run", str(path)]) == (
        f"sparsecore run: error: {path}: holds a state_dict, not a module; save the module "
        "itself: torch.save(model, path)")


def test_unsupported_layer_in_file(capsys, tmp_path):
    path = tmp_path / "sig.pt"
    torch.save(nn.Sequential(nn.Linear(64, 16), nn.Sigmoid(), nn.Linear(16, 10)), path)
    assert error_of(capsys, ["-q", "run", str(path)]) == (
        f"sparsecore run: error: {path}: refers to torch.nn.modules.activation.Sigmoid, which "
        "is not a supported layer (supported: Sequential of Linear, Conv2d, ReLU, MaxPool2d, "
        "AvgPool2d, Flatten); models with classes of their own: use the Python API, "
        "sparsecore.frontend")


def test_nan_weights(capsys, tmp_path):
    model = mlp()
    with torch.no_grad():
        model[0].bias[7] = float("inf")
    path = tmp_path / "nan.pt"
    torch.save(model, path)
    assert error_of(capsys, ["-q", "run", str(path)]) == (
        "sparsecore run: error: layer '0': bias has 1 NaN/Inf value(s), the first at [7]")


def test_wrong_input_width(capsys, tmp_path):
    path = tmp_path / "w63.pt"
    torch.save(mlp(width=63), path)
    assert error_of(capsys, ["-q", "run", str(path)]) == (
        "sparsecore run: error: digits (test split) has samples of shape (64,), the model "
        "takes (63,)")


def test_bad_data_files(capsys, tmp_path):
    model = tmp_path / "m.pt"
    torch.save(mlp(), model)
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((4, 64), np.float32))
    assert error_of(capsys, ["-q", "run", str(model), "--data", str(data)]) == (
        f"sparsecore run: error: {data}: no array 'y' (a data file holds x, y and optionally "
        "x_calib, y_calib); found ['x']")
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    err = error_of(capsys, ["-q", "run", str(model), "--data", str(bad)])
    assert err.startswith(f"sparsecore run: error: {bad}: not a data file (.npz with x and y): ")
    nan = tmp_path / "nan.npz"
    x = np.zeros((4, 64), np.float32)
    x[2, 9] = np.nan
    np.savez(nan, x=x, y=np.zeros(4, np.int64), x_calib=np.ones((4, 64), np.float32))
    assert error_of(capsys, ["-q", "run", str(model), "--data", str(nan)]) == (
        f"sparsecore run: error: {nan} has 1 NaN/Inf value(s), the first at [2, 9]")


def test_unwritable_output(capsys, tmp_path):
    out = tmp_path / "missing_dir" / "m.pt"
    assert error_of(capsys, ["-q", "train", str(out), "--epochs", "1"]) == (
        f"sparsecore train: error: {out}: cannot write: directory {out.parent} does not exist")
    model = tmp_path / "m.pt"
    torch.save(mlp(), model)
    assert error_of(capsys, ["-q", "prune", str(model), str(tmp_path)]) == (
        f"sparsecore prune: error: {tmp_path}: cannot write: is a directory")


def test_train_prune_run_golden(capsys, tmp_path):
    dense, pruned = tmp_path / "dense.pt", tmp_path / "s24.pt"
    assert cli.main(["-q", "train", str(dense), "--model", "cnn", "--epochs", "1"]) == 0
    assert cli.main(["-q", "prune", str(dense), str(pruned), "--retrain", "--epochs", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["-q", "run", str(pruned), "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "int8 on the golden model, 3 of 3 layers 2:4 sparse, 20 images" in out
    assert "bit-exact vs the torch integer reference: True" in out
    # Weights on disk are 2:4 along each layer's GEMM view.
    model = torch.load(pruned, weights_only=False)
    for layer in (model[0], model[2], model[6]):
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        K = w.shape[1]
        wp = torch.zeros(w.shape[0], -(-K // 4) * 4)
        wp[:, :K] = w
        assert ((wp.reshape(len(w), -1, 4) != 0).sum(-1) <= 2).all()


def test_subprocess_no_traceback_and_single_line_progress(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    path = tmp_path / "m.pt"
    proc = subprocess.run([sys.executable, "-m", "sparsecore.cli", "train", str(path),
                           "--model", "mlp", "--epochs", "3"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # stderr is a pipe, not a terminal: one line per bar, no carriage-return refreshes.
    assert "\r" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "training" in line]
    assert len(lines) == 1 and lines[0].startswith("mlp training: 3/3 epochs, ")
    bad = subprocess.run([sys.executable, "-m", "sparsecore.cli", "-q", "run",
                          str(tmp_path / "none.pt")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().endswith("none.pt: no such file")
