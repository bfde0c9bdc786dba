"""Model files: ``.npz`` archives with a format name and a version (no pickled objects).

Format version 1. Every file holds

==============  ========  ===================================================
field           dtype     meaning
==============  ========  ===================================================
``format``      str       ``"sparsecore-model"``
``version``     int64     ``1``
``kind``        str       ``"float"`` or ``"int8"``
``num_layers``  int64     L
``meta``        str       JSON object: how the model was made (free-form)
==============  ========  ===================================================

and per layer ``i`` (0 … L-1, input layer first):

* ``kind = "float"``: ``w{i}`` float32 (out, in); ``b{i}`` float32 (out,); optional
  ``mask{i}`` bool (out, in), the pruning mask (True = kept).
* ``kind = "int8"`` (see :mod:`sparsecore.quant` for the arithmetic), plus the file-level
  ``num_classes``, ``n``, ``m`` (int64): ``w{i}`` int8 (M, K), padded to the tile;
  ``bias{i}`` int32 (M,); ``w_scale{i}`` float64 (M,); ``x_scale{i}`` float64 ();
  ``in_features{i}``, ``out_features{i}`` int64 () (before padding); ``sparse{i}`` bool ();
  for all but the last layer ``mult{i}``, ``shift{i}`` int64 (M,); for sparse layers the
  compressed weights ``values{i}`` int8 (M, K*n/m) and ``metadata{i}`` uint16
  (M, ceil(K*n/m*ceil(log2 m)/16)), as ``golden.compress`` writes them.

Loading checks everything above and raises :class:`ModelFileError`, whose message names
the file and the field, for a missing, unreadable or truncated file, another format or
version, a missing field, or a field of the wrong dtype or shape.
"""

import json
import math
import os
import pathlib
import zipfile

import numpy as np

from .quant import QuantLayer, QuantModel

__all__ = ["ModelFileError", "FORMAT", "VERSION", "save_float", "save_int8", "load",
           "load_float", "load_int8"]

FORMAT = "sparsecore-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be used; ``path`` and ``field`` (or None) say where."""

    def __init__(self, path, message, field=None):
        self.path = str(path)
        self.field = field
        where = f"{self.path}: field '{field}' " if field else f"{self.path}: "
        super().__init__(where + message)


# --- saving ---------------------------------------------------------------------------------

def _write(path, fields):
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        raise ModelFileError(path, "model files must end in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **fields)
    os.replace(tmp, path)


def _header(kind, num_layers, meta):
    return {"format": np.array(FORMAT), "version": np.array(VERSION, dtype=np.int64),
            "kind": np.array(kind), "num_layers": np.array(num_layers, dtype=np.int64),
            "meta": np.array(json.dumps(meta or {}, sort_keys=True))}


def save_float(path, layers, *, masks=None, meta=None):
    """Save a float model ``[(W, b), ...]`` (and its pruning masks, if any)."""
    fields = _header("float", len(layers), meta)
    for i, (W, b) in enumerate(layers):
        fields[f"w{i}"] = np.asarray(W, dtype=np.float32)
        fields[f"b{i}"] = np.asarray(b, dtype=np.float32)
        if masks is not None and masks[i] is not None:
            fields[f"mask{i}"] = np.asarray(masks[i], dtype=bool)
    _write(path, fields)


def save_int8(path, model, *, meta=None):
    """Save a :class:`sparsecore.quant.QuantModel`."""
    fields = _header("int8", len(model.layers), meta)
    fields.update(num_classes=np.array(model.num_classes, dtype=np.int64),
                  n=np.array(model.n, dtype=np.int64), m=np.array(model.m, dtype=np.int64))
    for i, layer in enumerate(model.layers):
        fields[f"w{i}"] = layer.w.astype(np.int8)
        fields[f"bias{i}"] = layer.bias.astype(np.int32)
        fields[f"w_scale{i}"] = layer.w_scale.astype(np.float64)
        fields[f"x_scale{i}"] = np.array(layer.x_scale, dtype=np.float64)
        fields[f"in_features{i}"] = np.array(layer.in_features, dtype=np.int64)
        fields[f"out_features{i}"] = np.array(layer.out_features, dtype=np.int64)
        fields[f"sparse{i}"] = np.array(layer.sparse, dtype=bool)
        if layer.mult is not None:
            fields[f"mult{i}"] = layer.mult.astype(np.int64)
            fields[f"shift{i}"] = layer.shift.astype(np.int64)
        if layer.sparse:
            fields[f"values{i}"] = layer.values.astype(np.int8)
            fields[f"metadata{i}"] = layer.metadata.astype(np.uint16)
    _write(path, fields)


# --- loading --------------------------------------------------------------------------------

class _Reader:
    """Field access with checks; every failure names the file and the field."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise ModelFileError(self.path, "no such file")
        if not self.path.is_file():
            raise ModelFileError(self.path, "not a file")
        # Our own handle: np.load leaks its handle when the archive fails to open.
        try:
            self.fh = open(self.path, "rb")
        except OSError as exc:
            raise ModelFileError(self.path, f"cannot be opened: {exc.strerror}") from None
        try:
            self.npz = np.load(self.fh, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            self.fh.close()
            raise ModelFileError(self.path, f"not a readable .npz archive (truncated or "
                                            f"corrupt?): {exc}") from None
        if not isinstance(self.npz, np.lib.npyio.NpzFile):
            self.fh.close()
            raise ModelFileError(self.path, "is a single .npy array, not an .npz archive")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.npz.close()
        self.fh.close()

    def has(self, name):
        return name in self.npz.files

    def get(self, name, dtype=None, shape=None):
        if name not in self.npz.files:
            raise ModelFileError(self.path, "missing", name)
        try:
            value = self.npz[name]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ModelFileError(self.path, f"unreadable (truncated or corrupt?): {exc}",
                                 name) from None
        if dtype is not None:
            kinds = {"str": "U", "int": "iu", "bool": "b"}
            if dtype in kinds:
                if value.dtype.kind not in kinds[dtype]:
                    raise ModelFileError(self.path, f"has dtype {value.dtype}, expected "
                                                    f"{dtype}", name)
            elif value.dtype != np.dtype(dtype):
                raise ModelFileError(self.path, f"has dtype {value.dtype}, expected "
                                                f"{np.dtype(dtype)}", name)
        if shape is not None and value.shape != tuple(shape):
            raise ModelFileError(self.path, f"has shape {value.shape}, expected "
                                            f"{tuple(shape)}", name)
        return value

    def scalar(self, name, dtype):
        return self.get(name, dtype, ()).item()

    def error(self, message, field=None):
        return ModelFileError(self.path, message, field)


def _check_header(r, kind=None):
    if not r.has("format"):
        raise r.error("missing: not a sparsecore model file", "format")
    if r.scalar("format", "str") != FORMAT:
        raise r.error(f"is {r.scalar('format', 'str')!r}, expected {FORMAT!r}", "format")
    version = r.scalar("version", "int")
    if version != VERSION:
        raise r.error(f"is {version}, but this sparsecore reads version {VERSION} only",
                      "version")
    file_kind = r.scalar("kind", "str")
    if file_kind not in ("float", "int8"):
        raise r.error(f"is {file_kind!r}, expected 'float' or 'int8'", "kind")
    if kind is not None and file_kind != kind:
        raise r.error(f"is {file_kind!r}, but a {kind!r} model is needed here", "kind")
    num_layers = r.scalar("num_layers", "int")
    if num_layers < 1:
        raise r.error(f"is {num_layers}, expected at least 1", "num_layers")
    try:
        meta = json.loads(r.scalar("meta", "str"))
    except json.JSONDecodeError as exc:
        raise r.error(f"is not valid JSON: {exc}", "meta") from None
    return file_kind, num_layers, meta


def load_float(path):
    """Load a float model: ``(layers, masks, meta)``; ``masks[i]`` is None without a mask."""
    with _Reader(path) as r:
        return _load_float(r)


def _load_float(r):
    _, num_layers, meta = _check_header(r, "float")
    layers, masks = [], []
    prev_out = None
    for i in range(num_layers):
        W = r.get(f"w{i}", np.float32)
        if W.ndim != 2:
            raise r.error(f"has shape {W.shape}, expected (out, in)", f"w{i}")
        if prev_out is not None and W.shape[1] != prev_out:
            raise r.error(f"has shape {W.shape}, expected ({W.shape[0]}, {prev_out}) to "
                          f"follow layer {i - 1}", f"w{i}")
        b = r.get(f"b{i}", np.float32, (W.shape[0],))
        mask = r.get(f"mask{i}", "bool", W.shape) if r.has(f"mask{i}") else None
        layers.append((W, b))
        masks.append(mask)
        prev_out = W.shape[0]
    return layers, masks, meta


def load_int8(path):
    """Load a quantized model: ``(QuantModel, meta)``."""
    with _Reader(path) as r:
        return _load_int8(r)


def _load_int8(r):
    _, num_layers, meta = _check_header(r, "int8")
    n, m = r.scalar("n", "int"), r.scalar("m", "int")
    if not 1 <= n < m:
        raise r.error(f"n:m is {n}:{m}, expected 1 <= n < m", "n")
    model = QuantModel(num_classes=r.scalar("num_classes", "int"), n=n, m=m)
    prev_out = None
    for i in range(num_layers):
        w = r.get(f"w{i}", np.int8)
        if w.ndim != 2:
            raise r.error(f"has shape {w.shape}, expected (M, K)", f"w{i}")
        M, K = w.shape
        if prev_out is not None and K != prev_out:
            raise r.error(f"has shape {w.shape}, expected ({M}, {prev_out}) to follow "
                          f"layer {i - 1}", f"w{i}")
        last = i == num_layers - 1
        sparse = bool(r.scalar(f"sparse{i}", "bool"))
        layer = QuantLayer(
            w=w, bias=r.get(f"bias{i}", np.int32, (M,)),
            w_scale=r.get(f"w_scale{i}", np.float64, (M,)),
            x_scale=float(r.scalar(f"x_scale{i}", np.float64)),
            mult=None if last else r.get(f"mult{i}", np.int64, (M,)),
            shift=None if last else r.get(f"shift{i}", np.int64, (M,)),
            in_features=r.scalar(f"in_features{i}", "int"),
            out_features=r.scalar(f"out_features{i}", "int"),
            sparse=sparse)
        if layer.shift is not None and (np.any(layer.shift < 1) or np.any(layer.shift > 62)):
            raise r.error("has values outside 1 … 62", f"shift{i}")
        if sparse:
            if K % m:
                raise r.error(f"has K = {K}, not a multiple of m = {m}", f"w{i}")
            kept = K * n // m
            words = math.ceil(kept * max(1, math.ceil(math.log2(m))) / 16)
            layer.values = r.get(f"values{i}", np.int8, (M, kept))
            layer.metadata = r.get(f"metadata{i}", np.uint16, (M, words))
        model.layers.append(layer)
        prev_out = M
    if not 1 <= model.num_classes <= model.layers[-1].w.shape[0]:
        raise r.error(f"is {model.num_classes}, more than the last layer's "
                      f"{model.layers[-1].w.shape[0]} outputs", "num_classes")
    return model, meta


def load(path):
    """Load either kind: ``("float", (layers, masks), meta)`` or ``("int8", model, meta)``."""
    with _Reader(path) as r:
        kind, _, _ = _check_header(r)
        if kind == "float":
            layers, masks, meta = _load_float(r)
            return kind, (layers, masks), meta
        model, meta = _load_int8(r)
        return kind, model, meta
