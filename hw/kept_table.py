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

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ._checks import check_count, check_dsp_option
from .fanout import RegisterCopies

__all__ = ["KeptTable", "TableError", "entry_layout", "ENTRY_BLOCK_WIDTH", "MAX_TABLE_DEPTH"]

#: Bits of a K tile index in an entry (the engine's 16-bit job dimensions).
ENTRY_BLOCK_WIDTH = 16
#: Largest table the 16-bit TW_BASE register can address.
MAX_TABLE_DEPTH = 1 << 16
#: Bits per LUT-RAM bank of a read copy (an ECP5 DPR16X4 is 4 bits wide).
_BANK_BITS = 4


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
    last_ports : int
        Read ports of the ``last`` flags for the sequencer (at least 1).
    dsp : str
        ``"generic"`` or ``"ecp5"``: how the ``last`` ports' address registers are built
        (:class:`hw.fanout.RegisterCopies`; keyword-only, default ``"generic"``).

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
    last_addr : In(ArrayLayout(unsigned(ceil_log2(depth)), last_ports))
    last_data : Out(last_ports)
        Reads of the ``last`` flags: ``last_data[i]`` is the flag at ``last_addr[i]`` of the
        cycle before.
    blk_addr : In(unsigned(ceil_log2(depth)))
    blk_data : Out(ENTRY_BLOCK_WIDTH)
        Reads of the ``block`` fields: ``blk_data`` is the block at ``blk_addr`` of the
        cycle before.

    Every read port (the ``last`` ports, the block port, the scan) has a copy of the table
    of its own, read through address registers of its own (:meth:`_read_copy`): its data
    come from LUT RAM right after the clock edge, with no logic in front.

    Latency: the scan is a pipeline of three registers (read, comparisons, decision), one
    entry per cycle: a scan of ``E`` entries that ends well raises ``done`` ``E + 3``
    cycles after the ``start`` cycle; a bad entry ``j`` (0 = the first the scan reads) ends
    it ``j + 4`` cycles after. ``start`` with ``group_tiles`` zero ends at once (``done``
    the cycle after) with :attr:`TableError.GROUP`.

    Raises
    ------
    TypeError, ValueError
        If ``depth`` is not an integer in range.
    """

    def __init__(self, depth, *, last_ports=1, dsp="generic"):
        check_count("depth", depth)
        check_count("last_ports", last_ports)
        check_dsp_option(dsp)
        self.last_ports = last_ports
        self.dsp = dsp
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
            "last_addr": In(data.ArrayLayout(unsigned(self.addr_width), last_ports)),
            "last_data": Out(last_ports),
            "blk_addr": In(unsigned(self.addr_width)),
            "blk_data": Out(ENTRY_BLOCK_WIDTH),
        })

    def _read_copy(self, m, name, value, addr_next):
        """A read port on a copy of ``value`` (bits of the written entry) of its own: LUT RAM
        in banks of at most :data:`_BANK_BITS` bits, each read through an address register
        of its own that loads ``addr_next``. Returns the bits at ``addr_next`` of the cycle
        before, combinational from the RAM after the clock edge.

        Why copies: yosys merges read ports of one memory whose data are multiplexed (the
        sequencer's look-ahead does that), putting the select in front of the read, and one
        address register for every bank of a wide read is a long route to all of them. Why
        LUT RAM (``ram_style="distributed"``): yosys would put a registered read in a DP16KD
        without its output register (5.8 ns clock-to-data on ECP5). With ``dsp="ecp5"`` the
        address registers are ``TRELLIS_FF`` instances, which yosys cannot fold into the
        memory (it folds a plain address register and moves the logic before it onto the
        read path)."""
        bits = []
        for bank, lo in enumerate(range(0, len(value), _BANK_BITS)):
            hi = min(lo + _BANK_BITS, len(value))
            memory = Memory(shape=hi - lo, depth=self.depth, init=[],
                            attrs={"ram_style": "distributed"})
            m.submodules[f"{name}_mem{bank}"] = memory
            wr = memory.write_port()
            m.d.comb += [wr.addr.eq(self.ld.payload.addr), wr.data.eq(value[lo:hi]),
                         wr.en.eq(self.ld.valid)]
            rd = memory.read_port(domain="comb")
            m.submodules[f"{name}_addr{bank}"] = addr = RegisterCopies(
                self.addr_width, 1, dsp=self.dsp)
            m.d.comb += [addr.i.eq(addr_next), rd.addr.eq(addr.o[0])]
            bits.append(rd.data)
        return Cat(*bits)

    def elaborate(self, platform):
        m = Module()

        # --- storage: a copy of the table per read port --------------------------------------
        m.d.comb += self.ld.ready.eq(1)
        written = self.ld.payload.entry
        for i in range(self.last_ports):
            m.d.comb += self.last_data[i].eq(
                self._read_copy(m, f"last{i}", written.last, self.last_addr[i]))
        m.d.comb += self.blk_data.eq(self._read_copy(m, "blk", written.block, self.blk_addr))

        # --- scan: read (stage 1), comparisons (stage 2), decision (stage 3) -------------------
        # The reads run ahead of the decision; when it stops the scan (an error, or the end of
        # the job's last list) the entries read after it are dropped.
        raddr = Signal(17)           # address read this cycle
        raddr_next = Signal(17)
        k_tiles = Signal(16)
        group_tiles = Signal(16)
        # stage 1: the entry read, its address, valid
        a1 = Signal(17)
        v1 = Signal()
        e1 = Signal(entry_layout())
        new1 = Signal()              # stage 1's entry opens a list
        prev1 = Signal(ENTRY_BLOCK_WIDTH)   # block of the entry before stage 1's
        # stage 2: the checks of that entry, registered
        v2 = Signal()
        fail2 = Signal(3)
        last2 = Signal()
        # stage 3: the scan's state
        group = Signal(16)
        entry = Signal(16)           # index inside the group's list
        height = Signal(16)          # tile rows of this group
        rows_after = Signal(17)      # tile rows of the job below this group (signed when < 0)
        final = Signal()             # this group is the job's last

        m.d.comb += raddr_next.eq(raddr)
        m.d.sync += [raddr.eq(raddr_next),
                     e1.eq(self._read_copy(m, "scan", written.as_value(), raddr_next))]
        m.d.sync += self.done.eq(0)
        with m.If(self.start):
            rest = Signal(17)
            m.d.comb += rest.eq(self.m_tiles - self.group_tiles)
            m.d.comb += raddr_next.eq(self.base)
            m.d.sync += [
                v1.eq(0), v2.eq(0), new1.eq(1),
                group.eq(0), entry.eq(0),
                k_tiles.eq(self.k_tiles), group_tiles.eq(self.group_tiles),
                height.eq(Mux(self.m_tiles < self.group_tiles, self.m_tiles,
                              self.group_tiles)),
                final.eq(self.m_tiles <= self.group_tiles), rows_after.eq(rest),
                self.a_rows.eq(0),
                self.error.eq(TableError.NONE), self.err_group.eq(0), self.err_entry.eq(0),
            ]
            with m.If(self.group_tiles == 0):
                m.d.sync += [self.error.eq(TableError.GROUP), self.done.eq(1)]
            with m.Else():
                m.d.sync += self.busy.eq(1)
        with m.Elif(self.busy):
            # stage 1
            m.d.comb += raddr_next.eq(raddr + 1)
            m.d.sync += [a1.eq(raddr), v1.eq(1)]
            # stage 2
            with m.If(v1):
                fail = Signal(3)
                with m.If(a1 >= self.depth):
                    m.d.comb += fail.eq(TableError.OVERFLOW)
                with m.Elif(e1.block >= k_tiles):
                    m.d.comb += fail.eq(TableError.RANGE)
                with m.Elif(~new1 & (e1.block == prev1)):
                    m.d.comb += fail.eq(TableError.DUPLICATE)
                with m.Elif(~new1 & (e1.block < prev1)):
                    m.d.comb += fail.eq(TableError.ORDER)
                m.d.sync += [fail2.eq(fail), last2.eq(e1.last), prev1.eq(e1.block),
                             new1.eq(e1.last)]
            m.d.sync += v2.eq(v1)
            # stage 3
            with m.If(v2):
                with m.If(fail2 != 0):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1), self.error.eq(fail2),
                                 self.err_group.eq(group), self.err_entry.eq(entry)]
                with m.Else():
                    m.d.sync += self.a_rows.eq(self.a_rows + height)
                    with m.If(last2):
                        m.d.sync += [
                            entry.eq(0), group.eq(group + 1),
                            rows_after.eq(rows_after - group_tiles),
                            height.eq(Mux(rows_after < group_tiles, rows_after, group_tiles)),
                            final.eq(rows_after <= group_tiles),
                        ]
                        with m.If(final):
                            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                    with m.Else():
                        m.d.sync += entry.eq(entry + 1)
        return m
