"""Registered signed multiplier: plain Amaranth, or a Lattice ECP5 ``MULT18X18D`` block."""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._checks import check_width
from .config import DSP_OPTIONS, ECP5_MAX_OPERAND_WIDTH

__all__ = ["RegisteredMultiplier", "check_dsp"]

#: Width of a ``MULT18X18D`` operand port and of its product port.
_DSP_WIDTH = 18
_DSP_P_WIDTH = 36


def check_dsp(dsp, *, a_width, b_width):
    """Raise :exc:`ValueError` unless ``dsp`` is known and takes these operand widths."""
    if dsp not in DSP_OPTIONS:
        raise ValueError(f"dsp must be one of {', '.join(repr(o) for o in DSP_OPTIONS)}, "
                         f"not {dsp!r}")
    if dsp == "ecp5":
        for name, width in (("a_width", a_width), ("b_width", b_width)):
            if width > ECP5_MAX_OPERAND_WIDTH:
                raise ValueError(f"{name} must be at most {ECP5_MAX_OPERAND_WIDTH} with "
                                 f"dsp='ecp5', not {width}")


class RegisteredMultiplier(wiring.Component):
    """Signed ``a_width × b_width`` multiplier with an input and an output register.

    ``p`` is ``a * b`` (exact, ``a_width + b_width`` bits) of the operands two cycles
    earlier: the operands are registered (the ``opnd`` stage of the dot-product array), then
    the product (the ``prod`` stage). There is no enable and no reset: the registers load on
    every edge of the ``sync`` domain.

    ``dsp="generic"`` builds the two registers and the multiply in plain Amaranth (the
    synthesis tool maps the multiply). ``dsp="ecp5"`` instantiates one Lattice ECP5
    ``MULT18X18D`` with its own input registers (``REG_INPUTA_CLK``, ``REG_INPUTB_CLK``) and
    output register (``REG_OUTPUT_CLK``) on ``CLK0`` = the ``sync`` clock, ``CE0`` = 1,
    ``RST0`` = 0 and ``GSR`` disabled, operands sign-extended to 18 bits with ``SIGNEDA`` =
    ``SIGNEDB`` = 1; yosys' ECP5 flow does not pull fabric registers into the block, so this
    is the way to use them. The Amaranth simulator cannot run it; under Verilator add
    ``hw/sim_models/MULT18X18D.v``, a model of exactly this configuration.

    Latency: 2 cycles. Throughput: one product per cycle.

    Parameters
    ----------
    a_width, b_width : int
        Signed operand widths.
    dsp : str
        ``"generic"`` or ``"ecp5"`` (keyword-only).

    Members
    -------
    a : ``In(signed(a_width))``
    b : ``In(signed(b_width))``
    p : ``Out(signed(a_width + b_width))``

    Raises
    ------
    TypeError, ValueError
        If a width is not an integer of at least 2, ``dsp`` is unknown, or with ``"ecp5"`` a
        width exceeds 18.
    """

    def __init__(self, a_width, b_width, *, dsp="generic"):
        check_width("a_width", a_width)
        check_width("b_width", b_width)
        check_dsp(dsp, a_width=a_width, b_width=b_width)
        self._dsp = dsp
        super().__init__({
            "a": In(signed(a_width)),
            "b": In(signed(b_width)),
            "p": Out(signed(a_width + b_width)),
        })

    @property
    def dsp(self):
        return self._dsp

    @property
    def latency(self):
        """Cycles from ``a``, ``b`` to ``p``: 2."""
        return 2

    def elaborate(self, platform):
        m = Module()
        if self._dsp == "generic":
            a_q = Signal.like(self.a, name="a_q", reset_less=True)
            b_q = Signal.like(self.b, name="b_q", reset_less=True)
            p_q = Signal.like(self.p, name="p_q", reset_less=True)
            m.d.sync += [
                a_q.eq(self.a),
                b_q.eq(self.b),
                p_q.eq(a_q * b_q),
            ]
            m.d.comb += self.p.eq(p_q)
            return m

        # MULT18X18D: the block's ports are single bits (A0…A17, B0…B17, P0…P35).
        a = Signal(signed(_DSP_WIDTH), name="dsp_a")
        b = Signal(signed(_DSP_WIDTH), name="dsp_b")
        p = Signal(signed(_DSP_P_WIDTH), name="dsp_p")
        m.d.comb += [
            a.eq(self.a),                   # sign-extends
            b.eq(self.b),
            self.p.eq(p),                   # truncates: the product fits a_width + b_width
        ]
        # Only the ports yosys' own mapping (dsp_map_18x18.v) connects, plus CLK0/CE0/RST0.
        # Tying the unused shift inputs SRIA/SRIB low as well made nextpnr fail to route the
        # ground net to them; unconnected, they take the block's default.
        zero, one = Const(0, 1), Const(1, 1)
        ports = {}
        for index in range(_DSP_WIDTH):
            ports[f"i_A{index}"] = a[index]
            ports[f"i_B{index}"] = b[index]
            ports[f"i_C{index}"] = zero
        for index in range(_DSP_P_WIDTH):
            ports[f"o_P{index}"] = p[index]
        m.submodules.dsp = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE",
            p_REG_PIPELINE_CLK="NONE",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_GSR="DISABLED",
            p_RESETMODE="SYNC",
            p_MULT_BYPASS="DISABLED",
            p_CAS_MATCH_REG="FALSE",
            p_HIGHSPEED_CLK="NONE",
            p_CLK0_DIV="ENABLED",
            p_SOURCEB_MODE="B_SHIFT",
            i_SIGNEDA=one, i_SIGNEDB=one, i_SOURCEA=zero, i_SOURCEB=zero,
            i_CLK0=ClockSignal(), i_CE0=one, i_RST0=zero,
            **ports)
        return m
