"""Reports of the ECP5 synthesis flow (:mod:`bench.synth`): metrics, tables, goals, plot.

Input: the records :mod:`bench.synth` produces (one dict per configuration). Output:
``results.json``, ``summary.md`` and ``synth.png`` in the report folder, and optionally the
summary table copied into a markdown document between ``<!-- synth-table:begin -->`` and
``<!-- synth-table:end -->``.

Metrics (all "effective" numbers are dense-equivalent, at II = 1):

* peak effective MACs/cycle = ``CoreConfig.macs_per_op`` (``tile_m·tile_n·tile_k`` for the
  sparse core, ``tile_m·tile_n·kept_k`` for the dense baseline);
* effective GMAC/s = MACs/cycle × Fmax;
* MACs/cycle per DSP = MACs/cycle / MULT18X18D used; per 1 000 LUT4 likewise.
"""

import json
import pathlib
import re
import sys

__all__ = ["derive", "markdown_table", "overhead_table", "goals", "plot", "write_reports",
           "update_docs", "BEGIN", "END", "seed_range", "pareto_front", "largest_fitting",
           "explore_markdown", "plot_pareto", "write_explore", "EXPLORE_BEGIN", "EXPLORE_END"]

BEGIN = "<!-- synth-table:begin -->"
END = "<!-- synth-table:end -->"
EXPLORE_BEGIN = "<!-- explore-table:begin -->"
EXPLORE_END = "<!-- explore-table:end -->"

DEFAULT_SPARSE = "sparse-4x4x16-a8-p1"


def derive(record):
    """The record with ``eff_gmacs``, ``macs_per_dsp`` and ``macs_per_klut`` added."""
    record = dict(record)
    macs, fmax = record.get("macs_per_op"), record.get("fmax_mhz")
    placed = record.get("status") in ("ok", "timing_failed")
    record["eff_gmacs"] = round(macs * fmax / 1000, 2) if placed and fmax else None
    mult = record.get("mult18")
    record["macs_per_dsp"] = round(macs / mult, 3) if mult else None
    lut = record.get("lut4")
    record["macs_per_klut"] = round(macs / lut * 1000, 2) if lut else None
    return record


def _fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_STATUS_TEXT = {
    "ok": "met", "timing_failed": "missed", "does_not_fit": "does not fit",
    "synth_error": "synthesis error", "pnr_error": "P&R error", "timeout": "timeout",
    "emit_error": "generator error", "not_run": "not run",
}


def markdown_table(records):
    """One row per configuration: the columns issue #4 asks for, plus status and role."""
    head = ("| configuration | role | LUT4 | FF | MULT18X18D | DP16KD | Fmax median (MHz) "
            "| Fmax min–max (seeds) | target "
            "| MACs/cycle | eff. GMAC/s | MACs/cycle/DSP | MACs/cycle/kLUT4 |")
    rows = [head, "|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|"]
    for record in map(derive, records):
        status = _STATUS_TEXT.get(record["status"], str(record["status"]))
        if record["status"] == "timing_failed":
            status = f"missed {record['freq_target']:g}"
        elif record["status"] == "ok":
            status = f"met {record['freq_target']:g}"
        roles = ", ".join(record.get("roles", []))
        config = record["config"] + (f" (speed {record['speed']})"
                                     if record.get("speed") not in (None, 6) else "")
        rows.append(
            f"| {config} | {roles} | {_fmt(record['lut4'])} | {_fmt(record['ff'])} "
            f"| {_fmt(record['mult18'])} | {_fmt(record['dp16kd'])} "
            f"| {_fmt(record['fmax_mhz'])} | {seed_range(record)} | {status} "
            f"| {record['macs_per_op']} "
            f"| {_fmt(record['eff_gmacs'], 2)} | {_fmt(record['macs_per_dsp'], 2)} "
            f"| {_fmt(record['macs_per_klut'], 2)} |")
    return "\n".join(rows)


def seed_range(record):
    """``min–max (n)`` of a record's per-seed Fmax (:func:`bench.synth.aggregate_seeds`);
    ``1 seed`` for one, ``–`` when no seed placed and routed."""
    placed = record.get("seeds_placed", 1 if record.get("fmax_mhz") else 0)
    if not placed or record.get("fmax_min") is None:
        return "–" if not record.get("fmax_mhz") else "1 seed"
    if placed == 1:
        return "1 seed"
    return f"{record['fmax_min']:.1f}–{record['fmax_max']:.1f} ({placed})"


def _baseline_label(label):
    """Spec label of the dense baseline with the same multipliers as sparse ``label``."""
    return re.sub(r"^sparse(\d+of\d+)?-", "dense-", label)


def overhead_table(records):
    """Sparse core vs its dense baseline (same tile_k, same multipliers): decoder+selector
    LUT4 per multiplier and in % over the baseline, Fmax ratio, throughput per DSP ratio."""
    by_label = {r["config"]: derive(r) for r in records}
    rows = ["| sparse configuration | multipliers | LUT4 sparse | LUT4 dense | Δ LUT4 / "
            "multiplier | Δ LUT4 % | FF Δ % | Fmax sparse / dense | MACs/DSP sparse / dense "
            "| eff. GMAC/s sparse / dense |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for label, s in by_label.items():
        if not s["sparse"] or _baseline_label(label) not in by_label:
            continue
        d = by_label[_baseline_label(label)]
        if s["lut4"] is None or d["lut4"] is None:
            continue
        delta = s["lut4"] - d["lut4"]
        fratio = (s["fmax_mhz"] / d["fmax_mhz"]) if s["fmax_mhz"] and d["fmax_mhz"] else None
        dratio = (s["macs_per_dsp"] / d["macs_per_dsp"]) \
            if s["macs_per_dsp"] and d["macs_per_dsp"] else None
        ff = (s["ff"] - d["ff"]) / d["ff"] * 100 if d["ff"] else None
        gratio = (s["eff_gmacs"] / d["eff_gmacs"]) if s["eff_gmacs"] and d["eff_gmacs"] \
            else None
        rows.append(f"| {label} | {s['multipliers']} | {s['lut4']} | {d['lut4']} "
                    f"| {delta / s['multipliers']:.1f} | {delta / d['lut4'] * 100:.1f} % "
                    f"| {_fmt(ff)} % | {_fmt(fratio, 3)} | {_fmt(dratio, 2)} "
                    f"| {_fmt(gratio, 2)} |")
    return "\n".join(rows)


def _find(records, role=None, label=None):
    for record in records:
        if label is not None and record["config"] == label:
            return derive(record)
        if role is not None and role in record.get("roles", []):
            return derive(record)
    return None


def _pipeline_records(records, *, sparse, speed=6):
    """Placed 4×4×16 int8 cores (DSP multipliers) of one kind, by DSP mapping and depth."""
    return sorted((r for r in map(derive, records)
                   if r["sparse"] == sparse and r["tile"] == [4, 4, 16] and r["a_width"] == 8
                   and r["b_width"] == 8 and (r["n"], r["m"]) == (2, 4) and not r["nodsp"]
                   and r["fmax_mhz"] and r.get("speed") in (None, speed)),
                  key=lambda r: (r.get("dsp", "generic") != "generic", r["pipeline"]))


def _depth(record):
    """``p6`` for a generic core, ``p6 ecp5`` for registered MULT18X18D multipliers."""
    dsp = record.get("dsp", "generic")
    return f"p{record['pipeline']}" + ("" if dsp == "generic" else f" {dsp}")


def goals(records, *, freq=150.0):
    """Markdown list: each goal of issue #4, measured value, met / missed / not measured."""
    lines = []

    def mark(ok):
        return "not measured" if ok is None else ("**met**" if ok else "**missed**")

    s = _find(records, label=DEFAULT_SPARSE)
    d = _find(records, label=_baseline_label(DEFAULT_SPARSE))
    f = s and s["fmax_mhz"]
    lines.append(f"* Default sparse core ({DEFAULT_SPARSE}) closes at ≥ {freq:g} MHz: "
                 f"{_fmt(f)} MHz — {mark(None if f is None else f >= freq)}.")
    pipes = _pipeline_records(records, sparse=True, speed=(s or {}).get("speed", 6))
    if pipes:
        best = max(pipes, key=lambda r: r["fmax_mhz"])
        lines.append("  * Pipeline depth trade-off (4×4×16 int8 sparse): " + ", ".join(
            f"{_depth(r)} {r['fmax_mhz']:.1f} MHz / {r['lut4']} LUT4 / {r['ff']} FF"
            for r in pipes) + f"; best {_depth(best)} "
            f"({mark(best['fmax_mhz'] >= freq)} at {freq:g} MHz).")
    fs, fd = (s or {}).get("fmax_mhz"), (d or {}).get("fmax_mhz")
    within = None if not (fs and fd) else fs >= 0.9 * fd
    lines.append(f"* Fmax within 10 % of the dense baseline with the same multipliers: "
                 f"{_fmt(fs)} vs {_fmt(fd)} MHz"
                 + (f" ({(fs / fd - 1) * 100:+.1f} %)" if fs and fd else "")
                 + f" — {mark(within)}.")
    for sp in pipes:
        dp = _find(records, label=_baseline_label(sp["config"]))
        if sp["config"] != DEFAULT_SPARSE and dp and dp["fmax_mhz"]:
            lines.append(f"  * {_depth(sp)}: {sp['fmax_mhz']:.1f} vs {dp['fmax_mhz']:.1f} MHz "
                         f"({(sp['fmax_mhz'] / dp['fmax_mhz'] - 1) * 100:+.1f} %) — "
                         f"{mark(sp['fmax_mhz'] >= 0.9 * dp['fmax_mhz'])}.")
    ps, pd = (s or {}).get("macs_per_dsp"), (d or {}).get("macs_per_dsp")
    ratio = ps / pd if ps and pd else None
    lines.append(f"* Effective throughput per DSP 2.0× the baseline's: {_fmt(ps, 2)} vs "
                 f"{_fmt(pd, 2)} MACs/cycle/DSP = {_fmt(ratio, 2)}× — "
                 f"{mark(None if ratio is None else ratio >= 2.0 - 1e-9)}.")
    if s and d and s["lut4"] and d["lut4"]:
        delta = s["lut4"] - d["lut4"]
        lines.append(f"* Decoder + selector LUT cost: {delta} LUT4 = "
                     f"{delta / s['multipliers']:.1f} LUT4 per multiplier, "
                     f"{delta / d['lut4'] * 100:.1f} % over the baseline (reported).")
    ls = _find(records, role="largest sparse")
    ld = _find(records, role="largest dense")
    gs, gd = (ls or {}).get("eff_gmacs"), (ld or {}).get("eff_gmacs")
    dev = gs / gd if gs and gd else None
    lines.append(f"* Device level (largest that fit): sparse {ls['config'] if ls else '–'} "
                 f"{_fmt(gs, 2)} vs dense {ld['config'] if ld else '–'} {_fmt(gd, 2)} "
                 f"effective GMAC/s = {_fmt(dev, 2)}× (goal ≥ 1.8×) — "
                 f"{mark(None if dev is None else dev >= 1.8)}.")
    return "\n".join(lines)


def plot(records, path):
    """Two panels: effective GMAC/s against LUT4 (sparse vs dense), and Fmax against
    pipeline depth for the 4×4×16 int8 cores. Returns ``path``, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return None
    records = [derive(r) for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for sparse, color, marker in ((True, "tab:red", "o"), (False, "tab:blue", "s")):
        pts = [r for r in records if r["sparse"] == sparse and r["eff_gmacs"]]
        left.scatter([r["lut4"] for r in pts], [r["eff_gmacs"] for r in pts], c=color,
                     marker=marker, label="sparse 2:4" if sparse else "dense")
        for r in pts:
            left.annotate(r["config"].replace("-a8", "").replace("sparse", "s")
                          .replace("dense", "d"), (r["lut4"], r["eff_gmacs"]), fontsize=6,
                          xytext=(3, 3), textcoords="offset points")
        pipes = _pipeline_records(records, sparse=sparse)
        for dsp, style in (("generic", ":"), ("ecp5", "-")):
            line = [r for r in pipes if r.get("dsp", "generic") == dsp]
            if line:
                right.plot([r["pipeline"] for r in line], [r["fmax_mhz"] for r in line],
                           color=color, marker=marker, linestyle=style,
                           label=f"{'sparse' if sparse else 'dense'} 4×4×16 int8, "
                                 f"{'MULT18X18D registers' if dsp == 'ecp5' else 'generic'}")
    if records:
        target = records[0].get("freq_target")
        if target:
            right.axhline(target, color="gray", linestyle="--", label=f"target {target:g} MHz")
    if any(r["eff_gmacs"] for r in records):
        left.set_xscale("log")
    left.set_xlabel("LUT4")
    left.set_ylabel("effective GMAC/s (dense-equivalent)")
    left.set_title("throughput vs area (placed and routed)")
    left.grid(True, alpha=0.3)
    left.legend()
    right.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    right.set_xlabel("pipeline stages (CoreConfig.pipeline)")
    right.set_ylabel("Fmax (MHz)")
    right.set_title("Fmax vs pipeline depth")
    right.grid(True, alpha=0.3)
    right.legend()
    device = records[0]["device"] if records else ""
    fig.suptitle(f"sparsecore on ECP5-{device} (nextpnr, out-of-context)")
    fig.tight_layout()
    path = pathlib.Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def summary_markdown(records, *, options=None, command=None):
    """Summary document: configuration table, sparse-vs-dense overhead, goals."""
    freq = (options or {}).get("freq", 150.0)
    parts = []
    if command:
        parts.append(f"Command: `{command}`")
    if options:
        parts.append("Options: " + ", ".join(f"{k} {v}" for k, v in options.items()))
    parts += ["", markdown_table(records), "", overhead_table(records), "",
              goals(records, freq=freq)]
    return "\n".join(parts) + "\n"


def write_reports(records, outdir, *, options=None, command=None):
    """Write ``results.json``, ``summary.md`` and ``synth.png`` into ``outdir``."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    records = [derive(r) for r in records]
    paths = [outdir / "results.json", outdir / "summary.md"]
    paths[0].write_text(json.dumps({"options": options, "command": command,
                                    "records": records}, indent=1) + "\n")
    paths[1].write_text(summary_markdown(records, options=options, command=command))
    try:
        png = plot(records, outdir / "synth.png")
    except Exception as exc:  # the plot is a convenience; the JSON and table still count
        print(f"warning: plot failed: {exc}", file=sys.stderr)
        png = None
    if png:
        paths.append(png)
    return paths


def update_docs(path, records, *, options=None, explore=False):
    """Replace the text between :data:`BEGIN` and :data:`END` in ``path`` with the summary
    (``explore``: between :data:`EXPLORE_BEGIN` and :data:`EXPLORE_END` with
    :func:`explore_markdown`)."""
    path = pathlib.Path(path)
    text = path.read_text()
    begin, end = (EXPLORE_BEGIN, EXPLORE_END) if explore else (BEGIN, END)
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = explore_markdown(records) + "\n" if explore else \
        summary_markdown(records, options=options)
    path.write_text(f"{head}{begin}\n{body}{end}{tail}")


# --- exploration (--explore): Pareto fronts --------------------------------------------------

def _kind(record):
    if not record["sparse"]:
        return "dense"
    return f"{record['n']}:{record['m']}"


def pareto_front(records, cost):
    """Records on the Pareto front of effective GMAC/s (higher is better) against ``cost``
    (a record key, lower is better), cheapest first. Only placed records with a positive
    ``cost`` count; a point is on the front if no other has at most its cost and more
    GMAC/s, or less cost and as many."""
    points = [r for r in map(derive, records) if r["eff_gmacs"] and r.get(cost)]
    points.sort(key=lambda r: (r[cost], -r["eff_gmacs"]))
    front, best = [], None
    for r in points:
        if best is None or r["eff_gmacs"] > best:
            front.append(r)
            best = r["eff_gmacs"]
    return front


def largest_fitting(records, sparse):
    """The placed record of one kind (sparse: any N:M) with the most multipliers (then the
    most MACs/cycle, then the most GMAC/s): the largest explored configuration that fits."""
    placed = [r for r in map(derive, records) if r["sparse"] == sparse and r["eff_gmacs"]]
    if not placed:
        return None
    return max(placed, key=lambda r: (r["multipliers"], r["macs_per_op"], r["eff_gmacs"]))


def explore_markdown(records, *, goal=2.0):
    """The ``--explore`` table (one row per configuration, median Fmax over its seeds,
    membership of the two fronts), the largest-that-fits points and the goal line."""
    records = [derive(r) for r in records]

    def fronts(cost):      # each kind's own front, as in the plot
        return {r["config"] for sparse in (True, False)
                for r in pareto_front([x for x in records if x["sparse"] == sparse], cost)}

    lut_front, dsp_front = fronts("lut4"), fronts("mult18")
    big = {r["config"] for r in (largest_fitting(records, True),
                                 largest_fitting(records, False)) if r}
    rows = ["| configuration | kind | LUT4 | MULT18X18D | Fmax median (MHz) "
            "| Fmax min–max (seeds) | MACs/cycle | eff. GMAC/s | front (LUT4) | front (DSP) |",
            "|---|---|--:|--:|--:|--:|--:|--:|---|---|"]
    for r in sorted(records, key=lambda r: (not r["sparse"], -(r["eff_gmacs"] or 0))):
        status = "" if r["status"] in ("ok", "timing_failed") else \
            f" ({_STATUS_TEXT.get(r['status'], r['status'])})"
        mark = " ★" if r["config"] in big else ""
        rows.append(f"| {r['config']}{mark}{status} | {_kind(r)} | {_fmt(r['lut4'])} "
                    f"| {_fmt(r['mult18'])} | {_fmt(r['fmax_mhz'])} | {seed_range(r)} "
                    f"| {r['macs_per_op']} | {_fmt(r['eff_gmacs'], 2)} "
                    f"| {'yes' if r['config'] in lut_front else ''} "
                    f"| {'yes' if r['config'] in dsp_front else ''} |")
    best = {}
    for sparse in (True, False):
        pts = [r for r in records if r["sparse"] == sparse and r["eff_gmacs"]]
        best[sparse] = max(pts, key=lambda r: r["eff_gmacs"]) if pts else None
    bs, bd = best[True], best[False]
    ratio = bs["eff_gmacs"] / bd["eff_gmacs"] if bs and bd else None
    verdict = "not measured" if ratio is None else \
        ("**met**" if ratio >= goal else "**missed**")
    lines = ["\n".join(rows), "",
             "front: on its kind's (sparse or dense) Pareto front of effective GMAC/s against "
             "LUT4 or MULT18X18D. ★ largest configuration of its kind that fits (most "
             "multipliers placed).", ""]
    for sparse, label in ((True, "sparse"), (False, "dense")):
        r = largest_fitting(records, sparse)
        if r:
            lines.append(f"* Largest {label} that fits: {r['config']} ({r['multipliers']} "
                         f"MULT18X18D, {r['lut4']} LUT4, {r['eff_gmacs']:.2f} GMAC/s).")
    lines.append(f"* Best sparse point {bs['config'] if bs else '–'} "
                 f"{_fmt(bs and bs['eff_gmacs'], 2)} vs best dense point "
                 f"{bd['config'] if bd else '–'} {_fmt(bd and bd['eff_gmacs'], 2)} effective "
                 f"GMAC/s (median Fmax) = {_fmt(ratio, 2)}× (goal ≥ {goal:g}×) — {verdict}.")
    return "\n".join(lines)


def plot_pareto(records, path):
    """Two panels: effective GMAC/s against LUT4 and against MULT18X18D, sparse (every N:M)
    and dense, each kind's Pareto front drawn as a staircase and its largest configuration
    that fits starred. Returns ``path``, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = [derive(r) for r in records]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    markers = {"2:4": "o", "1:2": "^", "4:8": "v", "dense": "s"}
    for ax, cost, xlabel in ((axes[0], "lut4", "LUT4"), (axes[1], "mult18", "MULT18X18D")):
        for sparse, color in ((True, "tab:red"), (False, "tab:blue")):
            pts = [r for r in records if r["sparse"] == sparse and r["eff_gmacs"]
                   and r.get(cost)]
            for kind in sorted({_kind(r) for r in pts}):
                sel = [r for r in pts if _kind(r) == kind]
                ax.scatter([r[cost] for r in sel], [r["eff_gmacs"] for r in sel], c=color,
                           marker=markers.get(kind, "o"), alpha=0.7,
                           label=f"sparse {kind}" if sparse else "dense")
            front = pareto_front(pts, cost)
            if front:
                xs, ys = [front[0][cost]], [front[0]["eff_gmacs"]]
                for r in front[1:]:
                    xs += [r[cost], r[cost]]
                    ys += [ys[-1], r["eff_gmacs"]]
                ax.plot(xs, ys, color=color, linewidth=1.2,
                        label=f"{'sparse' if sparse else 'dense'} front")
            big = largest_fitting(pts, sparse)
            if big:
                ax.scatter([big[cost]], [big["eff_gmacs"]], marker="*", s=250,
                           facecolors="none", edgecolors="black", linewidths=1.2,
                           label="largest that fits" if sparse else None)
            for r in front:
                ax.annotate(r["config"].replace("-a8", "").replace("sparse", "s")
                            .replace("dense", "d"), (r[cost], r["eff_gmacs"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        if any(r["eff_gmacs"] for r in records):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("effective GMAC/s (median Fmax over seeds)")
        ax.set_title(f"effective GMAC/s vs {xlabel}")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    device = records[0]["device"] if records else ""
    fig.suptitle(f"sparsecore design space on ECP5-{device} (nextpnr, out-of-context)")
    fig.tight_layout()
    path = pathlib.Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_explore(records, outdir, *, options=None, command=None):
    """``explore.json``, ``explore.md`` and ``pareto.png`` in ``outdir``; returns the paths."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    records = [derive(r) for r in records]
    paths = [outdir / "explore.json", outdir / "explore.md"]
    paths[0].write_text(json.dumps({"options": options, "command": command,
                                    "records": records}, indent=1) + "\n")
    head = f"# Design-space exploration\n\nCommand: `{command}`\n\n" if command else ""
    paths[1].write_text(head + explore_markdown(records) + "\n")
    try:
        png = plot_pareto(records, outdir / "pareto.png")
    except Exception as exc:  # the plot is a convenience; the JSON and table still count
        print(f"warning: plot failed: {exc}", file=sys.stderr)
        png = None
    if png:
        paths.append(png)
    return paths
