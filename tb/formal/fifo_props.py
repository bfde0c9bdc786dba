"""Property harness of :class:`hw.result_fifo.ResultFIFO`, against a shadow queue.

The writer's contract is assumed (as :class:`~hw.core.SparseMMA`'s credits guarantee it):
every bit of ``w_en`` carries the same value, and no write happens while ``depth`` results
are stored. Everything else is free, reset included. Properties (report names):

``fifo_order``
    ``r_rdy`` is high exactly while the shadow queue holds a result, and ``r_data`` is then
    the oldest one: results come out in order, none lost, none made up, none after a reset.
"""

from amaranth.hdl import Assert, Assume, ClockDomain, Cover, Elaboratable, Module, Mux, Signal

from hw.result_fifo import ResultFIFO

__all__ = ["FifoHarness"]


class FifoHarness(Elaboratable):
    """A :class:`ResultFIFO` of ``depth`` entries (``banks`` banks of 2 bits) with free
    inputs.

    Members
    -------
    ports : list of Signal
        The free inputs and the clock.
    """

    PROPERTIES = ("fifo_order",)

    def __init__(self, depth, *, banks=1, bank_width=2):
        self.depth = depth
        self.banks = banks
        self.bank_width = bank_width
        self.width = banks * bank_width
        self.domain = ClockDomain("sync")
        self.rst = Signal()
        self.w_data = Signal(self.width)
        self.w_en = Signal(banks)
        self.r_en = Signal()
        self.ports = [self.domain.clk, self.rst, self.w_data, self.w_en, self.r_en]
        self.asserts = {}
        self.covers = {}

    def _check(self, m, kind, cond, text):
        stmt = kind(cond, f"fifo_order: {text}", src_loc_at=1)
        m.d.comb += stmt
        if kind is Assert:
            self.asserts.setdefault("fifo_order", []).append(stmt.src_loc)
        else:
            self.covers.setdefault("fifo_order", []).append((stmt.src_loc, text))

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        m.d.comb += self.domain.rst.eq(self.rst)
        fifo = m.submodules.fifo = ResultFIFO(self.width, self.depth,
                                              bank_width=self.bank_width)
        m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en),
                     fifo.r_en.eq(self.r_en)]
        depth = self.depth
        queue = [Signal(self.width, name=f"shadow_q{i}") for i in range(depth)]
        count = Signal(range(depth + 1), name="shadow_count")
        write = self.w_en[0]
        read = self.r_en & (count != 0)
        m.d.comb += [
            Assume((self.w_en == 0) | (self.w_en == (1 << self.banks) - 1)),
            Assume(~write | (count != depth) | self.rst),
        ]
        after = Mux(read, count - 1, count)
        for i in range(depth):
            shifted = Mux(read, queue[i + 1] if i + 1 < depth else 0, queue[i])
            with m.If(write & (after == i)):
                m.d.sync += queue[i].eq(self.w_data)
            with m.Else():
                m.d.sync += queue[i].eq(shifted)
        m.d.sync += count.eq(after + write)
        self._check(m, Assert, fifo.r_rdy == (count != 0), "r_rdy differs from 'stored'")
        self._check(m, Assert, ~fifo.r_rdy | (fifo.r_data == queue[0]),
                    "r_data is not the oldest result")
        self._check(m, Cover, count == depth, "full")
        self._check(m, Cover, (count == depth) & self.r_en & ~self.rst, "read while full")
        self._check(m, Cover, write & read & (count == 1), "write and read of one entry")
        self._check(m, Cover, self.rst & (count != 0), "reset while not empty")
        return m
