"""Bytes over the AXI engine's B stream per GEMM, dense and ZVC-compressed, on the model
flow's real activations.

    .venv/bin/python -m bench.axi_zvc [--seed 0] [--out reports]

The model flow's network (``sparsecore.flow``: the digits MLP, dense training, 2:4 pruning,
int8 quantization, ``sparsecore.quant``) runs integer inference over the test set; each
layer's B operand (its int8 input activations, K × N with N = test samples) is cut into the
engine's B buffer words (``tile_k × tile_n`` blocks, padded, the stream order of
``docs/axi.md`` §2) and measured two ways: the dense B stream (``b_words × 64`` bytes) and
its ZVC stream (``golden.zvc.compress``, 8-bit words, W = 32, what ``s_axis_b`` carries with
``B_LOAD_MODE.zvc = 1``). Writes ``axi_zvc.json``, ``axi_zvc.md`` and ``axi_zvc.png``.
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from golden import zvc
from hw.config import CoreConfig

CONFIG = CoreConfig()


def b_stream(B, cfg=CONFIG):
    """The dense B stream of ``B`` (K × N int8): buffer words in (k-tile, n-tile) order."""
    K, N = B.shape
    tk, tn = cfg.tile_k, cfg.tile_n
    Kp, Np = -(-K // tk) * tk, -(-N // tn) * tn
    P = np.zeros((Kp, Np), np.int8)
    P[:K, :N] = B
    words = P.reshape(Kp // tk, tk, Np // tn, tn).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(words).view(np.uint8).ravel()


def layer_operands(seed):
    """Each layer's int8 B operand of the model flow's 2:4 int8 network on the test set."""
    from sparsecore import flow, pruning, quant
    from sparsecore import model as mlp
    from sparsecore.data import load_digits

    cfg = flow.DemoConfig()
    data = load_digits()
    prog = flow._Progress(False)
    dense = flow._train(data, cfg, prog, "dense", sizes=tuple(cfg.sizes))
    masks = pruning.prune_masks(dense, "2:4")
    sparse = mlp.apply_masks(dense, masks)
    q = quant.quantize(sparse, data.x_train, sparse=True)
    x_test, _ = data.test_slice(None)
    captured = []

    def matmul(layer, B, C, **kwargs):
        captured.append(np.asarray(B).astype(np.int8))
        return quant.golden_matmul(layer, B, C, **kwargs)

    quant.infer_int8(q, x_test, matmul=matmul)
    return captured


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.axi_zvc",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="reports")
    args = parser.parse_args(argv)
    rows = []
    for i, B in enumerate(layer_operands(args.seed)):
        raw = b_stream(B)
        packed = zvc.compress(raw, word_width=8, block_words=32)
        rows.append({"layer": i, "K": int(B.shape[0]), "N": int(B.shape[1]),
                     "density": float(np.count_nonzero(B) / B.size),
                     "b_words": int(raw.size // (CONFIG.tile_k * CONFIG.tile_n)),
                     "dense_bytes": int(raw.size), "zvc_bytes": len(packed),
                     "ratio": raw.size / len(packed)})
    total_dense = sum(r["dense_bytes"] for r in rows)
    total_zvc = sum(r["zvc_bytes"] for r in rows)
    report = {"config": CONFIG.name, "zvc": {"word_width": 8, "block_words": 32},
              "layers": rows, "total_dense_bytes": total_dense, "total_zvc_bytes": total_zvc,
              "total_ratio": total_dense / total_zvc}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "axi_zvc.json").write_text(json.dumps(report, indent=1))
    lines = ["# B-stream bytes per GEMM, dense vs ZVC (model flow, digits MLP, 2:4 int8)", "",
             f"`python -m bench.axi_zvc --seed {args.seed}`; core {CONFIG.name}, "
             "ZVC 8-bit words, W = 32", "",
             "| layer | K × N | B density | B words | dense bytes | ZVC bytes | ratio |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['K']} × {r['N']} | {r['density']:.3f} | "
                     f"{r['b_words']} | {r['dense_bytes']} | {r['zvc_bytes']} | "
                     f"{r['ratio']:.2f} |")
    lines.append(f"| all | | | | {total_dense} | {total_zvc} | "
                 f"{report['total_ratio']:.2f} |")
    (out / "axi_zvc.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["dense_bytes"] for r in rows], 0.4, label="dense B stream")
    ax.bar(x + 0.2, [r["zvc_bytes"] for r in rows], 0.4, label="ZVC B stream")
    ax.set_xticks(x, [f"layer {r['layer']}\n(d={r['density']:.2f})" for r in rows])
    ax.set_ylabel("bytes over s_axis_b")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "axi_zvc.png", dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
