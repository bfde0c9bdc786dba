"""PyTorch model files and data files of the ``sparsecore`` command, with clear errors.

* **Model files** (``.pt``/``.pth``) hold a whole module saved with ``torch.save(model,
  path)``. They are loaded with ``torch.load(weights_only=True)``, allowing only the
  supported layer classes (``nn.Sequential`` of Linear, Conv2d, ReLU, MaxPool2d,
  AvgPool2d, Flatten): loading never runs code from the file. A file that refers to
  another class is refused, naming it; models with classes of their own go through the
  Python API (:mod:`sparsecore.frontend`).
* **Data**: ``digits`` (scikit-learn's digits, the fixed split of
  :mod:`sparsecore.data`: calibration/training on its training split, evaluation on its
  test split; shaped (1, 8, 8) for a model that starts with a convolution), or an
  ``.npz`` with ``x`` (samples, *input shape) float, ``y`` (samples,) integer labels and
  optionally ``x_calib`` (calibration/training inputs; default ``x``) and ``y_calib``.
"""

import os
import pathlib

import numpy as np

__all__ = ["TorchFileError", "load_module", "save_module", "check_writable", "load_data",
           "Data", "is_torch_path"]

SUFFIXES = (".pt", ".pth")


class TorchFileError(ValueError):
    """A model or data file that cannot be used; the message starts with its name."""


def is_torch_path(path):
    return pathlib.Path(path).suffix.lower() in SUFFIXES


def _allowed():
    import torch.nn as nn
    return [nn.Sequential, nn.Linear, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d,
            nn.Flatten]


def _check_readable(path):
    p = pathlib.Path(path)
    if not p.exists():
        raise TorchFileError(f"{path}: no such file")
    if p.is_dir():
        raise TorchFileError(f"{path}: is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise TorchFileError(f"{path}: permission denied")
    return p


def load_module(path):
    """The ``nn.Module`` in ``path`` (see the module docstring)."""
    import pickle

    import torch

    p = _check_readable(path)
    try:
        with torch.serialization.safe_globals(_allowed()):
            obj = torch.load(p, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        text = str(exc)
        marker = "GLOBAL "
        if marker in text:
            name = text.split(marker, 1)[1].split()[0]
            raise TorchFileError(
                f"{path}: refers to {name}, which is not a supported layer (supported: "
                "Sequential of Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten); models "
                "with classes of their own: use the Python API, sparsecore.frontend") from None
        raise TorchFileError(f"{path}: not a PyTorch model file ({_first_line(text)})") \
            from None
    except Exception as exc:  # noqa: BLE001 - zip, EOF, magic-number errors from torch.load
        raise TorchFileError(f"{path}: not a PyTorch model file "
                             f"({type(exc).__name__}: {_first_line(str(exc))})") from None
    if isinstance(obj, dict):
        raise TorchFileError(f"{path}: holds a state_dict, not a module; save the module "
                             "itself: torch.save(model, path)")
    if not isinstance(obj, torch.nn.Module):
        raise TorchFileError(f"{path}: holds a {type(obj).__name__}, not a torch.nn.Module")
    obj.eval()
    return obj


def _first_line(text):
    line = text.strip().splitlines()[0] if text.strip() else "empty"
    return line[:160]


def check_writable(path):
    """Raise :class:`TorchFileError` if ``path`` cannot be written (before long work)."""
    p = pathlib.Path(path)
    parent = p.parent if str(p.parent) else pathlib.Path(".")
    if p.is_dir():
        raise TorchFileError(f"{path}: cannot write: is a directory")
    if not parent.is_dir():
        raise TorchFileError(f"{path}: cannot write: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise TorchFileError(f"{path}: cannot write: permission denied")


def save_module(module, path):
    import torch

    check_writable(path)
    try:
        torch.save(module, path)
    except OSError as exc:
        raise TorchFileError(f"{path}: cannot write: {exc.strerror or exc}") from None


class Data:
    """``x``/``y`` to evaluate, ``x_calib``/``y_calib`` to calibrate or train on."""

    def __init__(self, name, x, y, x_calib, y_calib):
        self.name, self.x, self.y, self.x_calib, self.y_calib = name, x, y, x_calib, y_calib

    def limit(self, n):
        if n is None:
            return self
        return Data(self.name, self.x[:n], self.y[:n], self.x_calib, self.y_calib)


def load_data(spec, conv_input=False):
    """``digits`` or an ``.npz`` data file (module docstring) as :class:`Data`."""
    if spec == "digits":
        from .data import load_digits
        d = load_digits()
        shape = (-1, 1, 8, 8) if conv_input else (-1, 64)
        return Data("digits (test split)", d.x_test.reshape(shape), d.y_test,
                    d.x_train.reshape(shape), d.y_train)
    p = _check_readable(spec)
    try:
        with np.load(p, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # noqa: BLE001 - not a zip / not npz / bad member
        raise TorchFileError(f"{spec}: not a data file (.npz with x and y): "
                             f"{type(exc).__name__}: {_first_line(str(exc))}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise TorchFileError(f"{spec}: no array {key!r} (a data file holds x, y and "
                                 f"optionally x_calib, y_calib); found {sorted(arrays)}")
    x, y = arrays["x"], arrays["y"]
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise TorchFileError(f"{spec}: x must be a numeric array (samples, ...), not "
                             f"{x.dtype} of shape {x.shape}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != len(x):
        raise TorchFileError(f"{spec}: y must hold one integer label per sample of x "
                             f"({len(x)}), not {y.dtype} of shape {y.shape}")
    xc = arrays.get("x_calib", x)
    yc = arrays.get("y_calib", y if "x_calib" not in arrays else None)
    return Data(str(spec), x.astype(np.float32), y.astype(np.int64), xc.astype(np.float32),
                None if yc is None else yc.astype(np.int64))
