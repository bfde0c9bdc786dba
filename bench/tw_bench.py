"""Tile-wise (TW) and TVW GEMMs on the engine under Verilator: measured speed-up vs dense.

Run ``python -m bench.tw_bench`` (``make bench``; ``--quick`` for 128³). One simulator launch
runs, at 256×256×256 on the default core (4×4×16, 2048-word buffers, 256-entry table):
dense, plain 2:4, and for kept fractions 1, 3/4, 1/2, 1/4 native block TW (the engine skips
pruned ``tile_k`` blocks), native TVW (2:4 inside the kept blocks), and the paper's
row-granular TW and TVW (any K rows per group; B rows gathered per group on the host, one
smaller GEMM per group). Every D is checked bit-exactly against golden (TW/TVW against
``golden.tilewise.tilewise_gemm``, row-granular against a masked dense product).

Two cycle counts per job: ``total`` = the engine's ``cycles`` counter from the clear before
the loads to the end of the job (A, B and table loads, descriptor writes, table scan, run:
every cycle, loads serial), and ``busy`` = START to ``done`` (scan + run). Speed-up =
dense cycles / job cycles, in the same run. Ideal: 1/kept for TW, 2/kept for TVW.

A second table runs dense, 2:4 and the native TW/TVW jobs as **overlapped batches**:
``--copies`` (default 4) copies of each job back to back, each loaded (A, B, table) while
the one before it runs (double buffering, 4096-word buffers); ``total`` is then every cycle
of the batch (first load to last D) per job. Writes ``reports/tw_bench.json``,
``reports/tw_bench.md`` and ``reports/tw_bench.png``.
"""

import argparse
import json
import pathlib
import time

import numpy as np

from golden import tilewise as gtw
from hw.config import CoreConfig
from tb.tilewise_driver import run_batch

ROOT = pathlib.Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
KEPT = (1.0, 0.75, 0.5, 0.25)
GROUP = 16          # rows per group: 4 tile rows of the default core
GOAL = 0.03         # within 3 % of the ideal speed-up
OVERLAP_DEPTH = 4096


def jobs_for(rng, size, config):
    """(items, references, labels) of one run at ``size``³."""
    M = N = K = size
    W = rng.standard_normal((M, K))
    A_int = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    items, refs, labels = [], [], []
    items.append(dict(kind="gemm", A=A_int, B=B, sparse=False))
    refs.append(A_int @ B)
    labels.append(("dense", 1.0, 1.0))
    A24 = A_int * gtw.nm_mask_rows(W)
    items.append(dict(kind="gemm", A=A24, B=B, sparse=True))
    refs.append(A24 @ B)
    labels.append(("2:4", 1.0, 2.0))
    for kept in KEPT:
        # Native: every group keeps the same number of blocks (balanced ranking), so the
        # kept fraction is exact in every group and no group is empty.
        tw = gtw.tw_block_mask(W, 1 - kept, group=GROUP, block=config.tile_k, balanced=True)
        lists = gtw.kept_lists_from_mask(tw, group=GROUP, block=config.tile_k)
        tvw = gtw.tvw_block_mask(W, 1 - kept, group=GROUP, block=config.tile_k,
                                 balanced=True)
        A_tw, A_tvw = A_int * tw, A_int * tvw
        items.append(dict(kind="tw", A=A_tw, B=B, lists=lists, group=GROUP))
        refs.append(gtw.tilewise_gemm(A_tw, B, lists, group=GROUP, block=config.tile_k))
        labels.append(("TW native", kept, 1 / kept))
        items.append(dict(kind="tw", A=A_tvw, B=B, lists=lists, group=GROUP, sparse=True))
        refs.append(gtw.tilewise_gemm(A_tvw, B, lists, group=GROUP, block=config.tile_k))
        labels.append(("TVW native", kept, 2 / kept))
        # The paper's row-granular TW/TVW: per group of rows any subset of K rows.
        rtw = gtw.tw_mask(W, 1 - kept, tile=GROUP)
        rtvw = gtw.tvw_mask(W, 1 - kept, tile=GROUP)
        cols = [np.flatnonzero(rtw[g0]) for g0 in range(0, M, GROUP)]
        items.append(dict(kind="rowtw", A=A_int * rtw, B=B, mask=rtw, group=GROUP))
        refs.append((A_int * rtw) @ B)
        labels.append(("TW row-granular", kept, 1 / kept))
        items.append(dict(kind="rowtw", A=A_int * rtvw, B=B, mask=rtvw, group=GROUP,
                          sparse=True, kept=cols))
        refs.append((A_int * rtvw) @ B)
        labels.append(("TVW row-granular", kept, 2 / kept))
    return items, refs, labels


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.tw_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128³ instead of 256³")
    parser.add_argument("--seed", type=int, default=None,
                        help="stimulus seed (default: fresh, printed)")
    parser.add_argument("--out", default=str(REPORTS), help="output folder (reports/)")
    parser.add_argument("--copies", type=int, default=4,
                        help="jobs per overlapped batch (0: skip the overlapped table)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time_ns() % (1 << 31))
    print(f"seed {seed} (replay with --seed {seed})")
    rng = np.random.default_rng(seed)
    config = CoreConfig()
    size = 128 if args.quick else 256
    items, refs, labels = jobs_for(rng, size, config)
    wall = time.perf_counter()
    results = run_batch(items, config=config)
    wall = time.perf_counter() - wall
    dense_total = results[0][1]["cycles"]
    dense_busy = results[0][1]["busy_cycles"]
    rows = []
    for (D, counters), ref, (method, kept, ideal) in zip(results, refs, labels):
        exact = bool(np.array_equal(D, ref))
        if not exact:
            raise SystemExit(f"{method} kept {kept}: D differs from golden")
        sp_total = dense_total / counters["cycles"]
        sp_busy = dense_busy / counters["busy_cycles"]
        nm = 0.5 if method.startswith("TVW") or method == "2:4" else 1.0
        rows.append(dict(method=method, kept=kept, sparsity=round(1 - kept * nm, 4),
                         ideal=ideal, total_cycles=counters["cycles"],
                         busy_cycles=counters["busy_cycles"], tile_ops=counters["tile_ops"],
                         engine_jobs=counters["jobs"], speedup_total=sp_total,
                         speedup_busy=sp_busy, gap_total=sp_total / ideal - 1,
                         gap_busy=sp_busy / ideal - 1, exact=exact))
    overlapped = _overlapped(items, refs, labels, config, args.copies) if args.copies else []
    report = dict(shape=[size] * 3, config=config.name, group=GROUP, block=config.tile_k,
                  seed=seed, wall_s=wall, goal=GOAL, rows=rows, overlapped=overlapped,
                  copies=args.copies)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tw_bench.json").write_text(json.dumps(report, indent=2))
    lines = [f"# Tile-wise GEMMs at {size}³ (`python -m bench.tw_bench`)", "",
             f"Core `{config.name}`, G = {GROUP} rows, block = tile_k = {config.tile_k}; "
             f"seed {seed}; one Verilator launch, {wall:.0f} s. Speed-up vs dense of the same "
             f"run; gap = measured / ideal − 1 (goal: within {GOAL:.0%}).", "",
             "| method | kept | sparsity | total cycles | busy cycles | ops | jobs | "
             "speed-up total | gap | speed-up busy | gap | ideal |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['kept']:.2f} | {r['sparsity']:.0%} | "
                     f"{r['total_cycles']} | {r['busy_cycles']} | {r['tile_ops']} | "
                     f"{r['engine_jobs']} | {r['speedup_total']:.3f} | "
                     f"{r['gap_total']:+.1%} | {r['speedup_busy']:.3f} | "
                     f"{r['gap_busy']:+.1%} | {r['ideal']:.2f} |")
    if overlapped:
        lines += ["", f"Overlapped batches: {args.copies} copies of each job back to back, "
                  f"loads of the next job during the running one ({OVERLAP_DEPTH}-word "
                  "buffers); cycles = every cycle of the batch / copies.", "",
                  "| method | kept | sparsity | cycles per job | speed-up | gap | ideal |",
                  "|---|---|---|---|---|---|---|"]
        for r in overlapped:
            lines.append(f"| {r['method']} | {r['kept']:.2f} | {r['sparsity']:.0%} | "
                         f"{r['cycles_per_job']:.0f} | {r['speedup']:.3f} | "
                         f"{r['gap']:+.1%} | {r['ideal']:.2f} |")
    (out / "tw_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(rows, out / "tw_bench.png", size, overlapped)
    return 0


def _overlapped(items, refs, labels, config, copies):
    """Dense, 2:4 and native TW/TVW as overlapped batches of ``copies`` jobs each."""
    rows, dense = [], None
    for item, ref, (method, kept, ideal) in zip(items, refs, labels):
        if "row-granular" in method:
            continue
        out = run_batch([item] * copies, config=config, a_depth=OVERLAP_DEPTH,
                        b_depth=OVERLAP_DEPTH, overlap=True)
        for D, _ in out:
            if not np.array_equal(D, ref):
                raise SystemExit(f"overlapped {method} kept {kept}: D differs from golden")
        per_job = out[0][1]["cycles"] / copies
        dense = per_job if dense is None else dense
        nm = 0.5 if method.startswith("TVW") or method == "2:4" else 1.0
        rows.append(dict(method=method, kept=kept, sparsity=round(1 - kept * nm, 4),
                         ideal=ideal, cycles_per_job=per_job, speedup=dense / per_job,
                         gap=dense / per_job / ideal - 1,
                         busy_cycles=out[0][1]["busy_cycles"],
                         tile_ops=out[0][1]["tile_ops"]))
        print(f"overlapped {method} kept {kept}: {per_job:.0f} cycles/job, "
              f"speed-up {dense / per_job:.3f} (ideal {ideal:.2f})")
    return rows


def _plot(rows, path, size, overlapped=()):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"TW native": "o-", "TVW native": "s-", "TW row-granular": "o--",
              "TVW row-granular": "s--"}
    for method, style in styles.items():
        pts = sorted((r["sparsity"], r["speedup_total"]) for r in rows if r["method"] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{method} (total)")
    for method, style in (("TW native", "o:"), ("TVW native", "s:")):
        pts = sorted((r["sparsity"], r["speedup"]) for r in overlapped if r["method"] == method)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style,
                    label=f"{method} (overlapped batch)")
    xs = np.linspace(0, 0.875, 50)
    ax.plot(xs, 1 / (1 - xs), "k:", label="ideal 1 / (1 − sparsity)")
    for r in rows:
        if r["method"] in ("dense", "2:4"):
            ax.plot(r["sparsity"], r["speedup_total"], "k^")
            ax.annotate(r["method"], (r["sparsity"], r["speedup_total"]),
                        textcoords="offset points", xytext=(5, -10))
    ax.set_xlabel("sparsity of A (fraction of weights pruned)")
    ax.set_ylabel("speed-up vs dense (measured cycles)")
    ax.set_title(f"Tile-wise GEMM {size}³ on the engine (Verilator)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
