"""Kept-block table of the tile-wise (TW/TVW) job: storage, validation scan, sequencer read.

The table holds, for each group of output tile rows, the sorted list of K tiles the group
keeps (``docs/tilewise.md`` §2): entries of group 0, then group 1, ...; one entry is
``{block, last}`` with ``last`` set on the final entry of its group. It is loaded like the
operand buffers, through a ``{addr, entry}`` stream, at any time and in any order.

Before a tile-wise job issues a single operation the engine asks the table to **scan** the
job's lists: every entry in range (``block < k_tiles``), every list strictly increasing (no
duplicates, no descending step), no list running past the table's end. A bad list ends the
scan with an error kind and the group and entry at fault, so the engine rejects the job
instead of computing a wrong result. The scan also sums the A words the job will read
(``Σ_g rows_g · entries_g`` in tile rows), for the engine's A range check.
"""

import enum

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count

__all__ = ["KeptTable", "TableError", "entry_layout", "ENTRY_BLOCK_WIDTH", "MAX_TABLE_DEPTH"]

#: Bits of a K tile index in an entry (the engine's 16-bit job dimensions).
ENTRY_BLOCK_WIDTH = 16
#: Largest table the 16-bit TW_BASE register can address.
MAX_TABLE_DEPTH = 1 << 16


class TableError(enum.IntEnum):
    """Why a scan failed (``TW_ERR.kind``); 0 = no error."""
    NONE = 0
    RANGE = 1      # an entry's block is not below K_TILES
    ORDER = 2      # an entry is below the one before it in its group's list
    DUPLICATE = 3  # an entry repeats the one before it
    OVERFLOW = 4   # a group's list runs past the end of the table
    GROUP = 5      # TW_GROUP is zero


def entry_layout():
    """One table entry: the kept K tile ``block`` and ``last`` (final entry of its group)."""
    return data.StructLayout({"block": unsigned(ENTRY_BLOCK_WIDTH), "last": 1})


class KeptTable(wiring.Component):
    """The tile-wise job's kept-block table with its validation scan.

    Parameters
    ----------
    depth : int
        Entries the table holds (1 … 65536).
    read_ports : int
        Combinational read ports for the sequencer (at least 1).

    Members
    -------
    ld : In(stream.Signature({addr, entry}))
        Table writes (always ready): ``entry`` (:func:`entry_layout`) to ``addr``.
    start : In(1)
        Start a scan of the lists from ``base`` for a job of ``m_tiles`` tile rows in groups
        of ``group_tiles`` and ``k_tiles`` K tiles (all sampled in the cycle of ``start``).
    base, m_tiles, group_tiles, k_tiles : In(16)
    busy : Out(1)
        A scan is running.
    done : Out(1)
        One-cycle strobe: the scan has ended; ``error``, ``err_group``, ``err_entry`` and
        ``a_rows`` hold its outcome until the next ``start``.
    error : Out(3)
        :class:`TableError` of the scan.
    err_group, err_entry : Out(16)
        The group and the entry inside its list (0 = first) at fault.
    a_rows : Out(32)
        ``Σ_g rows_g · entries_g`` (tile rows × kept K tiles): the job's A words per
        ``tile_k`` of K.
    rd_addr : In(ArrayLayout(unsigned(ceil_log2(depth)), read_ports))
    rd_data : Out(ArrayLayout(entry_layout(), read_ports))
        Combinational read ports for the sequencer: ``rd_data[i]`` is the entry at
        ``rd_addr[i]``.

    Latency: a scan of ``E`` entries that ends well raises ``done`` ``E + 1`` cycles after
    the ``start`` cycle (one entry per cycle); a bad entry ends it in the cycle after it.
    ``start`` with ``group_tiles`` zero ends at once with :attr:`TableError.GROUP`.

    Raises
    ------
    TypeError, ValueError
        If ``depth`` is not an integer in range.
    """

    def __init__(self, depth, *, read_ports=1):
        check_count("depth", depth)
        check_count("read_ports", read_ports)
        self.read_ports = read_ports
        if depth > MAX_TABLE_DEPTH:
            raise ValueError(f"depth must be at most {MAX_TABLE_DEPTH}, not {depth}")
        self.depth = depth
        self.addr_width = max(1, ceil_log2(depth))
        super().__init__({
            "ld": In(stream.Signature(data.StructLayout({
                "addr": unsigned(self.addr_width), "entry": entry_layout()}))),
            "start": In(1),
            "base": In(16),
            "m_tiles": In(16),
            "group_tiles": In(16),
            "k_tiles": In(16),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(3),
            "err_group": Out(16),
            "err_entry": Out(16),
            "a_rows": Out(32),
            "rd_addr": In(data.ArrayLayout(unsigned(self.addr_width), read_ports)),
            "rd_data": Out(data.ArrayLayout(entry_layout(), read_ports)),
        })

    def elaborate(self, platform):
        m = Module()

        # --- storage: write port, scan read port, sequencer read port -------------------------
        m.submodules.mem = mem = Memory(shape=entry_layout(), depth=self.depth, init=[])
        wr = mem.write_port()
        scan_rd = mem.read_port(domain="comb")
        for i in range(self.read_ports):
            port = mem.read_port(domain="comb")
            m.d.comb += [port.addr.eq(self.rd_addr[i]), self.rd_data[i].eq(port.data)]
        m.d.comb += [
            self.ld.ready.eq(1),
            wr.addr.eq(self.ld.payload.addr),
            wr.data.eq(self.ld.payload.entry),
            wr.en.eq(self.ld.valid),
        ]

        # --- scan ------------------------------------------------------------------------------
        addr = Signal(17)            # table address of the entry under test
        group = Signal(16)
        entry = Signal(16)           # index inside the group's list
        prev = Signal(ENTRY_BLOCK_WIDTH)
        k_tiles = Signal(16)
        group_tiles = Signal(16)
        rows_left = Signal(16)       # tile rows from this group to the end of the job
        height = Signal(16)          # tile rows of this group
        m.d.comb += height.eq(Mux(rows_left < group_tiles, rows_left, group_tiles))
        m.d.comb += scan_rd.addr.eq(addr)
        cur = scan_rd.data

        m.d.sync += self.done.eq(0)
        with m.If(self.start):
            m.d.sync += [
                addr.eq(self.base), group.eq(0), entry.eq(0),
                k_tiles.eq(self.k_tiles), group_tiles.eq(self.group_tiles),
                rows_left.eq(self.m_tiles), self.a_rows.eq(0),
                self.error.eq(TableError.NONE), self.err_group.eq(0), self.err_entry.eq(0),
            ]
            with m.If(self.group_tiles == 0):
                m.d.sync += [self.error.eq(TableError.GROUP), self.done.eq(1)]
            with m.Else():
                m.d.sync += self.busy.eq(1)
        with m.Elif(self.busy):
            fail = Signal(3)
            with m.If(addr >= self.depth):
                m.d.comb += fail.eq(TableError.OVERFLOW)
            with m.Elif(cur.block >= k_tiles):
                m.d.comb += fail.eq(TableError.RANGE)
            with m.Elif((entry != 0) & (cur.block == prev)):
                m.d.comb += fail.eq(TableError.DUPLICATE)
            with m.Elif((entry != 0) & (cur.block < prev)):
                m.d.comb += fail.eq(TableError.ORDER)
            with m.If(fail != 0):
                m.d.sync += [self.busy.eq(0), self.done.eq(1), self.error.eq(fail),
                             self.err_group.eq(group), self.err_entry.eq(entry)]
            with m.Else():
                m.d.sync += [addr.eq(addr + 1), prev.eq(cur.block),
                             self.a_rows.eq(self.a_rows + height)]
                with m.If(cur.last):
                    m.d.sync += [entry.eq(0), group.eq(group + 1),
                                 rows_left.eq(rows_left - height)]
                    with m.If(rows_left <= group_tiles):
                        m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                with m.Else():
                    m.d.sync += entry.eq(entry + 1)
        return m
