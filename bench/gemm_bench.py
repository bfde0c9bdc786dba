"""Sparse vs dense GEMM on the same engine, under Verilator: cycles, utilization, GMAC/s.

Run ``python -m bench.gemm_bench`` (``--quick`` for 64³ and 128³ only; ``--batch N`` jobs per
batch, default 8). Every job is checked bit-exactly against ``golden.sparse_mma`` /
``golden.dense_mma``. Writes ``reports/gemm_bench.json``, ``reports/gemm_bench.md`` and
``reports/gemm_bench.png``.

The engine is the fast one: the p11 registered-DSP core (``CoreConfig(pipeline=11,
dsp="ecp5")``, 4×4×16; ``--dsp generic`` simulates the p11 core with plain multiplies, same
latency and cycle counts, for a much smaller Verilator build). Its deep buffers (4 096 / 8 192
words) are simulated as generic memories, which have the DP16KD buffers' read latency and
so the same cycle counts. Shapes are M×N×K (A is M×K, B is K×N). For each shape:

* **single job**: clear counters, load A and B, program, START, take D, read counters.
* **batch**: ``--batch`` back-to-back jobs of that shape (``tb.gemm_driver.run_batch``): job
  ``i`` is loaded into buffer half ``i % 2`` while job ``i - 1`` runs and queued behind it.

Utilization = tile operations / cycles (an operation is the mode's peak: ``tile_m·tile_n·
tile_k`` dense-equivalent MACs sparse, half that dense). ``busy`` counts START to done;
``total`` counts every cycle from the counter clear before the first load to the counter
read after the last job (loads, register writes, readback). Effective GMAC/s = Fmax ×
dense-equivalent MACs per cycle × total utilization, with Fmax from the placed and routed
engine (``reports/synth/results.json``, ``make synth``): the sparse engine for sparse jobs,
the dense-baseline engine (same multipliers, same sequencer and cycle counts) for dense jobs.
"""

import argparse
import json
import pathlib
import time

import numpy as np

import golden
from hw.config import CoreConfig
from tb.gemm_driver import run_batch, run_gemms

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
SHAPES = [(64, 64, 64), (128, 128, 128), (256, 256, 256), (256, 1024, 256)]
QUICK_SHAPES = SHAPES[:2]
#: A holds two dense 256×256 A matrices (2 × 2 048 words), B two 256×1024 B matrices.
A_DEPTH, B_DEPTH = 4096, 8192
CONFIG = CoreConfig(pipeline=11, dsp="ecp5")
#: Buffers of the simulated engine: the generic memory (Amaranth Memory + output register)
#: has the DP16KD buffers' timing (read latency 2) without hundreds of DP16KD model
#: instances in the Verilator build; tests/test_gemm_sim.py runs the DP16KD build itself.
MEMORY = "generic"
#: Place-and-route records of the engines (bench/synth.py labels).
SYNTH_LABELS = {"sparse": "gemm-sparse-4x4x16-a8-p11-ecp5-d2048",
                "dense": "gemm-dense-4x4x16-a8-p11-ecp5-d2048"}


def random_24(rng, M, K, config):
    """A random N:M-sparse int matrix with exactly n non-zero candidates per group."""
    A = rng.integers(-(1 << (config.a_width - 1)), 1 << (config.a_width - 1), (M, K))
    keys = rng.random((M, K // config.m, config.m))
    keep = np.argsort(keys, axis=-1)[..., :config.n]
    mask = np.zeros_like(keys, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return A * mask.reshape(M, K)


def synth_fmax(path):
    """Fmax and area of the placed engines (``{"sparse": {...}, "dense": {...}}``) from the
    synthesis flow's ``results.json`` and its cache folder beside it, where recorded."""
    path = pathlib.Path(path)
    records = []
    for source in [path, *sorted((path.parent / "cache").glob("*.json"))]:
        try:
            data = json.loads(source.read_text())
        except (OSError, ValueError):
            continue
        records += data.get("records", []) if "records" in data else [data]
    out = {}
    for mode, label in SYNTH_LABELS.items():
        for record in records:
            if record.get("config") == label and record.get("fmax_mhz"):
                out[mode] = {"fmax_mhz": record["fmax_mhz"], "lut4": record.get("lut4"),
                             "ff": record.get("ff"), "mult18": record.get("mult18"),
                             "dp16kd": record.get("dp16kd"), "seed": record.get("seed")}
    return out


def _entry(counters, macs, peak, fmax):
    busy, total = counters["busy_cycles"], counters["cycles"]
    util_total = macs / (total * peak)
    entry = {
        "busy_cycles": busy, "total_cycles": total, "tile_ops": counters["tile_ops"],
        "macs": counters["macs"], "stall_in": counters["stall_in"],
        "stall_out": counters["stall_out"],
        "utilization": macs / (busy * peak), "utilization_total": util_total,
        "sim_cycles_per_s": counters["run_cycles"] / max(counters["run_wall_s"], 1e-9),
        "bit_exact": True,
    }
    if fmax:
        entry["gmacs_effective"] = fmax * 1e6 * peak * util_total / 1e9
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.gemm_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64³ and 128³ only")
    parser.add_argument("--batch", type=int, default=8, help="jobs per batch (8)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--synth", default=str(REPORTS / "synth" / "results.json"),
                        help="place-and-route records for Fmax (reports/synth/results.json)")
    parser.add_argument("--out", default=str(REPORTS), help="output folder (reports/)")
    parser.add_argument("--dsp", choices=("ecp5", "generic"), default=CONFIG.dsp,
                        help="multipliers of the simulated p11 core (ecp5: MULT18X18D and "
                             "TRELLIS_FF models; generic: plain multiplies, same cycles, "
                             "a much smaller Verilator build)")
    parser.add_argument("--rescore", action="store_true",
                        help="simulate nothing: recompute GMAC/s of the saved "
                             "gemm_bench.json with the current place-and-route records")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch must be at least 1, not {args.batch}")
    if args.rescore:
        out = pathlib.Path(args.out)
        report = json.loads((out / "gemm_bench.json").read_text())
        report["fmax"] = fmax = synth_fmax(args.synth)
        report.setdefault("peaks", {"sparse": CONFIG.macs_per_op,
                                    "dense": CONFIG.tile_m * CONFIG.tile_n * CONFIG.kept_k})
        for row in report["shapes_MxNxK"]:
            for key in ("sparse", "dense", "batch_sparse", "batch_dense"):
                mode = key.removeprefix("batch_")
                entry = row[key]
                entry.pop("gmacs_effective", None)
                if fmax.get(mode):
                    peak = report["peaks"][mode]
                    entry["gmacs_effective"] = (fmax[mode]["fmax_mhz"] * 1e6 * peak
                                                * entry["utilization_total"] / 1e9)
        return write_outputs(report, out)

    config = CoreConfig(pipeline=CONFIG.pipeline, dsp=args.dsp)
    build = f"gemm_bench_p{config.pipeline}_{args.dsp}"
    fmax = synth_fmax(args.synth)
    rng = np.random.default_rng(args.seed)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    peaks = {"sparse": config.macs_per_op,
             "dense": config.tile_m * config.tile_n * config.kept_k}
    wall = time.perf_counter()
    rows = []
    for M, N, K in shapes:
        row = {"M": M, "N": N, "K": K}
        batch = {"sparse": [], "dense": []}
        refs = []
        for _ in range(args.batch):
            A = random_24(rng, M, K, config)
            B = rng.integers(-128, 128, (K, N))
            values, metadata = golden.compress(A, config.n, config.m)
            batch["sparse"].append(dict(values=values, metadata=metadata, B=B, sparse=True))
            batch["dense"].append(dict(A=A, B=B, sparse=False))
            refs.append(golden.sparse_mma(values, metadata, B))
        singles = run_gemms([batch["sparse"][0], batch["dense"][0]], config=config,
                            a_depth=A_DEPTH, b_depth=B_DEPTH, build_name=build,
                            memory=MEMORY)
        for mode, (D, counters) in zip(("sparse", "dense"), singles):
            if not np.array_equal(D, refs[0]):
                raise SystemExit(f"{mode} {M}x{N}x{K}: D differs from the golden model")
            row[mode] = _entry(counters, counters["macs"], peaks[mode],
                               fmax.get(mode, {}).get("fmax_mhz"))
        for mode in ("sparse", "dense"):
            Ds, counters = run_batch(batch[mode], config=config, a_depth=A_DEPTH,
                                     b_depth=B_DEPTH, build_name=build, memory=MEMORY)
            for D, ref in zip(Ds, refs):
                if not np.array_equal(D, ref):
                    raise SystemExit(f"batch {mode} {M}x{N}x{K}: D differs from the golden "
                                     f"model")
            row[f"batch_{mode}"] = _entry(counters, counters["macs"], peaks[mode],
                                          fmax.get(mode, {}).get("fmax_mhz"))
        row["speedup"] = row["dense"]["busy_cycles"] / row["sparse"]["busy_cycles"]
        row["speedup_total"] = row["dense"]["total_cycles"] / row["sparse"]["total_cycles"]
        row["batch_speedup_total"] = (row["batch_dense"]["total_cycles"]
                                      / row["batch_sparse"]["total_cycles"])
        rows.append(row)
        print(f"{M}x{N}x{K}: batch sparse {row['batch_sparse']['total_cycles']} cycles "
              f"({100 * row['batch_sparse']['utilization_total']:.2f} %), dense "
              f"{row['batch_dense']['total_cycles']} "
              f"({100 * row['batch_dense']['utilization_total']:.2f} %), ratio "
              f"{row['batch_speedup_total']:.4f}", flush=True)
    wall = time.perf_counter() - wall

    report = {"config": config.name, "memory": MEMORY, "a_depth": A_DEPTH, "b_depth": B_DEPTH,
              "batch": args.batch, "seed": args.seed, "fmax": fmax, "peaks": peaks,
              "simulator_wall_s": wall, "shapes_MxNxK": rows}
    return write_outputs(report, pathlib.Path(args.out))


def write_outputs(report, out):
    """``gemm_bench.json``, ``.md`` and ``.png`` of a report into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gemm_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    rows, fmax, batch = report["shapes_MxNxK"], report["fmax"], report["batch"]
    config_name, wall = report["config"], report["simulator_wall_s"]

    def gmacs(entry):
        value = entry.get("gmacs_effective")
        return f"{value:.1f}" if value else "n/a"

    fmax_line = ", ".join(f"{mode} engine {v['fmax_mhz']:.1f} MHz" for mode, v in fmax.items())
    lines = [f"# GEMM engine benchmark ({config_name}, buffers {report['a_depth']}/"
             f"{report['b_depth']} words)",
             "",
             "Verilator; shapes M×N×K; every D checked bit-exactly against the golden model.",
             "Utilization = operations / cycles; busy = START to done, total = every cycle "
             "from the counter clear to the counter read (loads, registers, readback).",
             f"Batch = {batch} back-to-back jobs, each loaded while the one before runs.",
             "Effective GMAC/s = Fmax × dense-equivalent MACs/cycle × total utilization; "
             f"Fmax: {fmax_line or 'no place-and-route record (run make synth)'}.",
             "",
             "| M×N×K | run | sparse total | dense total | dense/sparse | util. sparse "
             "| util. dense | GMAC/s sparse | GMAC/s dense |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = f"{r['M']}×{r['N']}×{r['K']}"
        for run, s, d, ratio in (("single", r["sparse"], r["dense"], r["speedup_total"]),
                                 (f"batch of {batch}", r["batch_sparse"],
                                  r["batch_dense"], r["batch_speedup_total"])):
            lines.append(
                f"| {shape} | {run} | {s['total_cycles']} | {d['total_cycles']} "
                f"| {ratio:.4f} | {100 * s['utilization_total']:.2f} % "
                f"| {100 * d['utilization_total']:.2f} % | {gmacs(s)} | {gmacs(d)} |")
    lines += ["", "Busy cycles (START to done) of the single jobs:", "",
              "| M×N×K | sparse busy | dense busy | speed-up | util. sparse | util. dense |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        s, d = r["sparse"], r["dense"]
        lines.append(f"| {r['M']}×{r['N']}×{r['K']} | {s['busy_cycles']} | {d['busy_cycles']} "
                     f"| {r['speedup']:.3f}× | {100 * s['utilization']:.2f} % "
                     f"| {100 * d['utilization']:.2f} % |")
    lines += ["", f"Simulation (builds + all jobs): {wall:.1f} s wall."]
    (out / "gemm_bench.md").write_text("\n".join(lines) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = [f"{r['M']}×{r['N']}×{r['K']}" for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style, label in (("sparse", "o--", "sparse, single"),
                              ("dense", "s--", "dense, single"),
                              ("batch_sparse", "o-", f"sparse, batch of {batch}"),
                              ("batch_dense", "s-", f"dense, batch of {batch}")):
        ax1.plot(x, [100 * r[key]["utilization_total"] for r in rows], style, label=label)
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("utilization, every cycle counted (%)")
    ax1.axhline(99, color="gray", linestyle=":")
    ax1.legend()
    ax2.plot(x, [r["speedup_total"] for r in rows], "s--", label="single job")
    ax2.plot(x, [r["batch_speedup_total"] for r in rows], "o-",
             label=f"batch of {batch}")
    ax2.axhline(1.99, color="gray", linestyle=":")
    ax2.set_xticks(x, labels)
    ax2.set_ylabel("dense / sparse total cycles")
    ax2.legend()
    fig.suptitle(f"GEMM engine, {config_name}")
    fig.tight_layout()
    fig.savefig(out / "gemm_bench.png", dpi=120)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
