"""Property harness of :class:`hw.gemm.GemmEngine`'s control: every job ends.

The harness drives every input of a small engine (the register port, the three load streams,
``d.ready`` and the synchronous reset) from free ports, so the solver writes any register
with any value at any time, loads anything into the buffers and the kept-block table, and
back-pressures D at will. It reads only the engine's ports. Two input contracts are assumed:
a reset in the first cycle (the contract starts there), and at most ``starts`` writes with
``CTRL.start`` since the last reset (so that the bound below is finite: a host that starts
a job whenever the queue frees keeps the engine busy forever, legitimately). With
``starts=2`` (:data:`MAX_STARTS`) the solver can queue a job behind a running one, or have
the second START refused while one waits (``Cause.QUEUE``); the jobs of ``make formal`` use
``starts=1``: the bound of two jobs (about 90 cycles) is beyond a bounded check here.

Properties (report names):

``job_ends``
    Every job ends: from the last reset on, BUSY is high in at most :meth:`GemmHarness.bound`
    cycles with ``d.ready`` high; a cycle with ``d.ready`` low can hold the engine (D
    back-pressure), so, under the fairness assumption "``d.ready`` is high infinitely
    often", BUSY falls. The bound is the documented latency of the longest job the buffers
    admit (``docs/gemm.md`` §7: ``busy_cycles(T) = START_LATENCY - 1 + T + latency +
    OUTPUT_LATENCY``, plus a tile-wise table scan of ``E + 5`` cycles), once per START.
``job_outcome``
    When BUSY falls outside reset, ``done`` is high: a job ends in DONE, with the cause bits
    of what went wrong (a rejected job ends at once, with its cause and no D tile).
``rejected_quiet``
    A START of a descriptor with a zero dimension ends in ``Cause.ZERO_DIM`` and delivers no
    D tile (the shadow decoder tracks M/N/K_TILES from the register writes).
``d_stream``
    ``d.valid`` is held, with a stable payload, until ``d.ready``; ``d.valid`` only while BUSY.
``reset_quiet``
    The cycle after a reset BUSY, ``done``, ``cause`` and ``d.valid`` are low.

Covers show each situation is reached: a job ends clean; jobs rejected for a zero
dimension, their A range, a register value that did not fit, the kept-block table scan
(tile-wise); a job with invalid metadata ends; a held last D tile is taken; a reset while
busy; with ``starts=2`` also two clean jobs and a refused START.
"""

from amaranth.hdl import Assume, ClockDomain, Module, Signal

from hw.config import CoreConfig
from hw.gemm import OUTPUT_LATENCY, START_LATENCY, Cause, GemmEngine
from hw.gemm_regs import ENGINE_REGISTERS

from .harness import PropertyHarness

__all__ = ["GemmHarness", "PROPERTIES", "MAX_STARTS", "SMALL_ENGINE", "job_bound",
           "small_config"]

PROPERTIES = ("job_ends", "job_outcome", "rejected_quiet", "d_stream", "reset_quiet")
#: STARTs per reset the solver may write (see the module docstring).
MAX_STARTS = 2
#: The engine checked: a 1×1×4 core, 2-bit operands, 4-bit sums, two-word buffers, a
#: four-entry kept-block table; the register file, queue, checks, sequencer, result path and
#: counters are the full engine's.
SMALL_ENGINE = dict(a_depth=2, b_depth=2, t_depth=4)
_SMALL_CORE = dict(tile_m=1, tile_n=1, tile_k=4, a_width=2, b_width=2, acc_width=4)


def small_config(pipeline=1, dsp="generic"):
    return CoreConfig(pipeline=pipeline, dsp=dsp, **_SMALL_CORE)


def job_bound(config, *, starts=1, a_depth, b_depth, t_depth, **_):
    """Cycles of BUSY with ``d.ready`` high that ``starts`` jobs on an engine of these depths
    may take (``docs/gemm.md`` §7)."""
    ops_per_k = config.m // config.n
    # The longest job the range checks admit: T = mt·nt·kt·(ops per K tile) with
    # mt·kt·(ops per K tile) <= a_depth (A words) and kt·nt <= b_depth (B words).
    t_max = max(mt * nt * kt * ops
                for ops in (1, ops_per_k)
                for mt in range(1, a_depth + 1)
                for kt in range(1, a_depth + 1)
                for nt in range(1, b_depth + 1)
                if mt * kt * ops <= a_depth and kt * nt <= b_depth)
    job = START_LATENCY - 1 + t_max + config.latency + OUTPUT_LATENCY + t_depth + 5
    return starts * job


class GemmHarness(PropertyHarness):
    """A :class:`GemmEngine` with free inputs and its property checks.

    Parameters
    ----------
    config : CoreConfig
        The engine's core (small widths keep the solver on the control).
    properties : iterable of str
        Which of :data:`PROPERTIES` to assert; every cover is always there.
    engine_kwargs : dict
        Further keywords for :class:`GemmEngine` (buffer and table depths).

    Members
    -------
    ports, asserts, covers
        As :class:`tb.formal.core_props.CoreHarness`.
    """

    def __init__(self, config, *, properties=PROPERTIES, engine_kwargs=None,
                 starts=MAX_STARTS):
        unknown = set(properties) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties {sorted(unknown)}")
        self.config = config
        super().__init__(properties)
        self.starts = starts
        self.engine_kwargs = dict(SMALL_ENGINE, **(engine_kwargs or {}))
        self.engine = GemmEngine(config, **self.engine_kwargs)
        e = self.engine
        self.domain = ClockDomain("sync")
        self.rst = Signal()
        self.csr_addr = Signal.like(e.csr_addr, name="csr_addr")
        self.csr_wdata = Signal.like(e.csr_wdata, name="csr_wdata")
        self.csr_we = Signal(name="csr_we")
        self.csr_re = Signal(name="csr_re")
        self.loads = {}
        for name in ("ld_a", "ld_b", "ld_t"):
            port = getattr(e, name)
            self.loads[name] = (Signal(name=f"{name}_valid"),
                                Signal(len(port.payload.as_value()), name=f"{name}_payload"))
        self.d_ready = Signal(name="d_ready")
        self.ports = [self.domain.clk, self.rst, self.csr_addr, self.csr_wdata, self.csr_we,
                      self.csr_re, *(s for pair in self.loads.values() for s in pair),
                      self.d_ready]

    def bound(self):
        """Cycles of BUSY with ``d.ready`` high that ``starts`` jobs may take."""
        return job_bound(self.config, starts=self.starts, **self.engine_kwargs)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        m.d.comb += self.domain.rst.eq(self.rst)
        self._reset_at_power_up(m, self.rst)

        e = m.submodules.engine = self.engine
        m.d.comb += [
            e.csr_addr.eq(self.csr_addr), e.csr_wdata.eq(self.csr_wdata),
            e.csr_we.eq(self.csr_we), e.csr_re.eq(self.csr_re), e.d.ready.eq(self.d_ready),
        ]
        for name, (valid, payload) in self.loads.items():
            port = getattr(e, name)
            m.d.comb += [port.valid.eq(valid), port.payload.eq(payload)]
        rst = self.rst
        regs = ENGINE_REGISTERS
        write = self.csr_we & ~rst

        def wrote(reg):
            return write & (self.csr_addr == regs[reg].addr)

        start = wrote("CTRL") & self.csr_wdata[regs["CTRL"].field("start").lsb]
        starts = Signal(range(self.starts + 1), name="shadow_starts")
        with m.If(start):
            m.d.sync += starts.eq(starts + 1)
        m.d.comb += Assume(~start | (starts < self.starts))

        busy_q = Signal(name="shadow_busy_q")
        rst_q = Signal(name="shadow_rst_q")
        m.d.sync += [busy_q.eq(e.busy), rst_q.eq(rst)]
        take = e.d.valid & e.d.ready

        # job_ends: BUSY cycles with d.ready high since the last reset.
        bound = self.bound()
        ready_busy = Signal(range(bound + 2), name="shadow_ready_busy")
        # (The harness' own registers are reset with the engine: rst is the domain's reset.)
        with m.If(e.busy & self.d_ready & (ready_busy != bound + 1)):
            m.d.sync += ready_busy.eq(ready_busy + 1)
        self._assert(m, "job_ends", ready_busy <= bound,
                     "BUSY for more d.ready cycles than the jobs started can take")
        # job_outcome
        ended = busy_q & ~e.busy & ~rst & ~rst_q
        self._assert(m, "job_outcome", ~ended | e.done, "BUSY fell without DONE")
        self._cover(m, "job_outcome", ended & (e.cause == 0), "a job ends clean")
        if self.starts >= 2:
            self._cover(m, "job_outcome", ended & (starts == 2) & (e.cause == 0),
                        "two jobs end clean")
            self._cover(m, "job_outcome", ended & ((e.cause & Cause.QUEUE) != 0),
                        "a START refused while one was queued")
        self._cover(m, "job_outcome", ended & ((e.cause & Cause.A_RANGE) != 0),
                    "a job rejected for its A range")
        self._cover(m, "job_outcome", ended & ((e.cause & Cause.VALUE) != 0),
                    "a job rejected for a register value that did not fit")
        self._cover(m, "job_outcome", ended & ((e.cause & Cause.META) != 0),
                    "a job with invalid metadata ends")
        self._cover(m, "job_outcome", ended & ((e.cause & Cause.TABLE) != 0),
                    "a tile-wise job rejected by its table scan")
        # rejected_quiet: shadow of the dimension registers (16-bit fields).
        # A write that does not fit its field leaves the shadow unsure (VALUE, docs/gemm.md).
        dims = {}
        dims_known = Signal(init=1, name="shadow_dims_known")
        for reg in ("M_TILES", "N_TILES", "K_TILES"):
            dims[reg] = Signal(16, init=regs[reg].reset, name=f"shadow_{reg.lower()}")
            with m.If(wrote(reg)):
                m.d.sync += dims[reg].eq(self.csr_wdata[:16])
                with m.If(self.csr_wdata[16:] != 0):
                    m.d.sync += dims_known.eq(0)
        zero_job = Signal(name="shadow_zero_job")    # the jobs started all had a zero dim
        any_zero = (dims["M_TILES"] == 0) | (dims["N_TILES"] == 0) | (dims["K_TILES"] == 0)
        with m.If(start & (starts == 0)):
            m.d.sync += zero_job.eq(any_zero & dims_known)
        with m.Elif(start):
            m.d.sync += zero_job.eq(zero_job & any_zero & dims_known)
        self._assert(m, "rejected_quiet", ~(zero_job & take),
                     "a D tile from jobs that all had a zero dimension")
        self._assert(m, "rejected_quiet", ~(zero_job & ended) |
                     ((e.cause & Cause.ZERO_DIM) != 0), "a zero-dimension job without ZERO_DIM")
        self._cover(m, "rejected_quiet", zero_job & ended, "a zero-dimension job ends")
        # d_stream
        held = Signal(name="shadow_held")
        held_payload = Signal(len(e.d.payload.as_value()), name="shadow_held_payload")
        m.d.sync += [held.eq(e.d.valid & ~e.d.ready), held_payload.eq(e.d.payload.as_value())]
        self._assert(m, "d_stream", ~held | rst | e.d.valid, "d.valid dropped before d.ready")
        self._assert(m, "d_stream", ~held | rst | (e.d.payload.as_value() == held_payload),
                     "d.payload changed while d.valid waited for d.ready")
        self._assert(m, "d_stream", ~e.d.valid | e.busy, "d.valid while not BUSY")
        self._cover(m, "d_stream", held & e.d.valid & e.d.ready & e.d.payload.last,
                    "a held last D tile is taken")
        # reset_quiet
        self._assert(m, "reset_quiet", ~rst_q | ~(e.busy | e.done | e.cause.any() | e.d.valid),
                     "BUSY, done, cause or d.valid the cycle after reset")
        self._cover(m, "reset_quiet", rst & e.busy, "reset while busy")
        return m
