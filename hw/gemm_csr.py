"""The GEMM engine's register file: CSR port decode, storage, value checks, read multiplexer.

Everything is decoded from :data:`hw.gemm_regs.ENGINE_REGISTERS`, so a register added to the
map (the tile-wise job registers, say) gets its storage, its value check and its read-back
without a change here.

* **Writes** take effect at the clock edge where ``csr_we`` is high. An ``RW`` register keeps
  the bits of its fields; a value with any bit set outside the fields is **not** written
  (nothing is truncated) and raises :attr:`CsrFile.value_error` for one cycle instead (the
  engine turns it into the sticky ``Cause.VALUE``). A ``WO`` register (``CTRL``) turns its
  fields into one-cycle strobes, under the same value check. Writes to ``RO`` registers and
  to holes change nothing (the bus wrapper answers them with an error).
* **Reads** take :data:`CSR_READ_LATENCY` = 2 cycles and return the register's value in
  the cycle of ``csr_re``: the multiplexer is split in two registered halves (the
  registers of each group of eight addresses, selected by the address of that cycle; then
  the group), so neither crosses the whole register file. Holes and ``WO`` registers
  read 0.
* **64-bit counters** read without tearing: reading ``<NAME>_LO`` returns the low word and
  latches the high word of the same instant; ``<NAME>_HI`` returns that latch (read LO, then
  HI).
"""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .gemm_regs import COUNTER_NAMES, ENGINE_REGISTERS
from .regmap import Access, WORD_ADDR_WIDTH

__all__ = ["CsrFile", "CSR_READ_LATENCY", "CSR_DATA_WIDTH", "COUNTER_WIDTH"]

CSR_DATA_WIDTH = 32
CSR_READ_LATENCY = 2
#: Address bits the first half of the read multiplexer decodes (groups of 8 registers).
_GROUP_BITS = 3
COUNTER_WIDTH = 64


class CsrFile(wiring.Component):
    """Storage and decode of every register of a :class:`~hw.regmap.RegisterMap`.

    Parameters
    ----------
    registers : RegisterMap
        The map to decode (default :data:`ENGINE_REGISTERS`).
    counters : tuple of str
        Names of the 64-bit counters whose ``<NAME>_LO``/``<NAME>_HI`` pair is in the map.

    Members
    -------
    addr, wdata, we, re, rdata
        The CSR port (``docs/gemm.md`` §2).
    rw_<name> : Out(width)
        The stored fields of each ``RW`` register (bits ``0 … msb`` of the register).
    ro_<name> : In(32)
        The value each ``RO`` register reads (counters excluded).
    cnt_<name> : In(64)
        Each counter's value.
    wo_<name>_<field> : Out(1)
        One-cycle strobe of each field of a ``WO`` register, on a write with that bit set.
    value_error : Out(1)
        One-cycle pulse: a write to a writable register set bits outside its fields.
    """

    def __init__(self, registers=ENGINE_REGISTERS, counters=COUNTER_NAMES):
        self.registers = registers
        self.counters = tuple(counters)
        counter_regs = set()
        for name in self.counters:
            counter_regs |= {f"{name.upper()}_LO", f"{name.upper()}_HI"}
        self._counter_regs = counter_regs
        ports = {
            "addr": In(WORD_ADDR_WIDTH),
            "wdata": In(CSR_DATA_WIDTH),
            "we": In(1),
            "re": In(1),
            "rdata": Out(CSR_DATA_WIDTH),
            "value_error": Out(1),
        }
        for reg in registers:
            key = reg.name.lower()
            if reg.access is Access.RW:
                ports[f"rw_{key}"] = Out(reg.mask.bit_length(),
                                         init=reg.reset)
            elif reg.access is Access.RO and reg.name not in counter_regs:
                ports[f"ro_{key}"] = In(CSR_DATA_WIDTH)
            elif reg.access is Access.WO:
                for field in reg.fields:
                    if field.width != 1:
                        raise ValueError(f"WO register {reg.name}: field {field.name} must "
                                         f"be one bit (a strobe)")
                    ports[f"wo_{key}_{field.name}"] = Out(1)
            elif reg.access is Access.W1C:
                raise ValueError(f"register {reg.name}: W1C is not decoded by the engine")
        for name in self.counters:
            ports[f"cnt_{name}"] = In(COUNTER_WIDTH)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()

        # --- writes ---------------------------------------------------------------------------
        for reg in self.registers:
            if not reg.access.writable:
                continue
            key = reg.name.lower()
            hit = Signal(name=f"we_{key}")
            fits = Signal(name=f"fits_{key}")
            m.d.comb += [
                hit.eq(self.we & (self.addr == reg.addr)),
                fits.eq((self.wdata & Const(~reg.mask & 0xFFFFFFFF, 32)) == 0),
            ]
            with m.If(hit & ~fits):
                m.d.comb += self.value_error.eq(1)
            if reg.access is Access.RW:
                port = getattr(self, f"rw_{key}")
                with m.If(hit & fits):
                    m.d.sync += port.eq(self.wdata[:len(port)])
            else:
                for field in reg.fields:
                    m.d.comb += getattr(self, f"wo_{key}_{field.name}").eq(
                        hit & fits & self.wdata[field.lsb])

        # --- reads: two registered multiplexer halves ----------------------------------------
        snapshots = {name: Signal(32, name=f"snap_{name}") for name in self.counters}

        def read_value(reg):
            key = reg.name.lower()
            if reg.name in self._counter_regs:
                name = reg.name[:-3].lower()
                if reg.name.endswith("_LO"):
                    return getattr(self, f"cnt_{name}")[:32]
                return snapshots[name]
            if reg.access is Access.RW:
                return getattr(self, f"rw_{key}")
            if reg.access is Access.RO:
                return getattr(self, f"ro_{key}")
            return Const(0, CSR_DATA_WIDTH)

        groups = {}
        for reg in self.registers:
            groups.setdefault(reg.addr >> _GROUP_BITS, []).append(reg)
        parts = {g: Signal(CSR_DATA_WIDTH, name=f"rd_group{g}") for g in groups}
        rd_group = Signal(WORD_ADDR_WIDTH - _GROUP_BITS)
        rd_en = Signal()
        m.d.sync += [rd_group.eq(self.addr[_GROUP_BITS:]), rd_en.eq(self.re)]
        with m.If(self.re):
            for g, regs in groups.items():
                with m.Switch(self.addr[:_GROUP_BITS]):
                    for reg in regs:
                        with m.Case(reg.addr & ((1 << _GROUP_BITS) - 1)):
                            m.d.sync += parts[g].eq(read_value(reg))
                    with m.Default():
                        m.d.sync += parts[g].eq(0)
        value = Signal(CSR_DATA_WIDTH)
        with m.Switch(rd_group):
            for g in groups:
                with m.Case(g):
                    m.d.comb += value.eq(parts[g])
            with m.Default():
                m.d.comb += value.eq(0)
        with m.If(rd_en):
            m.d.sync += self.rdata.eq(value)
        for name in self.counters:
            lo = self.registers[f"{name.upper()}_LO"].addr
            with m.If(self.re & (self.addr == lo)):
                m.d.sync += snapshots[name].eq(getattr(self, f"cnt_{name}")[32:])
        return m
