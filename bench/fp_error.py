"""Accuracy of the fp16 / bf16 block arithmetic on a 2:4 GEMM (docs/fp.md, "Error bound").

``python -m bench.fp_error`` runs ``golden.fp_sparse_mma`` (the sparse core's arithmetic,
blocks of 8 kept products) on a 64 × 256 × 64 GEMM of standard-normal operands (seed 0)
for guard 0 / 3 and RZ / RNE, and NumPy's float32 matmul of the same operands; errors are
relative to ``|A| @ |B|`` against float64. Prints the table and writes
``reports/fp/error.json``, ``error.md`` and ``error.png``.
"""

import json
import pathlib

import numpy as np

import golden
from golden.fp import fp32_from_bits, fp_sparse_mma, from_bits, to_bits

OUT = pathlib.Path("reports/fp")
SETTINGS = ((0, "rz"), (3, "rz"), (0, "rne"), (3, "rne"))


def measure(seed=0, M=64, K=256, N=64):
    rng = np.random.default_rng(seed)
    rows = []
    for dtype in ("fp16", "bf16"):
        A, _ = golden.prune(from_bits(to_bits(rng.standard_normal((M, K)), dtype), dtype), 2, 4)
        B = from_bits(to_bits(rng.standard_normal((K, N)), dtype), dtype)
        values, meta = golden.compress(to_bits(A, dtype).astype(np.int64))
        ref = A.astype(np.float64) @ B.astype(np.float64)
        scale = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))
        variants = {"numpy float32": (A @ B).astype(np.float64)}
        for guard, rounding in SETTINGS:
            D = fp_sparse_mma(values, meta, to_bits(B, dtype).astype(np.int64), tile_k=16,
                              dtype=dtype, guard=guard, rounding=rounding)
            variants[f"guard {guard} {rounding}"] = fp32_from_bits(D).astype(np.float64)
        for name, D in variants.items():
            rel = (D - ref) / scale
            rows.append({"dtype": dtype, "variant": name, "max": float(np.abs(rel).max()),
                         "mean": float(np.abs(rel).mean()),
                         "mean_signed": float(np.mean(rel * np.sign(ref)))})
    return {"seed": seed, "shape": [M, K, N], "rows": rows}


def main():
    result = measure()
    lines = ["| dtype | variant | max | mean | mean signed |", "|---|---|---|---|---|"]
    lines += [f"| {r['dtype']} | {r['variant']} | {r['max']:.2e} | {r['mean']:.2e} "
              f"| {r['mean_signed']:+.1e} |" for r in result["rows"]]
    print("\n".join(lines))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "error.json").write_text(json.dumps(result, indent=1))
    (OUT / "error.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 0
    fig, ax = plt.subplots(figsize=(7, 3))
    names = [r["variant"] for r in result["rows"] if r["dtype"] == "fp16"]
    for offset, dtype in ((-0.2, "fp16"), (0.2, "bf16")):
        vals = [r["max"] for r in result["rows"] if r["dtype"] == dtype]
        ax.bar(np.arange(len(vals)) + offset, vals, width=0.4, label=dtype)
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_ylabel("max |D - AB| / (|A||B|)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "error.png", dpi=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
