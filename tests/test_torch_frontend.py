"""PyTorch front end (sparsecore/frontend.py) and its torch integer reference (torch_ref.py).

Expected values come from independent paths: torch's own ``F.unfold`` for im2col, plain
NumPy loops for pooling and requantization, a direct 2:4 count for the sparsifier's masks,
and the torch-ops reference (no golden, no im2col) for the integer network.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install '.[torch]')")
nn = torch.nn

from sparsecore import cv, frontend as fe  # noqa: E402
from sparsecore.torch_ref import reference  # noqa: E402


def tiny_cnn(seed=0, pool=None):
    torch.manual_seed(seed)
    pool = pool or nn.MaxPool2d(2)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3),
                         nn.ReLU(), pool, nn.Flatten(), nn.Linear(8 * 3 * 3, 10)).float()


def tiny_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).float()


@pytest.fixture(scope="module")
def digits():
    return cv.digits()


# --- lowering --------------------------------------------------------------------------------

def test_lower_sequential_cnn():
    ops = fe.lower(tiny_cnn())
    kinds = [type(op).__name__ if not isinstance(op, (fe.Gemm, fe.Pool)) else op.kind
             for op in ops]
    assert kinds == ["conv", "Relu", "conv", "Relu", "max", "Flatten", "linear"]
    assert ops[0].padding == (1, 1) and ops[2].padding == (0, 0)


def test_lower_traces_a_custom_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 6 * 6, 10)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

    names = [op.name for op in fe.lower(Net())]
    assert names == ["conv", "relu", "flatten", "fc"]


@pytest.mark.parametrize("layer, message", [
    (nn.Sigmoid(), "layer '1' (Sigmoid) is not supported; supported: Linear, Conv2d, ReLU, "
                   "MaxPool2d, AvgPool2d, Flatten (in a chain)"),
    (nn.BatchNorm1d(16), "layer '1' (BatchNorm1d) is not supported; supported: Linear, "
                         "Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten (in a chain)"),
])
def test_lower_refuses_unsupported_layers(layer, message):
    model = nn.Sequential(nn.Linear(64, 16), layer, nn.Linear(16, 10))
    with pytest.raises(fe.UnsupportedLayerError) as info:
        fe.lower(model)
    assert str(info.value) == message


def test_lower_refuses_grouped_conv():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, groups=2), nn.Flatten(), nn.Linear(144, 10))
    with pytest.raises(fe.UnsupportedLayerError, match=r"^layer '0' \(Conv2d\) with groups=2 "
                       r"is not supported"):
        fe.lower(model)


def test_lower_refuses_unsupported_function_and_non_chain():
    class Tanh(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(torch.tanh(x))

    with pytest.raises(fe.UnsupportedLayerError) as info:
        fe.lower(Tanh())
    assert str(info.value) == ("operation 'tanh' (tanh) is not supported; supported: Linear, "
                               "Conv2d, ReLU, MaxPool2d, AvgPool2d, Flatten (in a chain)")

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(64, 64), nn.Linear(64, 10)

        def forward(self, x):
            return self.b(self.a(x) + x)

    with pytest.raises(fe.UnsupportedLayerError, match="only chains are supported"):
        fe.lower(Residual())


def test_lower_needs_a_final_linear():
    with pytest.raises(fe.UnsupportedLayerError) as info:
        fe.lower(nn.Sequential(nn.Linear(64, 10), nn.ReLU()))
    assert str(info.value) == ("the model must end with a Linear layer (its int32 outputs are "
                               "the logits), not with '1'")


def test_nan_weights_are_refused(digits):
    model = tiny_mlp()
    with torch.no_grad():
        model[2].weight[3, 5] = float("nan")
    with pytest.raises(fe.ModelInputError) as info:
        fe.quantize(model, digits[0][:50])
    assert str(info.value) == "layer '2': weight has 1 NaN/Inf value(s), the first at [3, 5]"


def test_wrong_input_width_is_refused(digits):
    with pytest.raises(fe.ModelInputError) as info:
        fe.quantize(tiny_mlp(), digits[0][:50, :63])
    assert str(info.value) == ("calibration data has samples of shape (63,), the model takes "
                               "(64,)")


# --- pruning ---------------------------------------------------------------------------------

def test_prune_24_is_2_of_4_by_magnitude(rng):
    model = tiny_cnn()
    masks = fe.prune_24(model)
    for op in fe.gemm_layers(fe.lower(model)):
        W, m = np.abs(op.matrix), masks[op.name]
        K = W.shape[1]
        Wp = np.zeros((W.shape[0], -(-K // 4) * 4))
        Wp[:, :K] = W
        mp = np.zeros_like(Wp, dtype=bool)
        mp[:, :K] = m
        groups, kept = Wp.reshape(len(W), -1, 4), mp.reshape(len(W), -1, 4)
        real = np.zeros_like(kept)
        real.reshape(len(W), -1)[:, :K] = True
        # Every group keeps min(2, real elements), and each kept one is at least as large
        # as each dropped real one.
        assert (kept.sum(-1) == np.minimum(2, real.sum(-1))).all()
        lo = np.where(kept, groups, np.inf).min(-1)
        hi = np.where(real & ~kept, groups, -np.inf).max(-1)
        assert (lo >= hi).all()
        # Random weights have no ties: golden's own 2:4 pruning picks the same elements.
        import golden
        _, gm = golden.prune(Wp, 2, 4)
        np.testing.assert_array_equal(gm[:, :K], m)


def test_retraining_keeps_the_mask(digits):
    x, y = digits
    model = tiny_mlp()
    fe.train(model, x[:300], y[:300], fe.TrainConfig(epochs=1, seed=1))
    masks = fe.prune_24(model)
    before = {op.name: op.matrix.copy() for op in fe.gemm_layers(fe.lower(model))}
    fe.train(model, x[:300], y[:300], fe.TrainConfig(epochs=2, seed=1), masks=masks)
    assert not any(hasattr(m, "weight_mask") for m in model.modules())
    for op in fe.gemm_layers(fe.lower(model)):
        W = op.matrix
        assert (W[~masks[op.name]] == 0).all()
        kept = masks[op.name]
        # The kept ones trained (the digits' always-blank border pixels give some none).
        assert (W[kept] != before[op.name][kept]).mean() > 0.5


# --- integer network -------------------------------------------------------------------------

def test_im2col_matches_torch_unfold(rng):
    x = rng.integers(-127, 128, (3, 2, 7, 6)).astype(np.int8)
    for stride, padding in (((1, 1), (1, 1)), ((2, 1), (0, 2))):
        B, (OH, OW) = fe.im2col(x, 3, 2, stride, padding)
        ref = torch.nn.functional.unfold(torch.from_numpy(x).double(), (3, 2),
                                         stride=stride, padding=padding)
        # unfold: (N, C·kh·kw, L) → ours: (C·kh·kw, N·L)
        expected = ref.permute(1, 0, 2).reshape(B.shape[0], -1).numpy()
        np.testing.assert_array_equal(B.astype(np.float64), expected, strict=True)
        assert OH * OW == ref.shape[2]


def test_int_pools_match_hand_computation():
    x = np.array([[[[1, 2, 3, 4], [5, 6, 7, 8], [0, 0, 1, 0], [0, 1, 0, 3]]]], dtype=np.int8)
    mx = fe._pool_int(x, fe.Pool("p", "max", (2, 2), (2, 2)))
    av = fe._pool_int(x, fe.Pool("p", "avg", (2, 2), (2, 2)))
    np.testing.assert_array_equal(mx[0, 0], [[6, 8], [1, 3]])
    # sums 14, 22, 1, 4 → (s + 2) // 4: round half up of 3.5, 5.5, 0.25, 1.0
    np.testing.assert_array_equal(av[0, 0], [[4, 6], [0, 1]])


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_int8_network_is_bit_exact_with_the_torch_reference(digits, pool):
    x, y = digits
    xi = x.reshape(-1, 1, 8, 8)
    model = tiny_cnn(pool=nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
    fe.train(model, xi[:400], y[:400], fe.TrainConfig(epochs=2))
    fe.train(model, xi[:400], y[:400], fe.TrainConfig(epochs=1), masks=fe.prune_24(model))
    graph = fe.quantize(model, xi[:400], input_shape=(1, 8, 8), sparse=True)
    assert all(s.sparse for s in graph.gemms)
    logits, trace = fe.run_int8(graph, xi[400:440])
    rlogits, ref = reference(graph, xi[400:440])
    rows = fe.compare(trace, ref)
    assert fe.bit_exact(rows), rows
    np.testing.assert_array_equal(logits, rlogits, strict=True)
    assert [r["acc_checked"] for r in rows] == [40 * 4 * 64, 40 * 8 * 36, 40 * 10]
    # Dense mode gives the same integers; int8 tracks the float model.
    dlogits, _ = fe.run_int8(graph, xi[400:440], sparse=False)
    np.testing.assert_array_equal(dlogits, logits, strict=True)
    agree = (fe.predict(logits) == fe.forward_float(model, xi[400:440]).argmax(1)).mean()
    assert agree >= 0.9


def test_compare_catches_a_wrong_accumulator(digits):
    x, _ = digits
    graph = fe.quantize(tiny_mlp(), x[:100])
    _, trace = fe.run_int8(graph, x[100:110])
    _, ref = reference(graph, x[100:110])
    trace[0]["acc"][3, 2] += 1
    rows = fe.compare(trace, ref)
    assert rows[0]["acc_mismatches"] == 1 and not fe.bit_exact(rows)


def test_requantization_is_round_half_up(rng):
    acc = rng.integers(-2**20, 2**20, (6, 50))
    r = rng.uniform(1e-4, 0.5, 6)
    mult, shift = fe.quant.requant_params(r)
    got = fe._requant_signed(acc, mult, shift)
    for o in range(6):
        for n in range(50):
            exact = acc[o, n] * int(mult[o])          # Python ints: no overflow
            want = (exact + (1 << (int(shift[o]) - 1))) >> int(shift[o])
            assert got[o, n] == max(-127, min(127, want))


def test_too_small_input_is_refused_naming_the_layer():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(),
                          nn.Linear(4, 10))
    with pytest.raises(fe.ModelInputError) as info:
        fe.quantize(model, np.zeros((3, 1, 4, 4), np.float32), input_shape=(1, 4, 4))
    assert str(info.value).startswith("layer '2' (Conv2d) cannot run on an input of shape "
                                      "(4, 2, 2): ")
