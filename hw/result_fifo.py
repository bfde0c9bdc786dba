"""The core's output FIFO: first-word fall-through, for a writer that never overflows it."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_dsp_option
from .fanout import RegisterCopies

__all__ = ["ResultFIFO"]


class ResultFIFO(wiring.Component):
    """FIFO of ``depth`` results whose writer guarantees there is room.

    The core accepts an operation with ``last`` only while it holds a credit, so a write
    never finds this FIFO full. It therefore checks nothing on the write side: the write
    port of the storage is driven by ``w_data``, ``w_en`` and the write pointer alone, with
    no level logic in front of it (on an FPGA the write enable reaches every LUT-RAM block,
    and whatever logic sits before it is on that long path). The storage has
    ``2 ** ceil_log2(depth + 1)`` entries (an ECP5 DPR16X4 holds 16 anyway), so the pointers
    wrap by truncation.

    Writing while ``depth`` results are stored is a caller error: the FIFO does not stop
    it. :class:`~hw.core.SparseMMA`'s credits rule it out (tests/test_hw_core.py).

    The storage can be cut into banks of ``bank_width`` bits (the last one takes the rest),
    each with its own write pointer and its own bit of ``w_en``: a result as wide as the
    core's is spread over the die next to the accumulators that write it, and one write
    pointer and enable for all of it would be a long route. The caller drives every bit of
    ``w_en`` with the same value (from register copies of its own, ``hw/fanout.py``); the
    banks then hold the same entries and ``r_rdy`` is bank 0's.

    Reads are first-word fall-through: a result written at the edge ending cycle ``t`` is on
    ``r_data`` with ``r_rdy`` high from cycle ``t + 1``. Reset empties the FIFO.

    Parameters
    ----------
    width, depth : int
        Bits per result and results stored at most (both at least 1).
    bank_width : int or None
        Bits per bank (keyword-only); ``None`` (default): one bank of ``width`` bits.
    registered_rdy : bool
        Keyword-only, default ``False``: ``r_rdy`` from a flip-flop (a fill level kept
        beside the pointers) instead of the pointers' comparison, the same value in every
        cycle, and every bank read at a register copy of the read pointer of its own
        (:class:`hw.fanout.RegisterCopies`, ``TRELLIS_FF`` with ``dsp="ecp5"``). The GEMM
        engine's core uses it (its reader sits across the die); the stand-alone cores keep
        the comparison, so their Verilog and ``docs/synth.md``'s figures are unchanged.
    dsp : str
        ``"generic"`` (default) or ``"ecp5"``: how those copies are built.

    Members
    -------
    w_data : ``In(width)``
    w_en : ``In(banks)``
        Store ``w_data`` at this edge; one bit per bank, all equal.
    r_data : ``Out(width)``
        The oldest result (meaningless while ``r_rdy`` is low).
    r_rdy : ``Out(1)``
        At least one result is stored.
    r_en : ``In(1)``
        Drop the oldest result at this edge (ignored while ``r_rdy`` is low).
    """

    def __init__(self, width, depth, *, bank_width=None, registered_rdy=False, dsp="generic"):
        check_count("width", width)
        check_count("depth", depth)
        if bank_width is not None:
            check_count("bank_width", bank_width)
        self._width = width
        self._depth = depth
        self._bank_width = min(bank_width or width, width)
        self._registered_rdy = bool(registered_rdy)
        check_dsp_option(dsp)
        self._dsp = dsp
        super().__init__({
            "w_data": In(width),
            "w_en": In(self.banks),
            "r_data": Out(width),
            "r_rdy": Out(1),
            "r_en": In(1),
        })

    @property
    def depth(self):
        return self._depth

    @property
    def banks(self):
        """Storage banks: ``ceil(width / bank_width)``."""
        return -(-self._width // self._bank_width)

    def elaborate(self, platform):
        m = Module()
        entries = 1 << ceil_log2(self._depth + 1)
        r_ptr = Signal(range(entries))
        r_next = Signal(range(entries))     # r_ptr after this edge
        m.d.sync += r_ptr.eq(r_next)
        if self._registered_rdy:
            # Each bank reads at a register copy of its own, loaded with r_next: the banks
            # sit beside the accumulators that write them, all over the die.
            m.submodules.r_ptrs = r_ptrs = RegisterCopies(len(r_ptr), self.banks, dsp=self._dsp)
            m.d.comb += r_ptrs.i.eq(r_next)
            bank_r_ptr = [r_ptrs.o[bank] for bank in range(self.banks)]
        else:
            bank_r_ptr = [r_ptr] * self.banks
        for bank in range(self.banks):
            lo = bank * self._bank_width
            hi = min(lo + self._bank_width, self._width)
            storage = Memory(shape=hi - lo, depth=entries, init=[])
            m.submodules[f"storage{bank}" if self.banks > 1 else "storage"] = storage
            write = storage.write_port()
            read = storage.read_port(domain="comb")
            w_ptr = Signal(range(entries), name=f"w_ptr{bank}")
            m.d.comb += [
                write.addr.eq(w_ptr),
                write.data.eq(self.w_data[lo:hi]),
                write.en.eq(self.w_en[bank]),
                read.addr.eq(bank_r_ptr[bank]),
                self.r_data[lo:hi].eq(read.data),
            ]
            with m.If(self.w_en[bank]):
                m.d.sync += w_ptr.eq(w_ptr + 1)
            if bank == 0:
                w_ptr0 = w_ptr
        if not self._registered_rdy:
            m.d.comb += [self.r_rdy.eq(w_ptr0 != r_ptr),
                         r_next.eq(r_ptr + (self.r_en & self.r_rdy))]
            return m
        # r_rdy is a register of its own, with the fill level beside it: the reader (the
        # GEMM engine's accounting, across the die) then starts at a flip-flop, not at a
        # comparison of the pointers.
        level = Signal(range(entries + 1))
        rdy = Signal()
        write, read = self.w_en[0], self.r_en & rdy
        m.d.sync += [level.eq(level + write - read),
                     rdy.eq(Mux(write & ~read, 1, Mux(read & ~write, level != 1, rdy)))]
        m.d.comb += [self.r_rdy.eq(rdy), r_next.eq(r_ptr + read)]
        return m
