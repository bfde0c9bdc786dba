"""Golden-model benchmark: compress/decompress and sparse_mma against NumPy matmul.

Run: ``.venv/bin/python bench/golden_bench.py`` (``--quick`` for smaller sizes). Prints a
markdown table and writes ``reports/golden_bench.json`` and ``reports/golden_bench.md``.
Times are the best of ``--repeat`` runs (wall clock, single process), except the two
integer matmuls (seconds each), which run once.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golden import compress, decompress, sparse_mma  # noqa: E402
from golden.prune import prune  # noqa: E402

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def best_of(repeat, fn):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def random_24(rng, rows, cols):
    """Random int8 2:4 operand (prune of uniform int8: almost every group has 2 non-zeros)."""
    return prune(rng.integers(-128, 128, (rows, cols), dtype=np.int8))[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    fmt_size = 1024 if args.quick else 4096
    mma_size = 256 if args.quick else 1024
    rows = []

    # ---- format ----
    A = random_24(rng, fmt_size, fmt_size)
    t_c, (values, metadata) = best_of(args.repeat, lambda: compress(A))
    t_d, back = best_of(args.repeat, lambda: decompress(values, metadata))
    assert np.array_equal(back, A)
    shape = f"{fmt_size}×{fmt_size} int8"
    rows.append({"operation": "compress", "shape": shape, "seconds": t_c})
    rows.append({"operation": "decompress", "shape": shape, "seconds": t_d})

    # ---- arithmetic ----
    M = N = K = mma_size
    A = random_24(rng, M, K)
    B = rng.integers(-128, 128, (K, N), dtype=np.int8)
    C = rng.integers(-2**31, 2**31, (M, N), dtype=np.int64)
    values, metadata = compress(A)
    A64, B64 = A.astype(np.int64), B.astype(np.int64)
    # Baseline: NumPy's int64 matmul of the decompressed operands (no BLAS for integers).
    # It takes seconds: one run, like the uint64 path below (the machine is shared).
    t_int64, ref = best_of(1, lambda: A64 @ B64)
    t_f64, _ = best_of(args.repeat, lambda: A.astype(np.float64) @ B.astype(np.float64))
    t_auto, D = best_of(args.repeat, lambda: sparse_mma(values, metadata, B, C))
    t_int, D_int = best_of(1, lambda: sparse_mma(values, metadata, B, C, method="int"))
    half = 1 << 31
    expected = (ref + C + half) % (2 * half) - half
    assert np.array_equal(D, expected) and np.array_equal(D_int, expected)
    shape = f"{M}×{K}·{K}×{N} int8"
    rows.append({"operation": "numpy int64 matmul (baseline)", "shape": shape,
                 "seconds": t_int64})
    rows.append({"operation": "numpy float64 matmul (BLAS)", "shape": shape, "seconds": t_f64})
    rows.append({"operation": "sparse_mma (auto: float64 exact path)", "shape": shape,
                 "seconds": t_auto, "vs_baseline": t_auto / t_int64})
    rows.append({"operation": "sparse_mma (method='int': uint64 path)", "shape": shape,
                 "seconds": t_int, "vs_baseline": t_int / t_int64})

    report = {
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "quick": args.quick,
        "goals": {"sparse_mma_vs_int64_matmul": 1.5, "compress_decompress_seconds": 1.0},
        "results": rows,
    }
    lines = ["| operation | shape | time (ms) | vs int64 matmul |", "|---|---|---:|---:|"]
    for row in rows:
        ratio = f"{row['vs_baseline']:.3f}×" if "vs_baseline" in row else ""
        lines.append(f"| {row['operation']} | {row['shape']} | {row['seconds'] * 1e3:.1f} | "
                     f"{ratio} |")
    table = "\n".join(lines)
    print(table)
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "golden_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (f"# Golden-model benchmark\n\nnumpy {np.__version__}, Python "
              f"{platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat}.\n\n")
    (REPORTS / "golden_bench.md").write_text(header + table + "\n")
    ok = t_auto <= 1.5 * t_int64 and max(t_c, t_d) < 1.0
    print(f"\ngoals {'met' if ok else 'NOT met'}: sparse_mma ≤ 1.5× int64 matmul, "
          f"compress/decompress < 1 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
