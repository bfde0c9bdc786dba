"""sparsecore.quant: int8 quantization and integer inference, against independent paths."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparsecore import quant


def random_layers(rng, sizes=(20, 32, 16, 10), sparse=False):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((b, a)).astype(np.float32) / np.sqrt(a)
        if sparse:                         # 2:4 along K (input features padded to 16)
            Wp = np.zeros((b, -(-a // 4) * 4), np.float32)
            Wp[:, :a] = W
            g = np.abs(Wp).reshape(b, -1, 4)
            keep = np.argsort(-g, axis=-1, kind="stable")[..., :2]
            mask = np.zeros_like(g, dtype=bool)
            np.put_along_axis(mask, keep, True, axis=-1)
            W = (Wp * mask.reshape(b, -1))[:, :a]
        layers.append((W, (rng.standard_normal(b) * 0.1).astype(np.float32)))
    return layers


def float_forward(layers, x):
    h = x.astype(np.float64)
    for i, (W, b) in enumerate(layers):
        h = h @ W.astype(np.float64).T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def reference_int8(model, x):
    """Independent integer path: plain int64 NumPy matmul, Python-int requantization."""
    first = model.layers[0]
    xq = np.zeros((x.shape[0], first.w.shape[1]), np.int64)
    xq[:, :x.shape[1]] = np.clip(np.rint(x / first.x_scale), -127, 127)
    h = xq.T
    outs = []
    for layer in model.layers:
        acc = layer.w.astype(np.int64) @ h + layer.bias.astype(np.int64)[:, None]
        acc = (acc + 2**31) % 2**32 - 2**31
        outs.append(acc)
        if layer.mult is not None:
            h = np.array([[min(127, max(0, (int(a) * int(mu) + (1 << (int(s) - 1))) >> int(s)))
                           for a in row] for row, mu, s in zip(acc, layer.mult, layer.shift)],
                         dtype=np.int64)
    return outs


# --- weights ----------------------------------------------------------------------------

def test_quantize_weights_round_trip(rng):
    W = rng.standard_normal((16, 24)) * rng.uniform(0.01, 3, size=(16, 1))
    W[3] = 0.0
    q, scale = quant.quantize_weights(W)
    assert q.dtype == np.int8 and scale.shape == (16,)
    assert scale[3] == 1.0 and (q[3] == 0).all()
    assert (np.abs(q.astype(np.int64)).max(axis=1)[np.arange(16) != 3] == 127).all()
    err = np.abs(q * scale[:, None] - W)
    assert (err <= scale[:, None] / 2 + 1e-12).all()
    q_neg, scale_neg = quant.quantize_weights(-W)     # symmetric
    np.testing.assert_array_equal(q_neg, -q, strict=True)
    np.testing.assert_array_equal(scale_neg, scale, strict=True)


def test_quantize_weights_per_tensor(rng):
    W = rng.standard_normal((6, 10))
    q, scale = quant.quantize_weights(W, per_channel=False)
    assert (scale == np.abs(W).max() / 127).all()
    assert np.abs(q.astype(np.int64)).max() == 127


def test_quantize_weights_keeps_zeros(rng):
    W = rng.standard_normal((8, 16))
    W[rng.random(W.shape) < 0.5] = 0.0
    q, _ = quant.quantize_weights(W)
    assert (q[W == 0] == 0).all()


# --- requantization ---------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-6, max_value=4.0, allow_nan=False))
def test_requant_params_represent_factor(r):
    mult, shift = quant.requant_params(np.array([r]))
    assert 2**30 <= mult[0] < 2**31
    assert abs(Fraction(int(mult[0]), 2**int(shift[0])) - Fraction(r)) <= Fraction(r) / 2**30


@settings(max_examples=300, deadline=None)
@given(acc=st.integers(-2**31, 2**31 - 1), r=st.floats(min_value=1e-5, max_value=2.0))
def test_requantize_is_round_half_up_of_the_exact_product(acc, r):
    mult, shift = quant.requant_params(np.array([r]))
    got = int(quant.requantize(np.array([[acc]], np.int32), mult, shift)[0, 0])
    exact = Fraction(acc) * Fraction(int(mult[0]), 2**int(shift[0]))
    want = int((exact + Fraction(1, 2)).__floor__())       # round half up
    assert got == min(127, max(0, want))


def test_requant_params_rejects_bad_factors():
    with pytest.raises(ValueError, match="requantization factors must be positive"):
        quant.requant_params(np.array([0.0]))


# --- whole model ------------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True])
def test_infer_int8_matches_independent_integer_path(rng, sparse):
    layers = random_layers(rng, sparse=sparse)
    x_cal = rng.random((64, 20)).astype(np.float32)
    model = quant.quantize(layers, x_cal, sparse=sparse)
    # Padding to the tile: K to 16, hidden to 16, the 10 outputs to 12.
    assert [layer.w.shape for layer in model.layers] == [(32, 32), (16, 32), (12, 16)]
    x = rng.random((9, 20)).astype(np.float32)
    logits, outputs, _ = quant.infer_int8(model, x)
    for got, want in zip(outputs, reference_int8(model, x)):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got.astype(np.int64), want, strict=True)
    assert logits.shape == (9, 10)
    np.testing.assert_array_equal(logits, outputs[-1][:10].T, strict=True)
    if sparse:                                           # dense mode gives the same bits
        logits_dense, _, _ = quant.infer_int8(model, x, sparse=False)
        np.testing.assert_array_equal(logits_dense, logits, strict=True)


def test_int8_logits_track_float_logits(rng):
    layers = random_layers(rng)
    x = rng.random((200, 20)).astype(np.float32)
    model = quant.quantize(layers, x, sparse=False)
    logits, _, _ = quant.infer_int8(model, x)
    last = model.layers[-1]
    assert (last.w_scale == last.w_scale[0]).all()      # one scale: argmax is meaningful
    deq = logits * (last.w_scale[:10] * last.x_scale)
    ref = float_forward(layers, x)
    err = np.abs(deq - ref).max()
    assert err < 0.05 * np.abs(ref).max()
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2 * err          # margins the error cannot flip
    assert clear.sum() > 20
    np.testing.assert_array_equal(quant.predict(logits)[clear], ref.argmax(axis=1)[clear])


def test_quantize_sparse_rejects_dense_weights(rng):
    import golden
    layers = random_layers(rng, sparse=False)
    with pytest.raises(golden.NotNMSparseError):
        quant.quantize(layers, rng.random((8, 20)), sparse=True)


def test_predict_takes_first_of_equal_maxima():
    np.testing.assert_array_equal(quant.predict(np.array([[3, 7, 7], [5, 5, 1]], np.int32)),
                                  [1, 0])
