"""Host driver of tile-wise (TW) and tile-vector-wise (TVW) GEMMs on the GEMM engine.

Two ways to run a TW/TVW weight matrix (``docs/tilewise.md``):

* **native** (:func:`plan_tilewise`): the engine skips whole ``tile_k`` blocks. Each group
  of ``group`` rows of A (a multiple of ``tile_m``) keeps a sorted list of K blocks; the
  host loads only the kept A words (compact), all of B, and the kept-block table, and the
  sequencer issues operations for kept blocks only. In sparse mode (2:4 inside the kept
  blocks) that is TVW.
* **row-granular** (:func:`plan_rowwise`, the paper's TW): any per-group subset of K
  *rows*. The host gathers the kept B rows of each group and runs one smaller GEMM per
  group on the plain engine; every gathered B word is loaded through ``ld_b`` and so is
  counted in that job's ``cycles``.

:func:`run_batch` runs a list of such jobs — and plain dense / N:M GEMMs beside them, so
speed-ups are measured in one simulator launch — and returns ``(D, counters)`` for each.
``counters["cycles"]`` counts every cycle from the counter clear before the loads to the
end of the job (loads, descriptor writes, table scan, run); ``busy_cycles`` the run alone.
"""

import json
import os
import time

import numpy as np

import golden
from golden import tilewise as gtw
from hw.config import CoreConfig
from hw.gemm import COUNTERS, DEFAULT_T_DEPTH, Cause
from hw.gemm_regs import ENGINE_REGISTERS
from hw.kept_table import TableError

from .gemm_driver import (DEFAULT_DEPTH, REJECTED, SUMMED, GemmInputError, GemmJobError,
                          _int_matrix, _tiles, build_engine, plan_gemm,
                          primitive_models)

_TW = {name: ENGINE_REGISTERS[name].addr for name in
       ("TW_CTRL", "TW_GROUP", "TW_BASE", "TW_ERR", "TW_ERR_AT")}

__all__ = ["plan_tilewise", "plan_rowwise", "run_tw_raw_jobs", "run_tw_amaranth", "run_batch",
           "TableRejected", "DEFAULT_DEPTH"]


class TableRejected(GemmJobError):
    """The engine rejected a tile-wise job's kept-block table (``Cause.TABLE``).

    Attributes as :class:`GemmJobError`, plus ``kind`` (:class:`TableError`), ``group``
    and ``entry`` (inside the group's list) as the engine's TW_ERR / TW_ERR_AT report them.
    """

    def __init__(self, cause, D, counters, kind, group, entry):
        super().__init__(cause, D, counters)
        self.kind = TableError(kind)
        self.group = group
        self.entry = entry
        self.args = (f"engine rejected the kept-block table: {self.kind.name} at group "
                     f"{group}, entry {entry}",)


def _check_group(group, config):
    if not isinstance(group, (int, np.integer)) or isinstance(group, bool) or group < 1 \
            or group % config.tile_m:
        raise GemmInputError(f"group must be a positive multiple of tile_m="
                             f"{config.tile_m}, not {group!r}")
    return int(group)


def plan_tilewise(A, B, lists, *, group, sparse=False, config=CoreConfig(),
                  a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH, t_depth=DEFAULT_T_DEPTH,
                  t_base=0, validate=True):
    """Plan one native tile-wise job; returns ``(job, (M, N), lists)``.

    Parameters
    ----------
    A : array_like of int, shape (M, K)
        Weights. Values outside the kept blocks are ignored (never loaded). With
        ``sparse`` every kept block must be N:M (TVW).
    B : array_like of int, shape (K, N)
    lists : sequence of sequences of int
        Kept K blocks (``tile_k`` columns each) of each group of ``group`` rows.
    group : int
        Rows per group, a multiple of ``tile_m``.
    sparse : bool
        TVW (compressed 2:4 kept blocks) instead of dense TW.
    validate : bool
        Check the lists on the host (:class:`golden.tilewise.KeptListError`). Without,
        they go into the table as given (entries cut to 16 bits), and the engine's scan
        must reject a bad one (tests do this).
    t_base : int
        Table address of the job's first entry (TW_BASE); the table is loaded there.

    A group that keeps no block gets the table entry ``[0]`` with all-zero A words (the
    table cannot encode an empty list): the result is exact, at the cost of one operation
    per output tile of the group.
    """
    cfg = config
    group = _check_group(group, cfg)
    A = _int_matrix(A, "A", cfg.a_width)
    B = _int_matrix(B, "B", cfg.b_width)
    M, K = A.shape
    tm, tk = cfg.tile_m, cfg.tile_k
    kt = -(-K // tk)
    groups = -(-M // group)
    if validate:
        lists = gtw.check_kept_lists(lists, groups=groups, blocks=kt)
    else:
        lists = [np.asarray(k, dtype=np.int64).reshape(-1) for k in lists]
    # Only kept blocks are read: zero the rest so the full-layout plan below is exact.
    keep = np.zeros((M, kt * tk), dtype=bool)
    for g, kept in enumerate(lists):
        for b in kept:
            if 0 <= b < kt:
                keep[g * group:(g + 1) * group, b * tk:(b + 1) * tk] = True
    masked = np.where(keep[:, :K], A, 0)
    full, (M, N) = plan_gemm(B, masked, sparse=sparse, config=cfg, a_depth=a_depth,
                             b_depth=b_depth, fit=False)
    mode, mt, nt, kt_, _, _ = full["regs"]
    assert kt_ == kt
    ratio = 1 if sparse else cfg.m // cfg.n
    gt = group // tm
    table = [k if k.size else np.zeros(1, dtype=np.int64) for k in lists]
    av = full["a_values"].reshape(mt, kt, ratio, -1)
    am = full["a_meta"].reshape(mt, kt, ratio, -1)
    a_values, a_meta = [], []
    for mi in range(mt):
        kept = table[min(mi // gt, len(table) - 1)]
        kept = np.clip(kept, 0, kt - 1)       # a bad entry (validate=False) loads block 0..
        a_values.append(av[mi, kept].reshape(-1, av.shape[-1]))
        a_meta.append(am[mi, kept].reshape(-1, am.shape[-1]))
    a_values = np.concatenate(a_values)
    a_meta = np.concatenate(a_meta)
    if validate and a_values.shape[0] > a_depth:
        raise GemmInputError(f"the kept A blocks need {a_values.shape[0]} buffer words, more "
                             f"than a_depth={a_depth}")
    if full["b_data"].shape[0] > b_depth:
        raise GemmInputError(f"B needs {full['b_data'].shape[0]} buffer words, more than "
                             f"b_depth={b_depth}")
    t_block = np.concatenate(table) & 0xFFFF
    t_last = np.concatenate([np.arange(k.size) == k.size - 1 for k in table]).astype(np.int64)
    if not isinstance(t_base, int) or not 0 <= t_base < t_depth:
        raise GemmInputError(f"t_base must be in 0..{t_depth - 1}, not {t_base!r}")
    if validate and t_base + t_block.size > t_depth:
        raise GemmInputError(f"the kept lists need {t_block.size} table entries from "
                             f"t_base={t_base}, more than t_depth={t_depth}")
    a_values = a_values[:a_depth]
    a_meta = a_meta[:a_depth]
    t_block, t_last = t_block[:t_depth - t_base], t_last[:t_depth - t_base]
    ops = mt * nt * max(1, int(t_block.size)) * ratio
    job = dict(full, a_values=a_values, a_meta=a_meta, t_block=t_block, t_last=t_last,
               tw=np.array([1, gt, t_base, t_base], dtype=np.int64),
               timeout=4 * ops + 64 * mt * nt + 4 * t_block.size + 1000)
    return job, (M, N), lists


def plan_rowwise(A, B, mask, *, group, sparse=False, kept=None, config=CoreConfig(),
                 a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH):
    """Plan row-granular TW (the paper's): one plain GEMM per group of ``group`` rows.

    Group ``g`` keeps the K rows ``cols_g`` = the columns any of its rows keeps in
    ``mask`` (M × K, bool). Its job is ``A[rows_g][:, cols_g] · B[cols_g]`` — B rows
    gathered on the host and loaded per group. With ``sparse`` each compacted
    ``A[rows_g][:, cols_g]`` must be N:M along its compacted K (TVW, as
    :func:`golden.tilewise.tvw_mask` builds it); pass that TW step's kept K rows as
    ``kept`` (one index list per group), since a column the N:M step empties in every
    row of a group would otherwise shift the compacted groups of ``m``. Returns
    ``[(job, rows slice, (Mg, N))]``; a group that keeps nothing has ``job`` ``None`` (its
    D rows are 0).
    """
    cfg = config
    group = _check_group(group, cfg)
    A = _int_matrix(A, "A", cfg.a_width)
    B = _int_matrix(B, "B", cfg.b_width)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != A.shape:
        raise GemmInputError(f"mask must have A's shape {A.shape}, not {mask.shape}")
    M, _ = A.shape
    plans = []
    for g0 in range(0, M, group):
        rows = slice(g0, min(g0 + group, M))
        if kept is None:
            cols = np.flatnonzero(mask[rows].any(axis=0))
        else:
            cols = np.asarray(kept[g0 // group], dtype=np.int64)
        if cols.size == 0:
            plans.append((None, rows, (rows.stop - rows.start, B.shape[1])))
            continue
        Ag = np.where(mask[rows][:, cols], A[rows][:, cols], 0)
        job, shape = plan_gemm(B[cols], Ag, sparse=sparse, config=cfg, a_depth=a_depth,
                               b_depth=b_depth)
        plans.append((job, rows, shape))
    return plans


def run_tw_raw_jobs(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH,
                    build_name=None, batch=0):
    """:func:`tb.gemm_driver.run_raw_jobs` for plain and tile-wise raw jobs, run by
    :mod:`tb.tb_tilewise` in one simulator launch. Results also hold ``tw_err``,
    ``tw_err_entry`` and ``tw_err_group`` (TW_ERR / TW_ERR_AT after the job). With
    ``batch`` (a STATUS poll interval) the jobs run back to back, each loaded while the one
    before runs; status and counters then describe the whole batch (same in every dict)."""
    from .runner import run_cocotb

    path, module, build_name = build_engine(config, a_depth, b_depth, build_name)
    folder = path.parent
    arrays = {}
    for i, job in enumerate(jobs):
        for key in ("a_values", "a_meta", "b_data"):
            arrays[f"j{i}_{key}"] = np.asarray(job[key], dtype=np.uint8)
        arrays[f"j{i}_scalars"] = np.array(
            [job["a_load"], job["b_load"], *job["regs"], job["seed"], job["timeout"]],
            dtype=np.int64)
        arrays[f"j{i}_ready"] = np.array([job["ready"]], dtype=np.float64)
        if "tw" in job:
            arrays[f"j{i}_tw"] = np.asarray(job["tw"], dtype=np.int64)
            arrays[f"j{i}_t_block"] = np.asarray(job["t_block"], dtype=np.int64)
            arrays[f"j{i}_t_last"] = np.asarray(job["t_last"], dtype=np.int64)
    stamp = f"{os.getpid()}_{time.monotonic_ns()}"
    jobs_path = folder / f"twjobs_{stamp}.npz"
    results_path = folder / f"twresults_{stamp}.npz"
    np.savez(jobs_path, count=np.array([len(jobs)]), batch=np.array([int(batch)]), **arrays)
    params = dict(tile_m=config.tile_m, tile_n=config.tile_n, tile_k=config.tile_k,
                  acc_width=config.acc_width, sparse_core=config.sparse)
    try:
        run_cocotb(sources=[path, *primitive_models(config)], toplevel=module,
                   test_module="tb.tb_tilewise", build_name=build_name,
                   extra_env={"GEMM_JOBS": str(jobs_path), "GEMM_RESULTS": str(results_path),
                              "GEMM_PARAMS": json.dumps(params)})
        out = []
        with np.load(results_path) as res:
            for i in range(len(jobs)):
                r = {key[len(f"j{i}_"):]: res[key] for key in res.files
                     if key.startswith(f"j{i}_")}
                if batch:
                    r.update(scalars=res["batch_scalars"], wall=res["batch_wall"],
                             tw_result=res["batch_tw_result"])
                scal = r.pop("scalars")
                result = {"status": int(scal[0]), "cause": int(scal[1]),
                          "run_cycles": int(scal[2])}
                for k, (name, _) in enumerate(COUNTERS):
                    result[name] = int(scal[3 + k])
                tw = r.pop("tw_result")
                result.update(tw_err=int(tw[0]), tw_err_entry=int(tw[1]),
                              tw_err_group=int(tw[2]))
                result["run_wall_s"] = float(r.pop("wall")[0])
                result.update(r)
                out.append(result)
    finally:
        for p in (jobs_path, results_path):
            if p.exists():
                p.unlink()
    return out


def _int_of(raw):
    return int.from_bytes(np.asarray(raw, dtype=np.uint8).tobytes(), "little")


def run_tw_amaranth(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH,
                    b_depth=DEFAULT_DEPTH, build_name=None, t_depth=DEFAULT_T_DEPTH):
    """:func:`run_tw_raw_jobs` in Amaranth's simulator instead of Verilator (unit tests,
    small engines): the same loads, register writes and results, ``d_ready`` held high."""
    from amaranth.sim import Simulator

    from hw.gemm import CSR_READ_LATENCY, Ctrl, Reg
    from hw.gemm_top import FlatGemmEngine

    dut = FlatGemmEngine(config, a_depth=a_depth, b_depth=b_depth, t_depth=t_depth,
                         checks=True)
    results = []

    async def write(ctx, addr, value):
        ctx.set(dut.csr_addr, addr)
        ctx.set(dut.csr_wdata, value)
        ctx.set(dut.csr_we, 1)
        await ctx.tick()
        ctx.set(dut.csr_we, 0)

    async def read(ctx, addr):
        ctx.set(dut.csr_addr, addr)
        ctx.set(dut.csr_re, 1)
        await ctx.tick()
        ctx.set(dut.csr_re, 0)
        await ctx.tick().repeat(CSR_READ_LATENCY - 1)
        return ctx.get(dut.csr_rdata)

    async def load(ctx, prefix, base, fields):
        for i in range(len(fields[0][1])):
            ctx.set(getattr(dut, f"ld_{prefix}_addr"), base + i)
            for port, words in fields:
                value = words[i] if isinstance(words[i], (int, np.integer)) else _int_of(words[i])
                ctx.set(getattr(dut, port), int(value))
            ctx.set(getattr(dut, f"ld_{prefix}_valid"), 1)
            while True:
                _, _, ready = await ctx.tick().sample(getattr(dut, f"ld_{prefix}_ready"))
                if ready:
                    break
        ctx.set(getattr(dut, f"ld_{prefix}_valid"), 0)

    async def testbench(ctx):
        for job in jobs:
            await write(ctx, Reg.CTRL, Ctrl.CLEAR | Ctrl.CLEAR_COUNTERS)
            fields = [("ld_a_values", job["a_values"])]
            if config.sparse:
                fields.append(("ld_a_meta", job["a_meta"]))
            await load(ctx, "a", int(job["a_load"]), fields)
            await load(ctx, "b", int(job["b_load"]), [("ld_b_data", job["b_data"])])
            tw = [int(x) for x in job.get("tw", [0, 0, 0, 0])]
            if "t_block" in job:
                await load(ctx, "t", tw[3], [("ld_t_block", job["t_block"]),
                                             ("ld_t_last", job["t_last"])])
            regs = (Reg.MODE, Reg.M_TILES, Reg.N_TILES, Reg.K_TILES, Reg.A_BASE, Reg.B_BASE)
            for reg, value in zip(regs, job["regs"]):
                await write(ctx, reg, int(value))
            for name, value in zip(("TW_CTRL", "TW_GROUP", "TW_BASE"), tw[:3]):
                await write(ctx, _TW[name], int(value))
            await write(ctx, Reg.CTRL, Ctrl.START)
            beats, lasts, cycles = [], [], 0
            while True:
                ctx.set(dut.d_ready, 1)
                _, _, valid, data, last, done = await ctx.tick().sample(
                    dut.d_valid, dut.d_data, dut.d_last, dut.done)
                if done:
                    break
                cycles += 1
                assert cycles < job["timeout"], "job did not finish"
                if valid:
                    beats.append(data)
                    lasts.append(last)
            status = await read(ctx, Reg.STATUS)
            counters = {}
            for name, reg in COUNTERS:
                lo = await read(ctx, reg)
                counters[name] = lo | (await read(ctx, reg + 1)) << 32
            err = await read(ctx, _TW["TW_ERR"])
            at = await read(ctx, _TW["TW_ERR_AT"])
            nbytes = (len(dut.d_data) + 7) // 8
            d_data = np.array([list(b.to_bytes(nbytes, "little")) for b in beats],
                              dtype=np.uint8).reshape(len(beats), nbytes)
            results.append(dict(status=status, cause=status >> 8, d_data=d_data, d_last=lasts,
                                run_cycles=cycles, run_wall_s=0.0, tw_err=err,
                                tw_err_entry=at & 0xFFFF, tw_err_group=at >> 16, **counters))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return results


def _counters(parts):
    counters = {key: sum(r[key] for r in parts) for key in SUMMED}
    cause = 0
    for r in parts:
        cause |= r["cause"]
    counters.update(cause=cause, jobs=len(parts))
    return counters


#: STATUS poll interval (cycles) of the overlapped batch while it waits for the queue.
BATCH_POLL = 16


def run_batch(items, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH,
              build_name=None, check=True, runner=None, overlap=False):
    """Run GEMMs of several kinds in one simulator launch; returns ``[(D, counters)]``.

    Each item is a dict with ``kind`` and its arguments:

    * ``"gemm"``: a plain engine GEMM, ``A``, ``B``, ``sparse`` (dense or N:M).
    * ``"tw"``: native tile-wise, ``A``, ``B``, ``lists``, ``group``, ``sparse`` (TVW),
      optionally ``validate`` (default True) — see :func:`plan_tilewise`.
    * ``"rowtw"``: row-granular TW, ``A``, ``B``, ``mask``, ``group``, ``sparse``, ``kept`` —
      :func:`plan_rowwise`; the counters sum over its per-group jobs.

    Any item may give ``d_ready`` (probability that D is taken in a cycle) and ``seed``
    (of that back-pressure pattern); ``"tw"`` items also ``t_base``.

    ``counters`` as :func:`tb.gemm_driver.run_gemm` plus ``jobs``; a tile-wise job also
    reports ``tw_err`` / ``tw_err_group`` / ``tw_err_entry``. With ``check``, a rejected
    table raises :class:`TableRejected` and any other error cause :class:`GemmJobError`.
    ``runner`` replaces :func:`run_tw_raw_jobs` (e.g. an Amaranth-simulator run).

    With ``overlap`` the engine jobs run back to back, each loaded (A, B, table) while the
    one before it runs: engine job ``i`` uses half ``i % 2`` of each buffer (so every job
    must fit half) and of the table (unless all tile-wise jobs share one table, which then
    sits at 0), and every item's counters are **the whole batch's**
    (``cycles`` from the clear before the first load to the end of the last job).
    """
    cfg = config
    if overlap:
        halves = (a_depth // 2, b_depth // 2, DEFAULT_T_DEPTH // 2)
        plan_a, plan_b, plan_t = halves[0], halves[1], DEFAULT_T_DEPTH
    else:
        plan_a, plan_b, plan_t = a_depth, b_depth, DEFAULT_T_DEPTH
    raw, plans = [], []
    for index, item in enumerate(items):
        item = dict(item)
        kind = item.pop("kind", None)
        before = len(raw)
        if kind == "gemm":
            job, shape = plan_gemm(item["B"], item["A"], sparse=item.get("sparse", False),
                                   config=cfg, a_depth=plan_a, b_depth=plan_b)
            plans.append((kind, [(job, slice(0, shape[0]), shape)], shape, len(raw)))
            raw.append(job)
        elif kind == "tw":
            job, shape, _ = plan_tilewise(item["A"], item["B"], item["lists"],
                                          group=item["group"],
                                          sparse=item.get("sparse", False), config=cfg,
                                          a_depth=plan_a, b_depth=plan_b, t_depth=plan_t,
                                          t_base=item.get("t_base", 0),
                                          validate=item.get("validate", True))
            plans.append((kind, [(job, slice(0, shape[0]), shape)], shape, len(raw)))
            raw.append(job)
        elif kind == "rowtw":
            subs = plan_rowwise(item["A"], item["B"], item["mask"], group=item["group"],
                                sparse=item.get("sparse", False), kept=item.get("kept"),
                                config=cfg, a_depth=plan_a, b_depth=plan_b)
            shape = (np.asarray(item["A"]).shape[0], np.asarray(item["B"]).shape[1])
            plans.append((kind, subs, shape, len(raw)))
            raw.extend(job for job, _, _ in subs if job is not None)
        else:
            raise GemmInputError(f"item {index}: kind must be 'gemm', 'tw' or 'rowtw', "
                                 f"not {kind!r}")
        ready = float(item.get("d_ready", 1.0))
        if not 0.0 < ready <= 1.0:
            raise GemmInputError(f"item {index}: d_ready must be in (0, 1], not {ready}")
        for offset, job in enumerate(raw[before:]):
            job.update(ready=ready, seed=int(item.get("seed", 0)) + offset,
                       timeout=int(job["timeout"] / ready))
    if overlap:
        # Tables: one shared region when every tile-wise job has the same table (reloading
        # identical entries under a running job changes nothing), else alternating halves.
        tables = [(job["t_block"].tolist(), job["t_last"].tolist()) for job in raw
                  if "tw" in job]
        shared = all(t == tables[0] for t in tables)
        for index, job in enumerate(raw):
            half = index % 2
            job["a_load"] = job["regs"][4] = half * halves[0]
            job["b_load"] = job["regs"][5] = half * halves[1]
            if "tw" in job:
                if not shared and job["t_block"].size > halves[2]:
                    raise GemmInputError(f"overlapped tile-wise jobs with different tables "
                                         f"must fit half the table ({halves[2]} entries), "
                                         f"not {job['t_block'].size}")
                t_base = 0 if shared else half * halves[2]
                job["tw"] = np.array([1, job["tw"][1], t_base, t_base], dtype=np.int64)
        results = (runner or run_tw_raw_jobs)(raw, config=cfg, a_depth=a_depth,
                                              b_depth=b_depth, build_name=build_name,
                                              batch=BATCH_POLL)
    else:
        results = (runner or run_tw_raw_jobs)(raw, config=cfg, a_depth=a_depth,
                                              b_depth=b_depth, build_name=build_name)
    out = []
    for kind, subs, (M, N), first in plans:
        count = sum(job is not None for job, _, _ in subs)
        parts = results[first:first + count]
        counters = _counters(parts[:1] if overlap else parts)
        if overlap:
            counters["jobs"] = parts[0]["jobs"]        # engine jobs in the whole batch
        if kind == "tw":
            counters.update(tw_err=parts[0]["tw_err"], tw_err_group=parts[0]["tw_err_group"],
                            tw_err_entry=parts[0]["tw_err_entry"])
        D = None
        if not counters["cause"] & (REJECTED | Cause.TABLE):
            D = np.zeros((M, N), dtype=np.int64)
            it = iter(parts)
            for job, rows, (Mg, Ng) in subs:
                if job is None:
                    continue
                t = _tiles(next(it), cfg, job)
                mt, nt = t.shape[:2]
                tiles = t.transpose(0, 2, 1, 3).reshape(mt * cfg.tile_m, nt * cfg.tile_n)
                D[rows] = tiles[:Mg, :Ng]
            D = golden.wrap(D, cfg.acc_width)
        if check and counters["cause"] & Cause.TABLE:
            raise TableRejected(counters["cause"], D, counters, counters["tw_err"],
                                counters["tw_err_group"], counters["tw_err_entry"])
        if check and counters["cause"]:
            raise GemmJobError(counters["cause"], D, counters)
        out.append((D, counters))
    return out
