"""Property harness of :class:`hw.core.SparseMMA`: the stream contract as Assert/Cover.

The harness drives every input of the core (``a``, ``b``, ``d.ready`` and the synchronous
reset) from free ports of its own, so the solver chooses them in every cycle, and checks the
core against a shadow model written here from the specification (docs/hw.md, the core's
docstring), not from the golden model and not from the core's internals: only the core's
ports are read. The properties (names as in the report):

``stream_hold``
    Once ``d.valid`` is high and ``d.ready`` low, ``d.valid`` stays high with the same
    payload in the next cycle (unless reset intervenes).
``ready_equal``
    ``a.ready == b.ready``.
``ready_rule``
    ``a.ready`` is exactly the documented rule: both inputs valid, out of reset and, for an
    operation with ``last``, fewer than ``p + 2`` results owed. (A core that refuses work it
    has room for, or never accepts anything, passes every other property: found by
    the mutation run, docs/verification.md.)
``reset_quiet``
    While reset is asserted, ``a.ready``, ``b.ready`` and ``d.valid`` are low.
``conservation``
    A result is delivered only when one is owed (results delivered never exceed operations
    with ``last`` accepted since the last reset), in order; ``d.valid`` is never high while
    none is owed (so nothing from before a reset appears after it).
``credits``
    Results owed never exceed the FIFO depth ``p + 2`` (an operation with ``last`` is refused
    while ``p + 2`` are owed); with ``checks=True`` also the core's own credit asserts.
``liveness``
    The oldest owed result is delivered at the latest in the ``latency``-th cycle with
    ``d.ready`` high after it became the oldest: a cycle with ``d.ready`` high and nothing
    delivered while a result is owed happens at most ``latency - 1`` times in a row. Under
    the fairness assumption "``d.ready`` is high infinitely often" every accepted ``last``
    operation is therefore delivered, within ``latency + L`` cycles of reaching the head of
    the queue when ``d.ready`` is low in ``L`` of them.
``data``
    ``d.payload.data`` equals the shadow sum of products of the operations since the last
    ``first`` (invalid groups contribute nothing; sums wrap at ``acc_width``), and
    ``d.payload.error`` is set exactly when one of those operations had an invalid group.
``sticky_error``
    ``error`` is high exactly from cycle ``t + p + 1`` on for the first operation with an
    invalid group accepted in cycle ``t`` since the last reset.

Each property has at least one ``Cover`` of the situation it is about, so that a vacuous
pass (a property whose antecedent never holds) shows as an unreached cover.
"""

from amaranth.hdl import ClockDomain, Module, Mux, Signal, signed
from amaranth.lib import data

from hw.core import SparseMMA, a_layout, b_layout, d_layout

from .harness import PropertyHarness

__all__ = ["CoreHarness", "PROPERTIES", "INDUCTIVE"]

PROPERTIES = ("stream_hold", "ready_equal", "ready_rule", "reset_quiet", "conservation", "credits",
              "liveness", "data", "sticky_error")
#: The properties whose proof needs no invariant about the core's internals: with k at least
#: the latency, k cycles of agreement pin down everything in flight.
INDUCTIVE = ("ready_equal", "reset_quiet", "sticky_error")


def group_valid(idx, m):
    """Whether the ``n`` in-group indices ``idx`` are strictly increasing and below ``m``."""
    ok = 1
    for s, index in enumerate(idx):
        if (1 << len(index)) > m:
            ok = ok & (index < m)
        if s + 1 < len(idx):
            ok = ok & (index < idx[s + 1])
    return ok


class CoreHarness(PropertyHarness):
    """A :class:`SparseMMA` with free inputs and its property checks.

    Parameters
    ----------
    config : CoreConfig
        Sparse core to check.
    properties : iterable of str
        Which of :data:`PROPERTIES` to assert (all by default); every cover is always there.
    checks : bool
        Build the core with its own asserts (``SparseMMA(checks=True)``).
    core_kwargs : dict
        Further keywords for :class:`SparseMMA` (the test-only ``_fault``).
    dut : callable or None
        Makes the core to check instead of ``SparseMMA(config, ...)``: anything with its
        signature and ``fifo_depth`` / ``latency`` (e.g. :class:`~tb.formal.flat.FlatInstance`
        of a mutant's Verilog).

    Members
    -------
    ports : list of Signal
        The free inputs and the clock, for :func:`amaranth.back.rtlil.convert`.
    asserts, covers : dict
        Property name to the list of ``(file, line)`` of its Assert / Cover statements, to map
        a solver's message back to a property.
    """

    def __init__(self, config, *, properties=PROPERTIES, checks=True, core_kwargs=None,
                 dut=None):
        if not config.sparse:
            raise ValueError("the core harness checks the sparse core only")
        unknown = set(properties) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown properties {sorted(unknown)}")
        self.config = config
        super().__init__(properties)
        self.checks = checks
        self.core_kwargs = dict(core_kwargs or {})
        self.dut = dut
        self.rst = Signal()
        self.a_valid = Signal()
        self.b_valid = Signal()
        self.a_payload = Signal(a_layout(config))
        self.b_payload = Signal(b_layout(config))
        self.d_ready = Signal()
        self.domain = ClockDomain("sync")
        self.ports = [self.domain.clk, self.rst, self.a_valid, self.b_valid,
                      self.a_payload.as_value(), self.b_payload.as_value(), self.d_ready]

    def elaborate(self, platform):
        cfg = self.config
        m = Module()
        m.domains.sync = self.domain
        m.d.comb += self.domain.rst.eq(self.rst)
        self._reset_at_power_up(m, self.rst)
        if self.dut is None:
            dut = SparseMMA(cfg, checks=self.checks, **self.core_kwargs)
        else:
            dut = self.dut()
        m.submodules.dut = dut
        depth, latency = dut.fifo_depth, dut.latency
        m.d.comb += [
            dut.a.valid.eq(self.a_valid),
            dut.a.payload.eq(self.a_payload),
            dut.b.valid.eq(self.b_valid),
            dut.b.payload.eq(self.b_payload),
            dut.d.ready.eq(self.d_ready),
        ]
        rst = self.rst
        accept = dut.a.valid & dut.a.ready
        take = dut.d.valid & dut.d.ready

        # --- the shadow arithmetic: this operation's products, from the spec --------------
        a, b = self.a_payload, self.b_payload
        width = cfg.acc_width
        op_invalid = 0
        contrib = [[0] * cfg.tile_n for _ in range(cfg.tile_m)]
        for r in range(cfg.tile_m):
            idx_view = data.View(data.ArrayLayout(data.ArrayLayout(
                cfg.index_width, cfg.n), cfg.groups), a.meta[r])
            for g in range(cfg.groups):
                idx = [idx_view[g][s] for s in range(cfg.n)]
                valid = Signal(name=f"shadow_valid_r{r}_g{g}")
                m.d.comb += valid.eq(group_valid(idx, cfg.m))
                op_invalid = op_invalid | ~valid
                for c in range(cfg.tile_n):
                    column = [b[g * cfg.m + e][c] for e in range(cfg.m)]
                    for s in range(cfg.n):
                        pick = Signal(signed(cfg.b_width), name=f"shadow_b_r{r}_g{g}_s{s}_c{c}")
                        with m.Switch(idx[s]):
                            for e in range(cfg.m):
                                with m.Case(e):
                                    m.d.comb += pick.eq(column[e])
                        prod = a.values[r][g * cfg.n + s] * pick
                        contrib[r][c] = contrib[r][c] + Mux(valid, prod, 0)
        invalid_now = Signal(name="shadow_op_invalid")
        m.d.comb += invalid_now.eq(op_invalid)

        # --- shadow accumulators and the queue of owed results ----------------------------
        res_layout = d_layout(cfg)
        acc = Signal(res_layout, name="shadow_acc")
        acc_new = Signal(res_layout, name="shadow_acc_new")
        for r in range(cfg.tile_m):
            for c in range(cfg.tile_n):
                m.d.comb += acc_new.data[r][c].eq(
                    (Mux(a.first, 0, acc.data[r][c]) + contrib[r][c])[:width])
        m.d.comb += acc_new.error.eq((acc.error & ~a.first) | invalid_now)
        with m.If(accept):
            m.d.sync += acc.eq(acc_new)

        queue = [Signal(res_layout, name=f"shadow_q{i}") for i in range(depth)]
        count = Signal(range(depth + 2), name="shadow_count")
        push = Signal(name="shadow_push")
        m.d.comb += push.eq(accept & a.last)
        # A shift-register queue: entry 0 is the oldest result owed.
        after_pop = [Mux(take, queue[i + 1] if i + 1 < depth else 0, queue[i])
                     for i in range(depth)]
        count_after_pop = Mux(take & (count != 0), count - 1, count)
        for i in range(depth):
            with m.If(push & (count_after_pop == i)):
                m.d.sync += queue[i].eq(acc_new)
            with m.Else():
                m.d.sync += queue[i].eq(after_pop[i])
        m.d.sync += count.eq(count_after_pop + push)

        # --- properties ------------------------------------------------------------------
        # stream_hold
        held = Signal(name="shadow_held")
        held_payload = Signal(res_layout, name="shadow_held_payload")
        m.d.sync += [held.eq(dut.d.valid & ~dut.d.ready), held_payload.eq(dut.d.payload)]
        self._assert(m, "stream_hold", ~held | rst | dut.d.valid,
                     "d.valid dropped before d.ready")
        self._assert(m, "stream_hold", ~held | rst | (dut.d.payload.as_value() ==
                                                       held_payload.as_value()),
                     "d.payload changed while d.valid waited for d.ready")
        self._cover(m, "stream_hold", held & ~rst & dut.d.valid & dut.d.ready,
                    "a held result is taken")
        # ready_equal, reset_quiet
        self._assert(m, "ready_equal", dut.a.ready == dut.b.ready, "a.ready != b.ready")
        self._cover(m, "ready_equal", dut.a.ready & dut.a.valid & dut.a.payload.last,
                    "an operation with last is accepted")
        self._cover(m, "ready_equal", ~dut.a.ready & dut.a.valid & dut.b.valid & ~rst,
                    "an operation is refused outside reset")
        self._assert(m, "ready_rule", dut.a.ready == (
            dut.a.valid & dut.b.valid & ~rst & (~dut.a.payload.last | (count < depth))),
            "a.ready differs from valid & out of reset & (no last or room)")
        self._cover(m, "ready_rule", dut.a.valid & dut.b.valid & dut.a.payload.last & ~rst &
                    (count == depth), "an operation with last refused for lack of room")
        self._assert(m, "reset_quiet", ~rst | ~(dut.a.ready | dut.b.ready | dut.d.valid),
                     "a.ready, b.ready or d.valid high during reset")
        self._cover(m, "reset_quiet", rst & (count != 0), "reset while results are owed")
        # conservation
        self._assert(m, "conservation", ~dut.d.valid | (count != 0),
                     "d.valid while no result is owed")
        self._cover(m, "conservation", take & push, "a result delivered and one accepted")
        # credits
        self._assert(m, "credits", count <= depth, "more results owed than the FIFO holds")
        self._cover(m, "credits", count == depth, "the FIFO depth of results owed")
        # data
        for r in range(cfg.tile_m):
            for c in range(cfg.tile_n):
                self._assert(m, "data", ~take | (dut.d.payload.data[r][c] ==
                                                 queue[0].data[r][c]),
                             f"d.data[{r}][{c}] differs from the shadow sum of products")
        self._assert(m, "data", ~take | (dut.d.payload.error == queue[0].error),
                     "d.error differs from the shadow error")
        self._cover(m, "data", take & dut.d.payload.error, "a result with error delivered")
        self._cover(m, "data", take & ~dut.d.payload.error & (count == 2),
                    "a valid result delivered with another owed")
        # liveness
        stall = Signal(range(latency + 2), name="shadow_stall")
        with m.If(take | (count == 0)):
            m.d.sync += stall.eq(0)
        with m.Elif(dut.d.ready & (stall != latency + 1)):
            m.d.sync += stall.eq(stall + 1)
        self._assert(m, "liveness", stall <= latency - 1,
                     "the oldest result owed not offered within latency cycles of d.ready")
        self._cover(m, "liveness", (stall == latency - 1) & take,
                    "the bound is reached: delivered after latency - 1 ready cycles")
        # sticky_error
        line = invalid_now & accept
        for k in range(cfg.pipeline):
            stage = Signal(name=f"shadow_err_d{k}")
            m.d.sync += stage.eq(line)
            line = stage
        sticky = Signal(name="shadow_sticky")
        with m.If(line):
            m.d.sync += sticky.eq(1)
        self._assert(m, "sticky_error", dut.error == sticky, "error differs from the spec")
        error_q = Signal(name="shadow_error_q")
        m.d.sync += error_q.eq(dut.error)
        self._cover(m, "sticky_error", dut.error & ~error_q, "error rises")
        self._cover(m, "sticky_error", rst & dut.error, "reset with error set")
        return m
