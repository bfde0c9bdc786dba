"""Sparse vs dense GEMM on the same engine, under Verilator: cycles, utilization, speed-up.

Run ``python -m bench.gemm_bench`` (``--quick`` for 64³ and 128³ only). Every job is
checked bit-exactly against ``golden.sparse_mma`` / ``golden.dense_mma``. Writes
``reports/gemm_bench.json``, ``reports/gemm_bench.md`` and ``reports/gemm_bench.png``.

Shapes are M×N×K (A is M×K, B is K×N). Utilization is dense-equivalent MACs divided by
``cycles × peak``, where peak is the mode's MACs per tile operation (``tile_m·tile_n·tile_k``
sparse, half that dense), i.e. tile operations per cycle: the fraction of cycles the
multipliers do useful work. ``busy`` cycles are START to ``done`` (compute, pipeline fill and
drain); ``total`` cycles also count loading the operands through the streams and
programming the registers (``counters["cycles"]``).
"""

import argparse
import json
import pathlib
import time

import numpy as np

import golden
from hw.config import CoreConfig
from tb.gemm_driver import run_gemms

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
SHAPES = [(64, 64, 64), (128, 128, 128), (256, 256, 256), (256, 1024, 256)]
QUICK_SHAPES = SHAPES[:2]
A_DEPTH, B_DEPTH = 4096, 4096


def random_24(rng, M, K, config):
    """A random N:M-sparse int matrix with exactly n non-zero candidates per group."""
    A = rng.integers(-(1 << (config.a_width - 1)), 1 << (config.a_width - 1), (M, K))
    keys = rng.random((M, K // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros_like(keys, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return A * mask.reshape(M, K)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.gemm_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64³ and 128³ only")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default=str(REPORTS), help="output folder (reports/)")
    args = parser.parse_args(argv)

    config = CoreConfig()
    rng = np.random.default_rng(args.seed)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    jobs, refs = [], []
    for M, N, K in shapes:
        A = random_24(rng, M, K, config)
        B = rng.integers(-128, 128, (K, N))
        values, metadata = golden.compress(A, config.n, config.m)
        jobs.append(dict(values=values, metadata=metadata, B=B, sparse=True))
        jobs.append(dict(A=A, B=B, sparse=False))
        refs.append(golden.sparse_mma(values, metadata, B))
    wall = time.perf_counter()
    results = run_gemms(jobs, config=config, a_depth=A_DEPTH, b_depth=B_DEPTH,
                        build_name="gemm_bench")
    wall = time.perf_counter() - wall

    rows = []
    for index, (M, N, K) in enumerate(shapes):
        row = {"M": M, "N": N, "K": K}
        for mode, (D, counters) in zip(("sparse", "dense"), results[2 * index:2 * index + 2]):
            if not np.array_equal(D, refs[index]):
                raise SystemExit(f"{mode} {M}x{N}x{K}: D differs from the golden model")
            peak = config.macs_per_op if mode == "sparse" else (
                config.tile_m * config.tile_n * config.kept_k)
            busy = counters["busy_cycles"]
            row[mode] = {
                "busy_cycles": busy,
                "total_cycles": counters["cycles"],
                "tile_ops": counters["tile_ops"],
                "macs": counters["macs"],
                "stall_in": counters["stall_in"],
                "stall_out": counters["stall_out"],
                "utilization": counters["macs"] / (busy * peak),
                "utilization_total": counters["macs"] / (counters["cycles"] * peak),
                "sim_cycles_per_s": counters["run_cycles"] / counters["run_wall_s"],
                "run_wall_s": counters["run_wall_s"],
                "bit_exact": True,
            }
        row["speedup"] = row["dense"]["busy_cycles"] / row["sparse"]["busy_cycles"]
        row["speedup_total"] = row["dense"]["total_cycles"] / row["sparse"]["total_cycles"]
        rows.append(row)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"config": config.name, "a_depth": A_DEPTH, "b_depth": B_DEPTH,
              "seed": args.seed, "simulator_wall_s": wall, "shapes_MxNxK": rows}
    (out / "gemm_bench.json").write_text(json.dumps(report, indent=2) + "\n")

    lines = [f"# GEMM engine benchmark ({config.name}, buffers {A_DEPTH}/{B_DEPTH} words)",
             "",
             "Verilator; shapes M×N×K; every D checked bit-exactly against the golden model.",
             "Utilization = dense-equivalent MACs / (cycles × peak of the mode); busy = START "
             "to done, total = loads + registers + run + readback.",
             "",
             "| M×N×K | sparse busy | dense busy | speed-up | util. sparse | util. dense "
             "| speed-up (total) | util. total sparse / dense | sim cycles/s (sparse, dense) "
             "| sparse wall s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, d = r["sparse"], r["dense"]
        lines.append(
            f"| {r['M']}×{r['N']}×{r['K']} | {s['busy_cycles']} | {d['busy_cycles']} "
            f"| {r['speedup']:.3f}× | {100 * s['utilization']:.2f} % "
            f"| {100 * d['utilization']:.2f} % | {r['speedup_total']:.3f}× "
            f"| {100 * s['utilization_total']:.1f} % / {100 * d['utilization_total']:.1f} % "
            f"| {s['sim_cycles_per_s']:.0f}, {d['sim_cycles_per_s']:.0f} "
            f"| {s['run_wall_s']:.2f} |")
    lines += ["", f"Simulator launch (build + all jobs): {wall:.1f} s wall."]
    (out / "gemm_bench.md").write_text("\n".join(lines) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [f"{r['M']}×{r['N']}×{r['K']}" for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(x, [100 * r["sparse"]["utilization"] for r in rows], "o-", label="sparse")
    ax1.plot(x, [100 * r["dense"]["utilization"] for r in rows], "s-", label="dense")
    ax1.plot(x, [100 * r["sparse"]["utilization_total"] for r in rows], "o--",
             label="sparse, incl. loads")
    ax1.plot(x, [100 * r["dense"]["utilization_total"] for r in rows], "s--",
             label="dense, incl. loads")
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("utilization (%)")
    ax1.axhline(95, color="gray", linestyle=":")
    ax1.legend()
    ax2.plot(x, [r["speedup"] for r in rows], "o-", label="busy cycles")
    ax2.plot(x, [r["speedup_total"] for r in rows], "s--", label="incl. loads")
    ax2.axhline(1.95, color="gray", linestyle=":")
    ax2.set_xticks(x, labels)
    ax2.set_ylabel("sparse / dense speed-up")
    ax2.legend()
    fig.suptitle(f"GEMM engine, {config.name}")
    fig.tight_layout()
    fig.savefig(out / "gemm_bench.png", dpi=120)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
