"""Running the model's GEMMs on the RTL (the GEMM engine under Verilator), and cost estimates.

The model flow talks to the hardware through **one** function, :func:`rtl_gemm`; everything
else here adapts it to a quantized layer (:func:`layer_matmul`, the ``matmul`` argument of
:func:`sparsecore.quant.infer_int8`). Where the engine's driver or the
simulator cannot be loaded, :func:`rtl_gemm` raises :class:`RTLUnavailable` and the flow
reports the RTL rows as not run.

Contract of :func:`rtl_gemm` (what the engine must provide):

* ``a``: the A operand (weights), either a dense int8 array ``(M, K)`` (``sparse=False``)
  or a pair ``(values int8 (M, K/2), metadata uint16 (M, K/16))`` as ``golden.compress``
  returns it (``sparse=True``, 2:4). ``M`` is a multiple of ``tile_m`` and ``K`` of
  ``tile_k``.
* ``b``: int8 ``(K, N)``, ``N`` a multiple of ``tile_n``. ``c``: int32 ``(M, N)`` or None.
* ``sparse=False`` runs the dense A on the *same sparse unit* in dense mode
  (docs/architecture.md §5: metadata ``0x4``, B spread; half the rate).
* Returns ``(D, counters)``: ``D`` int32 ``(M, N)`` equal to ``wrap32(A·B + C)``;
  ``counters`` a dict with at least ``"cycles"`` (clock cycles of the GEMM, int) and,
  where the engine knows them, ``"ops"`` (tile operations issued).
"""

import contextlib

import numpy as np

__all__ = ["RTLUnavailable", "rtl_gemm", "rtl_status", "layer_matmul", "gemm_tile_ops",
           "TILE", "BUILD_NAME", "build_name", "log_paths", "tile_of"]

#: Default core tile (tile_m, tile_n, tile_k) and pattern, as in hw/config.py's CoreConfig.
TILE = {"tile_m": 4, "tile_n": 4, "tile_k": 16, "n": 2, "m": 4}


class RTLUnavailable(NotImplementedError):
    """The RTL path cannot run here (the GEMM engine's driver or the simulator is missing)."""


#: The model flow's own Verilator build folder (concurrent runs must never share one).
BUILD_NAME = "model_flow"


def rtl_gemm(a, b, c=None, *, sparse, config=None, verbose=False):
    """``D = wrap32(A·B + C)`` on the RTL under Verilator; see the module docstring.

    Runs the GEMM engine (``tb.gemm_driver.run_gemm``), splitting GEMMs larger than its
    buffers into several engine jobs. ``config`` is the core (``hw.config.CoreConfig``;
    default: the driver's default core, whose tile is :data:`TILE`). Quiet unless
    ``verbose``: the Verilator build log and the simulator's output go to
    ``sim_build/<build>/build.log`` and ``test.log`` (:func:`log_paths`).

    Returns
    -------
    (numpy.ndarray int32 (M, N), dict)
        The result and the engine's counters: ``"cycles"`` counts every engine cycle of the
        GEMM (operand loads and result readback included), ``"run_cycles"`` start to done,
        ``"ops"`` the tile operations issued.

    Raises
    ------
    RTLUnavailable
        If the GEMM engine's driver or its simulator cannot be loaded.
    """
    available, reason = rtl_status()
    if not available:
        raise RTLUnavailable(reason)
    from tb import runner
    from tb.gemm_driver import run_gemm

    name = build_name(config)
    kwargs = dict(split=True, build_name=name)
    if config is not None:
        kwargs["config"] = config
    with _build_lock(name), runner.verbosity(verbose):
        if sparse:
            values, metadata = a
            D, counters = run_gemm(B=b, C=c, values=values, metadata=metadata, sparse=True,
                                   **kwargs)
        else:
            D, counters = run_gemm(A=a, B=b, C=c, sparse=False, **kwargs)
    counters = dict(counters)
    counters["ops"] = counters["tile_ops"]
    return np.asarray(D).astype(np.int32), counters


@contextlib.contextmanager
def _build_lock(name):
    """Hold an exclusive lock on build folder ``name``: two processes of the model flow
    (two commands, two pytest workers) never build or simulate in it at the same time."""
    import fcntl

    from tb.runner import SIM_BUILD
    folder = SIM_BUILD / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".model_flow.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_name(config=None):
    """The model flow's build folder for core ``config`` (one per configuration)."""
    if config is None:
        return BUILD_NAME
    import hashlib
    return f"{BUILD_NAME}_{hashlib.sha256(repr(config).encode()).hexdigest()[:10]}"


def log_paths(config=None):
    """``(build log, simulator log)`` of the model flow's quiet RTL runs for ``config``."""
    from tb.runner import log_paths as paths
    return paths(build_name(config))


def tile_of(config=None):
    """The tile and pattern dict (:data:`TILE`'s keys) of core ``config``."""
    if config is None:
        return dict(TILE)
    return {k: getattr(config, k) for k in TILE}


def rtl_status():
    """``(available, reason)``: whether :func:`rtl_gemm` can run here.

    Checks that the GEMM engine's driver imports and that the simulator is installed,
    without launching a simulation.
    """
    try:
        import tb.gemm_driver  # noqa: F401
        from tb.toolchain import verilator_bin
        verilator_bin()
    except Exception as exc:  # ImportError, ToolchainError: both mean "cannot run here"
        return False, f"GEMM engine not available: {exc}"
    return True, "ok"


def layer_matmul(layer, B, C, *, sparse, n=2, m=4, config=None, verbose=False):
    """A quantized layer's GEMM on the RTL, for :func:`sparsecore.quant.infer_int8`.

    Pads N (the samples) to a multiple of ``tile_n`` with zero columns and crops the
    result; the layer's M and K are already padded to the tile by the quantizer.
    ``config`` and ``verbose`` as in :func:`rtl_gemm`.
    """
    t = tile_of(config)
    if (n, m) != (t["n"], t["m"]):
        raise RTLUnavailable(f"the core is built for {t['n']}:{t['m']}, not {n}:{m}")
    M, K = layer.w.shape
    if M % t["tile_m"] or K % t["tile_k"]:
        raise ValueError(f"layer of shape {M}x{K} is not padded to the "
                         f"{t['tile_m']}x{t['tile_k']} tile")
    N = B.shape[1]
    Np = -(-N // t["tile_n"]) * t["tile_n"]
    Bp = np.zeros((K, Np), dtype=np.int8)
    Bp[:, :N] = B
    Cp = np.zeros((M, Np), dtype=np.int32)
    Cp[:, :N] = C
    a = (layer.values, layer.metadata) if sparse else layer.w
    D, counters = rtl_gemm(a, Bp, Cp, sparse=sparse, config=config, verbose=verbose)
    D = np.asarray(D)
    if D.shape != (M, Np):
        raise ValueError(f"rtl_gemm returned shape {D.shape}, expected {(M, Np)}")
    return D[:, :N].astype(np.int32), dict(counters)


def gemm_tile_ops(M, K, N, *, sparse, tile=None):
    """Tile operations the core issues for an M×K by K×N GEMM (after padding to the tile).

    Sparse mode consumes ``tile_k`` dense-equivalent K elements per operation, dense mode
    ``tile_k * n / m`` (architecture.md §5), so dense takes ``m / n`` times as many. Cycles
    are this plus the pipeline's fill and drain per GEMM.
    """
    t = dict(TILE, **(tile or {}))
    k_per_op = t["tile_k"] if sparse else t["tile_k"] * t["n"] // t["m"]
    return (-(-M // t["tile_m"])) * (-(-N // t["tile_n"])) * (-(-K // k_per_op))
