"""The model flow end to end on a reduced configuration, training, pruning and RTL inference."""

import json

import numpy as np
import pytest

from sparsecore import data as sc_data
from sparsecore import flow, model, pruning, quant, rtl_backend


@pytest.fixture(scope="module")
def digits():
    return sc_data.load_digits()


def test_digits_split_is_fixed(digits):
    assert digits.x_train.shape == (1438, 64) and digits.x_test.shape == (359, 64)
    assert digits.x_train.dtype == np.float32 and 0 <= digits.x_train.min() <= 1
    assert digits.x_train.max() == 1.0
    assert set(np.unique(digits.y_test)) == set(range(10))
    from sklearn.datasets import load_digits
    raw = load_digits()
    np.testing.assert_array_equal(digits.y_test, raw.target[4::5])
    np.testing.assert_array_equal(digits.x_test, (raw.data[4::5] / 16).astype(np.float32))


def test_train_config_validates():
    with pytest.raises(ValueError, match="^epochs must be a positive integer, not 0$"):
        model.TrainConfig(epochs=0)


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_retraining_keeps_masked_weights_zero_and_is_deterministic(digits, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    digits = sc_data.Dataset("digits, first 480 training samples", digits.x_train[:480],
                             digits.y_train[:480], digits.x_test, digits.y_test, 10)
    cfg = model.TrainConfig(epochs=2, seed=3)
    dense = model.train(digits, cfg, backend=backend)
    masks = pruning.prune_masks(dense, "2:4")
    retrained = model.train(digits, cfg, init=model.apply_masks(dense, masks), masks=masks,
                            backend=backend)
    for (W, _), m in zip(retrained, masks):
        assert (W[~m] == 0).all()
        assert (W[m] != 0).mean() > 0.99                 # the kept weights did train
    again = model.train(digits, cfg, backend=backend)
    for (W, b), (W2, b2) in zip(dense, again):
        np.testing.assert_array_equal(W2, W, strict=True)
        np.testing.assert_array_equal(b2, b, strict=True)
    assert model.accuracy(retrained, digits.x_test, digits.y_test) > 0.7


def test_prune_masks_methods(rng):
    layers = [(rng.standard_normal((32, 64)).astype(np.float32), np.zeros(32, np.float32))]
    (m24,) = pruning.prune_masks(layers, "2:4")
    assert (m24.reshape(32, -1, 4).sum(axis=-1) == 2).all()
    (mu,) = pruning.prune_masks(layers, "unstructured", 0.9)
    assert abs((~mu).mean() - 0.9) < 0.01
    (mu2,) = pruning.prune_masks(layers, "unstructured", 0.95, masks=[mu])
    assert not (mu2 & ~mu).any()                          # pruned stays pruned
    (mtw,) = pruning.prune_masks(layers, "tw", 0.5, tile=16)
    assert (~mtw).mean() == 0.5
    (mtvw,) = pruning.prune_masks(layers, "tvw", 0.5, tile=16)
    assert not (mtvw & ~mtw).any()
    # 2:4 along each tile's kept columns: a tile keeping k columns keeps 2 of every full
    # group of 4 and min(2, rest) of the last partial one, in each of its 16 rows (so 75 %
    # only when every k is a multiple of 4: TW picks segments globally, k varies by tile).
    kept = [int(mtw[t0].sum()) for t0 in range(0, 32, 16)]
    assert mtvw.sum() == sum(16 * sum(min(2, k - g) for g in range(0, k, 4)) for k in kept)
    with pytest.raises(ValueError, match="pruning method must be one of"):
        pruning.prune_masks(layers, "random", 0.5)


def test_han_schedule():
    assert pruning.han_schedule(0.9, 3)[-1] == pytest.approx(0.9)
    assert pruning.han_schedule(0.5, 1) == [pytest.approx(0.5)]


def test_tile_ops_dense_is_twice_sparse():
    assert rtl_backend.gemm_tile_ops(256, 256, 360, sparse=True) == 64 * 90 * 16
    assert rtl_backend.gemm_tile_ops(256, 256, 360, sparse=False) == 2 * 64 * 90 * 16


def reduced_config(out_dir, **changes):
    return flow.DemoConfig(out_dir=str(out_dir), train=model.TrainConfig(epochs=2),
                           test_limit=40, rtl_limit=4, han_steps=1, **changes)


def test_demo_reduced_end_to_end(tmp_path):
    """The whole flow but the RTL rows (those are test_rtl_demo_end_to_end's)."""
    out = tmp_path / "report"
    flow.run_demo(reduced_config(out, rtl=False), progress=False, command="pytest")
    for name in ("report.md", "results.json", "accuracy.png", "dense.npz", "sparse24.npz",
                 "sparse24_int8.npz"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "results.json").read_text())
    rows = saved["rows"]
    for key in ("dense_fp32", "sparse24_noretrain", "sparse24_retrained",
                "sparse24_int8_golden", "sparse24_int8_rtl", "unstructured50",
                "unstructured90", "tw50", "tvw"):
        assert key in rows, key
    assert rows["dense_fp32"]["accuracy"] > 0.8
    assert rows["sparse24_retrained"]["sparsity"] == pytest.approx(0.5)
    assert rows["unstructured90"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert saved["tile_ops"]["dense"] == 2 * saved["tile_ops"]["2:4"]
    assert saved["tile_ops"]["unstructured90"] == saved["tile_ops"]["dense"]
    report = (out / "report.md").read_text()
    assert "| 2:4 retrained |" in report and "no speed-up on this hardware" in report
    assert rows["sparse24_int8_rtl"]["accuracy"] is None
    assert "not run: disabled" in rows["sparse24_int8_rtl"]["note"]
    # The saved int8 model reproduces the golden accuracy.
    from sparsecore import modelfile
    q, _ = modelfile.load_int8(out / "sparse24_int8.npz")
    x, y = sc_data.load_digits().test_slice(40)
    acc = (quant.predict(quant.infer_int8(q, x)[0]) == y).mean()
    assert acc == rows["sparse24_int8_golden"]["accuracy"]
    # The RTL section as it renders once the engine reports (numbers made up).
    ran = {"status": "ok", "reason": "", "accuracy": 0.75, "golden_accuracy": 0.75,
           "bit_exact": True, "mismatches": [0, 0, 0], "samples": 4}
    saved["rtl"] = {"sparse": dict(ran, cycles=1000), "dense": dict(ran, cycles=1990)}
    text = flow.render_report(saved)
    assert "| sparse (2:4 compressed) | 4 | 1000 | — | — | True | 75.00 % |" in text
    assert "Speed-up of sparse over dense mode: 1.99× in cycles" in text


@pytest.mark.sim
def test_rtl_demo_end_to_end(tmp_path):
    """The reduced flow with RTL inference of a handful of samples, sparse and dense mode:
    every layer's int32 output equals the golden model's."""
    available, reason = rtl_backend.rtl_status()
    if not available:
        pytest.skip(f"RTL backend not available: {reason}")
    out = tmp_path / "report"
    results = flow.run_demo(reduced_config(out, unstructured=(0.9,)), progress=False)
    for mode in ("sparse", "dense"):
        r = results["rtl"][mode]
        assert r["status"] == "ok" and r["bit_exact"], r
        assert r["mismatches"] == [0, 0, 0] and r["samples"] == 4
        assert r["accuracy"] == r["golden_accuracy"]
    assert results["rtl"]["dense"]["cycles"] > results["rtl"]["sparse"]["cycles"] > 0


def tile_engine(a, b, c=None, *, sparse, config=None, verbose=False):
    """A stand-in GEMM engine on the golden *tile* model (the core's per-operation
    semantics, not ``sparse_mma``): checks the adapter's padding and plumbing."""
    from golden import tiles, wrap
    t = rtl_backend.TILE
    if sparse:
        values, metadata = a
        B = b
    else:
        values, metadata, B = tiles.dense_as_sparse(a, b)
    M, N = values.shape[0], b.shape[1]
    assert M % t["tile_m"] == 0 and N % t["tile_n"] == 0 and B.shape[0] % t["tile_k"] == 0
    ops = tiles.split_gemm(values, metadata, B, tile_m=t["tile_m"], tile_n=t["tile_n"],
                           tile_k=t["tile_k"])
    D = tiles.assemble(tiles.core_model(ops), M, N, tile_m=t["tile_m"], tile_n=t["tile_n"])
    D = wrap(np.asarray(D, np.int64) + (0 if c is None else c), 32)
    return D.astype(np.int32), {"cycles": len(ops), "ops": len(ops)}


def test_rtl_adapter_on_the_tile_model(digits, monkeypatch):
    monkeypatch.setattr(rtl_backend, "rtl_gemm", tile_engine)
    layers = model.train(digits, model.TrainConfig(epochs=1))
    masks = pruning.prune_masks(layers, "2:4")
    q = quant.quantize(model.apply_masks(layers, masks), digits.x_train, sparse=True)
    x, y = digits.x_test[:7], digits.y_test[:7]              # N = 7: padded to 8
    _, golden_outputs, _ = quant.infer_int8(q, x)
    sparse = flow.rtl_inference(q, x, y, golden_outputs, sparse=True)
    dense = flow.rtl_inference(q, x, y, golden_outputs, sparse=False)
    assert sparse["status"] == dense["status"] == "ok" and sparse["mismatches"] == [0, 0, 0]
    shapes = [layer.w.shape for layer in q.layers]
    assert sparse["cycles"] == sum(rtl_backend.gemm_tile_ops(M, K, 8, sparse=True)
                                   for M, K in shapes)
    assert dense["cycles"] == 2 * sparse["cycles"]
