"""The GEMM engine's registers (word addresses 0x00–0x3F), as one :class:`hw.regmap.RegisterMap`.

:mod:`hw.gemm` decodes these; bus wrappers add theirs at 0x40 and above.
"""

from .regmap import Access, Field, Register, RegisterMap

__all__ = ["ENGINE_REGISTERS", "COUNTER_NAMES"]

_DIM = 16   # job dimensions and base addresses are 16-bit

#: The 64-bit performance counters, in address order from 0x10 (low word at the even address).
COUNTER_NAMES = ("cycles", "busy_cycles", "stall_in", "stall_out", "tile_ops", "macs", "d_tiles",
                 "jobs")


def _counter_registers():
    registers = []
    for index, name in enumerate(COUNTER_NAMES):
        addr = 0x10 + 2 * index
        registers.append(Register(f"{name.upper()}_LO", addr, Access.RO,
                                  (Field("value", 0, 32),), f"{name}, bits 31..0"))
        registers.append(Register(f"{name.upper()}_HI", addr + 1, Access.RO,
                                  (Field("value", 0, 32),), f"{name}, bits 63..32"))
    return registers


ENGINE_REGISTERS = RegisterMap([
    Register("CTRL", 0x00, Access.WO, (
        Field("start", 0, 1, doc="queue the job in the descriptor registers"),
        Field("clear", 1, 1, doc="clear DONE and the error cause"),
        Field("clear_counters", 2, 1, doc="zero every performance counter"),
    ), "control strobes (read 0)"),
    Register("STATUS", 0x01, Access.RO, (
        Field("busy", 0, 1), Field("done", 1, 1), Field("error", 2, 1, doc="cause != 0"),
        Field("queued", 3, 1, doc="a started job waits in the queue: START now is refused"),
        Field("cause", 8, 8, doc="error cause bits (hw.gemm.Cause)"),
    ), "job status"),
    Register("MODE", 0x02, Access.RW, (Field("dense", 0, 1, doc="1 = dense job"),),
             "job mode"),
    Register("M_TILES", 0x03, Access.RW, (Field("value", 0, _DIM),), "M / tile_m"),
    Register("N_TILES", 0x04, Access.RW, (Field("value", 0, _DIM),), "N / tile_n"),
    Register("K_TILES", 0x05, Access.RW, (Field("value", 0, _DIM),),
             "K / tile_k (dense-equivalent K in both modes)"),
    Register("A_BASE", 0x06, Access.RW, (Field("value", 0, _DIM),), "first A buffer word"),
    Register("B_BASE", 0x07, Access.RW, (Field("value", 0, _DIM),), "first B buffer word"),
    Register("INFO", 0x08, Access.RO, (
        Field("tile_m", 0, 8), Field("tile_n", 8, 8), Field("tile_k", 16, 8),
        Field("n", 24, 4), Field("m", 28, 4)), "core tile shape and N:M pattern"),
    Register("A_DEPTH", 0x09, Access.RO, (Field("value", 0, 32),), "A buffer words"),
    Register("B_DEPTH", 0x0A, Access.RO, (Field("value", 0, 32),), "B buffer words"),
    Register("WIDTHS", 0x0B, Access.RO, (
        Field("a_width", 0, 8), Field("b_width", 8, 8), Field("acc_width", 16, 8),
        Field("sparse_core", 24, 1)), "operand and accumulator widths"),
    *_counter_registers(),
])
