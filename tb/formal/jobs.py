"""The formal job list: which harness, which mode, how deep, for every checked configuration.

A *job* is one SymbiYosys run. For every sparse core of the sweep (:func:`core_configs`)
there are four:

``<cfg>.prove``
    k-induction (``mode prove``) of the properties that need no invariant about the core's
    internals (:data:`tb.formal.core_props.INDUCTIVE`), with ``k = latency + 2``: an unbounded
    proof.
``<cfg>.bmc``
    Every property except ``data``, bounded: ``2 * (latency + fifo depth) + 2`` cycles
    from reset (the issue's bound), with the core's own credit asserts.
``<cfg>.data``
    ``data`` (with all the others), bounded to ``latency + 4`` cycles: proving two sums of
    products equal is an arithmetic equivalence that grows with every accumulated product,
    and the solver's time per step doubles; the depth is stated in the report.
``<cfg>.cover``
    Every cover, to the ``bmc`` depth: each must be reached, or the proofs are vacuous.

The harness cores are small on purpose (tile 1×1×4 and 2×2×8, 2-bit operands, 4-bit
accumulators: sums wrap), so the solver's time goes into the control, not into wide adders.
"""

from dataclasses import dataclass, field

from hw.config import ECP5_MIN_PIPELINE, CoreConfig

from .core_props import INDUCTIVE, PROPERTIES, CoreHarness
from .fifo_props import FifoHarness
from .gemm_props import PROPERTIES as GEMM_PROPERTIES
from .gemm_props import SMALL_ENGINE, GemmHarness, job_bound, small_config

__all__ = ["Job", "core_configs", "core_jobs", "fifo_jobs", "gemm_jobs", "all_jobs",
           "ci_jobs"]

TILES = ((1, 1, 4), (2, 2, 8))
PIPELINES = range(1, 14)
WIDTHS = dict(a_width=2, b_width=2, acc_width=4)
ECP5_MODELS = ("MULT18X18D.v", "TRELLIS_FF.v")


@dataclass
class Job:
    """One SymbiYosys run: ``build()`` returns the harness; ``properties`` are what it shows."""
    name: str
    mode: str
    depth: int
    build: object
    properties: tuple
    models: tuple = ()
    config: dict = field(default_factory=dict)
    timeout: int = 1800


def core_configs(tiles=TILES, pipelines=PIPELINES):
    """Every sparse configuration checked: each tile, each depth, each ``dsp`` option that
    exists at that depth (``dsp="ecp5"`` needs ``pipeline >= 5``)."""
    for tm, tn, tk in tiles:
        for p in pipelines:
            for dsp in ("generic", "ecp5"):
                if dsp == "ecp5" and p < ECP5_MIN_PIPELINE:
                    continue
                yield CoreConfig(tile_m=tm, tile_n=tn, tile_k=tk, pipeline=p, dsp=dsp,
                                 **WIDTHS)


def _short(cfg):
    return (f"core_{cfg.tile_m}x{cfg.tile_n}x{cfg.tile_k}_p{cfg.pipeline}"
            f"{'_ecp5' if cfg.dsp == 'ecp5' else ''}")


def core_jobs(cfg, *, core_kwargs=None, suffix="", kinds=("prove", "bmc", "data", "cover")):
    """The four jobs of one configuration (or those named in ``kinds``)."""
    latency, depth = cfg.latency, cfg.pipeline + 2
    models = ECP5_MODELS if cfg.dsp == "ecp5" else ()
    info = dict(tile=f"{cfg.tile_m}x{cfg.tile_n}x{cfg.tile_k}", pipeline=cfg.pipeline,
                dsp=cfg.dsp, latency=latency, fifo_depth=depth)
    control = tuple(p for p in PROPERTIES if p != "data")
    plan = {
        "prove": ("prove", latency + 2, INDUCTIVE, False),
        "bmc": ("bmc", 2 * (latency + depth) + 2, control, True),
        "data": ("bmc", latency + 4, PROPERTIES, True),
        "cover": ("cover", 2 * (latency + depth) + 2, PROPERTIES, False),
    }
    jobs = []
    for kind in kinds:
        mode, steps, props, checks = plan[kind]

        def build(props=props, checks=checks):
            return CoreHarness(cfg, properties=props, checks=checks, core_kwargs=core_kwargs)
        jobs.append(Job(f"{_short(cfg)}{suffix}.{kind}", mode, steps, build,
                        props if kind != "cover" else (), models, dict(info, kind=kind)))
    return jobs


def fifo_jobs():
    """ResultFIFO on its own, for the depths the cores use (3 … 15) and one banked case."""
    jobs = []
    for depth, banks in ((3, 1), (4, 1), (7, 1), (8, 2), (15, 1)):
        for mode, steps in (("prove", depth + 3), ("cover", 2 * depth + 4)):
            def build(depth=depth, banks=banks):
                return FifoHarness(depth, banks=banks)
            jobs.append(Job(f"fifo_d{depth}_b{banks}.{mode}", mode, steps, build,
                            FifoHarness.PROPERTIES if mode == "prove" else (),
                            config=dict(fifo_depth=depth, banks=banks, kind=mode)))
    return jobs


def gemm_jobs(pipelines=(1,)):
    """The GEMM engine's control (:class:`tb.formal.gemm_props.GemmHarness`, one START per
    reset): every property bounded to the job bound + 3 cycles (a job that outlives the bound
    fails inside the check), and every cover to the same depth."""
    jobs = []
    for p in pipelines:
        cfg = small_config(pipeline=p)
        depth = job_bound(cfg, starts=1, **SMALL_ENGINE) + 3
        for mode, props in (("bmc", GEMM_PROPERTIES), ("cover", ())):
            def build(cfg=cfg):
                return GemmHarness(cfg, starts=1)
            jobs.append(Job(f"gemm_1x1x4_p{p}.{mode}", mode, depth, build, props,
                            config=dict(tile="1x1x4", pipeline=p, dsp="generic",
                                        latency=cfg.latency, kind=mode, engine=True)))
    return jobs


def all_jobs():
    jobs = fifo_jobs() + gemm_jobs()
    for cfg in core_configs():
        jobs += core_jobs(cfg)
    return jobs


def ci_jobs():
    """The subset tests/test_formal.py runs (its docstring says which)."""
    jobs = [j for j in fifo_jobs() if j.config["fifo_depth"] in (3, 8)]
    for cfg in core_configs(tiles=((1, 1, 4),), pipelines=(1, 7)):
        for job in core_jobs(cfg):
            kind = job.config["kind"]
            if cfg.pipeline == 7:
                # The ECP5 multiplier models make long bounded checks slow: the generic
                # core takes the bounded job, both take the others.
                if kind == "bmc" and cfg.dsp == "ecp5":
                    continue
                if kind in ("bmc", "cover"):
                    job.depth = cfg.latency + cfg.pipeline + 2 + 2
            jobs.append(job)
    # The engine to the end of a rejected job (CHECK_CYCLES + 1 cycles of BUSY after the
    # register writes): job_outcome, rejected_quiet, d_stream and reset_quiet are checked;
    # job_ends is make formal's (its bound is 45 cycles).
    for job in gemm_jobs():
        if job.mode == "bmc":
            job.depth = 26
            jobs.append(job)
    for job in jobs:        # build folders of their own, beside a running make formal
        job.name = f"ci.{job.name}"
    return jobs
