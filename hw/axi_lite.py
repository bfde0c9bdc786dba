"""AXI4-Lite slave for a register file described by a :class:`hw.regmap.RegisterMap`.

The slave turns AXI4-Lite transactions into accesses of a simple register port (the CSR port
of ``/work/coord/ENGINE.md`` §2: ``csr_addr``, ``csr_wdata``, ``csr_we``, ``csr_re``,
``csr_rdata`` valid a fixed ``read_latency`` cycles after ``csr_re``) and answers each
transaction OKAY or SLVERR from the register map, so the RTL and ``docs/registers.md`` cannot
disagree about which accesses are errors.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .regmap import WORD_ADDR_WIDTH, Access, RegisterMap

__all__ = ["AxiLiteSignature", "AxiLiteSlave", "Resp"]

#: Byte-address bits of the AXI4-Lite port (word address plus the two byte bits).
BYTE_ADDR_WIDTH = WORD_ADDR_WIDTH + 2


class Resp:
    """AXI ``BRESP`` / ``RRESP`` codes used here."""
    OKAY = 0b00
    SLVERR = 0b10


class AxiLiteSignature(wiring.Signature):
    """An AXI4-Lite port seen from the master, 32-bit data, ``addr_width`` address bits.

    The member names are the AXI signal names in lower case (``awaddr``, ``awvalid``, ...),
    so a flat top that prefixes them (``s_axil_awaddr``) is what cocotbext-axi's
    ``AxiLiteBus.from_prefix`` expects. ``awprot`` / ``arprot`` are accepted and ignored.
    """

    def __init__(self, addr_width=BYTE_ADDR_WIDTH):
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })


class AxiLiteSlave(wiring.Component):
    """AXI4-Lite slave in front of a register port with a fixed read latency.

    Parameters
    ----------
    registers : RegisterMap
        Decides the responses: an access to an address without a register is SLVERR (read
        data 0), so is a write to an ``RO`` register, a write whose ``WSTRB`` is not
        ``0b1111`` (byte writes are not supported: documented, not silently widened) and a
        write that sets a bit outside the register's fields. An access answered SLVERR does
        not reach the register port. A read of a ``WO`` register is OKAY and reads 0.
    read_latency : int
        Cycles from ``csr_re`` to valid ``csr_rdata`` (at least 1).

    Members
    -------
    bus : ``In(AxiLiteSignature())``
        The AXI4-Lite port. Write address and write data are taken independently (each has
        a one-entry holding register), reads and writes proceed independently and share the
        register port one access per cycle (alternating when both wait). One write and one
        read may be in flight at a time; ``BVALID`` / ``RVALID`` are held until taken, and
        every ready is a register output (no combinational path from valid to ready).
    csr_addr : ``Out(8)``; csr_wdata : ``Out(32)``; csr_we, csr_re : ``Out(1)``
    csr_rdata : ``In(32)``
        The register port: a write takes effect at the edge where ``csr_we`` is high;
        ``csr_rdata`` is sampled ``read_latency`` cycles after ``csr_re``.
    err_hole, err_ro, err_strb, err_value : ``Out(1)``
        One-cycle pulses when an access is answered SLVERR, by reason (a write to a hole
        pulses only ``err_hole``).

    Latency (no back-pressure): a write is answered 2 cycles after its last channel
    (AW or W) is taken; a read returns ``read_latency + 2`` cycles after AR is taken.

    Raises
    ------
    TypeError, ValueError
        If ``registers`` is not a RegisterMap or ``read_latency`` is below 1.
    """

    def __init__(self, registers, *, read_latency):
        if not isinstance(registers, RegisterMap):
            raise TypeError(f"registers must be a RegisterMap, not {registers!r}")
        if (not isinstance(read_latency, int) or isinstance(read_latency, bool)
                or read_latency < 1):
            raise ValueError(f"read_latency must be an integer of at least 1, "
                             f"not {read_latency!r}")
        self.registers = registers
        self.read_latency = read_latency
        super().__init__({
            "bus": In(AxiLiteSignature()),
            "csr_addr": Out(WORD_ADDR_WIDTH), "csr_wdata": Out(32),
            "csr_we": Out(1), "csr_re": Out(1), "csr_rdata": In(32),
            "err_hole": Out(1), "err_ro": Out(1), "err_strb": Out(1), "err_value": Out(1),
        })

    def _decode(self, m, addr, name):
        """Combinational look-up of ``addr`` in the map: (exists, readable, writable, mask)."""
        exists = Signal(name=f"{name}_exists")
        readable = Signal(name=f"{name}_readable")
        writable = Signal(name=f"{name}_writable")
        mask = Signal(32, name=f"{name}_mask")
        with m.Switch(addr):
            for reg in self.registers:
                with m.Case(reg.addr):
                    m.d.comb += [exists.eq(1), readable.eq(reg.access.readable),
                                 writable.eq(reg.access is not Access.RO),
                                 mask.eq(reg.mask)]
            with m.Default():
                m.d.comb += [exists.eq(0), readable.eq(0), writable.eq(0), mask.eq(0)]
        return exists, readable, writable, mask

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # --- write channels: AW and W into holding registers, independently ---------------
        aw_full, w_full = Signal(), Signal()
        aw_addr = Signal(WORD_ADDR_WIDTH)
        w_data, w_strb = Signal(32), Signal(4)
        m.d.comb += [bus.awready.eq(~aw_full), bus.wready.eq(~w_full)]
        with m.If(bus.awvalid & ~aw_full):
            m.d.sync += [aw_full.eq(1), aw_addr.eq(bus.awaddr[2:])]
        with m.If(bus.wvalid & ~w_full):
            m.d.sync += [w_full.eq(1), w_data.eq(bus.wdata), w_strb.eq(bus.wstrb)]

        bvalid, bresp = Signal(), Signal(2)
        m.d.comb += [bus.bvalid.eq(bvalid), bus.bresp.eq(bresp)]
        with m.If(bus.bready):
            m.d.sync += bvalid.eq(0)

        # --- read channel: AR into a holding register, then a fixed-latency read ----------
        ar_full = Signal()
        ar_addr = Signal(WORD_ADDR_WIDTH)
        m.d.comb += bus.arready.eq(~ar_full)
        with m.If(bus.arvalid & ~ar_full):
            m.d.sync += [ar_full.eq(1), ar_addr.eq(bus.araddr[2:])]

        rvalid, rresp, rdata = Signal(), Signal(2), Signal(32)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rresp.eq(rresp), bus.rdata.eq(rdata)]
        with m.If(bus.rready):
            m.d.sync += rvalid.eq(0)
        pending = Signal(self.read_latency)     # pending[i]: a read issued i + 1 cycles ago
        pending_ok = Signal(self.read_latency)  # ... and it goes to a readable register
        m.d.sync += [pending.eq(pending << 1), pending_ok.eq(pending_ok << 1)]
        top = self.read_latency - 1
        with m.If(pending[top]):
            m.d.sync += [rvalid.eq(1), rdata.eq(Mux(pending_ok[top], self.csr_rdata, 0))]

        # --- one register-port access per cycle -------------------------------------------
        want_w = aw_full & w_full & ~bvalid
        want_r = ar_full & ~pending.any() & ~rvalid
        last_was_write = Signal()
        do_w = Signal()
        do_r = Signal()
        m.d.comb += [do_w.eq(want_w & (~want_r | ~last_was_write)),
                     do_r.eq(want_r & ~do_w)]
        with m.If(do_w):
            m.d.sync += last_was_write.eq(1)
        with m.Elif(do_r):
            m.d.sync += last_was_write.eq(0)

        w_exists, _, w_writable, w_mask = self._decode(m, aw_addr, "w")
        r_exists, r_readable, _, _ = self._decode(m, ar_addr, "r")
        hole_w = ~w_exists
        ro = w_exists & ~w_writable
        strb = w_exists & w_writable & (w_strb != 0b1111)
        value = w_exists & w_writable & ~strb & ((w_data & ~w_mask) != 0)
        w_ok = ~(hole_w | ro | strb | value)

        m.d.comb += [
            self.csr_addr.eq(Mux(do_w, aw_addr, ar_addr)),
            self.csr_wdata.eq(w_data),
            self.csr_we.eq(do_w & w_ok),
            self.csr_re.eq(do_r & r_exists & r_readable),
            self.err_hole.eq((do_w & hole_w) | (do_r & ~r_exists)),
            self.err_ro.eq(do_w & ro),
            self.err_strb.eq(do_w & strb),
            self.err_value.eq(do_w & value),
        ]
        with m.If(do_w):
            m.d.sync += [aw_full.eq(0), w_full.eq(0), bvalid.eq(1),
                         bresp.eq(Mux(w_ok, Resp.OKAY, Resp.SLVERR))]
        with m.If(do_r):
            m.d.sync += [ar_full.eq(0), pending[0].eq(1),
                         pending_ok[0].eq(r_exists & r_readable),
                         rresp.eq(Mux(r_exists, Resp.OKAY, Resp.SLVERR))]
        return m
