"""Register copies that synthesis keeps: one value, several registers near their loads."""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ._checks import check_count, check_dsp_option

__all__ = ["RegisterCopies"]


class RegisterCopies(wiring.Component):
    """``copies`` registers that all load the same ``width``-bit value on every edge.

    On an FPGA, a value whose loads are spread over the die (an A operand feeding ``tile_n``
    DSP blocks, the clear of every accumulator) arrives sooner from several registers, each
    placed next to its own loads, than from one. Synthesis merges registers with the same
    input (yosys' ``opt_merge``; a ``keep`` attribute on the signal does not stop it), so how
    the copies are built depends on ``dsp``:

    * ``"generic"``: plain registers. Functionally the same; synthesis may merge them.
    * ``"ecp5"``: every bit of every copy is a Lattice ECP5 ``TRELLIS_FF`` instance
      (``GSR`` disabled, clock enable tied high, ``LSR`` tied low: a plain D flip-flop), which
      yosys keeps. The Amaranth simulator cannot run it; under Verilator add
      ``hw/sim_models/TRELLIS_FF.v``, a model of exactly this configuration.

    The registers have no reset. Latency: 1 cycle.

    Parameters
    ----------
    width, copies : int
        Bits of the value and number of copies (both at least 1).
    dsp : str
        ``"generic"`` or ``"ecp5"`` (keyword-only), as :attr:`hw.config.CoreConfig.dsp`.

    Members
    -------
    i : ``In(width)``
    o : ``Out(ArrayLayout(width, copies))``
        ``o[k]`` is copy ``k`` of ``i`` one cycle earlier.

    Raises
    ------
    TypeError, ValueError
        If ``width`` or ``copies`` is not a positive integer, or ``dsp`` is unknown.
    """

    def __init__(self, width, copies, *, dsp="generic"):
        check_count("width", width)
        check_count("copies", copies)
        check_dsp_option(dsp)
        self._width = width
        self._copies = copies
        self._dsp = dsp
        super().__init__({
            "i": In(width),
            "o": Out(data.ArrayLayout(width, copies)),
        })

    def elaborate(self, platform):
        m = Module()
        for copy in range(self._copies):
            if self._dsp == "generic":
                reg = Signal(self._width, name=f"copy{copy}", reset_less=True)
                m.d.sync += reg.eq(self.i)
                m.d.comb += self.o[copy].eq(reg)
                continue
            for bit in range(self._width):
                m.submodules[f"copy{copy}_bit{bit}"] = Instance(
                    "TRELLIS_FF",
                    p_GSR="DISABLED", p_CEMUX="1", p_CLKMUX="CLK", p_LSRMUX="LSR",
                    p_SRMODE="LSR_OVER_CE", p_REGSET="RESET",
                    i_CLK=ClockSignal(), i_LSR=Const(0, 1), i_DI=self.i[bit],
                    o_Q=self.o[copy][bit])
        return m
