"""sparsecore.modelfile: round trips and every bad-file case names the file and the field."""

import numpy as np
import pytest

from sparsecore import modelfile, quant
from sparsecore.modelfile import ModelFileError


def float_layers(rng):
    return [(rng.standard_normal((32, 16)).astype(np.float32),
             rng.standard_normal(32).astype(np.float32)),
            (rng.standard_normal((10, 32)).astype(np.float32),
             rng.standard_normal(10).astype(np.float32))]


def sparse_layers(rng):
    layers = []
    for W, b in float_layers(rng):
        g = W.reshape(W.shape[0], -1, 4).copy()
        g[..., 1::2] = 0.0                        # 2:4: positions 0 and 2 of each group
        layers.append((g.reshape(W.shape), b))
    return layers


@pytest.fixture
def float_file(tmp_path, rng):
    path = tmp_path / "model.npz"
    layers = float_layers(rng)
    masks = [np.ones(W.shape, bool) for W, _ in layers]
    modelfile.save_float(path, layers, masks=masks, meta={"method": "dense"})
    return path, layers


@pytest.fixture
def int8_file(tmp_path, rng):
    path = tmp_path / "model_int8.npz"
    model = quant.quantize(sparse_layers(rng), rng.random((20, 16)), sparse=True)
    modelfile.save_int8(path, model, meta={"method": "2:4"})
    return path, model


def rewrite(src, dst, *, drop=(), **changes):
    with np.load(src) as npz:
        fields = {k: npz[k] for k in npz.files if k not in drop}
    fields.update(changes)
    np.savez(dst, **fields)
    return dst


def expect_error(path, message, field=None, loader=modelfile.load):
    with pytest.raises(ModelFileError) as info:
        loader(path)
    text = str(info.value)
    assert text.startswith(str(path)), text
    assert message in text, text
    assert info.value.field == field
    if field is not None:
        assert f"field '{field}'" in text
    return text


def test_float_round_trip(float_file):
    path, layers = float_file
    got, masks, meta = modelfile.load_float(path)
    assert meta == {"method": "dense"}
    for (W, b), (W2, b2), m in zip(layers, got, masks):
        np.testing.assert_array_equal(W2, W, strict=True)
        np.testing.assert_array_equal(b2, b, strict=True)
        assert m.dtype == bool and m.all()


def test_int8_round_trip(int8_file, rng):
    path, model = int8_file
    got, meta = modelfile.load_int8(path)
    assert meta == {"method": "2:4"} and got.num_classes == 10 and (got.n, got.m) == (2, 4)
    for a, b in zip(model.layers, got.layers):
        for name in ("w", "bias", "w_scale", "values", "metadata", "mult", "shift"):
            x, y = getattr(a, name), getattr(b, name)
            if x is None:
                assert y is None
            else:
                np.testing.assert_array_equal(y, x, strict=True)
        assert (b.x_scale, b.sparse, b.in_features, b.out_features) == \
               (a.x_scale, a.sparse, a.in_features, a.out_features)
    x = rng.random((5, 16))
    np.testing.assert_array_equal(quant.infer_int8(got, x)[0], quant.infer_int8(model, x)[0],
                                  strict=True)


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.npz", "no such file")


def test_directory(tmp_path):
    expect_error(tmp_path, "not a file")


@pytest.mark.parametrize("keep", [0, 10, 200, -100])
def test_truncated_file(float_file, tmp_path, keep):
    path, _ = float_file
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ModelFileError) as info:
        modelfile.load(bad)
    assert str(info.value).startswith(str(bad))
    assert "truncated or corrupt" in str(info.value)


def test_not_an_npz(tmp_path):
    bad = tmp_path / "text.npz"
    bad.write_text("hello")
    expect_error(bad, "not a readable .npz archive")


def test_single_npy(tmp_path):
    bad = tmp_path / "array.npz"
    with open(bad, "wb") as f:
        np.save(f, np.zeros(3))
    expect_error(bad, "single .npy array")


def test_not_a_model(tmp_path):
    bad = tmp_path / "other.npz"
    np.savez(bad, x=np.zeros(3))
    expect_error(bad, "missing: not a sparsecore model file", "format")


def test_wrong_format_name(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", format=np.array("other"))
    expect_error(bad, "is 'other', expected 'sparsecore-model'", "format")


def test_wrong_version(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", version=np.array(2))
    expect_error(bad, "is 2, but this sparsecore reads version 1 only", "version")


def test_version_of_wrong_type(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", version=np.array("1"))
    expect_error(bad, "expected int", "version")


def test_missing_field(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", drop=("b1",))
    expect_error(bad, "missing", "b1")


def test_missing_int8_field(int8_file, tmp_path):
    bad = rewrite(int8_file[0], tmp_path / "b.npz", drop=("metadata0",))
    expect_error(bad, "missing", "metadata0")


def test_wrong_shape(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", b0=np.zeros(7, np.float32))
    expect_error(bad, "has shape (7,), expected (32,)", "b0")


def test_layers_do_not_chain(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", w1=np.zeros((10, 31), np.float32),
                  mask1=np.ones((10, 31), bool))
    expect_error(bad, "has shape (10, 31), expected (10, 32) to follow layer 0", "w1")


def test_wrong_dtype(int8_file, tmp_path):
    bad = rewrite(int8_file[0], tmp_path / "b.npz", w0=np.zeros((32, 16), np.int16))
    expect_error(bad, "has dtype int16, expected int8", "w0")


def test_wrong_metadata_shape(int8_file, tmp_path):
    bad = rewrite(int8_file[0], tmp_path / "b.npz", metadata1=np.zeros((12, 3), np.uint16))
    expect_error(bad, "has shape (12, 3), expected (12, 2)", "metadata1")


def test_wrong_kind_for_loader(int8_file):
    expect_error(int8_file[0], "is 'int8', but a 'float' model is needed here", "kind",
                 loader=modelfile.load_float)


def test_bad_meta_json(float_file, tmp_path):
    bad = rewrite(float_file[0], tmp_path / "b.npz", meta=np.array("{nope"))
    expect_error(bad, "is not valid JSON", "meta")


def test_save_needs_npz_suffix(tmp_path, rng):
    with pytest.raises(ModelFileError, match="model files must end in .npz"):
        modelfile.save_float(tmp_path / "model.bin", float_layers(rng))
