"""An operand buffer of the GEMM engine: one write port, one free-running registered read port.

Read latency 3: the word at ``r_addr`` in cycle ``t`` is on ``r_data`` in cycle ``t + 3``
(a tier of address register copies, the block RAM's read latch, then its output register).
Writes take effect :data:`WRITE_DELAY` = 1 cycle after the cycle of ``w_en`` (the same
tier for the write address and enable, one register for the data). The read port has no
enable: it reads every cycle, so no control signal fans out into the block RAMs' clock
enables; the reader tracks which cycles carry a word it asked for. A write and a read of
the same address presented in one cycle return the old word.

Why the copies: a default 4×4×16 engine has 93 DP16KD, spread over every block-RAM row of
the die. One address register for all of them was the whole engine's critical path (13.9
ns of routing, 68 MHz). The tier has one copy per :data:`BLOCKS_PER_COPY` block RAMs
(``hw.fanout.RegisterCopies``, which yosys keeps as separate ``TRELLIS_FF`` with
``"ecp5"``). A second tier of one copy per block RAM (and a second data delay) made the
4×4×16 engine unroutable: 65 000 more wires, router2 diverging.

Two implementations with the same ports and timing:

* ``"generic"``: an :class:`amaranth.lib.memory.Memory` (synchronous read) and a register
  after it. Simulates anywhere; synthesis maps the memory to block RAM but keeps the
  register in the fabric (yosys does not absorb it into a DP16KD).
* ``"ecp5"``: Lattice ``DP16KD`` instances with ``REGMODE_B = "OUTREG"``, port A writing,
  port B reading, as narrow and deep as the depth allows (18, 9, 4, 2 or 1 bits wide for
  up to 1 024, 2 048, 4 096, 8 192 or 16 384 words). The output register is inside the
  block RAM: clock-to-data about 1 ns instead of 5.6–5.8 ns at speed 6. Simulated with
  ``hw/sim_models/DP16KD.v``.
"""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .config import ConfigError
from .fanout import RegisterCopies

__all__ = ["OperandBuffer", "MEMORY_OPTIONS", "READ_LATENCY", "WRITE_DELAY", "BLOCKS_PER_COPY",
           "dp16kd_width"]

MEMORY_OPTIONS = ("generic", "ecp5")
#: Address register tiers in front of the block RAMs (read and write ports alike).
_TIERS = 1
READ_LATENCY = _TIERS + 2
WRITE_DELAY = _TIERS
#: Block RAMs per address register copy.
BLOCKS_PER_COPY = 4
#: DP16KD data widths by the deepest configuration each allows.
_DP16KD_MODES = ((1024, 18, 4), (2048, 9, 3), (4096, 4, 2), (8192, 2, 1), (16384, 1, 0))


def dp16kd_width(depth):
    """``(width, address shift)`` of the DP16KD mode for ``depth`` words, or None."""
    for max_depth, width, shift in _DP16KD_MODES:
        if depth <= max_depth:
            return width, shift
    return None


class OperandBuffer(wiring.Component):
    """``depth`` words of ``width`` bits (see the module docs).

    Parameters
    ----------
    width : int
    depth : int
    memory : str
        ``"generic"`` or ``"ecp5"``.

    Members
    -------
    w_addr, w_data, w_en : In
        Write ``w_data`` to ``w_addr`` at the edge where ``w_en`` is high.
    r_addr : In
        Read address (every cycle).
    r_data : Out(width)
        The word at ``r_addr`` of :data:`READ_LATENCY` cycles earlier.

    Raises
    ------
    ConfigError
        If ``memory`` is unknown, or is ``"ecp5"`` with more than 16 384 words.
    """

    def __init__(self, width, depth, *, memory="generic"):
        if memory not in MEMORY_OPTIONS:
            raise ConfigError(f"memory must be one of "
                              f"{', '.join(repr(o) for o in MEMORY_OPTIONS)}, not {memory!r}")
        if memory == "ecp5" and dp16kd_width(depth) is None:
            raise ConfigError(f"memory='ecp5' buffers hold at most 16384 words, not {depth}")
        self.width = width
        self.depth = depth
        self.memory = memory
        abits = max(1, ceil_log2(depth))
        super().__init__({
            "w_addr": In(abits),
            "w_data": In(width),
            "w_en": In(1),
            "r_addr": In(abits),
            "r_data": Out(width),
        })

    @property
    def blocks(self):
        """DP16KD instances of the ``"ecp5"`` implementation."""
        width, _ = dp16kd_width(self.depth)
        return -(-self.width // width)

    def _tiers(self, m, name, value, blocks):
        """``value`` through the tier of register copies: returns the copy for each block
        RAM, :data:`WRITE_DELAY` cycles late (``TRELLIS_FF`` copies with ``"ecp5"``)."""
        dsp = "ecp5" if self.memory == "ecp5" else "generic"
        copies = -(-blocks // BLOCKS_PER_COPY)
        m.submodules[f"{name}_copies"] = regs = RegisterCopies(len(value), copies, dsp=dsp)
        m.d.comb += regs.i.eq(value)
        return [regs.o[block // BLOCKS_PER_COPY] for block in range(blocks)]

    @staticmethod
    def _delayed(m, value, name):
        """``value`` through :data:`WRITE_DELAY` plain registers (the write data, beside the
        address and enable copies)."""
        for tier in range(_TIERS):
            delayed = Signal(len(value), name=f"{name}_t{tier + 1}", reset_less=True)
            m.d.sync += delayed.eq(value)
            value = delayed
        return value

    def elaborate(self, platform):
        m = Module()
        if self.memory == "generic":
            m.submodules.mem = mem = Memory(shape=self.width, depth=self.depth, init=[])
            wr = mem.write_port()
            rd = mem.read_port()
            (w_ctrl,) = self._tiers(m, "w_ctrl", Cat(self.w_addr, self.w_en), 1)
            (r_addr,) = self._tiers(m, "r_addr", self.r_addr, 1)
            w_data = self._delayed(m, self.w_data, "w_data")
            abits = len(self.w_addr)
            m.d.comb += [
                wr.addr.eq(w_ctrl[:abits]), wr.data.eq(w_data), wr.en.eq(w_ctrl[abits]),
                rd.addr.eq(r_addr),
            ]
            m.d.sync += self.r_data.eq(rd.data)       # the output register
            return m

        width, shift = dp16kd_width(self.depth)
        abits = len(self.w_addr)
        assert abits + shift <= 14
        w_ctrls = self._tiers(m, "w_ctrl", Cat(self.w_addr, self.w_en), self.blocks)
        r_addrs = self._tiers(m, "r_addr", self.r_addr, self.blocks)
        for index in range(self.blocks):
            lo = index * width
            bits = min(width, self.width - lo)
            di = Signal(18, name=f"bram{index}_di")
            do = Signal(18, name=f"bram{index}_do")
            w_data = self._delayed(m, self.w_data[lo:lo + bits], f"bram{index}_di")
            w_ad = Signal(14, name=f"bram{index}_wad")
            r_ad = Signal(14, name=f"bram{index}_rad")
            m.d.comb += [w_ad.eq(w_ctrls[index][:abits] << shift),
                         r_ad.eq(r_addrs[index] << shift)]
            if width == 18:
                m.d.comb += w_ad[:2].eq(0b11)             # byte write enables
            m.d.comb += [di.eq(w_data), self.r_data[lo:lo + bits].eq(do[:bits])]
            ports = {}
            for bit in range(18):
                ports[f"i_DIA{bit}"] = di[bit]
                ports[f"o_DOB{bit}"] = do[bit]
                ports[f"i_DIB{bit}"] = Const(0, 1)
            for bit in range(14):
                ports[f"i_ADA{bit}"] = w_ad[bit]
                ports[f"i_ADB{bit}"] = r_ad[bit]
            for port in "AB":
                for cs in range(3):
                    ports[f"i_CS{port}{cs}"] = Const(0, 1)
                ports[f"i_RST{port}"] = Const(0, 1)
                ports[f"i_CE{port}"] = Const(1, 1)
                ports[f"i_OCE{port}"] = Const(1, 1)
                ports[f"i_CLK{port}"] = ClockSignal()
            m.submodules[f"bram{index}"] = Instance(
                "DP16KD",
                p_DATA_WIDTH_A=width, p_DATA_WIDTH_B=width,
                p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
                p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
                p_CLKAMUX="CLKA", p_CLKBMUX="CLKB", p_GSR="DISABLED",
                i_WEA=w_ctrls[index][abits], i_WEB=Const(0, 1),
                **ports)
        return m
