"""sparsecore.tilewise_run: TW/TVW model layers on the engine (Amaranth-sim back end here;
the demo runs the same calls under Verilator), bit-exact against golden integer inference."""

import numpy as np
import pytest

from hw.config import CoreConfig
from sparsecore import quant
from sparsecore.tilewise_run import rtl_rows, tilewise_masks
from tb.tilewise_driver import run_tw_amaranth

SMALL = CoreConfig(tile_m=2, tile_n=2, tile_k=8)
DEPTH = 64


def runner(raw, *, config, a_depth, b_depth, build_name):
    return run_tw_amaranth(raw, config=config, a_depth=a_depth, b_depth=b_depth)


def test_masks_granularities(rng):
    layers = [(rng.standard_normal((16, 32)), np.zeros(16))]
    (block,), (tw_block,) = tilewise_masks(layers, 0.5, granularity="block", group=4, block=8)
    assert block.mean() == pytest.approx(0.5)
    assert np.all(block.reshape(4, 4, 4, 8).all(axis=(1, 3)) |
                  ~block.reshape(4, 4, 4, 8).any(axis=(1, 3)))
    (row,), _ = tilewise_masks(layers, 0.5, granularity="row", group=4)
    assert np.all(row.reshape(4, 4, 32).all(axis=1) | ~row.reshape(4, 4, 32).any(axis=1))
    (tvw,), (tw,) = tilewise_masks(layers, 0.5, granularity="block", tvw=True, group=4, block=8)
    assert not (tvw & ~tw).any() and tvw.mean() == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"^granularity must be 'block' or 'row', not 'x'$"):
        tilewise_masks(layers, 0.5, granularity="x")


def test_rtl_rows_bit_exact(rng):
    x = rng.random((6, 16))
    y = rng.integers(0, 4, 6)
    dense = [(rng.standard_normal((8, 16)), rng.standard_normal(8) * 0.1),
             (rng.standard_normal((4, 8)), rng.standard_normal(4) * 0.1)]
    models = [dict(label="dense", method="dense",
                   model=quant.quantize(dense, x, sparse=False, tile_m=2, tile_k=8))]
    for method, gran in (("tw", "block"), ("tvw", "block"), ("tw", "row"), ("tvw", "row")):
        masks, tw = tilewise_masks(dense, 0.5, granularity=gran, tvw=method == "tvw",
                                   group=4, block=8)
        pruned = [(W * mk, b) for (W, b), mk in zip(dense, masks)]
        models.append(dict(label=f"{method} {gran}", method=method, granularity=gran,
                           tw_masks=tw,
                           model=quant.quantize(pruned, x, sparse=False, tile_m=2, tile_k=8)))
    rows = rtl_rows(models, x, y, group=4, config=SMALL, a_depth=DEPTH, b_depth=DEPTH,
                    runner=runner)
    assert [r["bit_exact"] for r in rows] == [True] * 5
    for r in rows:
        assert r["accuracy"] == r["golden_accuracy"]
    by = {r["label"]: r for r in rows}
    # Exact operation counts, from the quantized weights' non-zero blocks by hand: per
    # tile row, (blocks its group keeps, at least 1) × N tiles × (2 dense, 1 sparse).
    nt = 3

    def native_ops(model, ratio):
        total = 0
        for layer in model.layers:
            M, K = layer.w.shape
            for mi in range(M // 2):
                g0 = mi * 2 // 4 * 4
                kept = sum(bool(np.any(layer.w[g0:g0 + 4, b * 8:(b + 1) * 8]))
                           for b in range(K // 8))
                total += max(1, kept) * nt * ratio
        return total
    assert by["dense"]["tile_ops"] == sum(l.w.shape[0] // 2 * nt * l.w.shape[1] // 8 * 2
                                          for l in models[0]["model"].layers)
    assert by["tw block"]["tile_ops"] == native_ops(models[1]["model"], 2)
    assert by["tvw block"]["tile_ops"] == native_ops(models[2]["model"], 1)
    assert by["tw block"]["tile_ops"] < by["dense"]["tile_ops"]


def test_demo_section(rng):
    """The demo's tile-wise section end to end (training stubbed: masks applied only)."""
    from sparsecore.tilewise_run import DEMO_MODELS, demo

    x = rng.random((4, 16))
    y = rng.integers(0, 4, 4)
    dense = [(rng.standard_normal((16, 16)), np.zeros(16)),
             (rng.standard_normal((4, 16)), np.zeros(4))]
    from golden.tilewise import nm_mask_rows
    sparse24 = [(W * nm_mask_rows(W), b) for W, b in dense]
    calls = []

    def train(init, masks, desc):
        calls.append(desc)
        return [(W * mk, b) for (W, b), mk in zip(init, masks)]

    out = demo(dense, sparse24, train, x, x, y,
               q_dense=quant.quantize(dense, x, sparse=False),
               q24=quant.quantize(sparse24, x, sparse=True), group=4, config=SMALL,
               a_depth=DEPTH, b_depth=DEPTH, runner=runner)
    assert len(calls) == 2 * len(DEMO_MODELS)
    assert [r["key"] for r in out["rows"]] == ["dense", "2:4", "tw50_block", "tw50_row",
                                               "tw75_block", "tw75_row", "tvw_block",
                                               "tvw_row"]
    assert all(r["bit_exact"] for r in out["rows"])
    assert out["markdown"].startswith("## Tile-wise (TW / TVW) on the RTL")
    assert out["markdown"].count("\n| ") == 9      # header + 8 rows
