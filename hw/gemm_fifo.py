"""The GEMM engine's operand FIFO: wide words in front of the core, built for fan-out.

The engine's operand words (A values, metadata, B: about 830 bits at the default tile) wait
here for the core. A plain FIFO of that width has two nets with a fan-out of the whole word
(the write enable of a slot, and the read select), and the core's combinational ``ready``
would start at the read multiplexer. On ECP5 each of those is a 5–6 ns route. So:

* The write enables are registers, one copy per ``chunk`` bits of the word
  (:class:`hw.fanout.RegisterCopies`), computed a cycle ahead from ``w_next``.
* The read select is a register too, one copy per chunk, loaded with the next read index.
* The head's control bits (``r_ctrl``) and ``r_valid`` are registers of their own, so the
  consumer's handshake logic starts at flip-flops; the wide ``r_data`` comes from the
  slots' multiplexer and is meant for a register that loads every cycle (the core's input
  stage).

The copies have no reset; their inputs are forced to "no write" and "slot 0" while the
domain's reset is high, so they agree with the reset pointers in the first cycle after it.
"""

from amaranth.hdl import Array, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_dsp_option
from .fanout import RegisterCopies

__all__ = ["OperandFifo"]


class OperandFifo(wiring.Component):
    """``depth`` words of ``width`` bits, first in first out.

    Parameters
    ----------
    width, depth : int
        Bits of a word, and words held (both at least 1).
    ctrl_width : int
        Bits of the control value written beside each word and read back registered.
    dsp : str
        ``"generic"`` or ``"ecp5"``, as :class:`hw.fanout.RegisterCopies` (keyword-only).
    chunk : int
        Word bits per copy of the write enables and the read select (default 64).

    Members
    -------
    w_next : In(1)
        A word will be written in the next cycle.
    w_data : In(width), w_ctrl : In(ctrl_width)
        The word and its control value, written in the cycle after ``w_next``. The writer
        keeps count: a write into a full FIFO is lost (the engine's credits prevent it).
    r_valid : Out(1)
        The FIFO holds a word (a register).
    r_data : Out(width)
        The oldest word (combinational, from the slots).
    r_ctrl : Out(ctrl_width)
        Its control value (a register).
    r_en : In(1)
        Take the oldest word at this edge (ignored while ``r_valid`` is low).

    Latency: a word written in cycle ``t`` into an empty FIFO is on ``r_data`` in ``t + 1``.

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, or ``dsp`` is unknown.
    """

    def __init__(self, width, depth, *, ctrl_width, dsp="generic", chunk=64):
        for name, value in (("width", width), ("depth", depth), ("ctrl_width", ctrl_width),
                            ("chunk", chunk)):
            check_count(name, value)
        self.width = width
        self.depth = depth
        self.ctrl_width = ctrl_width
        self.dsp = dsp
        self.chunk = chunk
        check_dsp_option(dsp)
        super().__init__({
            "w_next": In(1),
            "w_data": In(width),
            "w_ctrl": In(ctrl_width),
            "r_valid": Out(1),
            "r_data": Out(width),
            "r_ctrl": Out(ctrl_width),
            "r_en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        chunks = [(lo, min(lo + self.chunk, self.width))
                  for lo in range(0, self.width, self.chunk)]
        slots = [Signal(self.width, name=f"slot{i}", reset_less=True) for i in range(depth)]
        ctrls = [Signal(self.ctrl_width, name=f"ctrl{i}", reset_less=True)
                 for i in range(depth)]
        in_reset = ResetSignal()

        def wrap(index):
            return Mux(index == depth - 1, 0, index + 1)

        # --- write side: one-hot slot pointer, enables registered a cycle ahead ---------------
        push = Signal(name="push")                 # a word is written in this cycle
        wr = Signal(depth, init=1, name="wr")      # one-hot: the slot of this cycle's write
        wr_next = Signal(depth, name="wr_next")
        m.d.comb += wr_next.eq(Mux(push, wr.rotate_left(1), wr))
        m.d.sync += [push.eq(self.w_next), wr.eq(wr_next)]
        m.submodules.we = we = RegisterCopies(depth, len(chunks), dsp=self.dsp)
        m.d.comb += we.i.eq(Mux(self.w_next & ~in_reset, wr_next, 0))
        for i, slot in enumerate(slots):
            for k, (lo, hi) in enumerate(chunks):
                with m.If(we.o[k][i]):
                    m.d.sync += slot[lo:hi].eq(self.w_data[lo:hi])
            with m.If(push & wr[i]):
                m.d.sync += ctrls[i].eq(self.w_ctrl)

        # --- read side: index, its copies for the multiplexer, registered head control ------
        rd = Signal(range(depth), name="rd")
        rd1 = Signal(range(depth), init=1 % depth, name="rd1")          # rd + 1, wrapped
        count = Signal(range(depth + 1), name="count")
        pop = Signal(name="pop")
        rd_next = Signal(range(depth), name="rd_next")
        left = Signal(range(depth + 1), name="left")        # words that stay after a pop
        m.d.comb += [
            pop.eq(self.r_en & self.r_valid),
            rd_next.eq(Mux(pop, rd1, rd)),
            left.eq(count - pop),
        ]
        m.d.sync += [
            rd.eq(rd_next),
            rd1.eq(Mux(pop, wrap(rd1), rd1)),
            count.eq(left + push),
            self.r_valid.eq((left != 0) | push),
            self.r_ctrl.eq(Mux(left != 0, Array(ctrls)[rd_next], self.w_ctrl)),
        ]
        m.submodules.sel = sel = RegisterCopies(max(1, ceil_log2(depth)), len(chunks),
                                                dsp=self.dsp)
        m.d.comb += sel.i.eq(Mux(in_reset, 0, rd_next))
        for k, (lo, hi) in enumerate(chunks):
            m.d.comb += self.r_data[lo:hi].eq(Array(slot[lo:hi] for slot in slots)[sel.o[k]])
        return m
