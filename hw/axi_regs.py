"""Registers of the AXI wrapper (:mod:`hw.axi`), word addresses 0x40–0x7F, as one RegisterMap.

They describe where the next A or B stream goes (load descriptors), the tile-wise
kept-block table's writes (one entry per register write), the interrupt
(enable / pending, write-1-to-clear) and the wrapper's error causes. The engine's own
registers (0x00–0x3F) are :data:`hw.gemm_regs.ENGINE_REGISTERS`; :data:`ALL_REGISTERS` is the
map the AXI4-Lite slave decodes.
"""

import enum

from .gemm_regs import ENGINE_REGISTERS
from .regmap import Access, Field, Register, RegisterMap

__all__ = ["AXI_REGISTERS", "ALL_REGISTERS", "BusCause", "Irq", "LoadCtrl", "LoadStatus"]

_DIM = 16   # buffer word addresses (as the engine's A_BASE / B_BASE)


class LoadCtrl(enum.IntFlag):
    """Bits of a write to ``LOAD_CTRL``."""
    ARM_A = 1 << 0     # the next A stream goes to A_LOAD_BASE, A_LOAD_WORDS words
    ARM_B = 1 << 1     # the next B stream goes to B_LOAD_BASE, B_LOAD_WORDS words
    DISARM = 1 << 2    # drop both armed descriptors (and any partial word)


class LoadStatus(enum.IntFlag):
    """Bits of ``LOAD_STATUS``."""
    A_ARMED = 1 << 0   # an A descriptor waits for or is receiving its stream
    B_ARMED = 1 << 1
    A_LOADED = 1 << 2  # the last A descriptor was filled without error (cleared by ARM_A)
    B_LOADED = 1 << 3


class Irq(enum.IntFlag):
    """Bits of ``IRQ_ENABLE`` and ``IRQ_PENDING``."""
    DONE = 1 << 0      # the engine's ``done`` rose
    ERROR = 1 << 1     # an engine cause or a bus cause bit was set


class BusCause(enum.IntFlag):
    """Bits of ``BUS_CAUSE``: what went wrong on the bus side (sticky, write 1 to clear)."""
    A_SHORT = 1 << 0   # the A stream's TLAST came before the descriptor's words were full
    A_LONG = 1 << 1    # the A stream ran past the descriptor's words (no TLAST at the end)
    A_RANGE = 1 << 2   # ARM_A with A_LOAD_BASE + A_LOAD_WORDS beyond the A buffer (or 0 words)
    A_KEEP = 1 << 3    # TKEEP not all ones before the last beat, or not contiguous from byte 0
    B_SHORT = 1 << 4
    B_LONG = 1 << 5
    B_RANGE = 1 << 6
    B_KEEP = 1 << 7
    ZVC = 1 << 8       # the ZVC expander rejected the B stream (code in ZVC_STATUS)
    AXI_HOLE = 1 << 9  # an AXI4-Lite access to an address without a register (SLVERR)
    AXI_RO = 1 << 10   # an AXI4-Lite write to a read-only register (SLVERR)
    AXI_STRB = 1 << 11  # an AXI4-Lite write whose WSTRB is not 0xF (SLVERR, nothing written)
    AXI_VALUE = 1 << 12  # a write setting bits outside the register's fields (SLVERR)
    T_RANGE = 1 << 13  # a TW_LOAD_ENTRY write with TW_LOAD_ADDR past the table (dropped)


def _cause_fields():
    return tuple(Field(bit.name.lower(), bit.bit_length() - 1, 1) for bit in BusCause)


AXI_REGISTERS = RegisterMap([
    Register("A_LOAD_BASE", 0x40, Access.RW, (Field("value", 0, _DIM),),
             "first A buffer word the next A stream writes"),
    Register("A_LOAD_WORDS", 0x41, Access.RW, (Field("value", 0, _DIM + 1),),
             "A buffer words the next A stream carries"),
    Register("B_LOAD_BASE", 0x42, Access.RW, (Field("value", 0, _DIM),),
             "first B buffer word the next B stream writes"),
    Register("B_LOAD_WORDS", 0x43, Access.RW, (Field("value", 0, _DIM + 1),),
             "B buffer words the next B stream carries (after ZVC expansion)"),
    Register("B_LOAD_MODE", 0x44, Access.RW, (
        Field("zvc", 0, 1, doc="1 = the B stream is ZVC-compressed (docs/zvc.md)"),),
        "B stream format"),
    Register("LOAD_CTRL", 0x45, Access.WO, (
        Field("arm_a", 0, 1, doc="arm the A descriptor"),
        Field("arm_b", 1, 1, doc="arm the B descriptor"),
        Field("disarm", 2, 1, doc="drop both armed descriptors and any partial word"),
    ), "load strobes (read 0)"),
    Register("LOAD_STATUS", 0x46, Access.RO, (
        Field("a_armed", 0, 1), Field("b_armed", 1, 1),
        Field("a_loaded", 2, 1, doc="last A descriptor filled without error"),
        Field("b_loaded", 3, 1, doc="last B descriptor filled without error"),
    ), "load status"),
    Register("IRQ_ENABLE", 0x48, Access.RW, (
        Field("done", 0, 1), Field("error", 1, 1)), "interrupt enables"),
    Register("IRQ_PENDING", 0x49, Access.W1C, (
        Field("done", 0, 1, doc="engine done rose"),
        Field("error", 1, 1, doc="an engine or bus cause bit was set")),
        "pending interrupts; irq = |(IRQ_PENDING & IRQ_ENABLE)"),
    Register("BUS_CAUSE", 0x4A, Access.W1C, _cause_fields(),
             "bus-side error causes (hw.axi_regs.BusCause), sticky"),
    Register("ZVC_STATUS", 0x4B, Access.RO, (
        Field("code", 0, 3, doc="hw.zvc.ZvcStatus of the first ZVC error since BUS_CAUSE.zvc "
                                "was cleared"),), "ZVC expander status"),
    Register("BUS_INFO", 0x4C, Access.RO, (
        Field("beat_bytes", 0, 8, doc="bytes per stream beat (A, B and D)"),
        Field("zvc", 8, 1, doc="a ZVC expander is on the B path")), "stream width"),
    Register("BUS_WORDS", 0x4D, Access.RO, (
        Field("a_word_bytes", 0, 16), Field("b_word_bytes", 16, 16)),
        "stream bytes per A and per B buffer word"),
    Register("TW_LOAD_ADDR", 0x4E, Access.RW, (Field("value", 0, _DIM + 1),),
             "table entry the next TW_LOAD_ENTRY write goes to; +1 after each"),
    Register("TW_LOAD_ENTRY", 0x4F, Access.WO, (
        Field("block", 0, _DIM, doc="kept K tile (docs/tilewise.md §2)"),
        Field("last", _DIM, 1, doc="last entry of its group's list")),
        "write one kept-block table entry at TW_LOAD_ADDR (read 0)"),
])

#: Everything the AXI4-Lite slave decodes.
ALL_REGISTERS = ENGINE_REGISTERS + AXI_REGISTERS
